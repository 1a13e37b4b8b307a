"""Where the verdict reaches people: files beside the report, JUnit, CI summaries,
Beam counters and a progress line only on a terminal."""

import os
import pty
import select
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import pytest


@pytest.fixture
def failing(ws):
    return ws.labels(list(range(10)) * 3 + [None, 12]), ws.model(10, num_sampled=2)


def test_html_junit_and_step_summary(ws, failing, monkeypatch):
    summary = ws.root / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit = ws.root / "ci" / "junit.xml"
    code, report = ws.validate(
        "--data",
        failing[0],
        "--model-config",
        failing[1],
        "--labels-only",
        "--junit-xml",
        str(junit),
    )
    assert code == 1
    out = ws.root / "out"
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    suites = ElementTree.parse(junit).getroot()
    failures = [
        case.get("name")
        for case in suites.iter("testcase")
        if case.find("failure") is not None
    ]
    assert sorted(failures) == ["LABEL_ABOVE_RANGE", "LABEL_MISSING"]
    assert summary.read_text().startswith("earlier step\n# classgate: FAIL")


@pytest.mark.slow
def test_counters_agree_with_the_statistics(ws, failing):
    code, report = ws.validate("--data", failing[0], "--model-config", failing[1])
    assert (
        report["counters"]["examples"] == report["labels"]["train"]["label"]["examples"]
    )
    assert report["counters"]["files"] == 2
    assert report["counters"]["missing_labels"] == 1
    assert report["counters"]["out_of_range_labels"] == 1


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
def test_progress_only_on_a_terminal_and_not_quiet(ws, failing):
    args = [
        "validate",
        "--data",
        failing[0],
        "--model-config",
        failing[1],
        "--labels-only",
        "--output",
        str(ws.root / "o"),
    ]
    code, shown = run_on_terminal(args)
    assert code == 1 and "2 file(s)" in shown and "examples/s" in shown
    code, shown = run_on_terminal([*args, "--quiet"])
    assert code == 1 and "examples/s" not in shown
    code, shown = run_on_terminal(args, {"CI": "true"})
    assert code == 1 and "examples/s" not in shown
    piped = subprocess.run(
        [sys.executable, "-m", "classgate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "examples/s" not in piped.stderr
