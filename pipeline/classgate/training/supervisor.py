"""Starting a trainer as a child that never outlives classgate, nor loses its work.

`classgate run` waits for its command. SIGINT, SIGTERM and SIGHUP sent to classgate
are passed to the command's process group, once, and classgate keeps waiting: the
trainer decides how to stop (save a checkpoint, then exit) and classgate returns
its exit code. The command runs in a session of its own, so Ctrl-C in a terminal
reaches it through classgate exactly once; and it is asked to die (SIGTERM) when
classgate itself dies, even by SIGKILL, so no orphan keeps a GPU.
"""

import ctypes
import os
import signal
import subprocess

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# prctl(2): have the kernel send a signal to this process when its parent dies.
_PR_SET_PDEATHSIG = 1


def run(command: list[str], env: dict[str, str]) -> int:
    """Runs `command` to its end; returns its exit code (128 + N if killed by N)."""
    parent = os.getpid()

    def die_with_parent():  # in the child, between fork and exec
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    child = subprocess.Popen(
        command, env=env, start_new_session=True, preexec_fn=die_with_parent
    )

    def forward(signum, frame):
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:  # it has already ended
            pass

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        code = child.wait()  # retried after each forwarded signal (PEP 475)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code if code >= 0 else 128 - code
