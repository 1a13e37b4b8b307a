"""How well class frequencies fit the log-uniform sampler's assumption.

tf.random.log_uniform_candidate_sampler draws id k with probability
log((k+2)/(k+1)) / log(num_classes+1): it assumes ids sorted by falling frequency.
The fit is measured as the total variation distance between the empirical id
distribution and that one, before and after remapping ids by falling frequency;
Spearman's rank correlation of id against count says which way the ids lean.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class FrequencyFit:
    spearman: float  # id vs count; near -1 when frequency falls with id
    distance: float  # total variation from log-uniform, ids as they are
    distance_remapped: float  # the same after remapping ids by falling frequency

    @property
    def gain(self) -> float:
        """How much closer to log-uniform a remapping by frequency would bring it."""
        return self.distance - self.distance_remapped


def log_uniform(num_classes: int) -> np.ndarray:
    k = np.arange(num_classes, dtype=np.float64)
    return np.log((k + 2) / (k + 1)) / np.log(num_classes + 1)


def fit(counts: np.ndarray) -> FrequencyFit:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0 or len(counts) < 2:
        return FrequencyFit(0.0, 0.0, 0.0)
    expected = log_uniform(len(counts))
    observed = counts / total
    remapped = np.sort(observed)[::-1]
    return FrequencyFit(
        spearman=_spearman(np.arange(len(counts), dtype=np.float64), counts),
        distance=0.5 * float(np.abs(observed - expected).sum()),
        distance_remapped=0.5 * float(np.abs(remapped - expected).sum()),
    )


def remapping(counts: np.ndarray) -> np.ndarray:
    """new_id[old_id]: ids by falling count, ties kept in id order."""
    order = np.argsort(-np.asarray(counts), kind="stable")
    new_ids = np.empty(len(order), dtype=np.int64)
    new_ids[order] = np.arange(len(order))
    return new_ids


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = _average_ranks(x), _average_ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    _, first, sizes = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(first + (sizes - 1) / 2.0, sizes)
    return ranks
