"""deploy/tfx: classgate as a TFX component, run by LocalDagRunner on TFX's taxi data.

TFX 1.16 needs Python 3.10 (`make tfx-env` builds .venv-tfx), so the pipeline runs
there as a subprocess and calls this checkout's .venv/bin/classgate; what it left is
read back in the TFX environment too (MLMD, and the artifacts as TFX's readers load
them). num_classes 24 fits trip_start_hour: blessed, and training started; 20 does
not: not blessed, and training was skipped.
"""

import concurrent.futures
import json
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TFX_PYTHON = ROOT / ".venv-tfx" / "bin" / "python"
CLASSGATE = ROOT / ".venv" / "bin" / "classgate"
TAXI = ROOT.parent / "shared" / "data" / "tfx-chicago-taxi" / "tfrecord"
# Import TensorFlow, start LocalDagRunner, ImportExampleGen and classgate: ~40 s alone.
PIPELINE_TIMEOUT_S = 600

# Run in .venv-tfx: what MLMD recorded, and the artifacts as TFX's readers load them.
PROBE = """
import json, os, sys
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.utils import anomalies_util

config = metadata_store_pb2.ConnectionConfig()
config.sqlite.filename_uri = os.path.join(sys.argv[1], "metadata.sqlite")
store = metadata_store.MetadataStore(config)
names = {t.id: t.name for t in store.get_execution_types()}
executions = {}
for e in store.get_executions():
    state = metadata_store_pb2.Execution.State.Name(e.last_known_state)
    executions.setdefault(names[e.type_id].rsplit(".", 1)[-1], []).append(state)

def artifact(type_name):
    (found,) = store.get_artifacts_by_type(type_name)
    return found

blessing = artifact("ClassgateBlessing")
statistics, anomalies = artifact("ExampleStatistics"), artifact("ExampleAnomalies")
splits = json.loads(anomalies.properties["split_names"].string_value)
print(json.dumps({
    "executions": executions,
    "blessed": blessing.custom_properties["blessed"].int_value,
    "blessing": blessing.uri,
    "runs": [a.uri for a in store.get_artifacts_by_type("ClassgateTrainingRun")],
    "schema": artifact("Schema").uri,
    "statistics_splits": json.loads(statistics.properties["split_names"].string_value),
    "anomalies": {
        split: sorted(anomalies_util.load_anomalies_binary(
            os.path.join(anomalies.uri, f"Split-{split}", "SchemaDiff.pb")
        ).anomaly_info)
        for split in splits
    },
    "anomalies_uri": anomalies.uri,
    "examples": {
        split: tfdv.load_stats_binary(
            os.path.join(statistics.uri, f"Split-{split}", "FeatureStats.pb")
        ).datasets[0].num_examples
        for split in splits
    },
}))
"""


