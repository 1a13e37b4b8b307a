"""Progress of a scan: Beam counters everywhere, a status line on a terminal.

Counters (namespace "classgate": files, bytes, examples, missing_labels,
out_of_range_labels) show in the Dataflow job's UI and come back to the driver. The
status line is printed by the workers that read files, only when the command line
found a terminal on stderr and neither --quiet nor CI asked for silence. It passes
that terminal's name to worker processes through CLASSGATE_PROGRESS, and they write
to it by name: classgate silences descriptor 2 during a run (Beam's workers print
tracebacks there), so the status line cannot go through it.
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


# The terminal this process writes the status line to, opened by name on first use.
_terminal = None
# What this process has read, over all its reading threads: files, bytes, examples.
_totals = [0, 0, 0]
_lock = threading.Lock()
_start = time.monotonic()


def enable_if_terminal(quiet: bool) -> None:
    """Called by the CLI per scan: a terminal, no --quiet and no CI: a status line."""
    global _start
    wanted = sys.stderr.isatty() and not quiet and not os.environ.get("CI")
    try:
        name = os.ttyname(sys.stderr.fileno()) if wanted else ""
    except (OSError, ValueError):  # stderr is not a real descriptor (a test)
        name = ""
    os.environ[ENABLED] = name or "0"
    with _lock:
        _totals[:] = [0, 0, 0]
        _start = time.monotonic()


def finish() -> None:
    """Ends the status line, if one was shown."""
    terminal = _open_terminal()
    if terminal is not None:
        terminal.write("\n")
        terminal.flush()


def _open_terminal():
    global _terminal
    name = os.environ.get(ENABLED, "0")
    if name in ("", "0"):
        return None
    if _terminal is None or _terminal.name != name:
        try:
            _terminal = open(name, "w")  # kept open for the process
        except OSError:
            return None
    return _terminal


class ReadProgress:
    """Counts what a reading DoFn reads as Beam metrics; prints when enabled.

    The status line shows this process's totals over all its reading threads.
    """

    def __init__(self):
        self._files = Metrics.counter(NAMESPACE, "files")
        self._bytes = Metrics.counter(NAMESPACE, "bytes")
        self._examples = Metrics.counter(NAMESPACE, "examples")
        self._show = os.environ.get(ENABLED, "0") not in ("", "0")
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
        terminal = _open_terminal()
        if terminal is None:
            return
        terminal.write(
            f"\rclassgate: {files} file(s), {size / 2**20:.1f} MiB, "
            f"{examples:,} examples, {rate:,.0f} examples/s "
        )
        terminal.flush()
