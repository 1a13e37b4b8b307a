import numpy as np
import pytest

from classgate.stats import class_counts


@pytest.mark.parametrize("num_classes", [10, 1000, 10_000_000])
def test_sparse_dense_and_merged_agree(num_classes):
    rng = np.random.default_rng(0)
    parts = [
        rng.integers(0, min(num_classes, 5000), size) for size in (3, 700, 4000, 1)
    ]
    one = class_counts.ClassCounts(num_classes)
    for part in parts:
        one.add(part)
    merged = class_counts.ClassCounts(num_classes)
    for part in reversed(parts):
        piece = class_counts.ClassCounts(num_classes)
        piece.add(part)
        merged.merge(piece)
    expected = np.bincount(np.concatenate(parts), minlength=num_classes)
    assert np.array_equal(one.array(), expected)
    assert np.array_equal(merged.array(), expected)
    assert np.array_equal(merged.seen_ids(), np.flatnonzero(expected))


def test_stays_sparse_over_many_classes_and_turns_dense_when_full():
    counts = class_counts.ClassCounts(10_000_000)
    counts.add(np.arange(1000))
    assert counts._dense is None  # 1000 pairs, not an 80 MB array
    small = class_counts.ClassCounts(100)
    small.add(np.arange(60))
    assert small._dense is not None and small.array().sum() == 60


@pytest.mark.parametrize(
    ("num_classes", "width"), [(1000, 64), (10_000_003, 1 << 20), (1000, 1 << 20)]
)
def test_key_ranges_split_merge_and_join_back_exactly(num_classes, width):
    rng = np.random.default_rng(1)
    parts = [rng.integers(0, num_classes, size) for size in (5, 900, 20_000)]
    by_range = {}  # what a CombinePerKey does: each range merged apart
    unmerged = []
    for part in parts:
        piece = class_counts.ClassCounts(num_classes)
        piece.add(part)
        for index, counts in piece.split(width):
            size = class_counts.range_size(num_classes, width)
            assert counts.num_classes == size
            unmerged.append((index, counts))
            by_range.setdefault(index, class_counts.ClassCounts(size)).merge(counts)
    assert max(by_range) <= (num_classes - 1) // width
    expected = np.bincount(np.concatenate(parts), minlength=num_classes)
    joined = class_counts.ClassCounts.join(num_classes, width, by_range.items())
    assert np.array_equal(joined.array(), expected)
    # The same range more than once (not merged first) adds up as well.
    joined = class_counts.ClassCounts.join(num_classes, width, unmerged[::-1])
    assert np.array_equal(joined.array(), expected)


def test_many_small_additions_merge_exactly_and_pickle_merged():
    """Pending sparse pairs are merged once they outnumber the merged ids."""
    import pickle

    rng = np.random.default_rng(2)
    parts = [rng.integers(0, 10_000_000, 2000) for _ in range(200)]  # 400k ids
    counts = class_counts.ClassCounts(10_000_000)
    for part in parts:
        counts.add(part)
    assert counts._dense is None and counts._pending  # some still waiting
    copy = pickle.loads(pickle.dumps(counts))
    assert not copy._pending
    ids, totals = np.unique(np.concatenate(parts), return_counts=True)
    for result in (counts, copy):
        assert np.array_equal(result.seen_ids(), ids)
        assert np.array_equal(result.pairs()[1], totals)
        assert result.total() == 400_000
