"""Exact, mergeable statistics of one label feature, computed batch by batch.

A `LabelStats` takes batches (`add_batch`) and other LabelStats (`merge`), in any
order and grouping, with the same result: Beam is a thin adapter around it and every
figure can be checked without Beam.

Class ids inside [0, num_classes) are counted in a `tally.ClassCounts`; every value
outside it goes to a sparse {value: count} map, so a label of 2**63-1 costs one dict
entry, not memory that grows with the value. A pipeline takes the class counts out
by key range (`take_class_counts`), combines each range apart and puts them back on
the driver (`put_class_counts`). Offending locations keep the first `MAX_LOCATIONS`
by (file, record), whatever order batches arrive and merge in, so the result is the
same however a runner splits the work.
"""

import collections
import dataclasses
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.stats import tally

# Enough rows to find a problem by hand; few enough to ship between workers.
MAX_LOCATIONS = 20
# Points in the report's rank-frequency curve and bins in its id histogram: enough
# for a plot, small enough for report.json whatever num_classes is.
PROFILE_POINTS = 100
HISTOGRAM_BINS = 50
# Beyond 2**63 a float cannot be an int64 class id.
_INT64_LIMIT = 2.0**63

# The problems whose locations are kept.
MISSING = "missing"
COUNT_MISMATCH = "count_mismatch"
ABOVE_RANGE = "above_range"
BELOW_RANGE = "below_range"
NON_INTEGER = "non_integer"


class LocatedBatch(NamedTuple):
    """Decoded rows of one file; row i is record `first_record + i` of `file`."""

    file: str
    first_record: int
    records: pa.RecordBatch


@dataclasses.dataclass(frozen=True)
class LabelSpec:
    """What one feature is checked against: the range and values per example.

    With a vocabulary, string values are mapped to ids first (line i is id i; an
    unknown string hashes into one of num_oov_buckets ids after the vocabulary).
    """

    feature: str
    num_classes: int
    num_true: int
    vocabulary_file: str | None = None
    num_oov_buckets: int = 0


class Location(NamedTuple):
    file: str
    record: int
    value: object  # the offending value, the label count, or None when missing


def _location_order(location: Location) -> tuple:
    return (location.file, location.record, repr(location.value))


