"""Progress of a scan: Beam counters everywhere; on the driver, percent and ETA.

Counters (namespace "classgate": files, bytes, examples, missing_labels,
out_of_range_labels) show in the Dataflow job's UI and come back to the driver.

The driver knows the files and bytes it listed, so it shows how far the scan is,
on stderr: on a terminal a status line redrawn twice a second (percent of the
bytes, files, examples/s, ETA); elsewhere (CI, a log) the same as a plain line
every 30 seconds, so a run shorter than that shows none; nothing with --quiet.

The figures come from the workers. A worker process on this machine (any local
runner, threads and processes alike) writes its totals to a small file in a
folder the driver made (CLASSGATE_PROGRESS names it); a remote runner's
(Dataflow's) come from its counters, which the driver's wait loop passes to
`Reporter.remote`. Lines go to the stderr the command started with: classgate
silences descriptor 2 during a run (Beam's workers print tracebacks there).
"""

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time

from apache_beam.metrics import Metrics

NAMESPACE = "classgate"
ENABLED = "CLASSGATE_PROGRESS"
# How often a worker process writes its totals, and a terminal's line is redrawn.
INTERVAL_S = 0.5
# How often a plain line is written when stderr is not a terminal.
PLAIN_EVERY_S = 30.0


# This process's totals per driver folder (one scan's), over all its reading
# threads: files, bytes, examples; and when it last wrote them.
_totals: dict[str, list[int]] = {}
_lock = threading.Lock()
_written: dict[str, float] = {}


class ReadProgress:
    """Counts what a reading DoFn reads as Beam metrics and for the driver."""

    def __init__(self):
        self._files = Metrics.counter(NAMESPACE, "files")
        self._bytes = Metrics.counter(NAMESPACE, "bytes")
        self._examples = Metrics.counter(NAMESPACE, "examples")
        self._folder = os.environ.get(ENABLED, "")

    def examples(self, count: int) -> None:
        self._examples.inc(count)
        self._add(0, 0, count)

    def file_done(self, size: int) -> None:
        self._files.inc()
        self._bytes.inc(size)
        self._add(1, size, 0, force=True)

    def _add(self, files: int, size: int, examples: int, force: bool = False) -> None:
        if not self._folder:
            return
        with _lock:
            totals = _totals.setdefault(self._folder, [0, 0, 0])
            totals[0] += files
            totals[1] += size
            totals[2] += examples
            now = time.monotonic()
            if not force and now - _written.get(self._folder, 0.0) < INTERVAL_S:
                return
            _written[self._folder] = now
            # Written under the lock: two threads publishing apart could leave
            # the older totals last (one file per process, replaced whole).
            _publish(self._folder, " ".join(map(str, totals)))


def _publish(folder: str, line: str) -> None:
    """This process's totals, in its own file of the driver's folder."""
    if not os.path.isdir(folder):  # a remote worker: the driver is elsewhere
        return
    path = os.path.join(folder, str(os.getpid()))
    try:
        with open(path + ".tmp", "w") as f:
            f.write(line)
        os.replace(path + ".tmp", path)
    except OSError:  # progress is a courtesy: never a reason to fail a read
        pass


class Reporter:
    """The driver's side: sums the workers' totals and shows them, in a thread."""

    def __init__(self, files: int, size: int, terminal: bool, stream=None):
        self.files, self.size = files, size
        self.terminal = terminal
        self.every = INTERVAL_S if terminal else PLAIN_EVERY_S
        self.stream = stream
        self.folder = tempfile.mkdtemp(prefix="classgate-progress-")
        self._remote: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._began = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def remote(self, counters: dict) -> None:
        """Totals from a remote runner's counters (the driver's wait loop)."""
        self._remote = (
            counters.get("files", 0),
            counters.get("bytes", 0),
            counters.get("examples", 0),
        )

    def totals(self) -> tuple[int, int, int]:
        """(files, bytes, examples) read so far, over every worker."""
        if self._remote is not None:
            return self._remote
        found = [0, 0, 0]
        with contextlib.suppress(OSError):
            for name in os.listdir(self.folder):
                if name.endswith(".tmp"):
                    continue
                try:
                    with open(os.path.join(self.folder, name)) as f:
                        values = [int(v) for v in f.read().split()]
                except (OSError, ValueError):
                    continue
                if len(values) == 3:
                    found = [a + b for a, b in zip(found, values, strict=True)]
        return found[0], found[1], found[2]

    def line(self, now: float | None = None) -> str:
        """How far the scan is: percent of the bytes, files, rate, ETA."""
        files, size, examples = self.totals()
        elapsed = max((now or time.monotonic()) - self._began, 1e-9)
        share = min(size / self.size, 1.0) if self.size else 0.0
        eta = ""
        if 0 < share < 1:
            eta = f", ETA {_duration(elapsed * (1 - share) / share)}"
        return (
            f"classgate: {share:.0%} read ({files}/{self.files} files, "
            f"{_size(size)} of {_size(self.size)}), {examples:,} examples, "
            f"{examples / elapsed:,.0f} examples/s{eta}"
        )

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.terminal:  # the line as the scan ended
            self._write(f"\r{self.line()} \n")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            text = self.line()
            self._write(f"\r{text} " if self.terminal else text + "\n")

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
            self.stream.flush()


_reporter: Reporter | None = None


def start(files: int, size: int, quiet: bool) -> Reporter | None:
    """Called by the CLI per scan, before stderr is silenced."""
    global _reporter
    stop()
    if quiet:
        os.environ[ENABLED] = ""
        return None
    terminal = sys.stderr.isatty() and not os.environ.get("CI")
    try:  # the stderr the command started with, kept past the silencing
        stream = os.fdopen(os.dup(sys.stderr.fileno()), "w")
    except (OSError, ValueError):  # stderr is not a real descriptor (a test)
        stream = sys.stderr
    _reporter = Reporter(files, size, terminal, stream)
    os.environ[ENABLED] = _reporter.folder
    _reporter.start()
    return _reporter


# The descriptor of the stderr the command started with: the CLI names a copy of
# it here while it silences descriptor 2 (keep_console).
_console = [2]


@contextlib.contextmanager
def keep_console(fd: int):
    """While the CLI silences descriptor 2, `say` writes to `fd` instead."""
    _console.append(fd)
    try:
        yield
    finally:
        _console.pop()


def say(line: str) -> None:
    """One plain line on the command's stderr, silenced or not (a wait's notice)."""
    with contextlib.suppress(OSError, ValueError):
        os.write(_console[-1], (line + "\n").encode())


def current() -> Reporter | None:
    """The driver's reporter of the scan under way, if one shows progress."""
    return _reporter


def stop() -> None:
    """Ends the scan's progress: the last line finished, the folder removed."""
    global _reporter
    os.environ.pop(ENABLED, None)
    if _reporter is not None:
        _reporter.stop()
        with _lock:
            _totals.pop(_reporter.folder, None)
            _written.pop(_reporter.folder, None)
        if _reporter.stream not in (sys.stderr, sys.__stderr__):
            with contextlib.suppress(OSError):
                _reporter.stream.close()
        _reporter = None


def _size(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"
