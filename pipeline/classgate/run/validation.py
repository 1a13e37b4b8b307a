"""One validation, start to end: lock the folder, run the job, decide, publish.

The steps live apart: run.job builds the Beam job, run.staging reads its results
back, verdict.decide turns them into a verdict and outputs.publish writes the
outputs. This module orders them. A run that waits and a submitted run that
`conclude` finishes later (a Flex Template launch) end in the same `finish`: the
verdict of results and what the driver read before the job.
"""

import dataclasses
import uuid

from classgate import errors, names
from classgate.checks.anomaly import Anomaly, Status
from classgate.io import storage
from classgate.model_files import summary
from classgate.outputs import folder, publish
from classgate.report.model import Report
from classgate.run import job, staging, workers
from classgate.run.request import Request, Submission
from classgate.stats.results import Results
from classgate.verdict import decide


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: Status
    anomalies: tuple[Anomaly, ...] = ()
    report: Report | None = None


def run(request: Request) -> Outcome:
    """Validates; raises errors.InputError when nothing could be validated."""
    from apache_beam.options.pipeline_options import PipelineOptions, TestOptions
    from apache_beam.runners.runner import PipelineState

    from classgate.run import transforms

    started = publish.now()
    # What the driver reads comes first: a missing vocabulary is exit 2 at once.
    inputs = read_inputs(request, started)
    out = folder.OutputFolder(request.output)
    with out.open(publish.declared(request)):
        if request.junit_xml:
            storage.remove_file(request.junit_xml)  # no stale pass beside a failure
        staging_path = out.staging()
        run_id = uuid.uuid4().hex
        submitted = False
        try:
            options = PipelineOptions(list(request.beam_args))
            dry_run = options.view_as(TestOptions).dry_run
            root = job.pipeline(options)
            job.build(root, request, staging_path, run_id)
            if not request.wait:  # what conclude needs of this driver's reading
                storage.write_atomic(
                    staging.driver_inputs_path(staging_path),
                    staging.encode_driver_inputs(inputs, run_id),
                )
            try:
                with workers.watched():
                    result = root.run()
                    if not request.wait and not dry_run:
                        submission = Submission.of(request, run_id, started, result)
                        out.write(names.PENDING, submission.to_json())
                        submitted = True
                        return Outcome(Status.SUBMITTED)
                    result.wait_until_finish()
            except Exception as e:  # workers.WorkerDied too
                explained = job.explain(e, request)
                if explained is e:
                    raise
                raise explained from e
            if dry_run:
                return Outcome(Status.DRY_RUN)
            if result.state != PipelineState.DONE:
                raise RuntimeError(f"the pipeline ended in state {result.state}")
            counters = transforms.counters(result)
            results = staging.read_results(request, staging_path, run_id)
            staging.check_examples(results, request, counters)
            return finish(out, request, results, inputs, started, counters)
        finally:
            if not submitted:
                out.remove_staging()


def conclude(output_path: str, junit_xml: str | None = None) -> Outcome:
    """The verdict of a run submitted with wait=False, once its job has finished.

    Reads pending.json and what the job and the submitting driver staged in the
    output folder; raises InputError when the folder holds no submitted run, or
    the job has not (or not successfully) finished: its results are missing.
    JUnit XML goes to `junit_xml`, else to the submitter's --junit-xml when that
    lies inside the folder (Submission.request_for).
    """
    submission = Submission.read(output_path)
    request = submission.request_for(output_path, junit_xml)
    out = folder.OutputFolder(output_path)
    staging_path = out.join(folder.STAGING)
    with out.open(publish.declared(request), sweep=False):
        missing = [
            path
            for path in staging.expected_paths(request, staging_path)
            if not storage.exists(path)
        ]
        if missing:
            job_id = submission.job_id
            raise errors.InputError(
                f"{output_path}: the job {f'{job_id} ' if job_id else ''}has not "
                f"finished, or failed: no {missing[0]}"
            )
        # What the submitting driver read (model files, baseline, history), as
        # data: conclude opens no path that pending.json names.
        inputs_path = staging.driver_inputs_path(staging_path)
        inputs = staging.decode_driver_inputs(
            staging.read_staged(inputs_path), submission.run, inputs_path
        )
        if set(inputs.model_files) != {m.name for m in request.models}:
            raise errors.InputError(f"{inputs_path}: not the models of pending.json")
        results = staging.read_results(request, staging_path, submission.run)
        outcome = finish(out, request, results, inputs, submission.started, {})
        out.remove_staging()
        out.remove(names.PENDING)
    return outcome


def finish(
    out: folder.OutputFolder,
    request: Request,
    results: Results,
    inputs: staging.DriverInputs,
    started: str,
    counters: dict,
) -> Outcome:
    """The verdict of a job's results, published in `out` (open): every run's end."""
    verdict = decide.decide(
        request,
        results,
        inputs.model_files,
        inputs.baseline,
        inputs.past,
        started,
    )
    report = publish.publish(out, request, results, verdict, started, counters)
    return Outcome(verdict.status, verdict.anomalies, report)


def read_inputs(request: Request, started: str) -> staging.DriverInputs:
    """What the driver reads before the job: model files, baseline, history."""
    return staging.DriverInputs(
        model_files={m.name: summary.read(m) for m in request.models},
        baseline=_baseline(request),
        past=_past(request, started),
    )


def _baseline(request: Request):
    if not request.baseline_schema:
        return None
    from classgate.verdict import schema

    only = [s.feature for s in request.specs] if request.labels_only else None
    return schema.load_baseline(request.baseline_schema, only)


def _past(request: Request, started: str):
    """The earlier runs --previous-report names, read before any data is."""
    if not request.previous_report:
        return None
    from classgate.outputs import history

    return history.read_past(
        request.previous_report,
        started,
        request.models,
        [s.name for s in request.splits],
        request.training_split,
        output=request.output,  # its report is the run being replaced
    )
