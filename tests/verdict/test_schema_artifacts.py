"""TFX-compatible artifacts: anomalies.pbtxt and each split's SchemaDiff.pb say what
report.json says, severities included, and are loadable as TFX components load them.
classgate's own findings ride in them as CUSTOM_VALIDATION reasons, so a TFX reader
sees the error that closed the gate."""

import json

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2

from classgate import names
from classgate.verdict import schema

SEVERITY_RANK = {"WARNING": 1, "ERROR": 2}


@pytest.fixture
def load_anomalies_binary():
    """TFDV's reader of binary Anomalies, as TFX's components use it (TFDV 1.16
    keeps it in utils.anomalies_util, not at the top level)."""
    schema._tfdv()  # its import-time notice kept quiet
    from tensorflow_data_validation.utils import anomalies_util

    return anomalies_util.load_anomalies_binary


def inferred_warnings(ws):
    """Eval holds a payment train never had: a finding against the inferred schema,
    a WARNING in the report, which TFDV itself rates ERROR."""
    train = ws.labels([0, 1, 2, 3], name="train", payment=["cash", "card"] * 2)
    evaluation = ws.labels([0, 1, 2, 3], name="eval", payment=["cash", "bitcoin"] * 2)
    return ["--split", f"train={train}", "--split", f"eval={evaluation}"]


def with_baseline(ws):
    """The same splits against a curated schema too: ERRORs beside the WARNING."""
    baseline = ws.config(
        'feature { name: "payment" type: BYTES string_domain { value: "cash" } }\n'
        'feature { name: "label" type: INT }\n',
        name="baseline.pbtxt",
    )
    return [*inferred_warnings(ws), "--baseline-schema", baseline]


def labels_only(ws):
    """No TFDV findings at all: every split still gets its (empty) SchemaDiff.pb."""
    return [*inferred_warnings(ws), "--labels-only"]


RUNS = [inferred_warnings, with_baseline, labels_only]


def tfdv_findings(report, split=None) -> dict:
    """feature (None: the dataset) -> the report's TFDV_ anomalies about it."""
    found = {}
    for anomaly in report["anomalies"]:
        if anomaly["code"].startswith("TFDV_") and split in (None, anomaly["split"]):
            found.setdefault(anomaly["feature"], []).append(anomaly)
    return found


def findings(report, split=None) -> dict:
    """feature (None: the dataset) -> every report anomaly about it: TFDV's of the
    split, and classgate's of the split or of none (those are in every split's)."""
    found = {}
    for anomaly in report["anomalies"]:
        tfdv = anomaly["code"].startswith("TFDV_")
        if (
            split is None
            or anomaly["split"] == split
            or (not tfdv and anomaly["split"] is None)
        ):
            found.setdefault(anomaly["feature"], []).append(anomaly)
    return found


def reason_code(reason) -> str:
    """A reason as the report names it: TFDV_<type>, or classgate's own code."""
    if reason.type == anomalies_pb2.AnomalyInfo.CUSTOM_VALIDATION:
        return reason.short_description
    return "TFDV_" + anomalies_pb2.AnomalyInfo.Type.Name(reason.type)


def worst(anomalies) -> str:
    return max((a["severity"] for a in anomalies), key=SEVERITY_RANK.__getitem__)


def infos(anomalies: anomalies_pb2.Anomalies) -> dict:
    found = dict(anomalies.anomaly_info)
    if anomalies.HasField("dataset_anomaly_info"):
        found[None] = anomalies.dataset_anomaly_info
    return found


def severity_name(info) -> str:
    return anomalies_pb2.AnomalyInfo.Severity.Name(info.severity)


@pytest.mark.parametrize("run", RUNS, ids=lambda f: f.__name__)
@pytest.mark.slow
def test_anomalies_pbtxt_severity_agrees_with_the_report(ws, run):
    code, report = ws.validate(*run(ws), "--model-config", ws.model(4))
    assert report is not None, code
    stored = text_format.Parse(
        (ws.root / "out" / names.ANOMALIES).read_text(), anomalies_pb2.Anomalies()
    )
    in_report = findings(report)
    assert set(infos(stored)) == set(in_report)
    for feature, info in infos(stored).items():
        assert severity_name(info) == worst(in_report[feature]), feature
        assert sorted(map(reason_code, info.reason)) == sorted(
            a["code"] for a in in_report[feature]
        ), feature
    if run is inferred_warnings:  # the case that once disagreed
        assert [a["severity"] for a in tfdv_findings(report)["payment"]] == ["WARNING"]


@pytest.mark.parametrize("run", RUNS, ids=lambda f: f.__name__)
@pytest.mark.slow
def test_each_split_has_a_schema_diff_that_tfdv_loads(ws, load_anomalies_binary, run):
    code, report = ws.validate(*run(ws), "--model-config", ws.model(4))
    assert report is not None, code
    out = ws.root / "out"
    for split in ("train", "eval"):
        path = out / "anomalies" / f"Split-{split}" / "SchemaDiff.pb"
        assert str(path) == str(out / names.schema_diff(split))
        loaded = load_anomalies_binary(str(path))
        in_report = findings(report, split)
        assert set(infos(loaded)) == set(in_report), split
        for feature, info in infos(loaded).items():
            anomalies = in_report[feature]
            assert severity_name(info) == worst(anomalies), (split, feature)
            assert sorted(map(reason_code, info.reason)) == sorted(
                a["code"] for a in anomalies
            )
    if run is with_baseline:  # findings in both splits, against both schemas
        assert set(tfdv_findings(report, "train")) == {"payment"}
        assert {a["severity"] for a in tfdv_findings(report, "eval")["payment"]} == {
            "WARNING",
            "ERROR",
        }


@pytest.mark.slow
def test_schema_diffs_are_declared_outputs(ws):
    """Listed in the manifest, so a later run removes the ones it does not write."""
    out = ws.root / "out"
    train = ws.labels([0, 1, 2, 3], name="train")
    evaluation = ws.labels([0, 1, 2, 3], name="eval")
    model = ws.model(4)
    splits = ["--split", f"train={train}", "--split", f"eval={evaluation}"]
    assert ws.validate(*splits, "--model-config", model, "--labels-only")[0] == 0
    manifest = json.loads((out / ".classgate-manifest.json").read_text())["files"]
    assert names.schema_diff("eval") in manifest
    assert (out / names.schema_diff("eval")).is_file()
    code, _ = ws.validate("--data", train, "--model-config", model, "--labels-only")
    assert code == 0
    assert (out / names.schema_diff("train")).is_file()
    assert not (out / names.schema_diff("eval")).exists()
