"""What the Kubeflow tests share: kfp.local's runner and a passing and a failing case.

The runs use kfp.local's SubprocessRunner without a venv: each task's executor
runs under sys.executable (kfp swaps it in for `python3`), this interpreter, so
the tasks import the classgate under test. No Kubernetes, no Docker. conftest
loads the fixtures as a plugin.
"""

import pytest

from tools import synthetic

CLASSES = 50
IMAGE = "registry.example/classgate-python:0.1.0"
# One worker: the tests share two cores, and a task's Beam job is tiny.
BEAM = ["--direct_num_workers=1"]


@pytest.fixture
def case(ws):
    """Data with CLASSES true classes; a passing and a failing trainer config."""
    ids = synthetic.labels(2_000, CLASSES, seed=1)
    folder = ws.root / "data"
    folder.mkdir()
    synthetic.write_tfrecord(synthetic.table(ids, CLASSES), str(folder), 2)
    return {
        "data": str(folder / "train-*"),
        "pass": ws.config(synthetic.trainer_yaml("m", CLASSES, CLASSES), "pass.yaml"),
        # Half the true classes: LABEL_ABOVE_RANGE.
        "fail": ws.config(synthetic.trainer_yaml("m", CLASSES // 2, CLASSES), "f.yaml"),
    }


@pytest.fixture
def kfp_root(tmp_path):
    from kfp import local

    root = tmp_path / "kfp"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    return root
