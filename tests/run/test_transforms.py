"""The Beam layer at Beam level: TestPipeline + assert_that over the transforms that
read a split, tally labels, combine class counts by key range and stage results;
and the stable step names they run under."""

import functools
import random
import re

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from classgate.io.batches import LocatedBatch
from classgate.run import staging, transforms
from classgate.stats import class_counts, label
from classgate.stats.label import LabelSpec

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


def test_a_retried_write_leaves_one_whole_result(tmp_path):
    """A bundle run again writes its result again: the same file, whole."""
    counts = class_counts.ClassCounts(10)
    counts.add(np.array([1, 2, 2]))
    path = str(tmp_path / "classes-0-0-0.npz")
    encode = staging.encode_class_counts
    for _ in range(2):
        transforms._write_file(counts, path, lambda c: encode(c, "0" * 32))
    again = staging.decode_class_counts(open(path, "rb").read(), "0" * 32, path)
    assert again.total() == 3 and not list(tmp_path.glob("*.tmp-*"))


# ReadSplit: each file of a split read by one worker, its notes tagged --------------


@pytest.mark.parametrize("full", [False, True], ids=["labels-only", "full"])
def test_read_split_gives_what_the_reader_gives_each_file(ws, full):
    """Files spread over workers: every file's batches (in full mode every column,
    else the features asked for) and its note, as the reader gives them alone."""
    import builders

    from classgate.io import files

    pattern = ws.labels(list(range(12)), fmt="parquet", shards=3, other=[0.5] * 12)
    split = files.list_split("train", (pattern,), "parquet")
    paths = [f.path for f in split.files]
    expected, notes = builders.read_files(
        paths, ("label",), None if full else ["label"]
    )

    def shape(batch):
        return batch.file, batch.first_record, batch.records.to_pydict()

    with test_pipeline.TestPipeline() as pipeline:
        read = pipeline | transforms.ReadSplit(split, ("label",), full=full)
        assert_that(
            read.batches | beam.Map(shape),
            equal_to([shape(b) for b in expected]),
            label="Batches",
        )
        assert_that(read[files.NOTES], equal_to(list(notes.items())), label="Notes")
    assert len(expected) == 3 and ("other" in expected[0].records.schema.names) == full


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


# Step names of the label specs: one per spec, readable, unique by construction ----

# Few values each, so that generated specs share features, sizes and file names;
# features that look like another spec's qualified name are in the mix too.
features = st.sampled_from(["label", "item", "label@5x1", "label#0", "a:b"])
vocabularies = st.none() | st.sampled_from(
    ["v.txt", "x/v.txt", "gs://b/v.txt", "w.txt", "", "5x1"]
)
specs = st.builds(
    LabelSpec,
    feature=features,
    num_classes=st.sampled_from([5, 7]),
    num_true=st.sampled_from([1, 2]),
    vocabulary_file=vocabularies,
    num_oov_buckets=st.sampled_from([0, 3]),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(specs, unique=True, max_size=8))
def test_step_names_are_unique_stable_and_plain_when_they_can_be(found):
    names = [transforms.spec_name(spec, found) for spec in found]
    assert len(set(names)) == len(names)
    assert names == [transforms.spec_name(spec, list(found)) for spec in found]
    for spec, name in zip(found, names, strict=True):

        def shared(feature):
            return sum(s.feature == feature for s in found) > 1

        alone = not shared(spec.feature)
        # Only a shared feature's qualified name (`label@5x1`) can read like it.
        mistaken = any(
            spec.feature.startswith(f"{s.feature}@") and shared(s.feature)
            for s in found
        )
        if alone and not mistaken and not re.search(r"#[0-9]+$", spec.feature):
            assert name == spec.feature
        else:
            assert name.startswith(spec.feature)


def test_a_vocabulary_is_named_in_the_step():
    plain = LabelSpec("word", 100, 1)
    mapped = LabelSpec("word", 100, 1, "gs://bucket/vocab.txt", 2)
    assert [transforms.spec_name(s, [plain, mapped]) for s in (plain, mapped)] == [
        "word@100x1",
        "word@100x1+2oov:vocab.txt",
    ]


@pytest.mark.slow
def test_two_models_on_one_feature_one_with_a_vocabulary(ws):
    """They crashed with a duplicate Beam step label (exit 3): now each model gets
    its own figures, the vocabulary's model its strings mapped to ids."""
    words = [f"w{i}" for i in range(10)]
    vocabulary = ws.root / "vocab.txt"
    vocabulary.write_text("".join(f"{w}\n" for w in words))
    config = ws.config(
        "models:\n"
        f"  - {{name: mapped, label_feature: label, num_classes: 10, "
        f"num_sampled: 2, vocabulary_file: {vocabulary}}}\n"
        "  - {name: raw, label_feature: label, num_classes: 10, num_sampled: 2}\n"
    )
    code, report = ws.validate(
        "--data", ws.labels(words * 20), "--model-config", config, "--labels-only"
    )
    assert code == 1 and report is not None
    by_model = {}
    for anomaly in report["anomalies"]:
        if anomaly["severity"] == "ERROR":
            by_model.setdefault(anomaly.get("model"), []).append(anomaly["code"])
    # Strings are the vocabulary's: every class seen for `mapped`; `raw` wants ints.
    assert "mapped" not in by_model and "LABEL_TYPE_INVALID" in by_model["raw"]
    summary = report["labels"]["train"]["label"]  # the first model's figures
    assert (summary["examples"], summary["classes_seen"]) == (200, 10)
