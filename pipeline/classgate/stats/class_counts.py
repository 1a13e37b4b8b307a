"""Exact counts of class ids in [0, n): sparse while few ids are seen, dense once many.

A batch over 10M classes touches a few thousand of them. A dense int64 array per
partial accumulator would cost 80 MB each, and a runner may hold one per bundle
before merging. Sparse (sorted ids, counts) costs 16 bytes per seen id; past
DENSE_SHARE of n that is more than the dense array's 8 bytes per class would cost,
so the counts turn dense. Sparse additions wait in a list and are merged (one sort)
once they outnumber the ids already merged: merging every small batch on arrival
would sort the growing whole each time.

Counts also split into key ranges of RANGE_WIDTH classes (`split`, `join`): a
pipeline combines each range apart, so 1B classes spread over workers as about a
thousand ranges of at most 8 MiB each instead of one 8 GB accumulator.
"""

import numpy as np

# Seen ids per class past which a dense array is smaller than the sparse pairs.
DENSE_SHARE = 1 / 16
# Classes per key range: 8 MiB dense, a size any worker holds many of.
RANGE_WIDTH = 1 << 20
# Pending sparse ids that always wait for more before a merge.
_MIN_PENDING = 1 << 16


def range_size(num_classes: int, width: int) -> int:
    """Classes in each key range: `width`, or all of them when they are fewer."""
    return min(width, num_classes)


class ClassCounts:
    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self._dense: np.ndarray | None = None
        # Sparse: sorted distinct ids and their counts, plus pairs not merged yet.
        self._ids = np.empty(0, dtype=np.int64)
        self._counts = np.empty(0, dtype=np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_size = 0

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

    def add_counts(self, ids: np.ndarray, counts: np.ndarray) -> None:
        """Adds `counts` of sorted, distinct `ids` within [0, num_classes)."""
        ids = np.asarray(ids, dtype=np.int64)
        counts = np.asarray(counts, dtype=np.int64)
        if ids.size and (
            ids[0] < 0
            or ids[-1] >= self.num_classes
            or np.any(np.diff(ids) <= 0)
            or np.any(counts < 0)
        ):
            raise ValueError("class counts must be of sorted, distinct ids in range")
        self._add_pairs(ids, counts)

    def merge(self, other: "ClassCounts") -> None:
        """Adds `other`'s counts; `other` is only read, not even its cache changes."""
        if other._dense is not None:
            self._densify()
            self._dense += other._dense
        else:
            ids, counts = other._merged()
            seen = counts > 0
            self._add_pairs(ids[seen], counts[seen])

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
        for index, piece in sorted(pieces, key=lambda piece: piece[0]):
            ids, counts = piece.pairs()
            ids = ids + index * width
            if ids.size and (ids[0] < 0 or ids[-1] >= num_classes):
                raise ValueError(f"key range {index} holds ids outside the classes")
            joined._add_pairs(ids, counts)
        return joined

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted ids counted at least once, and their counts."""
        if self._dense is not None:
            ids = np.flatnonzero(self._dense)
            return ids, self._dense[ids]
        self._merge_pending()
        seen = self._counts > 0
        return self._ids[seen], self._counts[seen]

    def total(self) -> int:
        """How many ids were counted."""
        if self._dense is not None:
            return int(self._dense.sum())
        return int(self.pairs()[1].sum())

    def seen_ids(self) -> np.ndarray:
        """Sorted ids counted at least once, without building a dense array."""
        return self.pairs()[0]

    def array(self) -> np.ndarray:
        """The dense counts (a new array while sparse)."""
        if self._dense is not None:
            return self._dense
        ids, counts = self.pairs()
        dense = np.zeros(self.num_classes, dtype=np.int64)
        dense[ids] = counts
        return dense

    def __getstate__(self) -> dict:
        """What travels between workers is merged; the object itself is left as is."""
        state = dict(self.__dict__)
        if self._dense is None:
            state["_ids"], state["_counts"] = self._merged()
        state["_pending"], state["_pending_size"] = [], 0
        return state

    def _add_pairs(self, ids: np.ndarray, counts: np.ndarray) -> None:
        """Adds counts of sorted, distinct ids.

        The arrays are kept, not copied, and never changed in place: every update
        below makes new arrays, but for the dense array, which is always this
        object's own. So an accumulator never aliases an input it may later change.
        """
        if ids.size == 0:
            return
        if self._dense is not None:
            self._dense[ids] += counts
            return
        self._pending.append((ids, counts.astype(np.int64, copy=False)))
        self._pending_size += ids.size
        if self._pending_size >= max(self._ids.size, _MIN_PENDING):
            self._merge_pending()
        if self._ids.size + self._pending_size > DENSE_SHARE * self.num_classes:
            self._densify()

    def _merge_pending(self) -> None:
        if self._pending:
            self._ids, self._counts = self._merged()
            self._pending, self._pending_size = [], 0

    def _merged(self) -> tuple[np.ndarray, np.ndarray]:
        """The sparse ids and counts with the pending pairs merged in; no change."""
        if not self._pending:
            return self._ids, self._counts
        if self._ids.size == 0 and len(self._pending) == 1:
            return self._pending[0]
        ids = np.concatenate([self._ids, *(i for i, _ in self._pending)])
        counts = np.concatenate([self._counts, *(c for _, c in self._pending)])
        order = np.argsort(ids, kind="stable")
        ids, counts = ids[order], counts[order]
        starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
        return ids[starts], np.add.reduceat(counts, starts)

    def _densify(self) -> None:
        if self._dense is None:
            self._dense = self.array()
            self._ids = self._counts = np.empty(0, dtype=np.int64)
