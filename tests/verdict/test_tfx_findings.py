"""The verdict in TFX's own artifacts: classgate's findings in anomalies.pbtxt and
every SchemaDiff.pb at their severity; TFDV's restatements folded into them."""

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from classgate.checks.anomaly import Anomaly, Severity
from classgate.verdict import schema


def anomaly(code, severity="ERROR", split="train", feature="label", **keys):
    return Anomaly(
        code=code,
        severity=Severity(severity),
        split=split,
        feature=feature,
        message=f"{code} found",
        **keys,
    )


def test_tfdv_restating_a_classgate_finding_is_folded_into_it():
    ours = anomaly("LABEL_ABOVE_RANGE", model="m")
    tfdv = anomaly("TFDV_INT_TYPE_BIG_INT", "WARNING")
    elsewhere = anomaly("TFDV_INT_TYPE_BIG_INT", "WARNING", split="eval")
    other = anomaly("TFDV_ENUM_TYPE_UNEXPECTED_STRING_VALUES", "WARNING")
    folded = schema.fold_restated([ours, tfdv, elsewhere, other])
    assert [a.code for a in folded] == [
        "LABEL_ABOVE_RANGE",
        "TFDV_INT_TYPE_BIG_INT",  # eval: no classgate finding there to restate
        "TFDV_ENUM_TYPE_UNEXPECTED_STRING_VALUES",
    ]
    assert folded[0].details["restated_by_tfdv"] == ["TFDV_INT_TYPE_BIG_INT"]


def test_classgate_findings_are_reasons_at_their_severity_in_every_artifact(
    tmp_path,
):
    tfdv_util = pytest.importorskip("tensorflow_data_validation.utils.anomalies_util")
    found = [
        anomaly("LABEL_ABOVE_RANGE", model="m"),
        anomaly("NUM_SAMPLED_HIGH", "WARNING", split=None, feature=None, model="m"),
        anomaly("CLASSES_UNSEEN", split="train", model="m", waived={"reason": "r"}),
    ]
    findings = schema.merge_anomalies([], found, ["train", "eval"])
    merged = findings.merged
    label = merged.anomaly_info["label"]
    assert label.severity == anomalies_pb2.AnomalyInfo.ERROR
    codes = [r.short_description for r in label.reason]
    assert codes == ["LABEL_ABOVE_RANGE", "CLASSES_UNSEEN"]
    assert {r.type for r in label.reason} == {
        anomalies_pb2.AnomalyInfo.CUSTOM_VALIDATION
    }
    assert "waived: r" in label.reason[1].description
    assert merged.dataset_anomaly_info.severity == anomalies_pb2.AnomalyInfo.WARNING
    # Per split, as TFX's ExampleValidator lays them out, read back by TFDV's own
    # reader: eval holds the config-level finding only.
    for split, expected in (("train", {"label", None}), ("eval", {None})):
        data = findings.of_split(split).SerializeToString()
        path = tmp_path / f"SchemaDiff-{split}.pb"
        path.write_bytes(data)
        read = tfdv_util.load_anomalies_binary(str(path))
        seen = set(read.anomaly_info) | (
            {None} if read.HasField("dataset_anomaly_info") else set()
        )
        assert seen == expected
