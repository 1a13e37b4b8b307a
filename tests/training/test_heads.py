"""The built-in trainer's heads beyond the sampled ones: a full softmax, labels of
ignore_index weighing nothing; a PyTorch head is refused for `classgate train`."""

import numpy as np
import pyarrow as pa
import pytest

from classgate import config, errors
from classgate.training import blessed, trainer

from tools import synthetic

pytestmark = pytest.mark.slow


def test_a_full_softmax_with_ignored_labels_learns(tmp_path):
    table = synthetic.learnable(4_000, seed=5, num_classes=20, vocab=100)
    labels = table.column("label").to_numpy().copy()
    labels[::10] = 255  # ignored by the loss, as Keras' ignore_class
    table = table.set_column(
        table.schema.get_field_index("label"), "label", pa.array(labels)
    )
    (tmp_path / "data").mkdir()
    files = synthetic.write_parquet(table, str(tmp_path / "data"), 1, "train")
    model = config.ModelConfig(
        name="m",
        label_feature="label",
        num_classes=20,
        loss="softmax",
        ignore_index=255,
        context_feature="context",
        context_vocab_size=100,
        embedding_dim=16,
    )
    metrics = trainer.train(
        model, files, files, "parquet", str(tmp_path / "out"), 3, 128, 0.05,
        log=lambda _: None,
    )  # fmt: skip
    losses = [epoch["loss"] for epoch in metrics["history"]]
    assert losses[-1] < losses[0] and np.isfinite(losses).all()
    assert metrics["eval"]["top1_accuracy"] > 0.5


def test_train_refuses_a_pytorch_head_and_a_softmax_of_several_labels():
    common = {"label_feature": "l", "num_classes": 5, "context_feature": "c"}
    torch_head = config.ModelConfig(
        name="t", loss="torch_cross_entropy", context_vocab_size=5, **common
    )
    with pytest.raises(errors.InputError, match="classgate run"):
        blessed.trainable([torch_head], None)
    several = config.ModelConfig(
        name="s", loss="softmax", num_true=2, context_vocab_size=5, **common
    )
    with pytest.raises(errors.InputError, match="one label per example"):
        blessed.trainable([several], None)
