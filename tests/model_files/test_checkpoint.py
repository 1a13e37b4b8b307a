"""Checkpoint shapes read from the .index file equal TensorFlow's own reader's.

`classgate check-config` reads a model's output layer from the checkpoint's index
without importing TensorFlow; whatever TF writes (object-based checkpoints, a
SavedModel's variables, many variables over several table blocks, names sharing
long prefixes), the shapes must be exactly what tf.train.list_variables says.
"""

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classgate.model_files import checkpoint, checkpoint_index

pytestmark = pytest.mark.slow

tf = pytest.importorskip("tensorflow")

names = st.text("abcdefghij_/0123456789", min_size=1, max_size=40).filter(
    lambda n: not n.startswith("/") and "//" not in n and not n.endswith("/")
)
shapes = st.lists(st.integers(0, 9), max_size=4)


def _listed(prefix: str) -> dict[str, list[int]]:
    return {name: list(shape) for name, shape in tf.train.list_variables(prefix)}


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(variables=st.dictionaries(names, shapes, min_size=1, max_size=30))
def test_index_shapes_equal_tensorflows(tmp_path_factory, variables):
    folder = tmp_path_factory.mktemp("ckpt")
    root = tf.Module()
    root.held = {
        name: tf.Variable(tf.zeros(shape, tf.float32))
        for name, shape in variables.items()
    }
    prefix = tf.train.Checkpoint(root=root).write(str(folder / "ckpt"))
    with open(prefix + ".index", "rb") as f:
        assert checkpoint_index.shapes(f.read()) == _listed(prefix)


def test_many_variables_over_several_blocks(tmp_path):
    root = tf.Module()
    # ~1,500 entries with long shared prefixes: index blocks of 4 KiB, many of them.
    root.layers = [tf.Variable(tf.zeros([i % 7 + 1, 3])) for i in range(1_500)]
    prefix = tf.train.Checkpoint(model=root).write(str(tmp_path / "many"))
    index = open(prefix + ".index", "rb").read()
    assert len(index) > 16_384
    assert checkpoint_index.shapes(index) == _listed(prefix)


def test_a_saved_model_and_a_checkpoint_folder(tmp_path):
    class Output(tf.Module):
        def __init__(self):
            self.weights = tf.Variable(tf.zeros([1_000, 16]), name="nce_weights")
            self.biases = tf.Variable(tf.zeros([1_000]), name="nce_biases")

    module = Output()
    tf.saved_model.save(module, str(tmp_path / "saved"))
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=module), str(tmp_path / "ckpts"), max_to_keep=2
    )
    manager.save()
    module.weights.assign(tf.ones([1_000, 16]))
    latest = manager.save()
    for place, prefix in (
        (tmp_path / "saved", str(tmp_path / "saved" / "variables" / "variables")),
        (tmp_path / "ckpts", latest),
    ):
        found = checkpoint.variables(str(place))
        assert found == _listed(prefix)
        name, shape = checkpoint.find(found, "weights", "weights_variable", str(place))
        assert shape == [1_000, 16], name


def test_damaged_indexes_are_refused_not_misread(tmp_path):
    root = tf.Module()
    root.v = tf.Variable(tf.zeros([5, 2]))
    prefix = tf.train.Checkpoint(root=root).write(str(tmp_path / "c"))
    index = open(prefix + ".index", "rb").read()
    for damaged in (
        index[:-1],
        index[:40],
        b"\0" * len(index),
        index[:-48] + b"x" * 48,
    ):
        with pytest.raises(ValueError):
            checkpoint_index.shapes(damaged)


def test_check_config_reads_a_checkpoint_without_tensorflow(tmp_path):
    root = tf.Module()
    root.weights = tf.Variable(tf.zeros([90, 8]))
    prefix = tf.train.Checkpoint(root=root).write(str(tmp_path / "c"))
    config = tmp_path / "m.yaml"
    config.write_text(
        "name: m\nlabel_feature: label\nnum_classes: 100\n"
        f"checkpoint: {prefix}\nweights_variable: weights\n"
    )
    probe = (
        "import sys\n"
        "from classgate import cli\n"
        "code = cli.main(['check-config', sys.argv[1]])\n"
        "assert 'tensorflow' not in sys.modules and 'apache_beam' not in sys.modules\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert done.returncode == 1, done.stderr
    assert "WEIGHTS_SHAPE_MISMATCH" in done.stdout and "[90, 8]" in done.stdout
