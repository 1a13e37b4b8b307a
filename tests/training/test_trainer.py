import gzip
import json
import math
import os

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

from classgate import config
from classgate.training import trainer

from tools import synthetic

pytestmark = pytest.mark.slow

VOCAB, CLASSES = 500, 200
METRIC_KEYS = {"num_classes", "num_sampled", "loss", "history", "eval", "interrupted"}


def _examples(n: int, seed: int, context_lists: bool = False) -> pa.Table:
    return synthetic.learnable(n, seed, CLASSES, VOCAB, context_lists)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("data"))
    train, held_out = _examples(20_000, seed=0), _examples(2_000, seed=1)
    lists, held_out_lists = (
        _examples(20_000, seed=2, context_lists=True),
        _examples(2_000, seed=3, context_lists=True),
    )
    return {
        "tfrecord": synthetic.write_tfrecord(train, folder, 2, "train"),
        "tfrecord_eval": synthetic.write_tfrecord(held_out, folder, 1, "eval"),
        "parquet": synthetic.write_parquet(lists, folder, 2, "train"),
        "parquet_eval": synthetic.write_parquet(held_out_lists, folder, 1, "eval"),
    }


def _model(**overrides) -> config.ModelConfig:
    fields = dict(
        name="m",
        label_feature="label",
        num_classes=CLASSES,
        context_feature="context",
        context_vocab_size=VOCAB,
        embedding_dim=32,
        num_sampled=20,
    )
    return config.ModelConfig(**(fields | overrides))


def _train(model, files, eval_files, data_format, output, epochs, log=lambda _: None):
    return trainer.train(
        model,
        files,
        eval_files,
        data_format,
        str(output),
        epochs=epochs,
        batch_size=256,
        learning_rate=0.01,
        log=log,
    )


def test_nce_on_tfrecord_learns_and_writes_every_output(data, tmp_path):
    # The uniform sampler matches these uniform labels. With log_uniform noise, NCE
    # hardly ever pushes down the high class ids, and after a few epochs one of them
    # can win the full-softmax argmax for most inputs (top-1 from 0.03 to 0.7).
    lines = []
    metrics = _train(
        _model(sampler="uniform"),
        data["tfrecord"],
        data["tfrecord_eval"],
        "tfrecord",
        tmp_path,
        4,
        log=lines.append,
    )

    losses = [entry["loss"] for entry in metrics["history"]]
    assert [entry["epoch"] for entry in metrics["history"]] == [1, 2, 3, 4]
    assert losses[-1] < losses[0]
    # Chance is 10/200 = 0.05 for recall@10 and 0.005 for top-1; 10% noisy labels
    # cap both near 0.9. Four epochs reach about 0.89 and 0.77 to 0.85.
    assert metrics["eval"]["recall_at_10"] > 0.7
    assert metrics["eval"]["top1_accuracy"] > 0.5
    assert metrics["eval"]["examples"] == 2_000
    assert metrics["interrupted"] is False
    assert lines[0].startswith("epoch 1/4: loss ")
    assert lines[0].endswith("examples/s)")

    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == metrics
    assert set(metrics) == METRIC_KEYS
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-4")
    assert tf.io.gfile.listdir(str(tmp_path / "logs"))
    reloaded = tf.saved_model.load(str(tmp_path / "model"))
    padded = tf.constant([[3, -1], [4, 4], [-1, -1]], tf.int64)
    assert reloaded.scores(padded).shape == (3, CLASSES)
    # The reloaded model scores like the trained one: most contexts' own label
    # is in their top 10.
    contexts = np.arange(VOCAB)
    top10 = tf.math.top_k(reloaded.scores(contexts[:, None]), 10).indices.numpy()
    found = (top10 == ((contexts * 7) % CLASSES)[:, None]).any(axis=1)
    assert found.mean() > 0.8


def test_sampled_softmax_with_log_uniform_sampler_trains(data, tmp_path):
    model = _model(loss="sampled_softmax", sampler="log_uniform")
    metrics = _train(model, data["tfrecord"], None, "tfrecord", tmp_path, 2)

    assert metrics["loss"] == "sampled_softmax"
    assert all(math.isfinite(entry["loss"]) for entry in metrics["history"])
    assert metrics["history"][-1]["loss"] < metrics["history"][0]["loss"]
    assert "eval" not in metrics


def test_parquet_with_list_context_and_unigram_sampler_trains(data, tmp_path):
    model = _model(loss="sampled_softmax", sampler="unigram")
    metrics = _train(
        model, data["parquet"], data["parquet_eval"], "parquet", tmp_path, 2
    )

    assert len(metrics["history"]) == 2
    assert metrics["eval"]["examples"] == 2_000
    assert metrics["eval"]["recall_at_10"] > 0.5


def test_ctrl_c_saves_everything_then_reraises(data, tmp_path):
    def interrupt(line):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(_model(), data["tfrecord"], None, "tfrecord", tmp_path, 3, interrupt)

    with open(tmp_path / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["interrupted"] is True
    assert len(metrics["history"]) == 1
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    # Hold the loaded object: its variables die with it, even mid-call.
    reloaded = tf.saved_model.load(str(tmp_path / "model"))
    assert reloaded.scores(tf.constant([[1]], tf.int64)).shape == (1, CLASSES)


def test_config_without_context_feature_is_rejected(data, tmp_path):
    model = config.ModelConfig(name="m", label_feature="label", num_classes=CLASSES)
    with pytest.raises(ValueError, match="context_feature and context_vocab_size"):
        _train(model, data["tfrecord"], None, "tfrecord", tmp_path, 1)
    assert not os.path.exists(tmp_path / "metrics.json")


def test_split_mixing_gzip_and_plain_files_is_read_file_by_file(data, tmp_path):
    """Validation reads each file by its bytes; so does the trainer."""
    plain = tmp_path / "plain.tfrecord"
    with open(data["tfrecord"][0], "rb") as f:
        plain.write_bytes(gzip.decompress(f.read()))
    files = [data["tfrecord"][1], str(plain)]
    metrics = _train(_model(), files, None, "tfrecord", tmp_path / "out", 1)
    assert math.isfinite(metrics["history"][0]["loss"])


def test_plain_tfrecord_is_read(data, tmp_path):
    plain = tmp_path / "plain.tfrecord"
    with open(data["tfrecord"][0], "rb") as f:
        plain.write_bytes(gzip.decompress(f.read()))
    metrics = _train(_model(), [str(plain)], None, "tfrecord", tmp_path / "out", 1)
    assert math.isfinite(metrics["history"][0]["loss"])


def test_parquet_without_the_context_column_is_rejected(tmp_path):
    labels_only = pa.table({"label": pa.array(np.arange(CLASSES))})
    files = synthetic.write_parquet(labels_only, str(tmp_path), 1)
    with pytest.raises(ValueError, match="column 'context' is not in the file"):
        _train(_model(), files, None, "parquet", tmp_path / "out", 1)
