"""classgate inside a Beam job of your own: a transform and a check, as TFDV has.

    stats = batches | classgate.beam.LabelStatistics(models)        # one element
    anomalies = classgate.beam.check(statistics, models)            # on the driver

`LabelStatistics` takes a PCollection of Arrow record batches (what TFXIO and
`tfdv.GenerateStatistics` take) or of serialized tf.Example bytes, and yields one
element: {LabelSpec: LabelStats}, each label's (and each trainer context id's)
exact statistics, class counts included. It is the same TallyLabels and combiners
`classgate validate` runs, class counts combined by key range apart, so it adds to
a pipeline that already reads the data instead of reading it twice. `check` is a
plain function: those statistics and the model configs -> the anomalies that
`classgate validate` would report for the label checks (not TFDV's schema checks,
which stay with the caller's own `tfdv.validate_statistics`).
"""

from collections.abc import Mapping, Sequence

import apache_beam as beam

from classgate import checks, config
from classgate.checks import anomaly
from classgate.checks.anomaly import Anomaly
from classgate.io import batches
from classgate.model_files import summary
from classgate.run import transforms
from classgate.stats import class_counts, label, results

# The name the statistics use for the data, in findings and locations.
SPLIT = "train"


class LabelStatistics(beam.PTransform):
    """Arrow record batches (or tf.Example bytes) -> one {LabelSpec: LabelStats}."""

    def __init__(
        self,
        model_configs: Sequence[config.ModelConfig],
        input_format: str = "arrow",
        classes_per_range: int = class_counts.RANGE_WIDTH,
        source: str = "pcollection",
    ):
        """The label statistics of these models' features.

        Args:
        model_configs: the models whose label (and context) features to count.
        input_format: "arrow" for pyarrow.RecordBatch elements, "tf_example" for
            serialized tf.Example bytes.
        classes_per_range: classes per key range of the per-class counts.
        source: what locations (record numbers of offending values) name as the
            file; record numbers count within each batch.
        """
        super().__init__()
        if input_format not in ("arrow", "tf_example"):
            raise ValueError(
                f"input_format {input_format!r}: expected 'arrow' or 'tf_example'"
            )
        self._models = tuple(model_configs)
        self._specs = label.specs_of(self._models)
        self._input_format = input_format
        self._width = classes_per_range
        self._source = source

    def expand(self, pcoll):
        if self._input_format == "tf_example":
            pcoll = (
                pcoll
                | "BatchExamples" >> beam.BatchElements(max_batch_size=1000)
                | "DecodeExamples" >> beam.Map(_decode_examples)
            )
        located = pcoll | "Locate" >> beam.Map(_located, self._source)
        per_spec = []
        for spec in self._specs:
            step = f"[{transforms.spec_name(spec, self._specs)}]"
            counted = located | f"CountLabels{step}" >> transforms.CountLabels(
                spec, self._width
            )
            stats = counted[transforms.CountLabels.STATS]
            ranges = counted[transforms.CountLabels.CLASS_COUNTS]
            ranges = ranges | f"Ranges{step}" >> beam.combiners.ToList()
            per_spec.append(
                stats
                | f"Join{step}"
                >> beam.Map(_joined, beam.pvalue.AsSingleton(ranges), self._width)
            )
        return (
            per_spec | "Flatten" >> beam.Flatten() | "ToDict" >> beam.combiners.ToDict()
        )


def check(
    statistics: Mapping[label.LabelSpec, label.LabelStats],
    model_configs: Sequence[config.ModelConfig],
    data_format: str = "tfrecord",
) -> list[Anomaly]:
    """The label anomalies of LabelStatistics' output for these models.

    `data_format` is what the trainer will read ("tfrecord" or "parquet"): float
    labels pass in Parquet but not in tf.Example. The models' vocabulary and
    checkpoint files are read here, as `classgate validate` reads them.

    Raises:
        InputError: a model's feature is not in the statistics, or its files
            cannot be read.
    """
    from classgate import errors

    models = tuple(model_configs)
    found = {}
    for spec in label.specs_of(models):
        if spec not in statistics:
            raise errors.InputError(
                f"feature '{spec.feature}' (num_classes {spec.num_classes}): not in "
                "these statistics; compute them with LabelStatistics of the same "
                "model configs"
            )
        found[(SPLIT, spec)] = statistics[spec]
    computed = results.Results(found)
    return checks.evaluate(
        models,
        computed,
        {SPLIT: data_format},
        SPLIT,
        {m.name: summary.read(m) for m in models},
        checks.fits(models, computed, SPLIT),
    )


def passed(anomalies: Sequence[Anomaly], strict: bool = False) -> bool:
    """Whether these anomalies let training start (strict: warnings fail too)."""
    return anomaly.status_of(anomalies, strict) == anomaly.Status.PASS


def _decode_examples(serialized: list[bytes]):
    from tfx_bsl.coders import example_coder

    return example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(serialized)


def _located(records, source: str) -> batches.LocatedBatch:
    return batches.LocatedBatch(source, 0, records)


def _joined(stats: label.LabelStats, ranges, width: int):
    """The statistics with their class counts back, in a new accumulator.

    A transform never changes its input.
    """
    joined = label.LabelStats(stats.spec)
    joined.merge(stats)
    joined.put_class_counts(width, ranges)
    held = joined.class_counts.total()
    if held != joined.in_range:
        raise RuntimeError(
            f"{stats.spec.feature}: the runner lost results: the class counts hold "
            f"{held} ids, the statistics counted {joined.in_range}"
        )
    return joined.spec, joined
