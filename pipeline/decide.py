"""The verdict: staged statistics + model configs + model files -> anomalies, status.

A plain function of data already read: no file is opened here, nothing is written.
The frequency fit of each log-uniform model is computed once, for the check that
warns about it and for the writer that decides whether a remap file helps.
"""

import dataclasses

from classgate import checks, schema
from classgate.checks.anomaly import Anomaly, Severity
from classgate.stats import frequency


@dataclasses.dataclass(frozen=True)
class Verdict:
    status: str  # "pass" or "fail"
    anomalies: tuple[Anomaly, ...]
    schema: object  # the inferred (or, labels-only, built) TFDV Schema
    # split name -> DatasetFeatureStatisticsList: TFDV's, or built from the labels
    statistics: dict
    tfdv_anomalies: object  # every split's TFDV Anomalies, merged
    # model name -> FrequencyFit of its training split (log_uniform models)
    fits: dict


def decide(request, results, model_files: dict, baseline=None) -> Verdict:
    """The verdict of one validation; `baseline` is a loaded curated Schema."""
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
    )
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
        inferred = schema.label_schema(request.models)
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
    )


def label_anomalies(models, label_stats, formats, training, model_files, file_notes):
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
        models, label_stats, formats, training, model_files, fits, file_notes
    )
    return anomalies, fits


def verdict_of(anomalies, strict: bool = False) -> str:
    """Fail with an ERROR (strict: a WARNING too) among the anomalies, else pass."""
    failing = {Severity.ERROR} | ({Severity.WARNING} if strict else set())
    return "fail" if any(a.severity in failing for a in anomalies) else "pass"
