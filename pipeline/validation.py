"""One validation, start to end: lock the folder, run the job, decide, publish.

The steps live apart: classgate.job builds the Beam job, classgate.staging reads
its results back, classgate.decide turns them into a verdict and classgate.publish
writes the outputs. This module orders them, and handles a job that was submitted
without waiting (a Flex Template launch): `conclude` finishes it later from
pending.json, which holds data (and the JUnit path, followed only inside --output),
and from the staging folder that --output names.
"""

import dataclasses
import json
import uuid
from collections.abc import Mapping, Sequence

from classgate import (
    checks,
    config,
    decide,
    errors,
    names,
    output,
    pending,
    publish,
    staging,
    storage,
    workers,
)
from classgate.checks.anomaly import Anomaly
from classgate.io import files
from classgate.report.model import Report
from classgate.stats import class_counts


@dataclasses.dataclass(frozen=True)
class Request:
    """Everything one validation needs, resolved and checked by the caller."""

    splits: tuple[files.Split, ...]
    models: tuple[config.ModelConfig, ...]
    output: str
    labels_only: bool = False
    baseline_schema: str | None = None
    previous_report: str | None = None
    strict: bool = False
    beam_args: tuple[str, ...] = ()
    # False: submit the job and leave the verdict to `conclude` (a Flex Template's
    # launcher does not wait for the job it starts).
    wait: bool = True
    # Classes per key range of the per-class counts, each range combined apart.
    class_range_width: int = class_counts.RANGE_WIDTH
    junit_xml: str | None = None

    @property
    def training_split(self) -> str:
        split_names = [s.name for s in self.splits]
        return "train" if "train" in split_names else split_names[0]

    @property
    def specs(self):
        """Label specs first, then the trainer's context ids: one accumulator each."""
        return checks.specs_of(self.models)


def request(
    patterns: Mapping[str, Sequence[str]],
    models: Sequence[config.ModelConfig],
    output_path: str,
    *,
    data_format: str = "auto",
    class_range_width: int | None = None,
    **options,
) -> Request:
    """A Request, its splits listed; InputError for a split that matches nothing.

    Never one whose output folder the data patterns would match.

    `patterns` maps a split's name to its file patterns; `options` are Request's
    other fields.
    """
    for name in patterns:
        if not isinstance(name, str) or not files.SPLIT_NAME.match(name):
            raise errors.InputError(
                f"split name {str(name)[:60]!r}: use letters, digits, '_', '-' or '.'"
            )
    absolute = {
        name: tuple(files.absolute(p) for p in globs)
        for name, globs in patterns.items()
    }
    splits = tuple(
        files.list_split(name, globs, data_format) for name, globs in absolute.items()
    )
    made = Request(
        splits=splits,
        models=tuple(models),
        output=output_path,
        class_range_width=class_range_width or class_counts.RANGE_WIDTH,
        **options,
    )
    folder = output.OutputFolder(output_path)
    written = [folder.join(name) for name in publish.declared(made)]
    written.append(folder.join(output.STAGING, "labels-0-0.npz"))
    written += [files.real(path) for path in written]  # links followed, too
    for split, globs in absolute.items():
        for pattern in globs:
            forms = dict.fromkeys([pattern, files.real_pattern(pattern)])
            hit = next(
                (p for p in written for form in forms if files.matches(form, p)),
                None,
            )
            if hit:
                raise errors.InputError(
                    f"--output {output_path} lies inside the data: split '{split}' "
                    f"pattern {pattern} would match {hit}; write the outputs "
                    "elsewhere"
                )
    return made


@dataclasses.dataclass(frozen=True)
class Outcome:
    # "pass", "fail"; "dry-run" when the runner only translated the job;
    # "submitted" when the verdict waits for `conclude`.
    status: str
    anomalies: tuple[Anomaly, ...] = ()
    report: Report | None = None


