"""classgate as Kubeflow Pipelines (v2) components: the gate before training.

    from classgate import kfp as classgate_kfp

    validate = classgate_kfp.validate_component(image=IMAGE)
    gate = classgate_kfp.gate_component(image=IMAGE)

    @dsl.pipeline(name="gated-training")
    def gated_training(data: str, model_config: str):
        checked = validate(data=data, model_config=model_config, fail_on_fail=False)
        opened = gate(report=checked.outputs["report"])
        my_trainer(num_classes=checked.outputs["num_classes"]).after(opened)

`validate_component` runs `classgate.validate` on `image` (deploy/dataflow/
Dockerfile's: classgate, its runtime pins and kfp; also the Dataflow workers' SDK
container), so the task can be a small driver that launches a Dataflow job
(`beam_options`). Its outputs: the report folder (`report`), report.html
(`report_html`, shown in the KFP UI), and the verdict and the model's num_classes
as parameters. With `fail_on_fail` (the default) a failing verdict fails the task,
after report.html is written and the report is printed to the task's log; KFP
registers no output of a failed task, though, so the page then shows in the log
and the artifact store only. `fail_on_fail=False` and `gate_component` after it
keep the page in the UI: the validate task succeeds whatever the verdict, and the
gate task fails the run on a fail (or on data changed since), so nothing after it
starts.

Both end as `classgate validate` does, with one line and no traceback: 1 on a
failing verdict, 2 when nothing could be validated (bad input, `beam_options` not a
list of flags) or when there is no verdict to gate on (`--dry_run`, `--no-wait`).

A lightweight component's body is shipped as source and runs alone in the
container: the bodies here are one call into this module, which the image holds,
so the gate's meaning stays in classgate. kfp is imported when a component is made
(the `kfp` extra), never by `import classgate`. `python -m classgate.kfp IMAGE
component.yaml` compiles the validate component (`make dist` does, into dist/), for
`kfp.components.load_component_from_file`.
"""

import collections
import shutil
import sys

from classgate import api, errors

# The parameter outputs of the validate component.
Verdict = collections.namedtuple("Verdict", ["verdict", "num_classes"])


def validate_component(image: str):
    """The validate component (a KFP lightweight Python component) on `image`.

    Args:
        image: the container image the task runs on: deploy/dataflow/Dockerfile's,
            pushed where the cluster pulls from (it holds classgate and kfp).

    Returns:
        A component, `classgate-validate`: call it in a pipeline with data,
        model_config and optionally beam_options, labels_only, data_format,
        strict and fail_on_fail.
    """
    _check_image(image)
    from typing import NamedTuple

    from kfp import dsl

    @dsl.component(base_image=image, install_kfp_package=False)
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
        """Validates `data` against one model config; fails the task on a fail.

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
            fail_on_fail: False ends the task normally on a failing verdict (its
                report then shows in the UI) and leaves the gating to what
                follows: classgate's gate component, or a trainer that opens the
                gate itself (classgate.open_gate).

        Returns:
            verdict ("pass" or "fail") and the model's num_classes.
        """
        from classgate import kfp as classgate_kfp

        return classgate_kfp.run_validate(
            data,
            model_config,
            report,
            report_html,
            beam_options,
            labels_only=labels_only,
            data_format=data_format,
            strict=strict,
            fail_on_fail=fail_on_fail,
        )

    return classgate_validate


def gate_component(image: str):
    """The gate component on `image`: fails unless the report passed and matches.

    As `classgate.open_gate`: the report passed, and its data and config are
    unchanged since.

    Returns:
        A component, `classgate-gate`, taking the validate task's `report`.
    """
    _check_image(image)
    from kfp import dsl

    @dsl.component(base_image=image, install_kfp_package=False)
    def classgate_gate(report: dsl.Input[dsl.Artifact]):
        """Fails the task, and so the run, unless `report` passed and matches.

        Args:
            report: the validate task's report folder.
        """
        from classgate import kfp as classgate_kfp

        classgate_kfp.run_gate(report)

    return classgate_gate


def run_validate(
    data, model_config, report, report_html, beam_options, **settings
) -> Verdict:
    """The validate component's body, in its container: the verdict, or exit."""
    fail_on_fail = settings.pop("fail_on_fail")
    # A list parameter arrives as a list; a string given in its place would be
    # read a character at a time.
    if not isinstance(beam_options, list) or not all(
        isinstance(flag, str) for flag in beam_options
    ):
        _stop(
            2,
            f"error: beam_options: expected a list of flags, not {beam_options!r:.80}",
        )
    if "--no-wait" in beam_options:  # the command's flag; the library always waits
        _stop(2, "no verdict: --no-wait would not wait for the job; nothing to gate on")
    output = _folder(report)
    try:
        found = api.validate(
            data, model_config, output, beam_options=beam_options, **settings
        )
    except errors.InputError as e:
        _stop(2, f"error: {e}")
    if found is None:
        _stop(
            2,
            "no verdict: a dry run (--dry_run) only translates the job; nothing "
            "to gate on",
        )
    # report.html first, whatever the verdict: the page is in the HTML output
    # before the task can fail.
    _copy(f"{output}/report.html", report_html.path)
    print(f"classgate: verdict {found.status}; report in {output}")
    for anomaly in found.anomalies:
        print(anomaly.line())
    if fail_on_fail:
        try:
            api.open_gate(output)  # GateClosed, saying why, unless a pass
        except errors.GateClosed as e:
            # KFP shows no output of a failed task: the report goes to its log.
            from classgate.report import markdown

            print(markdown.render(found))
            _stop(1, f"gate closed: {e} (report.html: {report_html.uri})")
    return Verdict(found.status, found.models[0].num_classes)


def run_gate(report) -> None:
    """The gate component's body: returns on a pass that still matches, or exits 1."""
    try:
        api.open_gate(_folder(report))
    except errors.GateClosed as e:
        _stop(1, f"gate closed: {e}")
    except errors.InputError as e:
        _stop(2, f"error: {e}")
    print(f"classgate: gate open on {_folder(report)}")


def _folder(report) -> str:
    """Where classgate writes the report folder: the artifact's gs:// URI or path.

    The URI when the pipeline root is on Cloud Storage (Dataflow workers write
    there, and they cannot see the task's container; artifact.path is the same
    object through Cloud Storage FUSE), else its local path.
    """
    return report.uri if report.uri.startswith("gs://") else report.path


def _copy(source: str, target: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(source) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)


def _stop(code: int, line: str):
    """Exits with the command's code and its one line.

    The task fails, and no traceback of the component's body buries why.
    """
    print(f"classgate: {line}", file=sys.stderr)
    sys.exit(code)


def _check_image(image) -> None:
    if not isinstance(image, str) or not image.strip() or image != image.strip():
        raise errors.InputError(
            f"image: expected the name of the classgate image to run on, not "
            f"{image!r:.80}"
        )


def main(argv: list[str]) -> int:
    """`python -m classgate.kfp IMAGE FILE`: the validate component, compiled."""
    if len(argv) != 2:
        print("usage: python -m classgate.kfp IMAGE component.yaml", file=sys.stderr)
        return 2
    from kfp import compiler

    image, path = argv
    compiler.Compiler().compile(validate_component(image=image), path)
    print(f"classgate: {path}: the validate component on {image}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
