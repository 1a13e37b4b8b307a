"""The core that decides stays pure: stats/, checks/ and config.py load no Beam,
TensorFlow, TFDV or tfx_bsl, so they run (and are tested) in milliseconds."""

import pathlib
import subprocess
import sys

import classgate

SOURCE = pathlib.Path(classgate.__file__).parent
# config.py and every module under checks/ and stats/, found on disk, so a new
# module is held to it without being listed here.
PURE = ["classgate.config"] + [
    "classgate."
    + ".".join(path.relative_to(SOURCE).with_suffix("").parts).removesuffix(".__init__")
    for folder in ("checks", "stats")
    for path in sorted((SOURCE / folder).glob("*.py"))
]
HEAVY = ["apache_beam", "tensorflow", "tensorflow_data_validation", "tfx_bsl"]


def test_the_pure_core_imports_no_heavy_library():
    script = (
        "import importlib, sys\n"
        f"for name in {PURE!r}:\n"
        "    importlib.import_module(name)\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