def run(request: Request) -> Outcome:
    """Validates; raises errors.InputError when nothing could be validated."""
    from apache_beam.options.pipeline_options import PipelineOptions, TestOptions
    from apache_beam.runners.runner import PipelineState

    from classgate import job, transforms

    started = publish.now()
    # The model's own files are read first: a missing vocabulary is exit 2 at once.
    model_files = {m.name: read_model_files(m) for m in request.models}
    baseline = _baseline(request)
    past = _past(request, started)
    folder = output.OutputFolder(request.output)
    with folder.open(publish.declared(request)):
        if request.junit_xml:
            storage.remove_file(request.junit_xml)  # no stale pass beside a failure
        staging_path = folder.staging()
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
                    staging.encode_driver_inputs(model_files, baseline, past, run_id),
                )
            try:
                with workers.watched():
                    result = root.run()
                    if not request.wait and not dry_run:
                        pending_json = pending.of(
                            request, run_id, started, pending.job_id(result)
                        )
                        folder.write(names.PENDING, json.dumps(pending_json, indent=1))
                        submitted = True
                        return Outcome("submitted")
                    result.wait_until_finish()
            except Exception as e:  # workers.WorkerDied too
                explained = job.explain(e, request)
                if explained is e:
                    raise
                raise explained from e
            if dry_run:
                return Outcome("dry-run")
            if result.state != PipelineState.DONE:
                raise RuntimeError(f"the pipeline ended in state {result.state}")
            counters = transforms.counters(result)
            results = staging.read_results(request, staging_path, run_id)
            staging.check_examples(results, request, counters)
            verdict = decide.decide(
                request, results, model_files, baseline, past, started
            )
            report = publish.publish(
                folder, request, results, verdict, started, counters
            )
            return Outcome(verdict.status, verdict.anomalies, report)
        finally:
            if not submitted:
                folder.remove_staging()


def conclude(output_path: str, junit_xml: str | None = None) -> Outcome:
    """The verdict of a run submitted with wait=False, once its job has finished.

    Reads pending.json and what the job staged in the output folder; raises
    InputError when the folder holds no submitted run, or the job has not (or not
    successfully) finished: its results are missing. JUnit XML goes to `junit_xml`,
    else to the submitter's --junit-xml when that lies inside the folder
    (pending.Pending.junit_path).
    """
    folder = output.OutputFolder(output_path)
    pending_path = folder.join(names.PENDING)
    try:
        data = storage.read(pending_path, pending.MAX_BYTES)
        submitted_run = pending.Pending.model_validate(
            storage.parse_json(data, pending_path)
        )
    except Exception as e:  # no such file, unreadable, not JSON, not ours
        first = errors.first_line(e)
        raise errors.InputError(
            f"{pending_path}: no submitted run to conclude here ({first})"
        ) from e
    request = submitted_run.request(output_path, junit_xml)
    staging_path = folder.join(output.STAGING)
    with folder.open(publish.declared(request), sweep=False):
        missing = [
            path
            for path in staging.expected_paths(request, staging_path)
            if not storage.exists(path)
        ]
        if missing:
            job = submitted_run.job_id
            raise errors.InputError(
                f"{output_path}: the job {f'{job} ' if job else ''}has not "
                f"finished, or failed: no {missing[0]}"
            )
        # What the submitting driver read (model files, baseline, history), as
        # data: conclude opens no path that pending.json names.
        inputs_path = staging.driver_inputs_path(staging_path)
        model_files, baseline, past = staging.decode_driver_inputs(
            staging.read_staged(inputs_path), submitted_run.run, inputs_path
        )
        if set(model_files) != {m.name for m in request.models}:
            raise errors.InputError(f"{inputs_path}: not the models of pending.json")
        results = staging.read_results(request, staging_path, submitted_run.run)
        verdict = decide.decide(
            request, results, model_files, baseline, past, submitted_run.started
        )
        report = publish.publish(
            folder, request, results, verdict, submitted_run.started, {}
        )
        folder.remove_staging()
        folder.remove(names.PENDING)
    return Outcome(verdict.status, verdict.anomalies, report)


def read_model_files(model: config.ModelConfig) -> checks.artifacts.ModelFiles:
    """What a model's vocabulary and checkpoint say, read once on the driver."""
    from classgate import checkpoint, vocabulary

    found = {}
    if model.vocabulary_file:
        lines = vocabulary.load(model.vocabulary_file)
        found["vocabulary_size"] = len(lines)
        found["vocabulary_duplicates"] = vocabulary.duplicates(lines)
    if model.checkpoint:
        variables = checkpoint.variables(model.checkpoint)
        for role in ("weights", "biases"):
            wanted = getattr(model, f"{role}_variable")
            if wanted:
                name, shape = checkpoint.find(
                    variables, wanted, f"{role}_variable", model.checkpoint
                )
                found[role] = (name, tuple(shape))
    return checks.artifacts.ModelFiles(**found)


def _baseline(request: Request):
    if not request.baseline_schema:
        return None
    from classgate import schema

    only = [s.feature for s in request.specs] if request.labels_only else None
    return schema.load_baseline(request.baseline_schema, only)


def _past(request: Request, started: str):
    """The earlier runs --previous-report names, read before any data is."""
    if not request.previous_report:
        return None
    from classgate import history

    return history.read_past(
        request.previous_report,
        started,
        request.models,
        [s.name for s in request.splits],
        request.training_split,
        output=request.output,  # its report is the run being replaced
    )
