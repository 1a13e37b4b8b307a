"""The shape of a label distribution, for the report's plots.

`profile` reads a LabelStats and gives the rank-frequency curve and the id histogram,
small whatever num_classes is: PROFILE_POINTS points and HISTOGRAM_BINS bins.
"""

import numpy as np

# Points in the report's rank-frequency curve and bins in its id histogram: enough
# for a plot, small enough for report.json whatever num_classes is.
PROFILE_POINTS = 100
HISTOGRAM_BINS = 50
_INT64_MAX = (1 << 63) - 1
_INT64_LIMIT = 2.0**63


def profile(stats) -> dict:
    """The shape of the label distribution, for plots.

    `rank_frequency`: [rank, count] pairs at log-spaced ranks of the distinct
    values sorted by falling count (rank 1 is the most frequent). `id_histogram`:
    counts of label values in equal-width bins, with `num_classes` marking where
    the valid range ends and the counts beyond the plotted range.
    """
    ids, id_counts = stats.class_counts.pairs()  # no array over every class
    seen = np.sort(np.concatenate([id_counts, np.array(list(stats.outside.values()))]))[
        ::-1
    ].astype(np.int64)
    ranks = np.unique(np.geomspace(1, max(len(seen), 1), PROFILE_POINTS).astype(int))
    rank_frequency = [[int(r), int(seen[r - 1])] for r in ranks if r <= len(seen)]
    # The plotted range stops at [-num_classes, 2 * num_classes): a sentinel like
    # 2**63-1 would squash every other bar; what lies beyond is counted apart.
    n = stats.spec.num_classes
    low = max(min(0, stats.min if stats.min is not None else 0), -n)
    high = min(max(n, (stats.max if stats.max is not None else 0) + 1), 2 * n)
    edges = _aligned_edges(low, high, (0, n))
    # In-range ids: each seen id goes to the last bin starting at or before it
    # (bins start on whole ids, edges fall on 0 and n; empty bins share a start).
    starts = _whole(np.clip(np.ceil(edges), 0, n))
    bins = np.zeros(len(edges) - 1, dtype=np.int64)
    np.add.at(bins, np.searchsorted(starts, ids, side="right") - 1, id_counts)
    outside = np.array(list(stats.outside), dtype=np.float64)
    weights = np.array(list(stats.outside.values()), dtype=np.int64)
    plotted = (outside >= low) & (outside <= high)
    bins += np.histogram(outside[plotted], edges, weights=weights[plotted])[0].astype(
        np.int64
    )
    return {
        "rank_frequency": rank_frequency,
        "id_histogram": {
            "edges": edges.tolist(),
            "counts": bins.tolist(),
            "num_classes": n,
            "beyond_low": int(weights[outside < low].sum()),
            "beyond_high": int(weights[outside > high].sum()),
        },
    }


def _aligned_edges(low: float, high: float, breaks) -> np.ndarray:
    """HISTOGRAM_BINS edges over [low, high] with each break (0, num_classes) an edge.

    Every bin then lies wholly inside or outside the valid range, so a plot can
    colour out-of-range bins exactly. Bins are shared out by segment length.
    """
    points = sorted({low, high, *(b for b in breaks if low < b < high)})
    lengths = np.diff(points)
    bins = np.maximum(1, np.round(HISTOGRAM_BINS * lengths / lengths.sum())).astype(int)
    bins[np.argmax(bins)] += HISTOGRAM_BINS - bins.sum()
    pieces = [
        np.linspace(start, stop, count + 1)[:-1]
        for start, stop, count in zip(points[:-1], points[1:], bins, strict=True)
    ]
    return np.concatenate([*pieces, [high]])


def _whole(values: np.ndarray) -> np.ndarray:
    """Whole floats as int64, those of 2**63 and beyond as int64's maximum."""
    out = np.full(len(values), _INT64_MAX, dtype=np.int64)
    fits = values < _INT64_LIMIT
    out[fits] = values[fits].astype(np.int64)
    return out
