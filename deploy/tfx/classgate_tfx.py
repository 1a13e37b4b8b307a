"""classgate as a TFX component, and a training step that only a pass starts.

`ClassgateValidator` takes Examples and writes a Schema, ExampleStatistics,
ExampleAnomalies and a blessing, laid out as SchemaGen, StatisticsGen,
ExampleValidator and Evaluator lay theirs out. TFX 1.16 runs on Python 3.9-3.10 and
classgate on 3.11 with a newer protobuf, so the two never share an interpreter: the
component runs in the TFX environment and calls the classgate CLI of classgate's own
environment as a subprocess (`classgate_command`). The verdict is classgate's exit
code (0 pass, 1 fail); any other code fails the component, as a crashed
StatisticsGen fails a pipeline. `StartTraining` stands in for a Trainer: it runs only
from a blessed result, and refuses an unblessed one outright. This file runs in the
TFX environment only (Python 3.10 syntax).
"""

import json
import os
import shlex
import subprocess

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils

# TFX's own file names: SchemaGen's, StatisticsGen's, ExampleValidator's and
# Evaluator's readers (tfdv.load_stats_binary, anomalies_util.load_anomalies_binary,
# the blessing markers) find classgate's results where they find theirs.
SCHEMA_FILE = "schema.pbtxt"
STATISTICS_FILE = "FeatureStats.pb"
ANOMALIES_FILE = "SchemaDiff.pb"
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
# The custom property downstream conditions read, as Evaluator's `blessed`.
BLESSED_PROPERTY = "blessed"
# Where classgate's whole output (report.json/.md/.html, unigram files) is kept: inside
# the blessing, so the report that decided it sits beside the verdict.
REPORT_FOLDER = "classgate"
# classgate's exit codes (README: 0 pass, 1 fail, 2 bad input, 3 internal).
EXIT_PASS, EXIT_FAIL = 0, 1
# The last lines of classgate's output that a failed component's error carries.
ERROR_TAIL_LINES = 30


class ClassgateBlessing(tfx.dsl.Artifact):
    """Whether classgate passed an Examples artifact.

    Custom property `blessed` (1/0), a BLESSED or NOT_BLESSED marker file, and
    classgate's whole output (report.json, .md, .html) in `classgate/`.
    """

    TYPE_NAME = "ClassgateBlessing"


class TrainingRun(tfx.dsl.Artifact):
    """What `StartTraining` started: `started.json` names the blessing it ran from."""

    TYPE_NAME = "ClassgateTrainingRun"


