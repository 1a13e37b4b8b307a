"""`classgate run` never loses a model nor orphans a trainer.

SIGINT, SIGTERM and SIGHUP reach the trainer's process group once, and classgate
waits for it and exits with its code; if classgate dies, even by SIGKILL, the
trainer is sent SIGTERM. The command starts behind a passing report built by hand
(tests/builders.py) over real files: no validation runs here.
"""

import pathlib
import signal
import subprocess
import sys
import time

import builders
import pytest

CLASSGATE = [sys.executable, "-m", "classgate"]

TRAINER = """
import os, signal, sys, time
record = sys.argv[1]
received = []
def stop(signum, frame):
    received.append(signum)
    if len(received) == 1:
        time.sleep(1.0)  # a checkpoint being saved
        with open(record, "a") as f:
            f.write(f"saved after {[signal.Signals(s).name for s in received]}\\n")
        sys.exit(40 + signum)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
with open(record, "a") as f:
    f.write(f"started {os.getpid()}\\n")
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def blessed(tmp_path):
    """A passing report and a trainer script that records what it was sent."""
    report, _ = builders.report_file(
        tmp_path / "validated", [builders.model(num_sampled=2)], list(range(10)) * 3
    )
    script = tmp_path / "trainer.py"
    script.write_text(TRAINER)
    return report, script


def start_run(report, script, record):
    process = subprocess.Popen(
        [
            *CLASSGATE,
            "run",
            "--report",
            report,
            "--",
            sys.executable,
            str(script),
            str(record),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (record.exists() and "started" in record.read_text()):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    child = int(record.read_text().split()[1])
    return process, child


@pytest.mark.slow
@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_run_forwards_a_signal_once_and_waits_for_the_trainer(tmp_path, blessed, sent):
    report, script = blessed
    record = tmp_path / f"record-{sent.name}"
    process, _ = start_run(report, script, record)
    process.send_signal(sent)
    assert process.wait(timeout=30) == 40 + sent
    assert f"saved after ['{sent.name}']" in record.read_text()


@pytest.mark.slow
def test_the_trainer_dies_with_classgate(tmp_path, blessed):
    report, script = blessed
    record = tmp_path / "record-kill"
    process, child = start_run(report, script, record)
    process.kill()  # SIGKILL: classgate can do nothing itself
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while "saved after ['SIGTERM'" not in record.read_text():
        assert time.monotonic() < deadline, record.read_text()
        time.sleep(0.05)
    while alive(child):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Running, not a zombie nobody has reaped yet (PID 1 of a container may not)."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return state[0] != "Z"
