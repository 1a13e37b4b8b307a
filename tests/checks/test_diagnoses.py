"""Each diagnosis fires on a case built for it and stays quiet on its clean twin,
over hand-built statistics (milliseconds); the CLI runs them end to end elsewhere."""

import numpy as np
import pytest
from builders import codes, evaluate, find, model, stats

from classgate.checks import artifacts
from classgate.model_files import summary

from tools import synthetic
from workspace import Workspace

CLEAN = list(range(10)) * 3


def test_one_based_labels():
    found = evaluate([model()], {"train": {"label": list(range(1, 11)) * 3}})
    assert (
        "subtract 1, or set num_classes to 11" in find(found, "LABEL_ONE_BASED").message
    )
    assert "LABEL_ONE_BASED" not in codes(
        evaluate([model()], {"train": {"label": CLEAN}})
    )


def test_sentinel_value():
    found = evaluate([model()], {"train": {"label": CLEAN + [-1] * 5}})
    sentinel = find(found, "LABEL_SENTINEL")
    assert (sentinel.details["value"], sentinel.details["count"]) == (-1, 5)
    twin = evaluate([model()], {"train": {"label": CLEAN + [10, 11, 12]}})
    assert "LABEL_SENTINEL" not in codes(twin) and "LABEL_ABOVE_RANGE" in codes(twin)


WORDS = [b"cash", b"card", b"check"]


def vocabulary_run(rows, **keys):
    m = model(vocabulary_file="vocab.txt", **keys)
    found = stats(rows, m, words=WORDS)
    return m, found


def test_strings_not_in_vocabulary():
    from classgate import checks

    rows = ["cash", "card", "check"] * 3 + ["bitcoin"] * 2
    m, found = vocabulary_run(rows, num_classes=3)
    anomalies = checks.diagnoses.check_labels(m, "train", found)
    missing = find(anomalies, "LABEL_NOT_IN_VOCABULARY")
    assert missing.severity == "ERROR" and "'bitcoin' x2" in missing.message
    assert found.non_integer == 0  # strings are ids through the vocabulary
    m, found = vocabulary_run(rows, num_classes=4, num_oov_buckets=1)
    anomalies = checks.diagnoses.check_labels(m, "train", found)
    assert find(anomalies, "LABEL_NOT_IN_VOCABULARY").severity == "WARNING"
    assert found.max == 3  # the one OOV bucket
    m, found = vocabulary_run(["cash", "card", "check"] * 3, num_classes=3)
    assert checks.diagnoses.check_labels(m, "train", found) == []


def test_vocabulary_size_and_duplicates():
    m = model(num_classes=4, vocabulary_file="vocab.txt")
    files = {"m": summary.ModelFiles(vocabulary_size=3)}
    found = evaluate([m], {"train": {"label": []}}, files=files)
    mismatch = find(found, "VOCABULARY_SIZE_MISMATCH")
    assert "num_classes is 4 (the model config) but 3 (vocab.txt: 3 lines + 0 OOV" in (
        mismatch.message
    )
    doubled = summary.ModelFiles(vocabulary_size=3, vocabulary_duplicates={"cash": 2})
    found = artifacts.check(model(num_classes=3, vocabulary_file="v"), doubled)
    assert "'cash' x2" in find(found, "VOCABULARY_SIZE_MISMATCH").message
    clean = summary.ModelFiles(vocabulary_size=3)
    assert artifacts.check(model(num_classes=3, vocabulary_file="v"), clean) == []


def test_weights_shapes_against_num_classes():
    m = model(
        num_classes=6, checkpoint="ckpt", weights_variable="w", biases_variable="b"
    )
    files = summary.ModelFiles(weights=("w", (5, 4)), biases=("b", (5,)))
    found = artifacts.check(m, files)
    assert {a.details["role"] for a in found} == {"weights", "biases"}
    assert "shape [5, 4]" in found[0].message
    good = summary.ModelFiles(weights=("w", (6, 4)), biases=("b", (6,)))
    assert artifacts.check(m, good) == []


CONTEXT = {"context_feature": "context", "context_vocab_size": 500}


def test_context_ids_past_the_embedding_table():
    split = {"label": [0, 1, 2, 3] * 5, "context": list(range(18)) + [600, 700]}
    found = evaluate([model(num_classes=4, **CONTEXT)], {"train": split})
    bad = find(found, "ID_OUT_OF_RANGE")
    assert bad.feature == "context" and bad.details["values"] == 2
    assert "context_vocab_size to at least 701" in bad.message
    wide = dict(CONTEXT, context_vocab_size=701)
    assert "ID_OUT_OF_RANGE" not in codes(
        evaluate([model(num_classes=4, **wide)], {"train": split})
    )


def test_context_absent_or_not_ids():
    labels = [0, 1, 2, 3] * 5
    absent = evaluate([model(num_classes=4, **CONTEXT)], {"train": {"label": labels}})
    assert "ID_FEATURE_ABSENT" in codes(absent, "ERROR")
    strings = {"label": labels, "context": ["a"] * 20}
    found = evaluate([model(num_classes=4, **CONTEXT)], {"train": strings})
    assert "ID_TYPE_INVALID" in codes(found, "ERROR")
    floats = {"label": labels, "context": [1.0] * 20}
    tfrecord = evaluate(
        [model(num_classes=4, **CONTEXT)], {"train": floats}, {"train": "tfrecord"}
    )
    assert "ID_TYPE_INVALID" in codes(tfrecord, "ERROR")
    # Some examples without context ids are fine: the trainer pools none.
    sparse = {"label": labels, "context": [[1], [], None, [2, 3]] * 5}
    fine = evaluate([model(num_classes=4, **CONTEXT)], {"train": sparse})
    assert not {"ID_FEATURE_ABSENT", "ID_TYPE_INVALID"} & set(codes(fine))


