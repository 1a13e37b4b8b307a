"""Progress: a status line with percent and ETA on a terminal, plain lines in CI
(and wherever stderr is not a terminal), nothing with --quiet.

classgate run as a user runs it, its stderr on a pseudo-terminal or a pipe; the
driver's Reporter over a real Beam read, its workers' totals summed.
"""

import os
import pty
import random
import select
import subprocess
import sys
import time

import pytest


def run_on_terminal(args, env_extra=None):
    """Runs classgate with stderr on a pseudo-terminal; returns what it showed there."""
    main, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(env_extra or {})
    done = subprocess.run(
        [sys.executable, "-m", "classgate", *args],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=env,
        timeout=120,
    )
    os.close(secondary)
    shown = b""
    deadline = time.monotonic() + 30
    while True:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([main], [], [], left)[0], (
            "a process classgate left behind holds the terminal open"
        )
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: every writer has closed it
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    return done.returncode, shown.decode()


@pytest.mark.slow
def test_progress_only_on_a_terminal_and_not_quiet(ws):
    args = [
        "validate",
        "--data",
        ws.labels(list(range(10)) * 3 + [None, 12]),
        "--model-config",
        ws.model(10, num_sampled=2),
        "--labels-only",
        "--output",
        str(ws.root / "o"),
    ]
    code, shown = run_on_terminal(args)
    assert code == 1 and "\rclassgate: 100% read (2/2 files," in shown
    assert "32 examples" in shown and "examples/s" in shown
    code, shown = run_on_terminal([*args, "--quiet"])
    assert code == 1 and "classgate: " not in shown.split("FAIL")[0]
    assert "read (" not in shown
    code, shown = run_on_terminal(args, {"CI": "true"})
    assert code == 1 and "classgate: " not in shown  # plain lines: on stdout
    piped = subprocess.run(
        [sys.executable, "-m", "classgate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.stdout.startswith("classgate: FAIL")  # a run under 30 s: no line
    assert piped.stderr == ""
    quiet = subprocess.run(
        [sys.executable, "-m", "classgate", *args, "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quiet.returncode == 1 and quiet.stderr == ""


@pytest.mark.parametrize("mode", ["in_memory", "multi_threading", "multi_processing"])
def test_the_reporter_sums_every_worker_and_gives_an_eta(tmp_path, mode):
    """A real read of 8 files by Beam's DirectRunner: what the workers report adds up
    to the listed files and bytes, and a line midway has a percent and an ETA."""
    import io

    import apache_beam as beam
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from apache_beam.options.pipeline_options import PipelineOptions

    from classgate.io import files, progress
    from classgate.run import transforms

    for i in range(8):
        pq.write_table(
            pa.table({"label": np.arange(1000 * (i + 1))}), tmp_path / f"{i}.parquet"
        )
    split = files.list_split("train", (str(tmp_path / "*.parquet"),), "parquet")
    shown = io.StringIO()
    reporter = progress.Reporter(len(split.files), split.bytes, False, shown)
    os.environ[progress.ENABLED] = reporter.folder
    try:
        options = PipelineOptions(
            direct_running_mode=mode, direct_num_workers=2, runner="DirectRunner"
        )
        with beam.Pipeline(options=options) as root:
            _ = root | transforms.ReadSplit(split, ("label",), full=False)
        assert reporter.totals() == (8, split.bytes, 36_000)
        assert reporter.line().startswith(
            f"classgate: 100% read (8/8 files, {progress._size(split.bytes)} of "
        )
        reporter.size *= 2  # as if half the bytes were read, in 10 s
        half = reporter.line(now=reporter._began + 10)
        assert "50% read" in half and half.endswith("ETA 10 s"), half
    finally:
        os.environ.pop(progress.ENABLED, None)
        reporter.stop()
    assert not os.path.exists(reporter.folder)


def test_threads_of_one_process_leave_its_latest_totals(tmp_path, monkeypatch):
    """Reading threads of one worker process finish files at once: the file the
    driver reads must hold the sum of all of them, never an older total. Each
    write is slowed a little, at random, as on a busy disk; before the fix about
    one round in ten left an older total."""
    import threading

    from classgate.io import progress

    monkeypatch.setenv(progress.ENABLED, str(tmp_path))
    publish, chance = progress._publish, random.Random(0)

    def slow_disk(folder, line):
        time.sleep(chance.random() / 5000)
        publish(folder, line)

    monkeypatch.setattr(progress, "_publish", slow_disk)
    threads, files_each = 8, 30
    for _ in range(40):
        monkeypatch.setattr(progress, "_totals", {})
        monkeypatch.setattr(progress, "_written", {})
        start = threading.Barrier(threads)

        def read_files(start=start):
            reading = progress.ReadProgress()
            start.wait()
            for _ in range(files_each):
                reading.examples(3)
                reading.file_done(10)

        workers = [threading.Thread(target=read_files) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        files = threads * files_each
        written = (tmp_path / str(os.getpid())).read_text().split()
        assert [int(value) for value in written] == [files, 10 * files, 3 * files]
