"""The installed command and `python -m classgate`, as a user runs them."""

import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

BIN = pathlib.Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [[str(BIN / "classgate")], [sys.executable, "-m", "classgate"]],
    ids=["classgate", "python -m classgate"],
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


def test_a_project_with_its_own_pipeline_package(ws):
    """`pipeline/` is every ML repository's own folder: run from such a project,
    classgate is still classgate (its import package is `classgate`)."""
    project = ws.root / "project"
    (project / "pipeline").mkdir(parents=True)
    (project / "pipeline" / "__init__.py").write_text("raise SystemExit(97)\n")
    (project / "pipeline" / "__main__.py").write_text("raise SystemExit(98)\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "classgate",
            "validate",
            "--data",
            ws.labels([0, 1, 2]),
            "--model-config",
            ws.model(3),
            "--output",
            str(ws.root / "out"),
            "--labels-only",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_nothing_imports_pipeline():
    """The source folder is pipeline/, but no module imports it by that name."""
    root = pathlib.Path(__file__).resolve().parents[1]
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("pipeline", "tests", "tools", "deploy")
        for path in (root / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.lstrip().startswith(("import pipeline", "from pipeline"))
    ]
    assert offenders == []
