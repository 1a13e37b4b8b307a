"""Label statistics, without Beam: any split of the data gives the same result."""

import pathlib
import random

import numpy as np
import pyarrow as pa
import pytest

from classgate.io.batches import LocatedBatch
from classgate.stats import label, profile

SPEC = label.LabelSpec("label", num_classes=100, num_true=1)


def batches(values, size, file="f", type=None):
    """`values` (a list of per-row labels) cut into LocatedBatches of `size` rows."""
    out = []
    for start in range(0, len(values), size):
        rows = values[start : start + size]
        array = pa.array(rows, type=type)
        records = pa.RecordBatch.from_arrays([array], ["label"])
        out.append(LocatedBatch(file, start, records))
    return out


def combine(spec, parts):
    """Each part added batch by batch into its own LabelStats, then all merged."""
    merged = label.LabelStats(spec)
    for part in parts:
        stats = label.LabelStats(spec)
        for batch in part:
            stats.add_batch(batch)
        merged.merge(stats)
    return merged


def fingerprint(stats):
    summary = stats.summary()
    return (
        summary,
        stats.class_counts.array().tolist(),
        dict(stats.outside),
        {k: list(v) for k, v in sorted(stats.locations.items()) if v},
    )


@pytest.fixture(scope="module")
def messy_rows():
    rng = np.random.default_rng(0)
    rows = [[int(v)] for v in rng.integers(-5, 130, 3000)]
    for i in range(0, 3000, 97):
        rows[i] = None  # missing
    for i in range(5, 3000, 211):
        rows[i] = [1, 2]  # two labels where num_true is 1
    rows[17] = [np.iinfo(np.int64).max]
    return rows


def test_same_result_sequential_per_batch_and_shuffled_merges(messy_rows):
    all_batches = batches(messy_rows, 64, type=pa.list_(pa.int64()))
    sequential = combine(SPEC, [all_batches])
    per_batch = combine(SPEC, [[b] for b in all_batches])
    shuffled = [[b] for b in all_batches]
    random.Random(7).shuffle(shuffled)
    shuffled_merge = combine(SPEC, shuffled)
    uneven = combine(SPEC, [all_batches[:3], all_batches[3:4], all_batches[4:]])
    expected = fingerprint(sequential)
    assert fingerprint(per_batch) == expected
    assert fingerprint(shuffled_merge) == expected
    assert fingerprint(uneven) == expected


def test_sequential_adds_in_any_file_order_keep_the_first_locations(messy_rows):
    files = [
        batches(messy_rows[i::3], 100, file=f"f{i}", type=pa.list_(pa.int64()))
        for i in range(3)
    ]
    forward = combine(SPEC, [files[0] + files[1] + files[2]])
    backward = combine(SPEC, [files[2] + files[1] + files[0]])
    assert fingerprint(backward) == fingerprint(forward)
    assert {loc.file for loc in forward.locations[label.ABOVE_RANGE]} == {"f0"}


def test_figures_match_a_plain_python_count(messy_rows):
    stats = combine(SPEC, [batches(messy_rows, 500, type=pa.list_(pa.int64()))])
    values = [v for row in messy_rows if row for v in row]
    assert stats.examples == len(messy_rows)
    assert stats.missing == sum(row is None for row in messy_rows)
    assert stats.min == min(values) and stats.max == max(values)
    assert stats.distinct == len(set(values))
    assert sum(stats.above_range.values()) == sum(v >= 100 for v in values)
    assert sum(stats.below_range.values()) == sum(v < 0 for v in values)
    assert stats.count_mismatches == sum(
        1 for row in messy_rows if row and len(row) != 1
    )
    assert stats.class_counts.array()[42] == values.count(42)
    # The first locations in file order, whatever the batching.
    above = stats.locations[label.ABOVE_RANGE]
    expected = [
        (i, row[0]) for i, row in enumerate(messy_rows) if row and row[0] >= 100
    ]
    assert [(loc.record, loc.value) for loc in above] == expected[: label.MAX_LOCATIONS]