def run_pipeline(root: pathlib.Path, num_classes: int) -> dict:
    """Runs deploy/tfx/example_pipeline.py in .venv-tfx; returns the probe's view."""
    root.mkdir()
    config = root / "model.yaml"
    config.write_text(
        f"name: hour\nlabel_feature: trip_start_hour\nnum_classes: {num_classes}\n"
    )
    command = [
        str(TFX_PYTHON),
        str(ROOT / "deploy" / "tfx" / "example_pipeline.py"),
        f"--data={TAXI}",
        f"--model-config={config}",
        f"--classgate-command={CLASSGATE}",
        f"--root={root}",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=PIPELINE_TIMEOUT_S
    )
    assert done.returncode == 0, done.stderr[-5000:]
    probe = subprocess.run(
        [str(TFX_PYTHON), "-c", PROBE, str(root)],
        capture_output=True,
        text=True,
        timeout=PIPELINE_TIMEOUT_S,
    )
    assert probe.returncode == 0, probe.stderr[-5000:]
    return json.loads(probe.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """num_classes -> the probe's view of a pipeline run; both run at once."""
    if not TFX_PYTHON.exists():
        pytest.skip(f"{TFX_PYTHON} is absent: `make tfx-env` builds it (Python 3.10)")
    if not TAXI.is_dir():
        pytest.skip("../shared/data is absent (it sits beside the project in CI only)")
    base = tmp_path_factory.mktemp("tfx")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {n: pool.submit(run_pipeline, base / f"c{n}", n) for n in (24, 20)}
        return {n: future.result() for n, future in futures.items()}


def report_of(run: dict) -> dict:
    return json.loads(
        (pathlib.Path(run["blessing"]) / "classgate/report.json").read_text()
    )


@pytest.mark.slow
def test_fitting_num_classes_blesses_and_training_starts(runs):
    run = runs[24]
    assert run["blessed"] == 1
    assert (pathlib.Path(run["blessing"]) / "BLESSED").is_file()
    assert not (pathlib.Path(run["blessing"]) / "NOT_BLESSED").exists()
    assert report_of(run)["status"] == "pass"
    assert run["executions"]["StartTraining"] == ["COMPLETE"]
    (started,) = run["runs"]
    recorded = json.loads((pathlib.Path(started) / "started.json").read_text())
    assert recorded["blessing"] == run["blessing"]


@pytest.mark.slow
def test_too_few_classes_is_not_blessed_and_training_is_skipped(runs):
    run = runs[20]
    assert run["blessed"] == 0
    assert (pathlib.Path(run["blessing"]) / "NOT_BLESSED").is_file()
    assert not (pathlib.Path(run["blessing"]) / "BLESSED").exists()
    report = report_of(run)
    assert report["status"] == "fail"
    assert "LABEL_ABOVE_RANGE" in {a["code"] for a in report["anomalies"]}
    # The gate itself completed; the condition skipped training: no execution at all.
    assert run["executions"]["ClassgateValidator"] == ["COMPLETE"]
    assert "StartTraining" not in run["executions"]
    assert run["runs"] == []


@pytest.mark.slow
@pytest.mark.parametrize("num_classes", [24, 20])
def test_artifacts_load_as_tfx_components_load_them(runs, num_classes):
    run = runs[num_classes]
    assert run["statistics_splits"] == ["train", "eval"]
    # TFX's taxi data: 15,000 examples, split as its ExampleGen split them.
    assert run["examples"] == {"train": 9909, "eval": 5091}
    assert "feature {" in (pathlib.Path(run["schema"]) / "schema.pbtxt").read_text()
    # Findings stay with their split: the new payment type is eval's alone.
    assert "payment_type" in run["anomalies"]["eval"]
    assert "payment_type" not in run["anomalies"]["train"]
    for split in ("train", "eval"):
        written = pathlib.Path(run["blessing"], "classgate/anomalies")
        written = written / f"Split-{split}" / "SchemaDiff.pb"
        if written.exists():  # classgate's own SchemaDiff.pb, passed on as it is
            artifact = pathlib.Path(run["anomalies_uri"], f"Split-{split}")
            assert (artifact / "SchemaDiff.pb").read_bytes() == written.read_bytes()


@pytest.mark.slow
def test_exit_0_without_a_verdict_blesses_nothing(runs, tmp_path):
    """A dry run (or --no-wait) among the extra flags exits 0 with no report: the
    component fails rather than bless, and training never starts."""
    config = tmp_path / "model.yaml"
    config.write_text("name: hour\nlabel_feature: trip_start_hour\nnum_classes: 24\n")
    done = subprocess.run(
        [
            str(TFX_PYTHON),
            str(ROOT / "deploy" / "tfx" / "example_pipeline.py"),
            f"--data={TAXI}",
            f"--model-config={config}",
            f"--classgate-command={CLASSGATE}",
            f"--root={tmp_path / 'root'}",
            "--extra-flags=--dry_run=True",
        ],
        capture_output=True,
        text=True,
        timeout=PIPELINE_TIMEOUT_S,
    )
    assert done.returncode != 0
    assert "no passing verdict" in done.stdout + done.stderr
    assert not list((tmp_path / "root").rglob("started.json"))
