"""The Beam layer: thin PTransforms around the readers, stats/ and TFDV.

Step labels are stable and name the split and feature (`Read[train]`,
`CountLabels[train][label]`, see `spec_name`): they name Dataflow stages and matter
for job updates.
Results leave the pipeline as one small file per result in a staging folder; every
decision is taken afterwards, on the driver, from those files.
"""

import functools
import re

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

from classgate.io import arrow, batches, files, parquet, progress, storage, tfrecord
from classgate.model_files import vocabulary
from classgate.stats import class_counts, label


class ReadSplit(beam.PTransform):
    """The files of a split -> `LocatedBatch`es, each file read by one worker.

    Parquet reads the `features` a model names (and in full mode every column,
    as list columns, as TFDV needs); TFRecord scans for the `features`
    (tfrecord.scan_batches) and in full mode decodes whole examples as well.
    Returns the batches (main output) and, tagged files.NOTES, what the reader
    found per file.
    """

    def __init__(self, split: files.Split, features: tuple[str, ...], full: bool):
        super().__init__()
        self._split = split
        self._features = features
        self._full = full

    def expand(self, pbegin):
        decode = decoder(self._split, self._features, self._full)
        return (
            pbegin
            | "ListFiles" >> beam.Create([(f.path, f.size) for f in self._split.files])
            # Spreads files over workers instead of fusing them onto one.
            | "SpreadFiles" >> beam.Reshuffle()
            | "Decode" >> beam.ParDo(decode).with_outputs(files.NOTES, main="batches")
        )


def decoder(split: files.Split, features: tuple[str, ...], full: bool) -> beam.DoFn:
    """The DoFn that reads one file of `split`: (path, size) -> LocatedBatches.

    Parquet reads the `features` a model names (in full mode every column);
    TFRecord scans for the `features`, and in full mode decodes whole examples
    as well. Tagged files.NOTES: what it found in the file.
    """
    if split.format == "parquet":
        columns = None if full else list(features)
        return parquet.DecodeParquetFile(features, columns)
    return tfrecord.DecodeTFRecordFile(
        features=features, data_bytes=split.bytes, whole=full
    )


class TallyLabels(beam.DoFn):
    """A batch -> its `LabelStats`, and (tagged CLASSES) its class counts by key range.

    The class counts leave the statistics here so that each key range is combined
    apart, on whichever worker holds that key: no accumulator holds all classes.
    A vocabulary is read once per worker, in `setup`, and handed to the statistics.
    """

    CLASSES = "classes"

    def __init__(self, spec: label.LabelSpec, range_width: int):
        self._spec = spec
        self._range_width = range_width
        self._missing = Metrics.counter(progress.NAMESPACE, "missing_labels")
        self._outside = Metrics.counter(progress.NAMESPACE, "out_of_range_labels")

    def setup(self):
        self._words = None
        if self._spec.vocabulary_file:
            self._words = vocabulary.as_array(self._spec.vocabulary_file)

    def process(self, batch: batches.LocatedBatch):
        stats = label.LabelStats(self._spec)
        self._outside.inc(stats.add_batch(batch, self._words))
        self._missing.inc(stats.missing)
        for keyed in stats.take_class_counts(self._range_width):
            yield beam.pvalue.TaggedOutput(self.CLASSES, keyed)
        yield stats


class CountLabels(beam.PTransform):
    """Batches -> one feature's statistics, and its class counts per key range.

    One composite with two tagged outputs: `stats`, a single merged LabelStats
    without its class counts, and `class_counts`, (range index, ClassCounts)
    pairs, each key range combined apart on whichever worker holds it. Its inner
    steps are `Tally`, `Stats` and `ClassCounts`, stable Dataflow stage names
    below the composite's own (`CountLabels[train][label]` in a validation).
    """

    STATS, CLASS_COUNTS = "stats", "class_counts"

    def __init__(self, spec: label.LabelSpec, range_width: int):
        super().__init__()
        self._spec = spec
        self._width = range_width

    def expand(self, batches):
        tallied = batches | "Tally" >> beam.ParDo(
            TallyLabels(self._spec, self._width)
        ).with_outputs(TallyLabels.CLASSES, main="stats")
        classes = tallied[TallyLabels.CLASSES]
        return _combined(tallied.stats, classes, self._spec, self._width)


