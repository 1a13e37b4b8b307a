"""The fit and remapping from seen classes against direct, whole-array computations."""

import numpy as np
import pytest

from classgate.stats import frequency


def direct_fit(counts):
    """What the fit computes, one whole array at a time (the textbook way)."""
    counts = np.asarray(counts, dtype=np.float64)
    n = len(counts)
    k = np.arange(n, dtype=np.float64)
    expected = np.log((k + 2) / (k + 1)) / np.log(n + 1)
    observed = counts / counts.sum()

    def average_ranks(values):
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        _, first, sizes = np.unique(ordered, return_index=True, return_counts=True)
        ranks = np.empty(n)
        ranks[order] = np.repeat(first + (sizes - 1) / 2.0, sizes)
        return ranks

    ranks = average_ranks(counts)
    rho = 0.0 if ranks.std() == 0 else np.corrcoef(average_ranks(k), ranks)[0, 1]
    return (
        rho,
        0.5 * np.abs(observed - expected).sum(),
        0.5 * np.abs(np.sort(observed)[::-1] - expected).sum(),
    )


@pytest.mark.parametrize("chunk", [7, 1 << 20])
@pytest.mark.parametrize(
    "counts",
    [
        np.random.default_rng(0).zipf(1.5, 500) % 40,  # many ties, zeros
        np.sort(np.random.default_rng(1).integers(0, 9, 300))[::-1],  # falling
        np.arange(50),  # rising
        np.full(30, 4),  # all equal: no rank correlation
        np.where(np.arange(60) % 7 == 3, 5, 0),  # few seen among many
        np.full(20, 0),  # nothing seen
    ],
    ids=["zipf-ties", "falling", "rising", "equal", "sparse", "empty"],
)
def test_chunked_fit_and_remapping_equal_the_direct_ones(monkeypatch, counts, chunk):
    monkeypatch.setattr(frequency, "CHUNK", chunk)
    n, ids = len(counts), np.flatnonzero(counts)
    fit = frequency.fit(n, ids, counts[ids])
    if counts.sum():
        rho, distance, remapped = direct_fit(counts)
        assert fit.spearman == pytest.approx(rho, abs=1e-12)
        assert fit.distance == pytest.approx(distance, abs=1e-12)
        assert fit.distance_remapped == pytest.approx(remapped, abs=1e-12)
    else:
        assert fit == frequency.FrequencyFit(0.0, 0.0, 0.0)

    pieces = list(frequency.remapping(n, ids, counts[ids]))
    old = np.concatenate([o for o, _ in pieces])
    new = np.concatenate([n for _, n in pieces])
    assert np.array_equal(old, np.arange(len(counts)))
    expected = np.empty(len(counts), dtype=np.int64)
    expected[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    assert np.array_equal(new, expected)
