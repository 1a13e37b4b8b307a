"""Fixtures that write their own data: TFRecord and Parquet with known labels."""

import os
import pathlib

import pytest

from tools import synthetic
from workspace import Workspace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The suite's labels-only runs use the compiled scan whatever their size (the
# default, auto, reads data under 8 MiB with the Python reader, which full mode's
# runs cover): what the compiled scan reads in a real job is tested on every run.
os.environ.setdefault("CLASSGATE_SCAN", "compiled")
# The Kubeflow tests' fixtures (case, kfp_root), shared by two modules.
pytest_plugins = ["kfp_local"]
SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data():
    """../shared/data beside the project; a user's clone has none."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent (it sits beside the project in CI only)")
    return SHARED


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path)


@pytest.fixture(scope="session")
def classic_ids():
    """10,000 true classes, each present, 20,000 examples."""
    return synthetic.labels(20_000, 10_000, seed=3)