class CombineLabels(beam.PTransform):
    """(partial LabelStats, (range, ClassCounts) pairs) -> CountLabels' two outputs.

    What CountLabels does after its `Tally`, for statistics tallied elsewhere
    (TallyFiles, per file).
    """

    def __init__(self, spec: label.LabelSpec, range_width: int):
        super().__init__()
        self._spec = spec
        self._width = range_width

    def expand(self, tallied):
        stats, ranges = tallied
        return _combined(stats, ranges, self._spec, self._width)


def _combined(stats, ranges, spec: label.LabelSpec, width: int) -> dict:
    """One merged LabelStats (`Stats`), and each key range combined apart."""
    stats = stats | "Stats" >> beam.CombineGlobally(
        MergingCombineFn(functools.partial(label.LabelStats, spec))
    )
    size = class_counts.range_size(spec.num_classes, width)
    ranges = ranges | "ClassCounts" >> beam.CombinePerKey(
        MergingCombineFn(functools.partial(class_counts.ClassCounts, size))
    )
    return {CountLabels.STATS: stats, CountLabels.CLASS_COUNTS: ranges}


class MergingCombineFn(beam.CombineFn):
    """Combines values that merge into one another (LabelStats, ClassCounts).

    `empty` makes the starting accumulator; inputs are never changed.
    """

    def __init__(self, empty):
        self._empty = empty

    def create_accumulator(self):
        return self._empty()

    def add_input(self, accumulator, value):
        accumulator.merge(value)
        return accumulator

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        merged = next(accumulators, None)
        if merged is None:
            merged = self._empty()
        for accumulator in accumulators:
            merged.merge(accumulator)
        return merged

    def extract_output(self, accumulator):
        return accumulator


class WriteResult(beam.PTransform):
    """Writes the single element of a PCollection to `path`, encoded by `encode`."""

    def __init__(self, path: str, encode):
        super().__init__()
        self._path = path
        self._encode = encode

    def expand(self, pcoll):
        return pcoll | "Write" >> beam.Map(_write_file, self._path, self._encode)


class WriteKeyedResults(beam.PTransform):
    """Writes each (key, value) of a PCollection to `path_of(key)`."""

    def __init__(self, path_of, encode):
        super().__init__()
        self._path_of = path_of
        self._encode = encode

    def expand(self, pcoll):
        return pcoll | "Write" >> beam.Map(_write_keyed, self._path_of, self._encode)


def _write_keyed(keyed, path_of, encode):
    key, value = keyed
    _write_file(value, path_of(key), encode)


def _write_file(element, path, encode):
    # Atomic: a retried or killed bundle never leaves half a result behind.
    storage.write_atomic(path, encode(element))


def counters(result) -> dict[str, int]:
    """The classgate Beam counters, summed over steps; empty without runner support."""
    try:
        found = result.metrics().query(
            MetricsFilter().with_namespace(progress.NAMESPACE)
        )
    except Exception:  # runners without metrics support
        return {}
    totals: dict[str, int] = {}
    for counter in found["counters"]:
        value = (
            counter.committed if counter.committed is not None else counter.attempted
        )
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + value
    return dict(sorted(totals.items()))


def records_of(batch: batches.LocatedBatch):
    """The Arrow rows of a batch, as TFDV's GenerateStatistics takes them."""
    return arrow.for_tfdv(batch.records)[0]


def spec_name(spec: label.LabelSpec, specs) -> str:
    """The name in `spec`'s Beam step labels: distinct for each of distinct `specs`.

    The feature name when no other spec checks that feature; else qualified by what
    tells them apart: `item@1000x1` (num_classes x num_true), `+2oov`, `:vocab.txt`
    (the vocabulary's file name). Should two specs still read alike (vocabularies of
    one file name in two folders, a feature named like another's qualified name),
    each ends in `#<its position in specs>`, an ending no other name is given: the
    names are unique by construction, and stable for the same configs.
    """
    specs = list(specs)

    def readable(one: label.LabelSpec) -> str:
        if sum(s.feature == one.feature for s in specs) == 1:
            return one.feature
        name = f"{one.feature}@{one.num_classes}x{one.num_true}"
        if one.num_oov_buckets:
            name += f"+{one.num_oov_buckets}oov"
        if one.vocabulary_file is not None:
            name += ":" + one.vocabulary_file.rstrip("/").rsplit("/", 1)[-1]
        return name

    names = [readable(s) for s in specs]
    name = names[specs.index(spec)]
    if names.count(name) == 1 and not _NUMBERED.search(name):
        return name
    return f"{name}#{specs.index(spec)}"


# A step name's disambiguating suffix: see spec_name.
_NUMBERED = re.compile(r"#[0-9]+$")
