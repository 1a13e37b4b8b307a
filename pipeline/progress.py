"""Progress of a scan: Beam counters everywhere, a status line on a terminal.

Counters (namespace "classgate": files, bytes, examples, missing_labels,
out_of_range_labels) show in the Dataflow job's UI and come back to the driver. The
status line is printed by the workers that read files, to stderr, only when the
command line found a terminal there and neither --quiet nor CI asked for silence:
it passes that decision to worker processes through CLASSGATE_PROGRESS.
"""

import os
import sys
import time

from apache_beam.metrics import Metrics

NAMESPACE = "classgate"
ENABLED = "CLASSGATE_PROGRESS"
# Often enough to look alive, rarely enough to cost nothing.
INTERVAL_S = 0.5


def enable_if_terminal(quiet: bool) -> None:
    """Called by the CLI: a terminal, no --quiet and no CI means a status line."""
    wanted = sys.stderr.isatty() and not quiet and not os.environ.get("CI")
    os.environ[ENABLED] = "1" if wanted else "0"


class Reader:
    """What one worker has read so far; counts Beam metrics, prints when enabled."""

    def __init__(self):
        self._files = Metrics.counter(NAMESPACE, "files")
        self._bytes = Metrics.counter(NAMESPACE, "bytes")
        self._examples = Metrics.counter(NAMESPACE, "examples")
        self._show = os.environ.get(ENABLED) == "1"
        self._totals = [0, 0, 0]  # files, bytes, examples
        self._start = self._last = time.monotonic()

    def examples(self, count: int) -> None:
        self._examples.inc(count)
        self._totals[2] += count
        self._maybe_show()

    def file_done(self, size: int) -> None:
        self._files.inc()
        self._bytes.inc(size)
        self._totals[0] += 1
        self._totals[1] += size
        self._maybe_show(force=True)

    def _maybe_show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self._show or (not force and now - self._last < INTERVAL_S):
            return
        self._last = now
        files, size, examples = self._totals
        rate = examples / max(now - self._start, 1e-9)
        sys.stderr.write(
            f"\rclassgate: {files} file(s), {size / 2**20:.1f} MiB, "
            f"{examples:,} examples, {rate:,.0f} examples/s "
        )
        sys.stderr.flush()
