"""classgate as a Kubeflow Pipelines (v2) component: the gate before training.

`classgate_validate` runs `classgate.validate` on the image of
deploy/dataflow/Dockerfile and, through `classgate.open_gate`, fails its task, and
so the run, on a failing verdict: nothing downstream starts. Its outputs are the
report folder (`report`, an Artifact), report.html (`report_html`, shown by the
KFP UI), and the verdict and the model's num_classes as parameters for the
training step. Beam options pass through unchanged (`beam_options`), so the task
can be a small driver that launches a Dataflow job. `classgate_validate_container`
is the same gate as a container component that runs the `classgate validate`
command itself, for those who keep Python code out of their pipeline definitions.

The bodies are thin on purpose: the gate's meaning lives in classgate, not here.
A lightweight component's body is shipped as source and runs alone in the
container, so it imports what it needs inside the function.
"""

from typing import NamedTuple

from kfp import dsl

# The image of deploy/dataflow/Dockerfile (the Flex Template image, also the
# Dataflow workers' SDK container): classgate, its pins and kfp (in
# requirements.lock), so the task's driver and the workers run the same classgate.
# A placeholder: set it to the image you pushed before compiling the pipeline.
CLASSGATE_IMAGE = "us-docker.pkg.dev/PROJECT/REPO/classgate:0.1.0"


@dsl.component(
    base_image=CLASSGATE_IMAGE,
    # kfp==2.13.0 is in requirements.lock, so in the image: no pip at run time.
    install_kfp_package=False,
)
def classgate_validate(
    data: str,
    model_config: str,
    report: dsl.Output[dsl.Artifact],
    report_html: dsl.Output[dsl.HTML],
    beam_options: list = [],  # noqa: B006 (a KFP default: compiled, never mutated)
    labels_only: bool = False,
    data_format: str = "auto",
    strict: bool = False,
    fail_on_fail: bool = True,
) -> NamedTuple("Verdict", [("verdict", str), ("num_classes", int)]):
    """Validates `data` against one model config; fails the task unless it passes.

    Args:
        data: a file pattern (gs://bucket/data/train-*.tfrecord.gz).
        model_config: the model's YAML file (gs:// or a path in the container).
        report: out: the output folder (report.json, report.md, report.html,
            schema, statistics, anomalies).
        report_html: out: report.html, for the KFP UI.
        beam_options: Beam/Dataflow flags, e.g. ["--runner=DataflowRunner",
            "--project=my-project", "--region=us-central1",
            "--temp_location=gs://my-bucket/tmp"].
        labels_only: read only the label (and context id) columns; no TFDV
            statistics.
        data_format: "auto", "tfrecord" or "parquet".
        strict: warnings fail the verdict too.
        fail_on_fail: False lets a failing verdict end the task normally (its
            report then shows in the UI) and leaves the gating to the pipeline:
            `dsl.If(task.outputs["verdict"] == "pass")`, or a trainer that opens
            the gate itself (classgate.open_gate), as pipeline.py's does.

    Returns:
        verdict ("pass" or "fail") and the model's num_classes.
    """
    import collections
    import shutil

    from apache_beam.io.filesystems import FileSystems

    import classgate

    # Dataflow workers write into the output folder, and they cannot see this
    # container's files: where the artifact lives on gs://, write there directly
    # (artifact.path is the same object through Cloud Storage FUSE).
    output = report.uri if report.uri.startswith("gs://") else report.path
    found = classgate.validate(
        data,
        model_config,
        output,
        labels_only=labels_only,
        data_format=data_format,
        strict=strict,
        beam_options=list(beam_options),
    )
    if found is None:
        raise RuntimeError("a dry run (--dry_run) gives no verdict to gate on")
    with FileSystems.open(f"{output}/report.html") as src:
        with open(report_html.path, "wb") as dst:
            shutil.copyfileobj(src, dst)
    print(f"classgate: verdict {found.status}; report in {output}")
    for anomaly in found.anomalies:
        print(anomaly.line())
    if fail_on_fail:
        # GateClosed, saying why, unless the verdict is pass.
        classgate.open_gate(output)
    verdict = collections.namedtuple("Verdict", ["verdict", "num_classes"])
    return verdict(found.status, found.models[0].num_classes)


# The container component's program: `classgate validate` with the Beam options
# of a list parameter (a JSON list once compiled; a shell cannot split it safely),
# then report.html copied out for the UI whatever the verdict; the command's exit
# code (0 pass, 1 fail, 2 bad input) is the task's.
VALIDATE_PROGRAM = """\
import json, os, shutil, sys
from classgate import cli
data, config, path, uri, html, flags = sys.argv[1:]
output = uri if uri.startswith("gs://") else path
argv = ["validate", "--data", data, "--model-config", config, "--output", output]
code = cli.main(argv + json.loads(flags))
if code in (0, 1):
    from apache_beam.io.filesystems import FileSystems
    os.makedirs(os.path.dirname(html), exist_ok=True)
    with FileSystems.open(output + "/report.html") as src, open(html, "wb") as dst:
        shutil.copyfileobj(src, dst)
sys.exit(code)
"""


@dsl.container_component
def classgate_validate_container(
    data: str,
    model_config: str,
    report: dsl.Output[dsl.Artifact],
    report_html: dsl.Output[dsl.HTML],
    beam_options: list = [],  # noqa: B006 (a KFP default: compiled, never mutated)
):
    """`classgate validate` on the classgate image; a failing verdict fails the task.

    The same gate as `classgate_validate` with the command's own exit code, and no
    verdict or num_classes outputs: the task's success is the verdict.
    """
    return dsl.ContainerSpec(
        image=CLASSGATE_IMAGE,
        command=["python", "-c", VALIDATE_PROGRAM],
        args=[
            data,
            model_config,
            report.path,
            report.uri,
            report_html.path,
            beam_options,
        ],
    )
