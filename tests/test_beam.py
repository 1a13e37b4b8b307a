"""classgate.beam in a Beam job of one's own: LabelStatistics and check.

The transform's figures must equal one accumulator fed every batch in order (the
same property the combiners are held to), whatever the batching, key ranges and
input format; `check` must find what `classgate validate` finds on the same data.
"""

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import classgate
from classgate import beam as classgate_beam
from classgate import config
from classgate.io import batches
from classgate.stats import label
from classgate.stats.label import LabelSpec

from tools import synthetic

MODEL = config.ModelConfig(name="m", label_feature="label", num_classes=50)


def _batches(ids: np.ndarray, pieces: int) -> list[pa.RecordBatch]:
    return [
        pa.RecordBatch.from_arrays(
            [pa.array([[int(i)] for i in chunk], pa.list_(pa.int64()))], ["label"]
        )
        for chunk in np.array_split(ids, pieces)
        if chunk.size
    ]


def _figures(stats: label.LabelStats):
    ids, counts = stats.class_counts.pairs()
    summary = stats.summary()
    summary.pop("profile")
    return summary, list(map(int, ids)), list(map(int, counts))


def _expected(ids: np.ndarray, spec: label.LabelSpec):
    """One accumulator, every batch added in order: no Beam."""
    stats = label.LabelStats(spec)
    for batch in _batches(ids, 1):
        stats.add_batch(batches.LocatedBatch("x", 0, batch))
    return _figures(stats)


@pytest.mark.slow  # 12 Beam pipelines, seconds in all
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    ids=st.lists(st.integers(-3, 70), min_size=1, max_size=400).map(np.array),
    pieces=st.integers(1, 9),
    width=st.sampled_from([1, 7, 16, 1 << 20]),
)
def test_figures_equal_one_accumulator(ids, pieces, width):
    expected = _expected(ids, LabelSpec.of_label(MODEL))
    with test_pipeline.TestPipeline() as p:
        out = (
            p
            | beam.Create(_batches(ids, pieces), reshuffle=True)
            | classgate_beam.LabelStatistics([MODEL], classes_per_range=width)
            | beam.Map(lambda found: [_figures(v) for v in found.values()])
        )
        assert_that(out, equal_to([[expected]]))


@pytest.mark.slow
def test_tf_example_bytes_give_the_same_figures():
    from tfx_bsl.coders import example_coder

    ids = synthetic.labels(3_000, 60, seed=3)  # some above 50
    encoder = example_coder.RecordBatchToExamplesEncoder()
    serialized = []
    for batch in _batches(ids, 5):
        serialized.extend(encoder.encode(batch))
    expected = _expected(ids, LabelSpec.of_label(MODEL))
    with test_pipeline.TestPipeline() as p:
        out = (
            p
            | beam.Create(serialized)
            | classgate_beam.LabelStatistics([MODEL], input_format="tf_example")
            | beam.Map(lambda found: [_figures(v) for v in found.values()])
        )
        assert_that(out, equal_to([[expected]]))


@pytest.mark.slow
def test_beside_tfdv_on_one_pcollection():
    """One read feeds TFDV's GenerateStatistics and classgate's LabelStatistics."""
    import tensorflow_data_validation as tfdv

    ids = synthetic.labels(2_000, 50, seed=4)
    data = _batches(ids, 4)
    expected = _expected(ids, LabelSpec.of_label(MODEL))
    with test_pipeline.TestPipeline() as p:
        read = p | beam.Create(data)
        tfdv_stats = read | tfdv.GenerateStatistics()
        labels = read | classgate_beam.LabelStatistics([MODEL])
        assert_that(
            tfdv_stats | beam.Map(lambda s: s.datasets[0].num_examples),
            equal_to([2_000]),
            label="TFDVExamples",
        )
        assert_that(
            labels | beam.Map(lambda found: [_figures(v) for v in found.values()]),
            equal_to([[expected]]),
            label="LabelFigures",
        )


@pytest.mark.slow
@pytest.mark.parametrize("num_classes", [50, 40, 200])
def test_check_finds_what_validate_finds(ws, tmp_path, num_classes):
    ids = synthetic.labels(2_000, 50, seed=num_classes)
    models = [
        config.ModelConfig(name="m", label_feature="label", num_classes=num_classes)
    ]
    report = classgate.validate(
        ws.labels(ids), models, str(ws.root / "out"), labels_only=True
    )
    stats = label.LabelStats(LabelSpec.of_label(models[0]))
    stats.add_batch(batches.LocatedBatch("x", 0, _batches(ids, 1)[0]))
    stats.put_class_counts(1 << 20, stats.take_class_counts(1 << 20))
    found = classgate_beam.check({stats.spec: stats}, models)
    ran = {code for code, _ in report.checks_ran(models[0])}
    label_codes = ran | {a.code for a in found}
    from_report = sorted(
        (a.severity, a.code) for a in report.anomalies if a.code in label_codes
    )
    assert sorted((a.severity, a.code) for a in found) == from_report
    assert classgate_beam.passed(found) == (report.status == "pass")


def test_check_refuses_statistics_of_other_configs():
    stats = label.LabelStats(LabelSpec.of_label(MODEL))
    other = config.ModelConfig(name="o", label_feature="label", num_classes=51)
    with pytest.raises(classgate.InputError, match="not in these statistics"):
        classgate_beam.check({stats.spec: stats}, [other])
