"""Beam 2.68 alone, no classgate code: the DirectRunner's multi_threading mode drops
bytes that a bundle writes while the SDK worker's timer thread flushes its output.

    python beam_race.py FLUSH_MS RUNS [--no-timer] [--until-failure]

Four inputs each give every one of 10 keys a 4 MiB array of ones; CombinePerKey
sums them, so each key must total 4 * 2**19. The worker's output flush timer runs
every FLUSH_MS (Beam's default is 1000; a short one makes the race frequent);
--no-timer turns it off, as classgate does; --until-failure stops at the first
failed run. Memory is capped at 4 GiB (12 with --no-timer): a corrupted stream can
read a garbage length and allocate without end. Prints one line a run and exits 1
if any run lost data, failed, or ran out of memory.
"""

import resource
import sys

# The cap guards the racing runs, whose corrupted streams can read a garbage length;
# runs without the timer get room for Beam's own threads and buffers on a loaded
# machine (at 4 GiB, one calm run in 8 failed there as the runner's channel closed).
_CAP = (4 << 30) if "--no-timer" not in sys.argv else (12 << 30)
resource.setrlimit(resource.RLIMIT_AS, (_CAP, _CAP))

import apache_beam as beam  # noqa: E402
import numpy as np  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402
from apache_beam.runners.portability.fn_api_runner import (  # noqa: E402
    worker_handlers,
)
from apache_beam.testing.util import assert_that, equal_to  # noqa: E402

KEYS, SIZE, PARTS = 10, 1 << 19, 4


class Emit(beam.DoFn):
    def process(self, part):
        for _ in range(8):  # several elements a key: a long bundle, many writes
            for key in range(KEYS):
                yield key, np.full(SIZE, 1 if _ == 0 else 0, dtype=np.int64)


class Sum(beam.CombineFn):
    def create_accumulator(self):
        return np.zeros(SIZE, dtype=np.int64)

    def add_input(self, accumulator, value):
        accumulator += value
        return accumulator

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        total = next(accumulators).copy()
        for accumulator in accumulators:
            total += accumulator
        return total

    def extract_output(self, accumulator):
        return int(accumulator.sum())


def main() -> int:
    flush_ms, runs = int(sys.argv[1]), int(sys.argv[2])
    timer = "--no-timer" not in sys.argv
    failed = 0
    for run in range(runs):
        worker_handlers.DATA_BUFFER_TIME_LIMIT_MS = flush_ms if timer else 0
        options = PipelineOptions(
            ["--direct_running_mode=multi_threading", "--direct_num_workers=4"]
        )
        try:
            with beam.Pipeline(options=options) as pipeline:
                totals = (
                    pipeline
                    | beam.Create(range(PARTS))
                    | beam.Reshuffle()
                    | beam.ParDo(Emit())
                    | beam.CombinePerKey(Sum())
                )
                assert_that(totals, equal_to([(k, PARTS * SIZE) for k in range(KEYS)]))
            print(run, "ok", flush=True)
        except BaseException as e:  # lost data, a corrupted stream, MemoryError
            failed += 1
            print(run, "FAILED", type(e).__name__, flush=True)
            if "--until-failure" in sys.argv:
                break
    print("failed", failed, "of", run + 1, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
