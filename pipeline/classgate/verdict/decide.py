"""The verdict: staged statistics + model configs + model files -> anomalies, status.

A plain function of data already read: no file is opened here, nothing is written.
The frequency fit of each log-uniform model is computed once, for the check that
warns about it and for the writer that decides whether a remap file helps.
"""

import dataclasses
import datetime
from collections.abc import Mapping

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from classgate import checks
from classgate.checks import advice, controls, drift, headroom
from classgate.checks.anomaly import Anomaly, Code, Severity, Status, status_of
from classgate.io import files
from classgate.model_files import summary
from classgate.stats import frequency
from classgate.stats.results import Results
from classgate.verdict import schema


@dataclasses.dataclass(frozen=True)
class Verdict:
    status: Status  # PASS or FAIL
    anomalies: tuple[Anomaly, ...]
    # The inferred (or, labels-only, built) TFDV schema.
    schema: schema_pb2.Schema
    # split name -> TFDV's statistics, or those built from the labels (labels-only)
    statistics: Mapping[str, statistics_pb2.DatasetFeatureStatisticsList]
    # TFDV's findings, merged and per split, at the report's severities
    tfdv_anomalies: schema.Findings
    # model name -> the frequency fit of its training split (log_uniform models)
    fits: Mapping[str, frequency.FrequencyFit]
    # --previous-report: the run compared with, and model -> its history
    # [(finished, max, distinct, report path)], this run last
    previous: str | None = None
    history: Mapping[str, list[tuple]] = dataclasses.field(default_factory=dict)
    # (model, split) -> the previous run's class counts (ids, counts), None where it
    # wrote none: what drift compared, for the report to draw
    previous_counts: Mapping[tuple, tuple | None] = dataclasses.field(
        default_factory=dict
    )


def decide(
    request,
    results: Results,
    model_files: Mapping[str, summary.ModelFiles],
    baseline: schema_pb2.Schema | None = None,
    past=None,
    started: str = "",
) -> Verdict:
    """The verdict of one validation (request: a classgate.run.request.Request).

    `baseline` is a loaded curated Schema; `past` the earlier runs
    (outputs.history.Past) this one, started at `started`, is compared with.
    """
    formats = {s.name: s.format for s in request.splits}
    training = request.training_split
    fitted = checks.fits(request.models, results, training)
    # Each model's history, this run last, and the one num_classes advised from
    # its training labels and the history's growth together.
    history = _history(request, results, past, started) if past is not None else {}
    advised = {
        model.name: advice.num_classes(
            model,
            results.label(model, training),
            headroom.lasting(model, _points(history, model)),
        )
        for model in request.models
    }
    anomalies = checks.evaluate(
        request.models,
        results,
        formats,
        training,
        model_files,
        fitted,
        {s.name: files.hidden_parquet(s) for s in request.splits},
        advised,
    )
    if past is not None:
        anomalies += past_anomalies(request, results, past, history, advised)
    statistics = {}
    for split in formats:
        if request.labels_only:
            # The first model of a feature speaks for it, as in report.json.
            by_feature = {}
            for model in request.models:
                by_feature.setdefault(model.label_feature, results.label(model, split))
            statistics[split] = schema.label_statistics(split, by_feature)
        else:
            statistics[split] = results.tfdv_stats[split]
    if request.labels_only:
        # The label checks above are the validation; TFDV would only restate them.
        inferred = schema.label_schema(statistics[training], request.models)
        schemas = []
    else:
        inferred = schema.infer(statistics[training], request.models)
        schemas = [(schema.INFERRED, inferred)]
    if baseline is not None:
        schemas.append((schema.BASELINE, baseline))
    found = []
    for split in formats:
        for source, against in schemas:
            result = schema.validate(statistics[split], against)
            found.append((split, source, result))
            anomalies += schema.as_anomalies(result, split, source, request.models)
    # The models' own overrides and waivers, on the day the run started.
    day = datetime.datetime.fromisoformat(started).date() if started else None
    anomalies = controls.apply(
        request.models, schema.fold_restated(anomalies), day or datetime.date.today()
    )
    return Verdict(
        status=status_of(anomalies, request.strict),
        anomalies=tuple(anomalies),
        schema=inferred,
        statistics=statistics,
        tfdv_anomalies=schema.merge_anomalies(found, anomalies, list(formats)),
        fits=fitted,
        previous=past.previous_path if past is not None else None,
        history=history,
        previous_counts=past.counts if past is not None else {},
    )


def _history(request, results: Results, past, started: str) -> dict:
    """Model -> [(finished, max, distinct, report)], oldest first, this run last."""
    history = {}
    for model in request.models:
        now = results.label(model, request.training_split)
        points = [*past.points.get(model.name, [])]
        if now.max is not None:
            points.append((started, now.max, now.distinct, ""))
        history[model.name] = points
    return history


def _points(history: dict, model) -> list:
    return [
        headroom.Point(datetime.datetime.fromisoformat(when), top, distinct)
        for when, top, distinct, _ in history.get(model.name, [])
    ]


def past_anomalies(request, results: Results, past, history: dict, advised: dict):
    """Drift against the previous run and headroom from the history."""
    found = []
    if past.skipped:
        shown = "; ".join(f"{path}: {why}" for path, why in past.skipped[:3])
        found.append(
            Anomaly(
                code=Code.HISTORY_SKIPPED,
                severity=Severity.WARNING,
                message=f"{len(past.skipped)} earlier report(s) left out of the "
                f"history: {shown}",
                details={"skipped": [list(s) for s in past.skipped[:100]]},
            )
        )
    training = request.training_split
    for model in request.models:
        for split in (s.name for s in request.splits):
            if (model.name, split) not in past.figures:
                continue
            stats = results.label(model, split)
            before = past.counts[(model.name, split)]
            if before is None:
                found.append(
                    Anomaly(
                        code=Code.HISTORY_SKIPPED,
                        severity=Severity.WARNING,
                        model=model.name,
                        split=split,
                        message=f"{past.previous} holds no class counts of this "
                        "model and split: no drift measured",
                    )
                )
                continue
            found += drift.check(
                model,
                split,
                before,
                stats.class_counts.pairs(),
                past.figures[(model.name, split)],
                {"max": stats.max, "distinct": stats.distinct},
                past.previous,
            )
        found += headroom.check(
            model, training, _points(history, model), advised.get(model.name)
        )
    return found
