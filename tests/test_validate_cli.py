"""`classgate validate` end to end, in-process, on generated files."""

import json

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from workspace import CLASSIC, Workspace, label_errors

FORMATS = ["tfrecord", pytest.param("parquet", marks=pytest.mark.slow)]
MODES = {"full": [], "labels-only": ["--labels-only"]}


@pytest.fixture(scope="module")
def classic(tmp_path_factory, classic_ids):
    """The classic data as TFRecord and Parquet, written once for the module."""
    ws = Workspace(tmp_path_factory.mktemp("classic"))
    patterns = {
        fmt: ws.labels(
            classic_ids, fmt=fmt, name=f"train_{fmt}", context=classic_ids % 997
        )
        for fmt in ("tfrecord", "parquet")
    }
    return ws, patterns


@pytest.mark.parametrize(
    "mode", ["labels-only", pytest.param("full", marks=pytest.mark.slow)]
)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("num_classes", CLASSIC)
def test_classic_cases(classic, fmt, mode, num_classes):
    exit_code, errors = CLASSIC[num_classes]
    ws, patterns = classic
    code, report = ws.validate(
        "--data",
        patterns[fmt],
        "--model-config",
        ws.model(num_classes),
        *MODES[mode],
        output=f"out-{fmt}-{mode}-{num_classes}",
    )
    assert code == exit_code
    assert label_errors(report) == errors
    assert report["status"] == ("pass" if exit_code == 0 else "fail")
    labels = report["labels"]["train"]["label"]
    assert (labels["examples"], labels["min"], labels["max"]) == (20_000, 0, 9_999)
    assert labels["distinct"] == 10_000
    if errors == ["LABEL_ABOVE_RANGE"]:
        above = report["anomalies"][0]
        assert above["message"].startswith(
            "labels reach 9999: set num_classes to at least 10000"
        )
        assert len(above["details"]["locations"]) == 20


@pytest.mark.slow
def test_outputs_are_tfdv_artifacts(classic):
    ws, patterns = classic
    import tensorflow_data_validation as tfdv

    code, report = ws.validate(
        "--split",
        f"train={patterns['tfrecord']}",
        "--split",
        f"eval={patterns['parquet']}",
        "--model-config",
        ws.model(5_000),
        output="artifacts",
    )
    out = ws.root / "artifacts"
    assert code == 1
    schema = text_format.Parse((out / "schema.pbtxt").read_text(), schema_pb2.Schema())
    label = next(f for f in schema.feature if f.name == "label")
    assert (label.int_domain.min, label.int_domain.max) == (0, 4_999)
    assert label.int_domain.is_categorical
    assert (label.value_count.min, label.value_count.max) == (1, 1)
    assert {f.name for f in schema.feature} == {"label", "context"}
    anomalies = text_format.Parse(
        (out / "anomalies.pbtxt").read_text(), anomalies_pb2.Anomalies()
    )
    assert "label" in anomalies.anomaly_info
    for split in ("train", "eval"):
        stats = tfdv.load_stats_binary(
            str(out / report["outputs"]["statistics"][split])
        )
        assert isinstance(stats, statistics_pb2.DatasetFeatureStatisticsList)
        assert stats.datasets[0].num_examples == 20_000
    assert report["data"]["train"]["fingerprint"].startswith("sha256:")
    assert [f["size"] > 0 for f in report["data"]["eval"]["files"]] == [True, True]
    assert report["models"][0]["num_sampled"] == 64
    assert (out / "report.md").read_text().startswith("# classgate: FAIL")
    assert not (out / ".classgate-staging").exists()
    assert not list(out.rglob("*.tmp-*"))


def test_all_models_of_a_config_file_are_checked(ws):
    pattern = ws.labels(list(range(10)) * 2)
    config = ws.config(
        "models:\n"
        "  - {name: right, label_feature: label, num_classes: 10}\n"
        "  - {name: small, label_feature: label, num_classes: 5, num_sampled: 2}\n"
    )
    code, report = ws.validate(
        "--data", pattern, "--model-config", config, "--labels-only"
    )
    assert code == 1
    errors = {
        (a["model"], a["code"]) for a in report["anomalies"] if a["severity"] == "ERROR"
    }
    assert ("small", "LABEL_ABOVE_RANGE") in errors
    assert not any(model == "right" for model, _ in errors)


