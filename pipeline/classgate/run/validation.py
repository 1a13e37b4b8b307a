"""One validation, start to end: lock the folder, run the job, decide, publish.

The steps live apart: run.job builds the Beam job, run.staging reads its results
back, verdict.decide turns them into a verdict and outputs.publish writes the
outputs. This module orders them. A run that waits and a submitted run that
`conclude` finishes later (a Flex Template launch) end in the same `finish`: the
verdict of results and what the driver read before the job.
"""

import dataclasses
import difflib
import time
import uuid

from classgate import errors, names
from classgate.checks.anomaly import Anomaly, Status
from classgate.io import progress, storage
from classgate.model_files import summary
from classgate.outputs import folder, publish
from classgate.report.model import Report
from classgate.run import job, partials, staging, workers
from classgate.run.request import Request, Submission
from classgate.stats.results import Results
from classgate.verdict import decide


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: Status
    anomalies: tuple[Anomaly, ...] = ()
    report: Report | None = None
    # A job submitted and not waited for: its pending.json (Status.SUBMITTED).
    submission: Submission | None = None


def run(request: Request) -> Outcome:
    """Validates; raises errors.InputError when nothing could be validated."""
    from apache_beam.options.pipeline_options import PipelineOptions, TestOptions
    from apache_beam.runners.runner import PipelineState

    from classgate.run import transforms

    started = publish.now()
    # What the driver reads comes first: a missing vocabulary is exit 2 at once.
    inputs = read_inputs(request, started)
    options = PipelineOptions(list(request.beam_args))
    dry_run = options.view_as(TestOptions).dry_run
    if not request.wait and not dry_run:
        return submit(request, inputs, options, started)
    out = folder.OutputFolder(request.output)
    with out.open(publish.declared(request)):
        if request.junit_xml:
            storage.remove_file(request.junit_xml)  # no stale pass beside a failure
        staging_path = out.staging()
        run_id = uuid.uuid4().hex
        try:
            # Before the job: the files whose figures an earlier run left are
            # not read again (run.partials).
            reused = (
                partials.nothing(request, "a dry run reads nothing")
                if dry_run
                else partials.reuse(request, inputs.past, out)
            )
            root = job.pipeline(options)
            written = job.build(root, request, staging_path, run_id, reused, reused.key)
            if not request.wait and request.verdict_by == "job":  # a dry run's
                job.conclude_last(written, out.path, run_id)
            try:
                with workers.watched():
                    result = root.run()
                    _wait(result)
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
            results = reused.joined(results)
            return finish(out, request, results, inputs, started, counters)
        finally:
            out.remove_staging()


def submit(request: Request, inputs, options, started: str) -> Outcome:
    """Submits the job and returns without waiting for it (wait=False).

    The folder is swept and holds pending.json and what conclude needs of this
    driver's reading before the job starts; the lock is not held while it runs,
    since its last stage (verdict_by "job") takes it to write the verdict. A
    runner that runs the job inside `run()` (the DirectRunner) has the verdict
    written when it returns: that verdict is the outcome. A job that could not
    be submitted leaves no pending.json.
    """
    out = folder.OutputFolder(request.output)
    run_id = uuid.uuid4().hex
    with out.open(publish.declared(request)):
        if request.junit_xml:
            storage.remove_file(request.junit_xml)  # no stale pass beside a failure
        staging_path = out.staging()
        root = job.pipeline(options)
        written = job.build(root, request, staging_path, run_id)
        if request.verdict_by == "job":
            job.conclude_last(written, out.path, run_id)
        storage.write_atomic(
            staging.driver_inputs_path(staging_path),
            staging.encode_driver_inputs(inputs, run_id),
        )
        out.write(names.PENDING, Submission.of(request, run_id, started).to_json())
    try:
        with workers.watched():
            result = root.run()
    except Exception as e:
        _withdraw(out, run_id)
        explained = job.explain(e, request)
        if explained is e:
            raise
        raise explained from e
    submission = Submission.of(request, run_id, started, result)
    if submission.job_id:
        _record_job(out, submission)
    standing = _standing(out)
    if standing is not None:
        return standing
    return Outcome(Status.SUBMITTED, submission=submission)


def _withdraw(out: folder.OutputFolder, run_id: str) -> None:
    """A submission that failed: its pending.json and staging removed."""
    try:
        with out.open([names.PENDING], sweep=False):
            if _pending_run(out) == run_id:
                out.remove(names.PENDING)
                out.remove_staging()
    except errors.InputError:  # busy or gone: conclude then finds no results
        pass


def _record_job(out: folder.OutputFolder, submission: Submission) -> None:
    """pending.json with the runner's job id, while the run is still pending."""
    try:
        with out.open([names.PENDING], sweep=False):
            if _pending_run(out) == submission.run:
                out.write(names.PENDING, submission.to_json())
    except errors.FolderBusy:  # the job is writing its verdict: it needs none
        pass


def _pending_run(out: folder.OutputFolder) -> str | None:
    try:
        return Submission.read(out.path).run
    except errors.InputError:
        return None


def _standing(out: folder.OutputFolder) -> Outcome | None:
    """The verdict report.json holds, if the folder has one."""
    path = out.join(names.REPORT)
    if not storage.exists(path):
        return None
    report = Report.load(path)
    return Outcome(report.status, report.anomalies, report)


