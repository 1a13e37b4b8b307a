"""The core that decides stays pure: stats/, checks/ and config.py load no Beam,
TensorFlow, TFDV or tfx_bsl, so they run (and are tested) in milliseconds."""

import subprocess
import sys

PURE = [
    "classgate.config",
    "classgate.checks",
    "classgate.checks.anomaly",
    "classgate.checks.artifacts",
    "classgate.checks.diagnoses",
    "classgate.checks.files",
    "classgate.checks.labels",
    "classgate.checks.sampler",
    "classgate.stats.class_counts",
    "classgate.stats.frequency",
    "classgate.stats.label",
    "classgate.stats.profile",
    "classgate.stats.values",
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
