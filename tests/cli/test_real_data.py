"""Real files written by TFX (../shared/data): our figures equal TFX's own."""

import pyarrow.parquet as pq
import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

pytestmark = pytest.mark.slow


def count_records(files):
    """Records as TensorFlow's own reader counts them: an independent reference."""
    import tensorflow as tf

    files = [str(f) for f in files]
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def tfx_feature(path, name):
    stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(path.read_bytes())
    dataset = stats.datasets[0]
    feature = next(f for f in dataset.features if f.path.step == [name])
    return dataset.num_examples, feature


@pytest.mark.parametrize("mode", [[], ["--labels-only"]], ids=["full", "labels-only"])
def test_taxi_tfrecord_matches_tfx_statistics(ws, shared_data, mode):
    taxi = shared_data / "tfx-chicago-taxi"
    config = ws.config("name: hour\nlabel_feature: trip_start_hour\nnum_classes: 24\n")
    code, report = ws.validate(
        "--split",
        f"train={taxi}/tfrecord/Split-train/*",
        "--split",
        f"eval={taxi}/tfrecord/Split-eval/*",
        "--model-config",
        config,
        *mode,
    )
    assert code == 0, report["anomalies"]
    for split in ("train", "eval"):
        _, feature = tfx_feature(
            taxi / "statistics" / f"Split-{split}" / "FeatureStats.pb",
            "trip_start_hour",
        )
        ours = report["labels"][split]["trip_start_hour"]
        assert (ours["min"], ours["max"]) == (
            feature.num_stats.min,
            feature.num_stats.max,
        )
        assert ours["missing"] == 0
        # The shards hold 9,909 / 5,091 records, TFX's FeatureStats.pb says 10,036 /
        # 4,966 (15,000 vs 15,002 rows in all): the stored statistics come from another
        # split of the same CSV. We count what TensorFlow's own reader counts.
        shards = sorted((taxi / "tfrecord" / f"Split-{split}").iterdir())
        assert ours["examples"] == count_records(shards)
        assert len(report["data"][split]["files"]) == 12
    assert report["labels"]["train"]["trip_start_hour"]["classes_seen"] == 24
    if not mode:
        # New company / payment_type values in eval are shown, as warnings only.
        tfdv = {
            (a["split"], a["feature"])
            for a in report["anomalies"]
            if a["code"].startswith("TFDV_")
        }
        assert ("eval", "company") in tfdv
        assert all(a["severity"] == "WARNING" for a in report["anomalies"])


@pytest.mark.parametrize("mode", [[], ["--labels-only"]], ids=["full", "labels-only"])
def test_taxi_parquet(ws, shared_data, mode):
    path = shared_data / "tfx-chicago-taxi" / "parquet" / "data.parquet"
    hours = pq.read_table(path, columns=["trip_start_hour"]).column(0).to_pylist()
    config = ws.config("name: hour\nlabel_feature: trip_start_hour\nnum_classes: 24\n")
    code, report = ws.validate("--data", str(path), "--model-config", config, *mode)
    assert code == 0, report["anomalies"]
    ours = report["labels"]["train"]["trip_start_hour"]
    assert ours["examples"] == len(hours) == 10_000
    assert (ours["min"], ours["max"], ours["classes_seen"]) == (
        min(hours),
        max(hours),
        24,
    )


def test_taxi_too_few_hours_fails_naming_the_fix(ws, shared_data):
    taxi = shared_data / "tfx-chicago-taxi"
    config = ws.config("name: hour\nlabel_feature: trip_start_hour\nnum_classes: 12\n")
    code, report = ws.validate(
        "--data",
        f"{taxi}/tfrecord/Split-train/*",
        "--model-config",
        config,
        "--labels-only",
    )
    assert code == 1
    above = next(a for a in report["anomalies"] if a["code"] == "LABEL_ABOVE_RANGE")
    assert above["message"].startswith(
        "labels reach 23: set num_classes to at least 24"
    )
    assert above["details"]["locations"][0]["file"].endswith("00000-of-00012.gz")


def test_penguin_species(ws, shared_data):
    import tensorflow as tf

    penguin = shared_data / "tfx-penguin" / "tfrecord"
    config = ws.config("name: penguins\nlabel_feature: species\nnum_classes: 3\n")
    code, report = ws.validate(
        "--split",
        f"train={penguin}/Split-train/*",
        "--split",
        f"eval={penguin}/Split-eval/*",
        "--model-config",
        config,
    )
    assert code == 0, report["anomalies"]
    for split, expected in (("train", 234), ("eval", 100)):
        files = [str(p) for p in (penguin / f"Split-{split}").iterdir()]
        species = [
            tf.train.Example.FromString(r.numpy())
            .features.feature["species"]
            .int64_list.value[0]
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")
        ]
        ours = report["labels"][split]["species"]
        assert ours["examples"] == len(species) == expected
        assert (ours["min"], ours["max"]) == (min(species), max(species)) == (0, 2)
        assert ours["classes_seen"] == 3
