"""Workers that die: a worker killed mid-run ends in exact figures or exit 2 with no
report, never a pass on part of the data, never a hang; workers.watched turns a
dead worker into an error in the main thread, however it waits. (A bundle run
twice: tests/run/test_transforms.py and test_staging.py.)"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from classgate.run import workers

from tools import portable, synthetic
from workspace import Workspace

# The kill comes this long after the first SDK worker shows up: early, mid-read,
# and late in the job (seconds; the job takes 2 to 4 s here).
MOMENTS = [0.2, 1.0, 2.0]


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """2M labels over 2M classes in 4 Parquet files: a job of a few seconds."""
    ws = Workspace(tmp_path_factory.mktemp("faults"))
    ids = np.random.default_rng(2).permutation(2_000_000)
    table = synthetic.table(ids, 2_000_000).select(["label"])
    folder = ws.root / "data"
    folder.mkdir()
    synthetic.write_parquet(table, str(folder), 4)
    config = ws.config(synthetic.model_yaml("wide", 2_000_000) + "sampler: uniform\n")
    return ws, str(folder / "*"), config


def sdk_workers(marker: bytes, session: int) -> list[int]:
    """SDK workers of `session` alone: other tests of the suite, in other
    processes, start workers of their own, which must not be killed here."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            if os.getsid(int(entry.name)) != session:
                continue
        except OSError:
            continue
        if marker in command and not command.startswith(b"/bin/sh"):
            found.append(int(entry.name))
    return found


def connected(pid: int) -> bool:
    """Whether the process holds an established TCP connection: for an SDK worker
    of the portable runner, its Fn API control stream is up."""
    sockets = set()
    try:
        for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
            link = os.readlink(fd)
            if link.startswith("socket:["):
                sockets.add(link[8:-1])
    except OSError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "01" and fields[9] in sockets:  # 01: ESTABLISHED
                    return True
    return False


def run_and_kill(
    ws, pattern, config, flags, marker, moment, output, connect=False, session=None
):
    """Runs classgate, kills one SDK worker `moment` s after one starts (after it
    connects, with `connect`): one of `session`, by default classgate's own."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "classgate",
            "validate",
            "--data",
            pattern,
            "--model-config",
            config,
            "--output",
            str(ws.root / output),
            "--labels-only",
            "--quiet",
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its SDK workers with it, should it hang
    )
    session = process.pid if session is None else session  # it leads its own
    before = set(sdk_workers(marker, session))  # a pool's, from an earlier job
    deadline = time.monotonic() + 120
    while process.poll() is None:
        assert time.monotonic() < deadline
        started = sorted(set(sdk_workers(marker, session)) - before)
        if started and (not connect or connected(started[0])):
            break
        time.sleep(0.05)
    time.sleep(moment)
    for pid in sorted(set(sdk_workers(marker, session)) - before)[:1]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        out, err = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # no orphan holds the suite's pipes
        out, err = process.communicate()
        pytest.fail(f"classgate hung after its SDK worker was killed:\n{err[-4000:]}")
    return process.returncode, out, err


def assert_exact_or_no_verdict(ws, output, code, err):
    report = ws.root / output / "report.json"
    if code == 2:
        assert err.count("\n") == 1 and "nothing was validated" in err, err
        assert not report.exists()
    else:
        assert code == 0, err
        labels = json.loads(report.read_text())["labels"]["train"]["label"]
        assert (labels["examples"], labels["distinct"]) == (2_000_000, 2_000_000)


@pytest.mark.slow
@pytest.mark.parametrize("moment", MOMENTS)
def test_a_killed_multi_processing_worker(wide, moment):
    ws, pattern, config = wide
    flags = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    output = f"mp-{moment}"
    code, _, err = run_and_kill(
        ws, pattern, config, flags, b"sdk_worker_main", moment, output
    )
    assert_exact_or_no_verdict(ws, output, code, err)


@pytest.mark.slow
def test_a_killed_portable_worker(wide):
    ws, pattern, config = wide
    # The moments count from the worker's connection: one killed before it connects
    # leaves Beam's local job service waiting for it forever (see tools/portable.py).
    with portable.services() as flags:
        for moment in MOMENTS:
            output = f"portable-{moment}"
            code, _, err = run_and_kill(
                ws,
                pattern,
                config,
                [*flags, "--direct_num_workers=2"],
                b"SdkHarness",
                moment,
                output,
                connect=True,
                session=portable.session_of(flags),
            )
            assert_exact_or_no_verdict(ws, output, code, err)


def _a_worker_dies(after: float) -> threading.Thread:
    """What Beam's SubprocessSdkWorker.run raises, in the thread that started it."""

    def die():
        time.sleep(after)
        raise RuntimeError("Worker subprocess exited with return code 137")

    thread = threading.Thread(target=die, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("after", [0.0, 0.05, 0.3])
@pytest.mark.parametrize("swallowed", [0, 1, 3])
def test_a_dead_worker_ends_every_wait_of_the_main_thread(
    after, swallowed, monkeypatch
):
    """The main thread blocked on a lock, in code that swallows the first few
    interruptions (as a runner's clean-up may), still ends with WorkerDied; and
    the handler is put back once the block is left."""
    monkeypatch.setattr(workers, "_INTERRUPT_EVERY", 0.05)
    caught = 0
    forever = threading.Event()
    hook, handler = threading.excepthook, signal.getsignal(signal.SIGUSR1)
    with pytest.raises(workers.WorkerDied, match="return code 137"):
        with workers.watched():
            _a_worker_dies(after)
            while True:
                try:
                    assert not forever.wait(30), "the main thread was never interrupted"
                except workers.WorkerDied:
                    caught += 1
                    if caught > swallowed:
                        raise
    assert caught == swallowed + 1
    assert (threading.excepthook, signal.getsignal(signal.SIGUSR1)) == (hook, handler)


def test_no_interruption_outlives_the_block(monkeypatch):
    """After WorkerDied has left the block, no SIGUSR1 follows (one would now end
    this process: its handler is the default again)."""
    monkeypatch.setattr(workers, "_INTERRUPT_EVERY", 0.05)
    with pytest.raises(workers.WorkerDied):
        with workers.watched():
            _a_worker_dies(0.0)
            threading.Event().wait(30)
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    time.sleep(4 * workers._INTERRUPT_EVERY)
