"""A feature a model config names but no example has: exit 2, naming what is there.

A misspelled label_feature must not pass as "every label missing" (exit 1 with
advice about unseen classes) on TFRecord while Parquet says exit 2: both formats
name the feature and the features present.
"""

import pytest


@pytest.mark.parametrize("fmt", ["tfrecord", "parquet"])
@pytest.mark.parametrize("key", ["label_feature", "context_feature"])
def test_a_feature_no_example_has_is_exit_2_naming_those_present(ws, capsys, fmt, key):
    pattern = ws.labels([0, 1, 2] * 4, fmt=fmt, context=[1, 2, 3] * 4)
    keys = {"context_feature": "context", "context_vocab_size": 5}
    name = "lable" if key == "label_feature" else "contxt"
    config = ws.config(
        "name: m\nnum_classes: 3\nnum_sampled: 1\n"
        + "".join(
            f"{k}: {v}\n"
            for k, v in {"label_feature": "label", **keys, key: name}.items()
        )
    )
    code, report = ws.validate(
        "--data", pattern, "--model-config", config, "--labels-only"
    )
    err = capsys.readouterr().err
    assert code == 2 and report is None, err
    assert err.count("\n") == 1 and f"'{name}'" in err
    assert "label" in err and "context" in err  # what is there


def test_a_feature_some_examples_lack_is_still_label_missing(ws):
    import pyarrow as pa

    labels = pa.array([[0], [], None, [1], [2], [0]], pa.list_(pa.int64()))
    pattern = ws.labels(labels, shards=1)
    code, report = ws.validate(
        "--data", pattern, "--model-config", ws.model(3, num_sampled=1),
        "--labels-only",
    )  # fmt: skip
    assert code == 1
    assert "LABEL_MISSING" in ws.codes(report, "ERROR")
