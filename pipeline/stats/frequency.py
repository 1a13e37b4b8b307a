"""How well class frequencies fit the log-uniform sampler's assumption.

tf.random.log_uniform_candidate_sampler draws id k with probability
log((k+2)/(k+1)) / log(num_classes+1): it assumes ids sorted by falling frequency.
The fit is measured as the total variation distance between the empirical id
distribution and that one, before and after remapping ids by falling frequency;
Spearman's rank correlation of id against count says which way the ids lean.

Everything works from the distinct counts and their multiplicities (one sort of
the counts) and walks the classes in chunks: beyond the counts themselves, memory
stays at a few chunks whatever num_classes is.
"""

import dataclasses
from collections.abc import Iterator

import numpy as np

# Classes per step of the walks over [0, num_classes).
CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class FrequencyFit:
    spearman: float  # id vs count; near -1 when frequency falls with id
    distance: float  # total variation from log-uniform, ids as they are
    distance_remapped: float  # the same after remapping ids by falling frequency

    @property
    def gain(self) -> float:
        """How much closer to log-uniform a remapping by frequency would bring it."""
        return self.distance - self.distance_remapped


def log_uniform(start: int, stop: int, num_classes: int) -> np.ndarray:
    """The log-uniform sampler's probabilities of ids [start, stop)."""
    k = np.arange(start, stop, dtype=np.float64)
    return np.log((k + 2) / (k + 1)) / np.log(num_classes + 1)


@dataclasses.dataclass(frozen=True)
class _Groups:
    """The distinct counts, ascending, and how many classes have each."""

    values: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, counts: np.ndarray) -> "_Groups":
        # Zeros are counted apart: in a wide vocabulary most classes are unseen, and
        # sorting 100M counts that are mostly equal took 34 s here.
        seen = counts[counts > 0]
        values, sizes = np.unique(seen, return_counts=True)
        zeros = len(counts) - len(seen)
        if zeros:
            values = np.concatenate([[0], values])
            sizes = np.concatenate([[zeros], sizes])
        return cls(values.astype(counts.dtype), sizes)

    def index(self, counts: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.values, counts)

    def average_ranks(self) -> np.ndarray:
        """Each group's average 0-based rank among all classes, ascending by count."""
        first = np.cumsum(self.sizes) - self.sizes
        return first + (self.sizes - 1) / 2.0


def fit(counts: np.ndarray) -> FrequencyFit:
    counts = np.asarray(counts)
    n, total = len(counts), float(counts.sum())
    if total == 0 or n < 2:
        return FrequencyFit(0.0, 0.0, 0.0)
    groups = _Groups.of(counts)
    distance = remapped = 0.0
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        expected = log_uniform(start, stop, n)
        distance += np.abs(counts[start:stop] / total - expected).sum()
        remapped += np.abs(_falling(groups, start, stop) / total - expected).sum()
    return FrequencyFit(
        spearman=_spearman(counts, groups),
        distance=0.5 * float(distance),
        distance_remapped=0.5 * float(remapped),
    )


def remapping(counts: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(old ids, new ids) chunk by chunk: ids by falling count, ties in id order."""
    counts = np.asarray(counts)
    groups = _Groups.of(counts)
    # New ids of a group start after every class with a larger count.
    before = np.cumsum(groups.sizes[::-1])[::-1] - groups.sizes
    taken = np.zeros(len(groups.values), dtype=np.int64)  # ids handed out per group
    for start in range(0, len(counts), CHUNK):
        group = groups.index(counts[start : start + CHUNK])
        order = np.argsort(group, kind="stable")
        in_order = group[order]
        first = np.searchsorted(in_order, in_order)  # where each one's group begins
        rank = np.empty(len(group), dtype=np.int64)
        rank[order] = np.arange(len(group)) - first
        yield (
            np.arange(start, start + len(group)),
            before[group] + taken[group] + rank,
        )
        taken += np.bincount(group, minlength=len(taken))


def _falling(groups: _Groups, start: int, stop: int) -> np.ndarray:
    """Ranks [start, stop) of the counts sorted by falling value."""
    ends = np.cumsum(groups.sizes[::-1])
    at = np.searchsorted(ends, np.arange(start, stop), side="right")
    return groups.values[::-1][at]


def _spearman(counts: np.ndarray, groups: _Groups) -> float:
    """Pearson correlation of id and the count's average rank, summed by chunks."""
    n = len(counts)
    mean = (n - 1) / 2.0  # of the ids, and of any average ranks
    averages = groups.average_ranks()
    var_ranks = float((groups.sizes * (averages - mean) ** 2).sum()) / n
    if var_ranks == 0:
        return 0.0
    var_ids = (n * n - 1) / 12.0
    covariance = 0.0
    for start in range(0, n, CHUNK):
        ranks = averages[groups.index(counts[start : start + CHUNK])]
        ids = np.arange(start, start + len(ranks), dtype=np.float64)
        covariance += float(((ids - mean) * (ranks - mean)).sum())
    return covariance / n / np.sqrt(var_ids * var_ranks)
