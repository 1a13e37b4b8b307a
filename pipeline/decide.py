"""The verdict: staged statistics + model configs + model files -> anomalies, status.

A plain function of data already read: no file is opened here, nothing is written.
The frequency fit of each log-uniform model is computed once, for the check that
warns about it and for the writer that decides whether a remap file helps.
"""

import dataclasses
import datetime

from classgate import checks, schema
from classgate.checks import drift, headroom
from classgate.checks.anomaly import Anomaly, Code, Severity
from classgate.io import files
from classgate.stats import frequency


@dataclasses.dataclass(frozen=True)
class Verdict:
    status: str  # "pass" or "fail"
    anomalies: tuple[Anomaly, ...]
    schema: object  # the inferred (or, labels-only, built) TFDV Schema
    # split name -> DatasetFeatureStatisticsList: TFDV's, or built from the labels
    statistics: dict
    tfdv_anomalies: object  # schema.Findings: TFDV's, merged and per split
    # model name -> FrequencyFit of its training split (log_uniform models)
    fits: dict
    # --previous-report: the run compared with, and model -> its history
    # [(finished, max, distinct, report path)], this run last
    previous: str | None = None
    history: dict = dataclasses.field(default_factory=dict)


def decide(
    request, results, model_files: dict, baseline=None, past=None, started=""
) -> Verdict:
    """The verdict of one validation.

    `baseline` is a loaded curated Schema; `past` the earlier runs
    (history.Past) this one, started at `started`, is compared with.
    """
    formats = {s.name: s.format for s in request.splits}
    training = request.training_split
    label_stats = results.label_stats
    anomalies, fits = label_anomalies(
        request.models,
        label_stats,
        formats,
        training,
        model_files,
        results.file_notes,
        {s.name: files.hidden_parquet(s) for s in request.splits},
    )
    history = {}
    if past is not None:
        drifted, history = past_anomalies(request, label_stats, past, started)
        anomalies += drifted
    statistics = {}
    for split in formats:
        if request.labels_only:
            # The first model of a feature speaks for it, as in report.json.
            by_feature = {}
            for model in request.models:
                spec = checks.spec_of(model)
                by_feature.setdefault(spec.feature, label_stats[(split, spec)])
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
    status = verdict_of(anomalies, request.strict)
    return Verdict(
        status,
        tuple(anomalies),
        inferred,
        statistics,
        schema.merge_anomalies(found),
        fits,
        past.previous_path if past is not None else None,
        history,
    )


def past_anomalies(request, label_stats, past, started: str):
    """Drift against the previous run and headroom from the history.

    Returns the anomalies and each model's history, this run last.
    """
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
    history = {}
    for model in request.models:
        spec = checks.spec_of(model)
        for split in (s.name for s in request.splits):
            if (model.name, split) not in past.figures:
                continue
            stats = label_stats[(split, spec)]
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
        now = label_stats[(training, spec)]
        points = [*past.points.get(model.name, [])]
        if now.max is not None:
            points.append((started, now.max, now.distinct, ""))
        history[model.name] = points
        found += headroom.check(
            model,
            training,
            [
                headroom.Point(datetime.datetime.fromisoformat(when), top, distinct)
                for when, top, distinct, _ in points
            ],
        )
    return found, history


def label_anomalies(
    models, label_stats, formats, training, model_files, file_notes, hidden=None
):
    """The label, config and diagnosis anomalies, and the frequency fits.

    Each log-uniform model's fit is computed once: a check warns about it, a writer
    uses it.
    """
    fits = {}
    for model in models:
        stats = label_stats[(training, checks.spec_of(model))]
        if model.sampler == "log_uniform" and stats.classes_seen:
            fits[model.name] = frequency.fit(
                model.num_classes, *stats.class_counts.pairs()
            )
    anomalies = checks.evaluate(
        models, label_stats, formats, training, model_files, fits, file_notes, hidden
    )
    return anomalies, fits


def verdict_of(anomalies, strict: bool = False) -> str:
    """Fail with an ERROR (strict: a WARNING too) among the anomalies, else pass."""
    failing = {Severity.ERROR} | ({Severity.WARNING} if strict else set())
    return "fail" if any(a.severity in failing for a in anomalies) else "pass"
