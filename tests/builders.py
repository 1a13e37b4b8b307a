"""Hand-built statistics, configs and reports for the millisecond unit tests."""

import pyarrow as pa

from classgate import checks, config
from classgate.checks import artifacts
from classgate.io.batches import LocatedBatch
from classgate.stats import frequency
from classgate.stats.label import LabelSpec, LabelStats


def model(**keys) -> config.ModelConfig:
    """A ModelConfig with the usual defaults: model m, feature label, 10 classes."""
    fields = {"name": "m", "label_feature": "label", "num_classes": 10}
    return config.ModelConfig.model_validate(fields | keys)


def stats(rows, spec_or_model, type=None, words=None, file="f") -> LabelStats:
    """The statistics of one batch of label rows (a value, a list or None each)."""
    spec = spec_or_model
    if isinstance(spec, config.ModelConfig):
        spec = checks.spec_of(spec)
    column = rows if isinstance(rows, pa.Array) else pa.array(rows, type=type)
    batch = LocatedBatch(file, 0, pa.RecordBatch.from_arrays([column], [spec.feature]))
    found = LabelStats(spec)
    vocabulary = pa.array(words, pa.binary()) if words is not None else None
    found.add_batch(batch, vocabulary)
    return found


def evaluate(models, splits: dict, formats=None, files=None, notes=None, words=()):
    """checks.evaluate over {split: {feature: rows}}, the first split the training one.

    Each model's label spec (and context spec) gets the statistics of the rows
    under its feature in that split; absent features read as all missing.
    """
    formats = formats or dict.fromkeys(splits, "parquet")
    training = next(iter(splits))
    by_key = {}
    for split, columns in splits.items():
        examples = max(len(rows) for rows in columns.values())
        for spec in checks.specs_of(models):
            rows = columns.get(spec.feature, [None] * examples)
            vocabulary = list(words) if spec.vocabulary_file else None
            by_key[(split, spec)] = stats(rows, spec, words=vocabulary)
    fits = {}
    for m in models:
        training_stats = by_key[(training, checks.spec_of(m))]
        if m.sampler == "log_uniform" and training_stats.classes_seen:
            ids, counts = training_stats.class_counts.pairs()
            fits[m.name] = frequency.fit(m.num_classes, ids, counts)
    model_files = files or {m.name: artifacts.ModelFiles() for m in models}
    notes = notes or {split: {} for split in splits}
    return checks.evaluate(models, by_key, formats, training, model_files, fits, notes)


def codes(anomalies, severity=None) -> list[str]:
    return sorted(
        a.code for a in anomalies if severity is None or a.severity == severity
    )


def find(anomalies, code: str):
    (found,) = [a for a in anomalies if a.code == code]
    return found


def spec(num_classes=10, num_true=1, feature="label") -> LabelSpec:
    return LabelSpec(feature, num_classes, num_true)


def report_file(
    folder, models, rows, files=("a.parquet", "b.parquet"), status=None, glob="*"
):
    """A report.json in `folder` of `rows` (the train split's labels) over real
    files in `folder`/shards, built the way publish builds it; returns its path
    and the pattern."""
    import types

    from classgate import decide, publish, signing, validation
    from classgate.io import files as listing

    shards = folder / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    for name in files:
        (shards / name).write_bytes(b"data of " + name.encode())
    pattern = str(shards / glob)
    split = listing.list_split("train", (pattern,), "parquet")
    request = validation.Request(splits=(split,), models=tuple(models), output="out")
    label_stats = {("train", s): stats(rows, s) for s in checks.specs_of(models)}
    anomalies = evaluate(models, {"train": {models[0].label_feature: rows}})
    failing = any(a.severity == "ERROR" for a in anomalies)
    verdict = decide.Verdict(
        status or ("fail" if failing else "pass"), tuple(anomalies), None, {}, None, {}
    )
    results = types.SimpleNamespace(label_stats=label_stats, file_notes={})
    report = publish.report_of(request, results, verdict, "2026-01-01T00:00:00", {})
    report = signing.signed(report)  # as publish signs it, when a key is set
    path = folder / "report.json"
    path.write_text(report.to_json())
    return str(path), pattern
