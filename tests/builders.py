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
    import datetime

    from classgate.checks import controls

    # As decide applies them: the models' overrides and waivers, on the run's day.
    found_anomalies = controls.apply(
        models, evaluate(models, splits), datetime.date(2026, 1, 1)
    )
    made = verdict(found_anomalies, status=status)
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


# Real files, read as a worker reads them: the job's decoders without Beam --------


def read_files(paths, features=("label",), columns=None, fmt=None):
    """The batches and per-file notes the job's reader gives for real files.

    The decoding DoFn is called as a worker calls it, without a pipeline: Parquet
    reads `columns` (None: every column, as full mode does) and requires
    `features`; TFRecord decodes whole examples (given `columns`, scans for
    `features` alone, as labels-only mode does). `fmt` defaults to each file's
    suffix.
    """
    import os

    from apache_beam import pvalue

    from classgate.io import parquet, tfrecord

    found, notes = [], {}
    for path in map(str, paths):
        if (fmt or ("parquet" if path.endswith(".parquet") else "tfrecord")) == (
            "parquet"
        ):
            decode = parquet.DecodeParquetFile(tuple(features), columns)
        else:
            only = None if columns is None else tuple(features)
            decode = tfrecord.DecodeTFRecordFile(features=only)
        decode.setup()
        for item in decode.process((path, os.path.getsize(path))):
            if isinstance(item, pvalue.TaggedOutput):
                notes[item.value[0]] = item.value[1]
            else:
                found.append(item)
    return found, notes


def results_of_files(models, splits: dict, fmt=None) -> Results:
    """Results of {split: [paths]} as a labels-only job computes them: each label
    spec's statistics over the batches the reader gives, vocabularies mapped."""
    from classgate.model_files import vocabulary

    specs = specs_of(models)
    features = tuple(dict.fromkeys(s.feature for s in specs))
    by_key, notes = {}, {}
    for split, paths in splits.items():
        read, notes[split] = read_files(paths, features, list(features), fmt)
        for spec in specs:
            words = None
            if spec.vocabulary_file:
                words = vocabulary.as_array(spec.vocabulary_file)
            found = LabelStats(spec)
            for batch in read:
                found.add_batch(batch, words)
            by_key[(split, spec)] = found
    return Results(by_key, {}, notes)


def evaluate_files(models, splits: dict, fmt=None):
    """checks.evaluate over real files ({split: [paths]}, the first split the
    training one), the model files (vocabularies, checkpoints) read for real."""
    found = results_of_files(models, splits, fmt)
    formats = {
        split: fmt or ("parquet" if str(paths[0]).endswith(".parquet") else "tfrecord")
        for split, paths in splits.items()
    }
    training = next(iter(splits))
    model_files = {m.name: summary.read(m) for m in models}
    fits = checks.fits(models, found, training)
    return checks.evaluate(models, found, formats, training, model_files, fits)
