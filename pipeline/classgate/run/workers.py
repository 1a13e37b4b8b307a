"""The DirectRunner's SDK worker processes: a dead one ends the run, not hangs it.

Used around the job's run on the driver (classgate.validation); the worker
processes are those of `--direct_running_mode=multi_processing`.
"""

import contextlib
import os
import signal
import sys
import threading


class WorkerDied(Exception):
    """An SDK worker process of the DirectRunner died before the job finished."""


# Seconds between the interruptions of the main thread once a worker has died.
_INTERRUPT_EVERY = 0.5


@contextlib.contextmanager
def watched():
    """Turns an SDK worker's death into WorkerDied in this (the main) thread.

    In multi_processing mode Beam 2.68 notices a worker process that dies (killed,
    out of memory) only in the thread that started it, which raises and ends;
    the runner itself then waits for that worker's results forever. This hook
    catches that exception and interrupts the main thread with a signal sent to
    that thread (a signal sent to the process may land on another thread and leave
    the main one blocked), again every half second until it has left this block:
    code of Beam's that catches the first WorkerDied, or waits on its way out,
    meets the next one.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    main = threading.main_thread().ident
    own_code = sys._getframe().f_code  # on the stack only on the way in and out
    died: list[str] = []
    dying = threading.Lock()
    left = threading.Event()
    previous_hook = threading.excepthook

    def interrupt_until_left():
        while not left.is_set():
            signal.pthread_kill(main, signal.SIGUSR1)
            left.wait(_INTERRUPT_EVERY)

    def hook(args):
        if "Worker subprocess exited" not in str(args.exc_value):
            previous_hook(args)
            return
        with dying:
            if died:
                return  # a worker ended by _end_sdk_workers below
            died.append(str(args.exc_value))
        # The job cannot finish now; Beam's cleanup would wait for the other
        # workers, which wait for a runner that no longer reads from them.
        _end_sdk_workers()
        interrupter.start()

    def interrupt(signum, frame):
        while frame is not None:
            if frame.f_code is own_code:
                return  # this block's own clean-up: never cut short
            frame = frame.f_back
        if died:
            raise WorkerDied(died[0])

    interrupter = threading.Thread(
        target=interrupt_until_left, name="classgate-interrupt", daemon=True
    )
    previous_handler = signal.signal(signal.SIGUSR1, interrupt)
    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous_hook
        left.set()
        if interrupter.is_alive():
            interrupter.join()  # no signal after the handler is restored
        signal.signal(signal.SIGUSR1, previous_handler)


def _end_sdk_workers() -> None:
    """Kills this process's SDK worker subprocesses (multi_processing mode)."""
    me = os.getpid()
    children: dict[int, list[int]] = {}
    commands: dict[int, bytes] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                parent = int(f.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                commands[int(entry)] = f.read()
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    doomed, below = [], list(children.get(me, []))
    while below:  # the workers and the shells Beam starts them in
        pid = below.pop()
        if b"sdk_worker_main" in commands.get(pid, b""):
            doomed.append(pid)
            below.extend(children.get(pid, []))
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