@dataclasses.dataclass
class LabelStats:
    """Everything the label checks need about one feature of one split."""

    spec: LabelSpec
    examples: int = 0
    missing: int = 0
    # number of label values in an example -> number of examples
    values_per_example: collections.Counter = dataclasses.field(
        default_factory=collections.Counter
    )
    # Counts of ids in [0, num_classes): sparse while few, dense once many.
    class_counts: tally.ClassCounts = None
    # Key ranges whose class counts were taken out (`take_class_counts`).
    class_ranges: set = dataclasses.field(default_factory=set)
    # Ids counted into class_counts: what the ranges must add up to when put back.
    in_range: int = 0
    # Integer values outside [0, num_classes) -> how often they occur.
    outside: collections.Counter = dataclasses.field(
        default_factory=collections.Counter
    )
    non_integer: int = 0
    # Strings absent from the vocabulary -> how often they occur (exact).
    not_in_vocabulary: collections.Counter = dataclasses.field(
        default_factory=collections.Counter
    )
    # Arrow types the label had, e.g. {"int64"} or {"int64", "binary"}.
    value_types: set = dataclasses.field(default_factory=set)
    locations: dict = dataclasses.field(
        default_factory=lambda: collections.defaultdict(list)
    )

    # Derived figures -----------------------------------------------------------

    def __post_init__(self):
        if self.class_counts is None:
            self.class_counts = tally.ClassCounts(self.spec.num_classes)

    @property
    def integer_values(self) -> int:
        return self.class_counts.total() + sum(self.outside.values())

    @property
    def min(self) -> int | None:
        candidates = [min(self.outside)] if self.outside else []
        seen = self.class_counts.seen_ids()
        if seen.size:
            candidates.append(int(seen[0]))
        return min(candidates) if candidates else None

    @property
    def max(self) -> int | None:
        candidates = [max(self.outside)] if self.outside else []
        seen = self.class_counts.seen_ids()
        if seen.size:
            candidates.append(int(seen[-1]))
        return max(candidates) if candidates else None

    @property
    def distinct(self) -> int:
        """Exact number of distinct integer label values, in range or not."""
        return self.classes_seen + len(self.outside)

    @property
    def classes_seen(self) -> int:
        return int(self.class_counts.seen_ids().size)

    @property
    def above_range(self) -> collections.Counter:
        return collections.Counter(
            {v: c for v, c in self.outside.items() if v >= self.spec.num_classes}
        )

    @property
    def below_range(self) -> collections.Counter:
        return collections.Counter({v: c for v, c in self.outside.items() if v < 0})

    @property
    def count_mismatches(self) -> int:
        """Examples that have labels, but not num_true of them."""
        return sum(
            n
            for count, n in self.values_per_example.items()
            if count not in (0, self.spec.num_true)
        )

    def summary(self) -> dict:
        """The JSON-able figures the report shows under `labels`."""
        return {
            "examples": self.examples,
            "missing": self.missing,
            "values_per_example": {
                str(k): v for k, v in sorted(self.values_per_example.items())
            },
            "min": self.min,
            "max": self.max,
            "distinct": self.distinct,
            "num_classes": self.spec.num_classes,
            "classes_seen": self.classes_seen,
            "above_range": sum(self.above_range.values()),
            "below_range": sum(self.below_range.values()),
            "non_integer": self.non_integer,
            "value_types": sorted(self.value_types),
            "profile": self.profile(),
        }

    def profile(self) -> dict:
        """The shape of the label distribution, for plots.

        `rank_frequency`: [rank, count] pairs at log-spaced ranks of the distinct
        values sorted by falling count (rank 1 is the most frequent). `id_histogram`:
        counts of label values in equal-width bins, with `num_classes` marking where
        the valid range ends and the counts beyond the plotted range.
        """
        ids, id_counts = self.class_counts.pairs()  # no array over every class
        seen = np.sort(
            np.concatenate([id_counts, np.array(list(self.outside.values()))])
        )[::-1].astype(np.int64)
        ranks = np.unique(
            np.geomspace(1, max(len(seen), 1), PROFILE_POINTS).astype(int)
        )
        rank_frequency = [[int(r), int(seen[r - 1])] for r in ranks if r <= len(seen)]
        # The plotted range stops at [-num_classes, 2 * num_classes): a sentinel like
        # 2**63-1 would squash every other bar; what lies beyond is counted apart.
        n = self.spec.num_classes
        low = max(min(0, self.min if self.min is not None else 0), -n)
        high = min(max(n, (self.max if self.max is not None else 0) + 1), 2 * n)
        edges = _aligned_edges(low, high, (0, n))
        # In-range ids: each seen id goes to the last bin starting at or before it
        # (bins start on whole ids, edges fall on 0 and n; empty bins share a start).
        starts = np.clip(np.ceil(edges), 0, n).astype(np.int64)
        bins = np.zeros(len(edges) - 1, dtype=np.int64)
        np.add.at(bins, np.searchsorted(starts, ids, side="right") - 1, id_counts)
        outside = np.array(list(self.outside), dtype=np.float64)
        weights = np.array(list(self.outside.values()), dtype=np.int64)
        plotted = (outside >= low) & (outside <= high)
        bins += np.histogram(outside[plotted], edges, weights=weights[plotted])[
            0
        ].astype(np.int64)
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

    # Accumulation ---------------------------------------------------------------

    def add_batch(self, batch: LocatedBatch) -> int:
        """Adds one batch of rows with vectorised numpy work; no per-row Python.

        Returns how many of the batch's values fell outside [0, num_classes).
        """
        rows = batch.records.num_rows
        self.examples += rows
        index = batch.records.schema.get_field_index(self.spec.feature)
        column = batch.records.column(index) if index >= 0 else None
        lengths, values = _flatten(column, rows)

        per_example = {int(k): int(n) for k, n in enumerate(np.bincount(lengths)) if n}
        self.values_per_example.update(per_example)
        # Rows are scanned for a problem only when the tally says it is there.
        if per_example.get(0):
            missing_rows = np.flatnonzero(lengths == 0)
            self.missing += int(missing_rows.size)
            self._locate(MISSING, batch, missing_rows, None)
        if set(per_example) - {0, self.spec.num_true}:
            wrong = np.flatnonzero((lengths != 0) & (lengths != self.spec.num_true))
            self._locate(COUNT_MISMATCH, batch, wrong, lengths[wrong])

        if values is None or len(values) == 0:
            return 0
        self.value_types.add(str(values.type))
        value_rows = _RowsOf(lengths)
        if self.spec.vocabulary_file and _is_text(values.type):
            ids, id_rows, unknown = _vocabulary_ids(self.spec, values, value_rows)
            self.not_in_vocabulary.update(unknown)
            bad_rows, bad_values = np.empty(0, dtype=np.int64), None
        else:
            ids, id_rows, bad_rows, bad_values = _as_ids(values, value_rows)
        self.non_integer += len(bad_rows)
        self._locate(NON_INTEGER, batch, bad_rows, bad_values)
        outside = self._count_ids(ids)
        if outside:
            above = np.flatnonzero(ids >= self.spec.num_classes)
            self._locate(ABOVE_RANGE, batch, id_rows[above], ids[above])
            below = np.flatnonzero(ids < 0)
            self._locate(BELOW_RANGE, batch, id_rows[below], ids[below])
        return outside

    def _count_ids(self, ids: np.ndarray) -> int:
        n = self.spec.num_classes
        if ids.size and 0 <= ids.min() and ids.max() < n:  # the common case: no copy
            self.class_counts.add(ids)
            self.in_range += int(ids.size)
            return 0
        inside = (ids >= 0) & (ids < n)
        in_range = ids[inside]
        self.class_counts.add(in_range)
        self.in_range += int(in_range.size)
        if in_range.size < ids.size:
            unique, counts = np.unique(ids[~inside], return_counts=True)
            self.outside.update(
                dict(zip(unique.tolist(), counts.tolist(), strict=True))
            )
        return int(ids.size - in_range.size)

    def _locate(self, problem, batch, rows, values) -> None:
        # Even with MAX_LOCATIONS kept, a batch from an earlier file may displace them.
        if len(rows) == 0:
            return
        rows = rows[:MAX_LOCATIONS]
        values = [None] * len(rows) if values is None else list(values[:MAX_LOCATIONS])
        found = [
            Location(batch.file, batch.first_record + int(r), _plain(v))
            for r, v in zip(rows, values, strict=True)
        ]
        self.locations[problem] = _first_locations(self.locations[problem], found)

    def merge(self, other: "LabelStats") -> "LabelStats":
        """Adds `other` into this accumulator and returns it."""
        self.examples += other.examples
        self.missing += other.missing
        self.values_per_example.update(other.values_per_example)
        self.class_counts.merge(other.class_counts)
        self.class_ranges |= other.class_ranges
        self.in_range += other.in_range
        self.outside.update(other.outside)
        self.non_integer += other.non_integer
        self.not_in_vocabulary.update(other.not_in_vocabulary)
        self.value_types |= other.value_types
        for problem, found in other.locations.items():
            self.locations[problem] = _first_locations(self.locations[problem], found)
        return self

    def take_class_counts(self, width: int) -> list[tuple[int, tally.ClassCounts]]:
        """Removes the class counts, as (key range index, counts) of `width` classes.

        The ranges taken are remembered (and merged), so whoever puts the counts
        back knows which ranges to expect.
        """
        pieces = self.class_counts.split(width)
        self.class_ranges.update(index for index, _ in pieces)
        self.class_counts = tally.ClassCounts(self.spec.num_classes)
        return pieces

    def put_class_counts(self, width: int, pieces) -> None:
        """Puts back the counts `take_class_counts` took, each range merged whole."""
        self.class_counts.merge(
            tally.ClassCounts.join(self.spec.num_classes, width, pieces)
        )


