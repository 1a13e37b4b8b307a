"""The house's layers are a contract: pyproject's [tool.importlinter] contracts.

Each wing imports only the wings below it (cli, the library doors, training, run,
gate, outputs, verdict, report, checks, config, model_files, stats, io, names and
errors); classgate.beam imports no driver module; the pure core imports no heavy
library. A change that breaks one fails here, naming the import chain.
"""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold():
    done = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and done.stdout.count("KEPT") == 3


def test_nothing_imports_pipeline():
    """The source folder is pipeline/, but no module imports it by that name."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("pipeline", "tests", "tools", "deploy")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.lstrip().startswith(("import pipeline", "from pipeline"))
    ]
    assert offenders == []