def test_log_uniform_needs_ids_sorted_by_frequency():
    n = 500
    ids = synthetic.labels(5_000, n, seed=1)  # Zipf: small ids are frequent
    m = model(num_classes=n, num_sampled=20)
    assert "SAMPLER_FREQUENCY_ORDER" not in codes(
        evaluate([m], {"train": {"label": ids.tolist()}})
    )
    shuffled = np.random.default_rng(0).permutation(n)[ids].tolist()
    order = find(
        evaluate([m], {"train": {"label": shuffled}}), "SAMPLER_FREQUENCY_ORDER"
    )
    assert order.details["distance"] > order.details["distance_remapped"] + 0.1
    unigram = model(num_classes=n, num_sampled=20, sampler="unigram")
    assert "SAMPLER_FREQUENCY_ORDER" not in codes(
        evaluate([unigram], {"train": {"label": shuffled}})
    )


def test_sampler_settings():
    noisy = model(num_sampled=8, sampler="uniform", remove_accidental_hits=True)
    found = codes(evaluate([noisy], {"train": {"label": CLEAN}}))
    assert {"ACCIDENTAL_HITS_WITH_NCE", "NUM_SAMPLED_HIGH"} <= set(found)
    # Accidental hits removed is right for sampled softmax.
    quiet = model(num_sampled=2, sampler="uniform", loss="sampled_softmax")
    found = codes(evaluate([quiet], {"train": {"label": CLEAN}}))
    assert not {"ACCIDENTAL_HITS_WITH_NCE", "NUM_SAMPLED_HIGH"} & set(found)


@pytest.mark.parametrize("sampled, unique", [(0, True), (10, True), (-1, False)])
def test_invalid_num_sampled(sampled, unique):
    m = model(num_sampled=sampled, unique=unique)
    assert "NUM_SAMPLED_INVALID" in codes(evaluate([m], {"train": {"label": CLEAN}}))


def test_class_files_past_their_limit():
    huge = model(num_classes=(1 << 30) + 1, max_unseen_fraction=1.0)
    assert "CLASS_FILES_SKIPPED" in codes(evaluate([huge], {"train": {"label": [0]}}))


def test_splits_with_different_classes():
    m = model(sampler="uniform", num_sampled=2, max_unseen_fraction=0.2)
    train = {"label": list(range(9)) * 3}
    evaluation = {"label": list(range(1, 10)) * 3 + [12, 12]}
    found = evaluate([m], {"train": train, "eval": evaluation})
    unseen = find(found, "SPLIT_LABEL_UNSEEN_IN_TRAIN").details
    assert (unseen["sample"], unseen["labels"], unseen["examples"]) == ([9, 12], 2, 5)
    assert find(found, "SPLIT_CLASSES_MISSING").details["sample"] == [0]
    same = {"label": list(range(9)) * 2}
    found = codes(
        evaluate(
            [model(num_classes=9, sampler="uniform", num_sampled=2)],
            {"train": train, "eval": same},
        )
    )
    assert not {"SPLIT_LABEL_UNSEEN_IN_TRAIN", "SPLIT_CLASSES_MISSING"} & set(found)


def test_compression_names_and_columns_left_out():
    notes = {
        "train": {
            "a.tfrecord.gz": {"compression": "none"},
            "b.tfrecord": {"compression": "gzip"},
            "c.tfrecord.gz": {"compression": "gzip"},
        }
    }
    found = evaluate(
        [model()], {"train": {"label": CLEAN}}, {"train": "tfrecord"}, notes=notes
    )
    mismatches = [a for a in found if a.code == "COMPRESSION_NAME_MISMATCH"]
    assert [a.details["files"] for a in mismatches] == [
        ["a.tfrecord.gz"],
        ["b.tfrecord"],
    ]
    left = {"train": {"p.parquet": {"left_out": ["map", "list_of_struct"]}}}
    found = evaluate([model()], {"train": {"label": CLEAN}}, notes=left)
    assert find(found, "COLUMNS_NOT_IN_STATISTICS").details["columns"] == [
        "list_of_struct",
        "map",
    ]


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
    missing = next(
        a for a in report["anomalies"] if a["code"] == "LABEL_NOT_IN_VOCABULARY"
    )
    assert missing["details"]["most_frequent"] == [{"value": "Prcard", "count": 1}]
    assert missing["severity"] == "ERROR"
    labels = report["labels"]["train"]["payment_type"]
    assert labels["examples"] == 10_000 and labels["classes_seen"] == 6
    # Cash, Credit Card, No Charge, Unknown, Pcard, Dispute: 6480, 3448, 48, 18, 1, 4
    assert labels["min"] == 0 and labels["max"] == 5
    assert "SAMPLER_FREQUENCY_ORDER" not in Workspace.codes(report)
