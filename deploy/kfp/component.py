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

Both end as `classgate validate` does: exit 0 on a pass, 1 on a failing verdict
(the gate closed), 2 with one line when nothing could be validated (bad input, a
`beam_options` that is not a list of flags) or when there is no verdict to gate on
(a dry run, `--dry_run`, or a submitted job, `--no-wait`); never a traceback for
any of these.

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
    import sys

    from apache_beam.io.filesystems import FileSystems

    import classgate

    def stop(code: int, line: str):
        # The command's exit code and its one line: the task fails, and no
        # traceback of this function buries why.
        print(f"classgate: {line}", file=sys.stderr)
        sys.exit(code)

    # A list parameter arrives as a list; a string given in its place would be
    # read a character at a time.
    if not isinstance(beam_options, list) or not all(
        isinstance(flag, str) for flag in beam_options
    ):
        stop(
            2,
            f"error: beam_options: expected a list of flags, not {beam_options!r:.80}",
        )
    if "--no-wait" in beam_options:  # the command's flag; the library always waits
        stop(2, "no verdict: --no-wait would not wait for the job; nothing to gate on")
    # Dataflow workers write into the output folder, and they cannot see this
    # container's files: where the artifact lives on gs://, write there directly
    # (artifact.path is the same object through Cloud Storage FUSE).
    output = report.uri if report.uri.startswith("gs://") else report.path
    try:
        found = classgate.validate(
            data,
            model_config,
            output,
            labels_only=labels_only,
            data_format=data_format,
            strict=strict,
            beam_options=beam_options,
        )
    except classgate.InputError as e:
        stop(2, f"error: {e}")
    if found is None:
        stop(
            2,
            "no verdict: a dry run (--dry_run) only translates the job; nothing "
            "to gate on",
        )
    with FileSystems.open(f"{output}/report.html") as src:
        with open(report_html.path, "wb") as dst:
            shutil.copyfileobj(src, dst)
    print(f"classgate: verdict {found.status}; report in {output}")
    for anomaly in found.anomalies:
        print(anomaly.line())
    if fail_on_fail:
        try:
            classgate.open_gate(output)  # GateClosed, saying why, unless a pass
        except classgate.GateClosed as e:
            stop(1, f"gate closed: {e}")
    verdict = collections.namedtuple("Verdict", ["verdict", "num_classes"])
    return verdict(found.status, found.models[0].num_classes)


# The container component's program: `classgate validate` with the Beam options
# of a list parameter (a JSON list once compiled; a shell cannot split it safely),
# then report.html copied out for the UI whatever the verdict; the command's exit
# code (0 pass, 1 fail, 2 bad input) is the task's. Exit 0 is a pass only when the
# gate opens on the report it wrote: a dry run or a submitted job (--dry_run,
# --no-wait) exits 0 with none, and that is "no verdict", exit 2, as in the CI
# templates. beam_options that are not a JSON list of strings: exit 2, one line.
VALIDATE_PROGRAM = """\
import json, os, shutil, sys
data, config, path, uri, html, text = sys.argv[1:]
output = uri if uri.startswith("gs://") else path
try:
    flags = json.loads(text)
except (ValueError, RecursionError):
    flags = None
if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
    print("classgate: error: beam_options: expected a JSON list of flags, not "
          + repr(text[:80]), file=sys.stderr)
    sys.exit(2)
from classgate import cli
argv = ["validate", "--data", data, "--model-config", config, "--output", output]
code = cli.main(argv + flags)
if code == 0:
    import classgate
    try:
        classgate.open_gate(output, config)
    except (classgate.GateClosed, classgate.InputError):
        print("classgate: no verdict: exit 0 but no passing report in " + output
              + " (a dry run, --dry_run, or a submitted job, --no-wait): nothing "
              "to gate on", file=sys.stderr)
        sys.exit(2)
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