def _flatten(column: pa.Array | None, rows: int):
    """Per-row label counts and the flat label values, for list or scalar columns."""
    if column is None or pa.types.is_null(column.type):
        return np.zeros(rows, dtype=np.int64), None
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if (
        pa.types.is_list(column.type)
        or pa.types.is_large_list(column.type)
        or (pa.types.is_fixed_size_list(column.type))
    ):
        lengths = pc.list_value_length(column).fill_null(0)
        lengths = lengths.to_numpy(zero_copy_only=False).astype(np.int64)
        return lengths, column.flatten()
    lengths = column.is_valid().to_numpy(zero_copy_only=False).astype(np.int64)
    return lengths, column.drop_null()


class _RowsOf:
    """The row of each flat label value, worked out only for the values asked about.

    Indexed like an array over the values (by positions, a mask or a slice); most
    batches never ask, as only offending values are located.
    """

    def __init__(self, lengths: np.ndarray):
        self._lengths = lengths
        self._ends = None

    def __len__(self) -> int:
        return int(self._lengths.sum())

    def __getitem__(self, which) -> np.ndarray:
        if isinstance(which, slice):
            positions = np.arange(len(self))[which]
        else:
            which = np.asarray(which)
            positions = np.flatnonzero(which) if which.dtype == bool else which
        if self._ends is None:
            self._ends = np.cumsum(self._lengths)
        return np.searchsorted(self._ends, positions, side="right")