@tfx.dsl.components.component
def ClassgateValidator(  # noqa: N802 (TFX names component factories as classes)
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    schema: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Schema],
    statistics: tfx.dsl.components.OutputArtifact[
        tfx.types.standard_artifacts.ExampleStatistics
    ],
    anomalies: tfx.dsl.components.OutputArtifact[
        tfx.types.standard_artifacts.ExampleAnomalies
    ],
    blessing: tfx.dsl.components.OutputArtifact[ClassgateBlessing],
    model_config: tfx.dsl.components.Parameter[str],
    classgate_command: tfx.dsl.components.Parameter[str] = "classgate",
    extra_flags: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Runs `classgate validate` over every split of `examples`.

    Args:
      examples: tf.Example TFRecords, one `Split-<name>/` folder per split (the
        layout of ExampleGen's output).
      schema: classgate's inferred schema, as `schema.pbtxt`.
      statistics: each split's TFDV statistics, `Split-<name>/FeatureStats.pb`
        (none with `--labels-only`, which computes no TFDV statistics).
      anomalies: each split's TFDV Anomalies, `Split-<name>/SchemaDiff.pb`.
      blessing: the verdict: custom property `blessed` and a marker file.
      model_config: the model config file (YAML) that names `num_classes`.
      classgate_command: the classgate executable of its Python 3.11 environment
        (an absolute path unless it is on the pipeline's PATH).
      extra_flags: more `classgate validate` flags, shell-quoted (`--strict`,
        `--labels-only`, `--baseline-schema FILE`, Beam options such as
        `--runner DataflowRunner ...`).
    """
    payload = examples.get_string_custom_property("payload_format")
    if payload and payload != "FORMAT_TF_EXAMPLE":
        raise ValueError(
            f"examples {examples.uri}: payload_format {payload}; classgate reads "
            "tf.Example TFRecords (FORMAT_TF_EXAMPLE)"
        )
    splits = artifact_utils.decode_split_names(examples.split_names)
    if not splits:
        raise ValueError(f"examples {examples.uri}: the artifact names no splits")
    report = os.path.join(blessing.uri, REPORT_FOLDER)
    command = [*shlex.split(classgate_command), "validate", "--quiet"]
    for split in splits:
        pattern = os.path.join(artifact_utils.get_split_uri([examples], split), "*")
        command += ["--split", f"{split}={pattern}"]
    command += ["--format", "tfrecord", "--model-config", model_config]
    command += ["--output", report, *shlex.split(extra_flags)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (EXIT_PASS, EXIT_FAIL):
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-ERROR_TAIL_LINES:])
        raise RuntimeError(
            f"classgate exited {done.returncode} (2: bad input, 3: internal "
            f"error): {shlex.join(command)}\n{tail}"
        )
    print(done.stdout, end="")  # the verdict and findings, in the component's log
    # Exit 0 blesses only when classgate's own gate opens on the report it wrote: a
    # dry run or a submitted job (--dry_run, --no-wait in extra_flags) exits 0
    # with no verdict.
    verdict = os.path.join(report, "report.json")
    gate = [*shlex.split(classgate_command), "run", "--report", verdict, "--", "true"]
    opened = subprocess.run(gate, capture_output=True, text=True, check=False)
    if done.returncode == EXIT_PASS and opened.returncode != 0:
        raise RuntimeError(
            f"classgate exited 0 but gave no passing verdict in {verdict} (a dry run "
            f"or --no-wait among extra_flags?): {opened.stderr.strip()}"
        )

    inferred = _read(os.path.join(report, SCHEMA_FILE))
    _write(os.path.join(schema.uri, SCHEMA_FILE), inferred.encode())
    merged = text_format.Parse(
        _read(os.path.join(report, "anomalies.pbtxt")), anomalies_pb2.Anomalies()
    )
    for split in splits:
        stats = os.path.join(report, "statistics", f"Split-{split}", STATISTICS_FILE)
        if os.path.exists(stats):
            target = os.path.join(statistics.uri, f"Split-{split}", STATISTICS_FILE)
            _write(target, _read(stats, "rb"))
        _write_schema_diff(
            os.path.join(report, "anomalies", f"Split-{split}", ANOMALIES_FILE),
            os.path.join(anomalies.uri, f"Split-{split}", ANOMALIES_FILE),
            split,
            merged,
            text_format.Parse(inferred, schema_pb2.Schema()),
        )
    for artifact in (statistics, anomalies):
        artifact.split_names = artifact_utils.encode_split_names(splits)

    blessed = done.returncode == EXIT_PASS and opened.returncode == 0
    blessing.set_int_custom_property(BLESSED_PROPERTY, int(blessed))
    blessing.set_string_custom_property("examples", examples.uri)
    blessing.set_string_custom_property("report", os.path.join(report, "report.json"))
    _write(
        os.path.join(blessing.uri, BLESSED_FILE if blessed else NOT_BLESSED_FILE), b""
    )


@tfx.dsl.components.component
def StartTraining(  # noqa: N802 (TFX names component factories as classes)
    blessing: tfx.dsl.components.InputArtifact[ClassgateBlessing],
    run: tfx.dsl.components.OutputArtifact[TrainingRun],
) -> None:
    """A Trainer's stand-in: records that training started from a blessed result.

    Put it (or your Trainer) under `tfx.dsl.Cond` on the blessing, so that a failed
    gate skips it; wired without the condition, it refuses an unblessed result
    instead of training on it.
    """
    if blessing.get_int_custom_property(BLESSED_PROPERTY) != 1:
        raise RuntimeError(
            f"{blessing.uri} is not blessed: classgate failed these examples "
            f"(report: {blessing.get_string_custom_property('report')})"
        )
    started = {
        "blessing": blessing.uri,
        "examples": blessing.get_string_custom_property("examples"),
    }
    _write(os.path.join(run.uri, "started.json"), json.dumps(started).encode())


def _write_schema_diff(written, target, split, merged, schema):
    """Writes the split's SchemaDiff.pb: classgate's own when it wrote one.

    Otherwise it is derived from anomalies.pbtxt, whose reasons name their split
    ("[split eval, inferred schema] ..."), with the inferred schema as baseline, as
    in ExampleValidator's.
    """
    if os.path.exists(written):
        _write(target, _read(written, "rb"))
        return
    mine = anomalies_pb2.Anomalies()
    mine.CopyFrom(merged)
    mine.ClearField("anomaly_info")
    mine.ClearField("dataset_anomaly_info")
    mine.baseline.CopyFrom(schema)
    prefix = f"[split {split}, "
    for name, info in merged.anomaly_info.items():
        _keep_split(info, mine.anomaly_info[name], prefix)
        if not mine.anomaly_info[name].reason:
            del mine.anomaly_info[name]
    if merged.HasField("dataset_anomaly_info"):
        _keep_split(merged.dataset_anomaly_info, mine.dataset_anomaly_info, prefix)
        if not mine.dataset_anomaly_info.reason:
            mine.ClearField("dataset_anomaly_info")
    _write(target, mine.SerializeToString())


def _keep_split(info, target, prefix):
    target.CopyFrom(info)
    target.ClearField("reason")
    target.reason.extend(r for r in info.reason if r.description.startswith(prefix))
    target.description = " ".join(r.description for r in target.reason)


def _read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def _write(path, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
