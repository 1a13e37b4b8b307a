"""Each diagnosis fires on a case built for it and stays quiet on its clean twin."""

import numpy as np
import pytest

from tools import synthetic
from workspace import Workspace


def codes(ws, *args, **keys):
    """Anomaly codes of a labels-only run of `args` with a model of `keys`."""
    num_classes = keys.pop("num_classes")
    code, report = ws.validate(
        *args,
        "--model-config",
        ws.model(num_classes, **keys),
        "--labels-only",
        output=f"out-{len(list(ws.root.iterdir()))}",
    )
    assert code in (0, 1), "nothing was validated"
    return Workspace.codes(report), report


def anomaly(report, code):
    return next(a for a in report["anomalies"] if a["code"] == code)


def test_one_based_labels(ws):
    found, report = codes(
        ws, "--data", ws.labels(list(range(1, 11)) * 3), num_classes=10
    )
    assert "LABEL_ONE_BASED" in found
    assert (
        "subtract 1, or set num_classes to 11"
        in anomaly(report, "LABEL_ONE_BASED")["message"]
    )
    twin = ws.labels(list(range(10)) * 3, name="twin")
    assert "LABEL_ONE_BASED" not in codes(ws, "--data", twin, num_classes=10)[0]


def test_sentinel_value(ws):
    found, report = codes(
        ws, "--data", ws.labels(list(range(10)) * 3 + [-1] * 5), num_classes=10
    )
    sentinel = anomaly(report, "LABEL_SENTINEL")
    assert (sentinel["details"]["value"], sentinel["details"]["count"]) == (-1, 5)
    twin = ws.labels(list(range(10)) * 3 + [10, 11, 12], name="twin")
    found = codes(ws, "--data", twin, num_classes=10)[0]
    assert "LABEL_SENTINEL" not in found and "LABEL_ABOVE_RANGE" in found


@pytest.fixture
def vocab(ws):
    path = ws.root / "vocab.txt"
    path.write_text("cash\ncard\ncheck\n")
    return str(path)


def test_strings_not_in_vocabulary(ws, vocab):
    data = ws.labels(["cash", "card", "check"] * 3 + ["bitcoin"] * 2)
    found, report = codes(ws, "--data", data, num_classes=3, vocabulary_file=vocab)
    missing = anomaly(report, "LABEL_NOT_IN_VOCABULARY")
    assert missing["severity"] == "ERROR" and "'bitcoin' x2" in missing["message"]
    assert "LABEL_TYPE_INVALID" not in found  # strings are ids through the vocabulary
    found, report = codes(
        ws, "--data", data, num_classes=4, vocabulary_file=vocab, num_oov_buckets=1
    )
    assert anomaly(report, "LABEL_NOT_IN_VOCABULARY")["severity"] == "WARNING"
    assert report["labels"]["train"]["label"]["max"] == 3  # the one OOV bucket
    twin = ws.labels(["cash", "card", "check"] * 3, name="twin")
    assert (
        "LABEL_NOT_IN_VOCABULARY"
        not in codes(ws, "--data", twin, num_classes=3, vocabulary_file=vocab)[0]
    )


def test_vocabulary_size_and_duplicates(ws, vocab):
    data = ws.labels(["cash", "card", "check"] * 3)
    found, report = codes(ws, "--data", data, num_classes=4, vocabulary_file=vocab)
    assert (
        "3 lines + 0 OOV buckets = 3, not num_classes 4"
        in anomaly(report, "VOCABULARY_SIZE_MISMATCH")["message"]
    )
    doubled = ws.root / "doubled.txt"
    doubled.write_text("cash\ncard\ncash\n")
    found, report = codes(
        ws, "--data", data, num_classes=3, vocabulary_file=str(doubled)
    )
    assert "'cash' x2" in anomaly(report, "VOCABULARY_SIZE_MISMATCH")["message"]
    assert (
        "VOCABULARY_SIZE_MISMATCH"
        not in codes(ws, "--data", data, num_classes=3, vocabulary_file=vocab)[0]
    )


def test_checkpoint_built_for_another_class_count(ws):
    import tensorflow as tf

    model = tf.Module()
    model.output_weights = tf.Variable(tf.zeros([5, 4]))
    model.output_biases = tf.Variable(tf.zeros([5]))
    prefix = tf.train.Checkpoint(model=model).save(str(ws.root / "ckpt" / "c"))
    data = ws.labels(list(range(6)) * 3)
    keys = dict(
        checkpoint=prefix,
        weights_variable="output_weights",
        biases_variable="output_biases",
    )
    found, report = codes(ws, "--data", data, num_classes=6, **keys)
    mismatches = [
        a for a in report["anomalies"] if a["code"] == "WEIGHTS_SHAPE_MISMATCH"
    ]
    assert {a["details"]["role"] for a in mismatches} == {"weights", "biases"}
    assert "shape [5, 4]" in mismatches[0]["message"]
    twin = ws.labels(list(range(5)) * 3, name="twin")
    assert (
        "WEIGHTS_SHAPE_MISMATCH"
        not in codes(ws, "--data", twin, num_classes=5, **keys)[0]
    )


def test_context_ids_past_the_embedding_table(ws):
    data = ws.labels([0, 1, 2, 3] * 5, context=list(range(18)) + [600, 700])
    found, report = codes(
        ws,
        "--data",
        data,
        num_classes=4,
        context_feature="context",
        context_vocab_size=500,
    )
    bad = anomaly(report, "ID_OUT_OF_RANGE")
    assert bad["feature"] == "context" and bad["details"]["values"] == 2
    assert "context_vocab_size to at least 701" in bad["message"]
    assert (
        "ID_OUT_OF_RANGE"
        not in codes(
            ws,
            "--data",
            data,
            num_classes=4,
            context_feature="context",
            context_vocab_size=701,
        )[0]
    )