def _wait(result) -> None:
    """Waits for the job; a remote runner's counters feed the progress meanwhile.

    Local runners' workers report progress themselves (io.progress); Dataflow's
    run elsewhere, so the driver asks the service every 30 seconds.
    """
    from apache_beam.runners.runner import PipelineState

    from classgate.run import transforms

    reporter = progress.current()
    if reporter is None or not getattr(result, "has_job", False):
        result.wait_until_finish()
        return
    while not PipelineState.is_terminal(result.wait_until_finish(duration=30_000)):
        reporter.remote(transforms.counters(result))


# How often `conclude --wait` looks at the folder, and says it is still waiting.
POLL_S = 5.0
SAY_EVERY_S = 60.0
# How long the job's last stage waits for a `conclude` that holds the folder.
JOB_BUSY_WAIT_S = 600.0


def conclude(
    output_path: str, junit_xml: str | None = None, wait_s: float = 0.0
) -> Outcome:
    """The verdict of a run submitted with wait=False, once its job has finished.

    Idempotent: a folder that has its verdict already (the job's last stage, or an
    earlier conclude, wrote it) gets that verdict again, JUnit XML included. With
    `wait_s`, waits up to that long for the job to finish, saying so every
    minute; else raises NotFinished (an InputError) at once when the job has not
    staged all its results.
    """
    deadline = time.monotonic() + wait_s
    said = time.monotonic()
    while True:
        try:
            return _conclude_once(output_path, junit_xml)
        except (errors.NotFinished, errors.FolderBusy) as e:
            now = time.monotonic()
            if now >= deadline:
                if wait_s:
                    raise errors.NotFinished(
                        f"{e.message} (after waiting {wait_s:g} s)"
                    ) from e
                raise
            if now - said >= SAY_EVERY_S:
                progress.say(f"classgate: still waiting: {e.message}")
                said = now
            time.sleep(min(POLL_S, deadline - now))


def conclude_in_job(_staged, output_path: str, run_id: str) -> None:
    """The job's last stage (verdict_by "job"): the verdict, once all is staged.

    Concludes the run `run_id` only while pending.json names it (a later run may
    own the folder now); waits for a `conclude` that holds the folder, and is
    done when that one wrote the verdict.
    """
    deadline = time.monotonic() + JOB_BUSY_WAIT_S
    while True:
        if _pending_run(folder.OutputFolder(output_path)) != run_id:
            return  # concluded already, or the folder is another run's now
        try:
            _conclude_once(output_path, None)
            return
        except errors.FolderBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(POLL_S / 2)


def _conclude_once(output_path: str, junit_xml: str | None) -> Outcome:
    out = folder.OutputFolder(output_path)
    standing = _standing(out)
    if standing is not None:
        return _again(out, standing, junit_xml)
    submission = Submission.read(output_path)
    request = submission.request_for(output_path, junit_xml)
    staging_path = out.join(folder.STAGING)
    with out.open(publish.declared(request), sweep=False):
        standing = _standing(out)  # written while this waited for the lock
        if standing is not None:
            return _again(out, standing, junit_xml)
        missing = [
            path
            for path in staging.expected_paths(request, staging_path)
            if not storage.exists(path)
        ]
        if missing:
            job_id = submission.job_id
            raise errors.NotFinished(
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
        # A submitted run reads every file: what --previous-report names is not
        # reopened here, and its partials are left for no later run (no key).
        results = partials.nothing(
            request, "--no-wait: a submitted job reads every file"
        ).joined(results)
        outcome = finish(out, request, results, inputs, submission.started, {})
        out.remove_staging()
        out.remove(names.PENDING)
    return outcome


def _again(out: folder.OutputFolder, standing: Outcome, junit_xml: str | None):
    """A verdict that stands, announced again.

    A leftover pending.json is removed, the JUnit XML asked for written from the
    report.
    """
    if storage.exists(out.join(names.PENDING)):
        with out.open([names.PENDING], sweep=False):
            out.remove(names.PENDING)
            out.remove_staging()
    if junit_xml:
        from classgate.report import junit

        storage.write_atomic(junit_xml, junit.render(standing.report))
    return standing


def finish(
    out: folder.OutputFolder,
    request: Request,
    results: Results,
    inputs: staging.DriverInputs,
    started: str,
    counters: dict,
) -> Outcome:
    """The verdict of a job's results, published in `out` (open): every run's end."""
    require_features(request, results)
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


def require_features(request: Request, results: Results) -> None:
    """InputError for a label or context feature absent from every example.

    A misspelled feature name, in either format, is named with what is there (a
    split's features, as its readers noted them). An example with an empty list
    holds the feature: LABEL_MISSING says the rest.
    """
    for split in request.splits:
        present = sorted(
            {
                name
                for note in results.notes(split.name).values()
                for name in note.get("features", [])
            }
        )
        for spec in request.specs:
            stats = results.label_stats[(split.name, spec)]
            if stats.examples and not stats.present:
                near = difflib.get_close_matches(spec.feature, present, n=1)
                hint = f"did you mean '{near[0]}'? " if near else ""
                shown = ", ".join(present[:20]) + (" ..." if len(present) > 20 else "")
                raise errors.InputError(
                    f"split '{split.name}': no example has the feature "
                    f"'{spec.feature}' that a model config names ({hint}features "
                    f"present: {shown or 'none'})"
                )


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
