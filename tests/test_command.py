"""The installed command and `python -m pipeline`, as a user runs them."""

import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

BIN = pathlib.Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [[str(BIN / "classgate")], [sys.executable, "-m", "pipeline"]],
    ids=["classgate", "python -m pipeline"],
)
def test_exit_codes_and_quiet_stderr(ws, command):
    pattern = ws.labels([0, 1, 2, 3])
    for num_classes, expected in ((4, 0), (3, 1)):
        done = subprocess.run(
            [
                *command,
                "validate",
                "--data",
                pattern,
                "--model-config",
                ws.model(num_classes),
                "--output",
                str(ws.root / f"out{num_classes}"),
                "--labels-only",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == expected, done.stderr
        assert done.stdout.startswith(
            f"classgate: {'PASS' if expected == 0 else 'FAIL'}"
        )
        assert done.stderr == ""  # no library chatter, no traceback
    missing = subprocess.run(
        [
            *command,
            "validate",
            "--data",
            str(ws.root / "nope-*"),
            "--model-config",
            ws.model(4),
            "--output",
            str(ws.root / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "no files match" in missing.stderr
