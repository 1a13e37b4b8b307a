"""Progress of a scan: Beam counters everywhere, a status line on a terminal.

Counters (namespace "classgate": files, bytes, examples, missing_labels,
out_of_range_labels) show in the Dataflow job's UI and come back to the driver. The
status line is printed by the workers that read files, to stderr, only when the
command line found a terminal there and neither --quiet nor CI asked for silence:
it passes that decision to worker processes through CLASSGATE_PROGRESS.
"""

import os
import sys
import threading
import time

from apache_beam.metrics import Metrics

NAMESPACE = "classgate"
ENABLED = "CLASSGATE_PROGRESS"
# Often enough to look alive, rarely enough to cost nothing.
INTERVAL_S = 0.5


# The terminal found by the CLI; worker processes (multi_processing) use their own.
_terminal = None
# What this process has read, over all its reading threads: files, bytes, examples.
_totals = [0, 0, 0]
_lock = threading.Lock()
_start = time.monotonic()


def enable_if_terminal(quiet: bool) -> None:
    """Called by the CLI per scan: a terminal, no --quiet and no CI: a status line."""
    global _terminal, _start
    wanted = sys.stderr.isatty() and not quiet and not os.environ.get("CI")
    os.environ[ENABLED] = "1" if wanted else "0"
    _terminal = sys.stderr if wanted else None
    with _lock:
        _totals[:] = [0, 0, 0]
        _start = time.monotonic()


class Reader:
    """Counts what a reading DoFn reads as Beam metrics; prints when enabled.

    The status line shows this process's totals over all its reading threads.
    """

    def __init__(self):
        self._files = Metrics.counter(NAMESPACE, "files")
        self._bytes = Metrics.counter(NAMESPACE, "bytes")
        self._examples = Metrics.counter(NAMESPACE, "examples")
        self._show = os.environ.get(ENABLED) == "1"
        self._last = time.monotonic()

    def examples(self, count: int) -> None:
        self._examples.inc(count)
        self._add(0, 0, count)

    def file_done(self, size: int) -> None:
        self._files.inc()
        self._bytes.inc(size)
        self._add(1, size, 0, force=True)

    def _add(self, files: int, size: int, examples: int, force: bool = False) -> None:
        with _lock:
            _totals[0] += files
            _totals[1] += size
            _totals[2] += examples
            files, size, examples = _totals
        now = time.monotonic()
        if not self._show or (not force and now - self._last < INTERVAL_S):
            return
        self._last = now
        rate = examples / max(now - _start, 1e-9)
        terminal = _terminal or sys.stderr
        terminal.write(
            f"\rclassgate: {files} file(s), {size / 2**20:.1f} MiB, "
            f"{examples:,} examples, {rate:,.0f} examples/s "
        )
        terminal.flush()
