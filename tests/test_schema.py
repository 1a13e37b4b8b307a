"""The TFDV side: anomalies of every split merged into one file, dataset-level too."""

from tensorflow_metadata.proto.v0 import anomalies_pb2

from classgate import schema


def test_merged_anomalies_keep_feature_and_dataset_findings():
    found = anomalies_pb2.Anomalies()
    info = found.anomaly_info["label"]
    info.severity = anomalies_pb2.AnomalyInfo.ERROR
    info.reason.add(description="out of range")
    found.dataset_anomaly_info.severity = anomalies_pb2.AnomalyInfo.WARNING
    found.dataset_anomaly_info.reason.add(description="too few examples")
    findings = schema.merge_anomalies(
        [("train", "inferred", found), ("eval", "inferred", found)]
    )
    merged = findings.merged
    assert len(findings.of_split("eval").anomaly_info["label"].reason) == 1
    assert len(merged.anomaly_info["label"].reason) == 2
    assert "[split eval, inferred schema]" in merged.anomaly_info["label"].description
    assert [r.description for r in merged.dataset_anomaly_info.reason] == [
        "[split train, inferred schema] too few examples",
        "[split eval, inferred schema] too few examples",
    ]
