"""Exact counts of class ids in [0, n): sparse while few ids are seen, dense once many.

A batch over 10M classes touches a few thousand of them. A dense int64 array per
partial accumulator would cost 80 MB each, and a runner may hold one per bundle
before merging (seen here: 24 GB on 10M classes). Sparse (sorted ids, counts) costs
16 bytes per seen id; past DENSE_SHARE of n that is more than the dense array's
8 bytes per class would cost, so the counts turn dense.

Counts also split into key ranges of RANGE_WIDTH classes (`split`, `join`): a
pipeline combines each range apart, so 1B classes spread over workers as about a
thousand ranges of at most 8 MiB each instead of one 8 GB accumulator.
"""

import numpy as np

# Seen ids per class past which a dense array is smaller than the sparse pairs.
DENSE_SHARE = 1 / 16
# Classes per key range: 8 MiB dense, a size any worker holds many of.
RANGE_WIDTH = 1 << 20


def range_size(num_classes: int, width: int) -> int:
    """Classes in each key range: `width`, or all of them when they are fewer."""
    return min(width, num_classes)


class ClassCounts:
    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self._dense: np.ndarray | None = None
        self._ids = np.empty(0, dtype=np.int64)
        self._counts = np.empty(0, dtype=np.int64)

    def add(self, ids: np.ndarray) -> None:
        """Counts ids, all within [0, num_classes)."""
        if ids.size == 0:
            return
        if self.num_classes > 8 * ids.size:  # few ids among many classes: sort them
            self._add_pairs(*np.unique(ids, return_counts=True))
            return
        counts = np.bincount(ids, minlength=self.num_classes)
        if self._dense is None:
            seen = np.flatnonzero(counts)
            if seen.size <= DENSE_SHARE * self.num_classes:
                self._add_pairs(seen, counts[seen])
                return
            self._densify()
        self._dense += counts

    def merge(self, other: "ClassCounts") -> None:
        if other._dense is not None:
            self._densify()
            self._dense += other._dense
        else:
            self._add_pairs(other._ids, other._counts)

    def split(self, width: int) -> list[tuple[int, "ClassCounts"]]:
        """(range index, counts of the ids in that range) for each range with a count.

        Range i holds ids [i * width, (i + 1) * width), counted relative to its start
        in a ClassCounts of `range_size` classes (the last range's tail stays empty).
        """
        size = range_size(self.num_classes, width)
        ids, counts = self.pairs()
        ranges = ids // width
        cuts = np.flatnonzero(np.diff(ranges)) + 1
        pieces = []
        for range_ids, range_counts in zip(
            np.split(ids, cuts), np.split(counts, cuts), strict=True
        ):
            if range_ids.size:
                index = int(range_ids[0] // width)
                piece = ClassCounts(size)
                piece._add_pairs(range_ids - index * width, range_counts)
                pieces.append((index, piece))
        return pieces

    @classmethod
    def join(cls, num_classes: int, width: int, pieces) -> "ClassCounts":
        """The counts over [0, num_classes) of `split`'s (index, counts) pieces."""
        joined = cls(num_classes)
        pieces = sorted(pieces, key=lambda piece: piece[0])
        indices = [index for index, _ in pieces]
        if len(set(indices)) < len(indices):  # a range twice: merge as they come
            for index, piece in pieces:
                ids, counts = piece.pairs()
                joined._add_pairs(ids + index * width, counts)
            return joined
        # Disjoint ranges in order: their pairs, end to end, are sorted and distinct.
        pairs = [(piece.pairs(), index * width) for index, piece in pieces]
        if pairs:
            joined._add_pairs(
                np.concatenate([ids + start for (ids, _), start in pairs]),
                np.concatenate([counts for (_, counts), _ in pairs]),
            )
        return joined

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted ids counted at least once, and their counts."""
        if self._dense is not None:
            ids = np.flatnonzero(self._dense)
            return ids, self._dense[ids]
        seen = self._counts > 0
        return self._ids[seen], self._counts[seen]

    def total(self) -> int:
        """How many ids were counted."""
        return int(self._dense.sum() if self._dense is not None else self._counts.sum())

    def seen_ids(self) -> np.ndarray:
        """Sorted ids counted at least once, without building a dense array."""
        if self._dense is not None:
            return np.flatnonzero(self._dense)
        return self._ids[self._counts > 0]

    def array(self) -> np.ndarray:
        """The dense counts (a new array while sparse)."""
        if self._dense is not None:
            return self._dense
        dense = np.zeros(self.num_classes, dtype=np.int64)
        dense[self._ids] = self._counts
        return dense

    def _add_pairs(self, ids: np.ndarray, counts: np.ndarray) -> None:
        if ids.size == 0:
            return
        if self._dense is not None:
            self._dense[ids] += counts
            return
        if self._ids.size == 0:  # callers pass sorted, distinct ids
            self._ids, self._counts = ids.copy(), counts.astype(np.int64)
        else:
            self._merge_pairs(ids, counts)
        if len(self._ids) > DENSE_SHARE * self.num_classes:
            self._densify()

    def _merge_pairs(self, ids: np.ndarray, counts: np.ndarray) -> None:
        merged, inverse = np.unique(
            np.concatenate([self._ids, ids]), return_inverse=True
        )
        self._ids = merged
        self._counts = np.bincount(
            inverse,
            weights=np.concatenate([self._counts, counts]),
            minlength=len(merged),
        ).astype(np.int64)

    def _densify(self) -> None:
        if self._dense is None:
            self._dense = self.array()
            self._ids = self._counts = np.empty(0, dtype=np.int64)
