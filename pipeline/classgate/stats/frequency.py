"""How well class frequencies fit the log-uniform sampler's assumption.

tf.random.log_uniform_candidate_sampler draws id k with probability
log((k+2)/(k+1)) / log(num_classes+1): it assumes ids sorted by falling frequency.
The fit is measured as the total variation distance between the empirical id
distribution and that one, before and after remapping ids by falling frequency;
Spearman's rank correlation of id against count says which way the ids lean.

Everything is computed from the seen classes alone (sorted ids and their counts):
the unseen ones share the count 0, so their part of each sum has a closed form.
Memory follows the classes seen, not num_classes; 1B classes of which 10M are seen
cost what 10M do.
"""

import dataclasses
from collections.abc import Iterator

import numpy as np

# Classes per step of the walk that writes the remapping.
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


def log_uniform(ids: np.ndarray, num_classes: int) -> np.ndarray:
    """The log-uniform sampler's probability of each id (they sum to 1 over all)."""
    k = np.asarray(ids, dtype=np.float64)
    return np.log((k + 2) / (k + 1)) / np.log(num_classes + 1)


def fit(num_classes: int, ids: np.ndarray, counts: np.ndarray) -> FrequencyFit:
    """The fit of the seen `ids` (sorted) with `counts` (> 0) among num_classes."""
    n, total = num_classes, float(np.sum(counts))
    if total == 0 or n < 2:
        return FrequencyFit(0.0, 0.0, 0.0)
    return FrequencyFit(
        spearman=_spearman(n, ids, counts),
        distance=_distance(n, ids, counts / total),
        distance_remapped=_distance(
            n, np.arange(len(counts)), np.sort(counts)[::-1] / total
        ),
    )


def remapping(
    num_classes: int, ids: np.ndarray, counts: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(old ids, new ids) chunk by chunk: ids by falling count, ties in id order.

    The seen classes come first, by count; the unseen follow in id order.
    """
    seen = len(ids)
    new_seen = np.empty(seen, dtype=np.int64)
    new_seen[np.argsort(-counts, kind="stable")] = np.arange(seen)
    for start in range(0, num_classes, CHUNK):
        old = np.arange(start, min(start + CHUNK, num_classes))
        below = np.searchsorted(ids, old)  # seen ids before each old id
        new = seen + old - below  # an unseen id's place among the unseen
        here = slice(below[0], np.searchsorted(ids, old[-1], side="right"))
        new[ids[here] - start] = new_seen[here]
        yield old, new


def _distance(n: int, ids: np.ndarray, observed: np.ndarray) -> float:
    """Total variation from log-uniform of `observed` at `ids`, 0 elsewhere.

    Unseen ids add their own probability, and all n of them sum to 1.
    """
    expected = log_uniform(ids, n)
    return 0.5 * (1.0 + float((np.abs(observed - expected) - expected).sum()))


def _spearman(n: int, ids: np.ndarray, counts: np.ndarray) -> float:
    """Pearson correlation of id and the average rank of its count (ties averaged).

    The unseen ids all hold the lowest count, 0, and so one average rank; their
    ids' deviations from the mean sum to minus the seen ones'.
    """
    values, sizes = np.unique(counts, return_counts=True)
    unseen = n - len(ids)
    if unseen:
        values, sizes = np.concatenate([[0], values]), np.concatenate([[unseen], sizes])
    averages = np.cumsum(sizes) - sizes + (sizes - 1) / 2.0  # 0-based, ascending
    mean = (n - 1) / 2.0  # of the ids, and of any average ranks
    var_ranks = float((sizes * (averages - mean) ** 2).sum()) / n
    if var_ranks == 0:
        return 0.0
    var_ids = (n * n - 1) / 12.0
    deviations = ids - mean
    covariance = float(
        (deviations * (averages[np.searchsorted(values, counts)] - mean)).sum()
    )
    if unseen:
        covariance -= (averages[0] - mean) * float(deviations.sum())
    return covariance / n / np.sqrt(var_ids * var_ranks)