@pytest.mark.slow
def test_unseen_within_tolerance_is_a_warning_and_strict_fails_it(ws):
    pattern = ws.labels(list(range(95)) * 2)
    # Uniform labels with the sampler that fits them, and a modest num_sampled.
    config = ws.model(100, sampler="uniform", num_sampled=10)
    code, report = ws.validate(
        "--data", pattern, "--model-config", config, "--labels-only"
    )
    assert (code, Workspace.codes(report, "WARNING")) == (0, ["CLASSES_UNSEEN"])
    code, report = ws.validate(
        "--data", pattern, "--model-config", config, "--labels-only", "--strict"
    )
    assert (code, report["status"]) == (1, "fail")


def test_each_label_problem_has_its_code(ws):
    rows = [[1], [-1], None, [], [1, 2], [3]] * 5
    pattern = ws.labels(rows, fmt="parquet")
    code, report = ws.validate(
        "--data",
        pattern,
        "--model-config",
        ws.model(4, max_unseen_fraction=1.0),
        "--labels-only",
    )
    assert code == 1
    assert label_errors(report) == [
        "LABEL_BELOW_RANGE",
        "LABEL_COUNT_MISMATCH",
        "LABEL_MISSING",
        "LABEL_SENTINEL",  # the only out-of-range value is -1: padding
    ]
    missing = next(a for a in report["anomalies"] if a["code"] == "LABEL_MISSING")
    assert missing["details"]["missing"] == 10
    first = missing["details"]["locations"][0]
    assert (
        first["file"].endswith("train-00000-of-00002.parquet") and first["record"] == 2
    )


@pytest.mark.slow
def test_string_labels_are_an_invalid_type(ws):
    pattern = ws.labels(["cash", "card"] * 5)
    code, report = ws.validate("--data", pattern, "--model-config", ws.model(2))
    assert code == 1 and "LABEL_TYPE_INVALID" in label_errors(report)


def test_empty_split_and_bad_num_sampled(ws):
    empty = ws.labels([], shards=1, name="eval")
    train = ws.labels([0, 1, 2, 3])
    config = ws.model(4, num_sampled=4)
    code, report = ws.validate(
        "--split",
        f"train={train}",
        "--split",
        f"eval={empty}",
        "--model-config",
        config,
        "--labels-only",
    )
    assert code == 1
    assert label_errors(report) == ["EMPTY_DATASET", "NUM_SAMPLED_INVALID"]
    empty_anomaly = next(a for a in report["anomalies"] if a["code"] == "EMPTY_DATASET")
    assert empty_anomaly["split"] == "eval"


@pytest.mark.slow
def test_schema_split_is_train_and_eval_is_validated_against_it(ws):
    train = ws.labels([0, 1, 2, 3], name="train", payment=["cash", "card"] * 2)
    evaluation = ws.labels([0, 1, 2, 3], name="eval", payment=["cash", "bitcoin"] * 2)
    code, report = ws.validate(
        "--split",
        f"eval={evaluation}",
        "--split",
        f"train={train}",
        "--model-config",
        ws.model(4),
    )
    assert code == 0, report["anomalies"]
    assert report["training_split"] == "train"
    tfdv = [a for a in report["anomalies"] if a["code"].startswith("TFDV_")]
    assert {(a["split"], a["feature"], a["severity"]) for a in tfdv} == {
        ("eval", "payment", "WARNING")
    }


@pytest.mark.slow
def test_baseline_schema_findings_keep_tfdv_severity(ws):
    pattern = ws.labels([0, 1, 2, 3], payment=["cash", "card"] * 2)
    baseline = ws.config(
        'feature { name: "payment" type: BYTES string_domain { value: "cash" } }\n'
        'feature { name: "label" type: INT }\n',
        name="baseline.pbtxt",
    )
    code, report = ws.validate(
        "--data", pattern, "--model-config", ws.model(4), "--baseline-schema", baseline
    )
    assert code == 1
    found = [a for a in report["anomalies"] if a["details"].get("schema") == "baseline"]
    assert (
        found and found[0]["feature"] == "payment" and found[0]["severity"] == "ERROR"
    )


@pytest.mark.slow
def test_rerun_into_the_same_folder_replaces_the_verdict(ws):
    pattern = ws.labels([0, 1, 2, 3])
    assert ws.validate("--data", pattern, "--model-config", ws.model(4))[0] == 0
    code, report = ws.validate("--data", pattern, "--model-config", ws.model(3))
    assert (code, report["status"]) == (1, "fail")
    assert json.loads((ws.root / "out" / "report.json").read_text())["status"] == "fail"
