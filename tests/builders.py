"""Hand-built statistics, configs, results and reports for millisecond unit tests.

The run's spine is data: a Request, Results (statistics addressed by model and
split), a Verdict; these build each of them from a few label rows, without Beam.
"""

import pyarrow as pa

from classgate import checks, config
from classgate.checks.anomaly import status_of
from classgate.io.batches import LocatedBatch
from classgate.model_files import summary
from classgate.stats.label import LabelSpec, LabelStats, specs_of
from classgate.stats.results import Results


def model(**keys) -> config.ModelConfig:
    """A ModelConfig with the usual defaults: model m, feature label, 10 classes."""
    fields = {"name": "m", "label_feature": "label", "num_classes": 10}
    return config.ModelConfig.model_validate(fields | keys)


def stats(rows, spec_or_model, type=None, words=None, file="f") -> LabelStats:
    """The statistics of one batch of label rows (a value, a list or None each)."""
    spec = spec_or_model
    if isinstance(spec, config.ModelConfig):
        spec = LabelSpec.of_label(spec)
    column = rows if isinstance(rows, pa.Array) else pa.array(rows, type=type)
    batch = LocatedBatch(file, 0, pa.RecordBatch.from_arrays([column], [spec.feature]))
    found = LabelStats(spec)
    vocabulary = pa.array(words, pa.binary()) if words is not None else None
    found.add_batch(batch, vocabulary)
    return found


def results(models, splits: dict, notes=None, words=()) -> Results:
    """Results of {split: {feature: rows}}: each model's label spec (and context
    spec) gets the statistics of the rows under its feature in that split; absent
    features read as all missing."""
    by_key = {}
    for split, columns in splits.items():
        examples = max(len(rows) for rows in columns.values())
        for spec in specs_of(models):
            rows = columns.get(spec.feature, [None] * examples)
            vocabulary = list(words) if spec.vocabulary_file else None
            by_key[(split, spec)] = stats(rows, spec, words=vocabulary)
    return Results(by_key, {}, notes or {split: {} for split in splits})


def evaluate(models, splits: dict, formats=None, files=None, notes=None, words=()):
    """checks.evaluate over {split: {feature: rows}}, the first split the training."""
    formats = formats or dict.fromkeys(splits, "parquet")
    training = next(iter(splits))
    found = results(models, splits, notes, words)
    model_files = files or {m.name: summary.ModelFiles() for m in models}
    fits = checks.fits(models, found, training)
    return checks.evaluate(models, found, formats, training, model_files, fits)


def codes(anomalies, severity=None) -> list[str]:
    return sorted(
        a.code for a in anomalies if severity is None or a.severity == severity
    )


def find(anomalies, code: str):
    (found,) = [a for a in anomalies if a.code == code]
    return found


def spec(num_classes=10, num_true=1, feature="label") -> LabelSpec:
    return LabelSpec(feature, num_classes, num_true)


def verdict(anomalies, strict=False, status=None):
    """A Verdict of these anomalies (no TFDV artifacts), its status derived."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    from classgate.verdict import decide, schema

    return decide.Verdict(
        status=status or status_of(anomalies, strict),
        anomalies=tuple(anomalies),
        schema=schema_pb2.Schema(),
        statistics={},
        tfdv_anomalies=schema.merge_anomalies([]),
        fits={},
    )


def report_file(
    folder, models, rows, files=("a.parquet", "b.parquet"), status=None, glob="*"
):
    """A report.json in `folder` of `rows` (the train split's labels) over real
    files in `folder`/shards, built the way publish builds it; returns its path
    and the pattern."""
    from classgate.io import files as listing
    from classgate.outputs import publish
    from classgate.report import signing
    from classgate.run.request import Request

    shards = folder / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    for name in files:
        (shards / name).write_bytes(b"data of " + name.encode())
    pattern = str(shards / glob)
    split = listing.list_split("train", (pattern,), "parquet")
    request = Request(splits=(split,), models=tuple(models), output="out")
    splits = {"train": {models[0].label_feature: rows}}
    found = results(models, splits)
    made = verdict(evaluate(models, splits), status=status)
    report = publish.report_of(
        request,
        found,
        made,
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:01+00:00",
        {},
    )
    report = signing.signed(report)  # as publish signs it, when a key is set
    path = folder / "report.json"
    path.write_text(report.to_json())
    return str(path), pattern
