"""The path issue 5 made fast stays so: labels-only never imports TensorFlow."""

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_labels_only_never_imports_tensorflow(ws):
    pattern = ws.labels([0, 1, 2, 3])
    script = (
        "import sys\n"
        "from classgate import cli\n"
        f"code = cli.main(['validate', '--data', {pattern!r}, '--model-config', "
        f"{ws.model(4)!r}, '--output', {str(ws.root / 'out')!r}, '--labels-only'])\n"
        "heavy = [m for m in ('tensorflow', 'tensorflow_data_validation') "
        "if m in sys.modules]\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