def _as_ids(values: pa.Array, value_rows: _RowsOf):
    """Splits values into int64 ids and the non-integer rest, with their rows."""
    kind = values.type
    none = np.empty(0, dtype=np.int64)
    if pa.types.is_integer(kind):
        ids = values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        return ids, value_rows, none, None
    if pa.types.is_floating(kind):
        # A float that holds a whole number (pandas turns nullable ints into
        # float64) is an id; a fraction, NaN or infinity is not.
        floats = values.to_numpy(zero_copy_only=False).astype(np.float64)
        whole = np.isfinite(floats) & (np.floor(floats) == floats)
        whole &= np.abs(floats) < _INT64_LIMIT
        bad = np.flatnonzero(~whole)
        return (
            floats[whole].astype(np.int64),
            value_rows[whole],
            value_rows[bad],
            floats[bad],
        )
    # Bytes, strings, booleans and anything else cannot be class ids as they are.
    bad_values = np.array(values.to_pylist(), dtype=object)
    return none, none, value_rows, bad_values


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


def _is_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _vocabulary_ids(spec: LabelSpec, values: pa.Array, value_rows: _RowsOf):
    """Ids of strings by vocabulary line; unknown ones hash into the OOV buckets.

    The hash is Fingerprint64 modulo num_oov_buckets, what
    tf.lookup.StaticVocabularyTable uses, so the ids are the trainer's ids.
    """
    from pipeline import vocabulary

    words = vocabulary.as_array(spec.vocabulary_file)
    strings = values.cast(pa.string())
    index = pc.index_in(strings, value_set=words)
    known = index.is_valid().to_numpy(zero_copy_only=False)
    ids = index.drop_null().to_numpy(zero_copy_only=False).astype(np.int64)
    unknown_words = strings.filter(pa.array(~known)).to_pylist()
    unknown = collections.Counter(unknown_words)
    if spec.num_oov_buckets:
        import farmhash

        buckets = [
            len(words) + farmhash.fingerprint64(w) % spec.num_oov_buckets
            for w in unknown_words
        ]
        rows = np.concatenate([value_rows[known], value_rows[~known]])
        return np.concatenate([ids, np.array(buckets, dtype=np.int64)]), rows, unknown
    return ids, value_rows[known], unknown


def _plain(value):
    """A JSON-able form of a numpy, bytes or non-finite value."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    return value


def _first_locations(kept: list, found: list) -> list:
    return sorted(kept + found, key=_location_order)[:MAX_LOCATIONS]
