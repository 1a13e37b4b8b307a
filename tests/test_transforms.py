"""The Beam layer at Beam level: TestPipeline + assert_that over the transforms that
tally labels, combine class counts by key range and stage results."""

import functools
import random

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from classgate.io.batches import LocatedBatch
from classgate.run import staging, transforms
from classgate.stats import class_counts, label

SPEC = label.LabelSpec("label", num_classes=100, num_true=1)
WIDTH = 16  # 7 key ranges over 100 classes


def located_batches(ids: np.ndarray, size: int, shuffle_seed: int | None = None):
    """`ids` cut into batches of `size` rows across 3 files, maybe shuffled."""
    found = []
    for start in range(0, len(ids), size):
        records = pa.RecordBatch.from_arrays(
            [pa.array(ids[start : start + size])], ["label"]
        )
        found.append(LocatedBatch(f"file-{start % 3}", start, records))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(found)
    return found


def counts_by_range(ids: np.ndarray, num_classes: int, width: int):
    """What the per-range combine must give: (range, ids, counts) as plain tuples."""
    found = []
    for index in range(-(-num_classes // width)):
        low, high = index * width, min((index + 1) * width, num_classes)
        inside = ids[(ids >= low) & (ids < high)]
        if inside.size:
            seen, counts = np.unique(inside - low, return_counts=True)
            found.append((index, tuple(seen.tolist()), tuple(counts.tolist())))
    return found


def as_tuple(keyed):
    index, counts = keyed
    ids, totals = counts.pairs()
    return index, tuple(ids.tolist()), tuple(totals.tolist())


def tally(pipeline, batches, spec=SPEC, width=WIDTH):
    return (
        pipeline
        | "Batches" >> beam.Create(batches)
        | "Tally"
        >> beam.ParDo(transforms.TallyLabels(spec, width)).with_outputs(
            transforms.TallyLabels.CLASSES, main="stats"
        )
    )


def test_tallied_class_counts_combine_by_key_range():
    ids = np.random.default_rng(0).integers(0, 100, 3_000)
    with test_pipeline.TestPipeline() as pipeline:
        tallied = tally(pipeline, located_batches(ids, 64, shuffle_seed=1))
        combined = (
            tallied[transforms.TallyLabels.CLASSES]
            | beam.CombinePerKey(
                transforms.MergingCombineFn(
                    functools.partial(class_counts.ClassCounts, WIDTH)
                )
            )
            | beam.Map(as_tuple)
        )
        assert_that(combined, equal_to(counts_by_range(ids, 100, WIDTH)))


def test_label_statistics_combine_to_the_reference():
    rng = np.random.default_rng(1)
    ids = rng.integers(-3, 110, 5_000)
    expected = (len(ids), int(ids.min()), int(ids.max()), int((ids >= 100).sum()))

    def figures(stats):
        return (stats.examples, stats.min, stats.max, sum(stats.above_range.values()))

    with test_pipeline.TestPipeline() as pipeline:
        tallied = tally(pipeline, located_batches(ids, 100, shuffle_seed=2))
        merged = (
            tallied.stats
            | beam.CombineGlobally(
                transforms.MergingCombineFn(functools.partial(label.LabelStats, SPEC))
            )
            | beam.Map(figures)
        )
        assert_that(merged, equal_to([expected]))


def test_results_are_staged_as_data(tmp_path):
    ids = np.arange(100).repeat(3)
    run = "0" * 32
    staged = str(tmp_path)
    with test_pipeline.TestPipeline() as pipeline:
        tallied = tally(pipeline, located_batches(ids, 50))
        _ = (
            tallied[transforms.TallyLabels.CLASSES]
            | beam.CombinePerKey(
                transforms.MergingCombineFn(
                    functools.partial(class_counts.ClassCounts, WIDTH)
                )
            )
            | transforms.WriteKeyedResults(
                functools.partial(staging.class_counts_path, staged, 0, 0),
                functools.partial(staging.encode_class_counts, run=run),
            )
        )
    pieces = []
    for index in range(7):
        path = staging.class_counts_path(staged, 0, 0, index)
        data = open(path, "rb").read()
        pieces.append((index, staging.decode_class_counts(data, run, path)))
    joined = class_counts.ClassCounts.join(100, WIDTH, pieces)
    assert np.array_equal(joined.array(), np.full(100, 3))
    assert not list(tmp_path.glob("*.tmp-*"))


# CountLabels: the composite with its two tagged outputs, as the job runs it --------


def count(pipeline, batches, spec=SPEC, width=WIDTH):
    return pipeline | beam.Create(batches) | transforms.CountLabels(spec, width)


def joined_counts(ranges, num_classes, width):
    """The driver's join of the per-range counts, as staging.read_results joins."""
    return class_counts.ClassCounts.join(num_classes, width, ranges).array().tolist()


@pytest.mark.parametrize("mode", ["in_memory", "multi_threading"])
def test_count_labels_gives_statistics_and_key_ranges_that_join_exactly(mode):
    """In Beam's default and multi_threading modes (2 workers, many bundles), the
    ranges join to numpy's counts and the statistics to the reference figures."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from classgate.run import job

    rng = np.random.default_rng(3)
    ids = rng.integers(-2, 105, 6_000)
    inside = ids[(ids >= 0) & (ids < 100)]
    options = PipelineOptions(
        [f"--direct_running_mode={mode}", "--direct_num_workers=2"]
    )
    with job.pipeline(options) as pipeline:
        counted = count(pipeline, located_batches(ids, 97, shuffle_seed=4))
        ranges = counted[transforms.CountLabels.CLASS_COUNTS]
        stats = counted[transforms.CountLabels.STATS]
        assert_that(
            ranges | "AsTuples" >> beam.Map(as_tuple),
            equal_to(counts_by_range(ids, 100, WIDTH)),
            label="Ranges",
        )
        assert_that(
            ranges | beam.combiners.ToList() | beam.Map(joined_counts, 100, WIDTH),
            equal_to([np.bincount(inside, minlength=100).tolist()]),
            label="Joined",
        )
        assert_that(
            stats
            | beam.Map(
                lambda s: (s.examples, s.in_range, s.min, s.max, s.classes_seen)
            ),
            equal_to(
                [
                    (
                        len(ids),
                        len(inside),
                        int(ids.min()),
                        int(ids.max()),
                        0,  # the class counts left by key range
                    )
                ]
            ),
            label="Stats",
        )


def test_count_labels_of_no_batches_is_an_empty_statistic():
    with test_pipeline.TestPipeline() as pipeline:
        counted = count(pipeline, [])
        assert_that(
            counted[transforms.CountLabels.STATS] | beam.Map(lambda s: s.examples),
            equal_to([0]),
            label="Stats",
        )
        assert_that(
            counted[transforms.CountLabels.CLASS_COUNTS], equal_to([]), label="Ranges"
        )