def test_int64_max_costs_one_entry_not_memory():
    stats = combine(SPEC, [batches([np.iinfo(np.int64).max, 3], 2)])
    assert stats.max == np.iinfo(np.int64).max
    assert stats.class_counts.array().size == SPEC.num_classes
    assert dict(stats.outside) == {np.iinfo(np.int64).max: 1}


def test_scalar_column_with_nulls_counts_nulls_as_missing():
    stats = combine(SPEC, [batches([1, None, 2, None], 4)])
    assert (stats.examples, stats.missing, stats.classes_seen) == (4, 2, 2)


def test_whole_floats_are_ids_fractions_and_strings_are_not():
    floats = combine(SPEC, [batches([1.0, 2.5, float("nan"), 7.0], 4)])
    assert floats.classes_seen == 2
    assert floats.non_integer == 2
    strings = combine(SPEC, [batches(["cash", "card"], 2)])
    assert strings.non_integer == 2 and strings.integer_values == 0
    assert [loc.value for loc in strings.locations[label.NON_INTEGER]] == [
        "cash",
        "card",
    ]


def test_absent_feature_is_all_missing():
    records = pa.RecordBatch.from_arrays([pa.array([1, 2])], ["other"])
    stats = combine(SPEC, [[LocatedBatch("f", 0, records)]])
    assert (stats.examples, stats.missing) == (2, 2)


def test_many_classes_few_ids_use_the_sparse_update():
    spec = label.LabelSpec("label", num_classes=10_000_000, num_true=1)
    stats = combine(spec, [batches([9_999_999, 0, 0], 3)])
    counts = stats.class_counts.array()
    assert stats.distinct == 2 and counts[0] == 2 and counts[-1] == 1


def test_histogram_edges_fall_on_zero_and_num_classes():
    stats = combine(SPEC, [batches(list(range(-7, 250)), 64)])
    histogram = profile.profile(stats)["id_histogram"]
    edges = histogram["edges"]
    assert len(edges) == profile.HISTOGRAM_BINS + 1
    assert 0.0 in edges and float(SPEC.num_classes) in edges
    # np.histogram closes its last bin: the value at the edge is plotted, once
    assert sum(histogram["counts"]) + histogram["beyond_high"] == 257


def test_a_null_inside_a_list_label_is_a_missing_label():
    """The example lacks that label: the trainer would read garbage or fail."""
    from builders import evaluate, model, stats

    rows = pa.array([[0], [1, None], [None], [1]], pa.list_(pa.int64()))
    found = stats(rows, model(num_classes=2))
    assert (found.min, found.distinct, found.missing) == (0, 2, 2)
    anomalies = evaluate([model(num_classes=2)], {"train": {"label": rows}})
    assert "LABEL_MISSING" in {a.code for a in anomalies if a.severity == "ERROR"}


def test_each_problem_is_located_by_file_and_record_in_real_files(ws):
    """Read from two Parquet shards as the job reads them: every label problem has
    its code, and its locations name the shard and the record within it."""
    import builders

    rows = [[1], [-1], None, [], [1, 2], [3]] * 5
    pattern = ws.labels(rows, fmt="parquet")
    paths = sorted(pathlib.Path(pattern).parent.glob("*.parquet"))
    m = builders.model(num_classes=4, max_unseen_fraction=1.0)
    found = builders.evaluate_files([m], {"train": paths})
    assert builders.codes(found, "ERROR") == [
        "LABEL_BELOW_RANGE",
        "LABEL_COUNT_MISMATCH",
        "LABEL_MISSING",
        "LABEL_SENTINEL",  # the only out-of-range value is -1: padding
    ]
    missing = builders.find(found, "LABEL_MISSING")
    assert missing.details["missing"] == 10
    first = missing.details["locations"][0]
    assert first["file"] == str(paths[0]) and first["record"] == 2
    assert paths[0].name == "train-00000-of-00002.parquet"