def test_log_uniform_needs_ids_sorted_by_frequency(ws):
    import tensorflow as tf

    n = 500
    ids = synthetic.labels(5_000, n, seed=1)  # Zipf: small ids are frequent
    sorted_data = ws.labels(ids, name="sorted")
    found, report = codes(ws, "--data", sorted_data, num_classes=n, num_sampled=20)
    assert "SAMPLER_FREQUENCY_ORDER" not in found
    out = ws.root / f"out-{len(list(ws.root.iterdir())) - 1}"
    assert not list(out.glob("remap-*"))
    shuffled = ws.labels(np.random.default_rng(0).permutation(n)[ids], name="shuffled")
    found, report = codes(ws, "--data", shuffled, num_classes=n, num_sampled=20)
    order = anomaly(report, "SAMPLER_FREQUENCY_ORDER")
    assert order["details"]["distance"] > order["details"]["distance_remapped"] + 0.1
    out = ws.root / f"out-{len(list(ws.root.iterdir())) - 1}"
    remap = [
        line.split("\t") for line in (out / "remap-m.txt").read_text().splitlines()
    ]
    assert len(remap) == n and sorted(int(new) for _, new in remap) == list(range(n))
    unigram = out / "unigram-m.txt"
    counts = [int(line) for line in unigram.read_text().splitlines()]
    assert len(counts) == n and sum(counts) == 5_000
    sampled, _, _ = tf.random.fixed_unigram_candidate_sampler(
        true_classes=tf.constant([[0]], dtype=tf.int64),
        num_true=1,
        num_sampled=10,
        unique=True,
        range_max=n,
        vocab_file=str(unigram),
    )
    assert all(counts[i] > 0 for i in sampled.numpy())  # only seen classes are drawn
    uniform_sampler = codes(
        ws, "--data", shuffled, num_classes=n, num_sampled=20, sampler="unigram"
    )[0]
    assert "SAMPLER_FREQUENCY_ORDER" not in uniform_sampler


def test_sampler_settings(ws):
    data = ws.labels(list(range(10)) * 3)
    found = codes(
        ws,
        "--data",
        data,
        num_classes=10,
        num_sampled=8,
        sampler="uniform",
        remove_accidental_hits="true",
    )[0]
    assert {"ACCIDENTAL_HITS_WITH_NCE", "NUM_SAMPLED_HIGH"} <= set(found)
    twin = codes(
        ws,
        "--data",
        data,
        num_classes=10,
        num_sampled=2,
        sampler="uniform",
        loss="sampled_softmax",
    )[0]  # accidental hits removed: right for it
    assert not {"ACCIDENTAL_HITS_WITH_NCE", "NUM_SAMPLED_HIGH"} & set(twin)


def test_splits_with_different_classes(ws):
    train = ws.labels(list(range(9)) * 3, name="train")
    evaluation = ws.labels(list(range(1, 10)) * 3 + [12, 12], name="eval")
    found, report = codes(
        ws,
        "--split",
        f"train={train}",
        "--split",
        f"eval={evaluation}",
        num_classes=10,
        sampler="uniform",
        num_sampled=2,
        max_unseen_fraction=0.2,
    )
    unseen = anomaly(report, "SPLIT_LABEL_UNSEEN_IN_TRAIN")["details"]
    assert (unseen["sample"], unseen["labels"], unseen["examples"]) == ([9, 12], 2, 5)
    assert anomaly(report, "SPLIT_CLASSES_MISSING")["details"]["sample"] == [0]
    same = ws.labels(list(range(9)) * 2, name="eval2")
    found = codes(
        ws,
        "--split",
        f"train={train}",
        "--split",
        f"eval={same}",
        num_classes=9,
        sampler="uniform",
        num_sampled=2,
    )[0]
    assert not {"SPLIT_LABEL_UNSEEN_IN_TRAIN", "SPLIT_CLASSES_MISSING"} & set(found)


@pytest.mark.slow
def test_real_taxi_payment_type_against_the_model_vocabulary(ws, shared_data):
    """TFX's taxi sample has a payment type ('Prcard') the model never had."""
    taxi = shared_data / "tfx-chicago-taxi"
    config = ws.config(
        "name: payment\nlabel_feature: payment_type\nnum_classes: 6\nnum_sampled: 2\n"
        f"vocabulary_file: {taxi / 'model-vocabulary' / 'payment_type.txt'}\n"
    )
    code, report = ws.validate(
        "--data",
        str(taxi / "parquet" / "data.parquet"),
        "--model-config",
        config,
        "--labels-only",
    )
    assert code == 1
    missing = anomaly(report, "LABEL_NOT_IN_VOCABULARY")
    assert missing["details"]["most_frequent"] == [{"value": "Prcard", "count": 1}]
    assert missing["severity"] == "ERROR"
    labels = report["labels"]["train"]["payment_type"]
    assert labels["examples"] == 10_000 and labels["classes_seen"] == 6
    # Cash, Credit Card, No Charge, Unknown, Pcard, Dispute: 6480, 3448, 48, 18, 1, 4
    assert labels["min"] == 0 and labels["max"] == 5
    assert "SAMPLER_FREQUENCY_ORDER" not in Workspace.codes(report)
