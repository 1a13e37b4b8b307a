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
from pipeline.vocabulary import fingerprint64, shown

# Enough rows to find a problem by hand; few enough to ship between workers.
MAX_LOCATIONS = 20
# Points in the report's rank-frequency curve and bins in its id histogram: enough
# for a plot, small enough for report.json whatever num_classes is.
PROFILE_POINTS = 100
HISTOGRAM_BINS = 50
# Beyond 2**63 a float cannot be an int64 class id.
_INT64_LIMIT = 2.0**63
_INT64_MAX = (1 << 63) - 1
# A value shown in a report (an offending label) is cut to this many characters.
SHOWN_CHARS = 100

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
        starts = _whole(np.clip(np.ceil(edges), 0, n))
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

    def add_batch(self, batch: LocatedBatch, words: pa.Array | None = None) -> int:
        """Adds one batch of rows with vectorised numpy work; no per-row Python.

        `words` is the vocabulary (binary lines) when the spec names one: labels
        must then be strings, mapped to ids by line. Returns how many of the
        batch's values fell outside [0, num_classes).
        """
        if self.spec.vocabulary_file and words is None:
            raise RuntimeError(f"{self.spec.feature}: the vocabulary was not given")
        rows = batch.records.num_rows
        self.examples += rows
        index = batch.records.schema.get_field_index(self.spec.feature)
        column = batch.records.column(index) if index >= 0 else None
        lengths, values, has_null = _flatten(column, rows)

        per_example = {int(k): int(n) for k, n in enumerate(np.bincount(lengths)) if n}
        self.values_per_example.update(per_example)
        # Rows are scanned for a problem only when the tally says it is there. A
        # null inside a list is a missing value: the example lacks a label.
        if per_example.get(0) or has_null is not None:
            missing = lengths == 0 if has_null is None else (lengths == 0) | has_null
            missing_rows = np.flatnonzero(missing)
            self.missing += int(missing_rows.size)
            self._locate(MISSING, batch, missing_rows, None)
        if set(per_example) - {0, self.spec.num_true}:
            wrong = np.flatnonzero((lengths != 0) & (lengths != self.spec.num_true))
            self._locate(COUNT_MISMATCH, batch, wrong, lengths[wrong])

        if values is None or len(values) == 0:
            return 0
        value_rows = _RowsOf(lengths)
        found = _ids_of(values, words, self.spec.num_oov_buckets)
        self.value_types.add(found.kind)
        self.not_in_vocabulary.update(found.unknown)
        if len(found.bad):
            self.non_integer += len(found.bad)
            bad_rows = value_rows[found.bad]
            self._locate(NON_INTEGER, batch, bad_rows, found.bad_values)
        outside = self._count_ids(found.ids)
        if found.huge:
            self.outside.update(collections.Counter(found.huge))
            huge_rows = value_rows[found.huge_at]
            self._locate(ABOVE_RANGE, batch, huge_rows, np.array(found.huge, object))
            outside += len(found.huge)
        if outside > len(found.huge):
            ids, id_rows = found.ids, value_rows[found.ids_at]
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

    # As data, for the staging folder: plain JSON and arrays, never a pickle ------

    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The statistics as a JSON-able header and named numpy arrays."""
        ids, counts = self.class_counts.pairs()
        outside = sorted(self.outside.items())
        low = [(v, c) for v, c in outside if v <= _INT64_MAX]
        high = [(v, c) for v, c in outside if v > _INT64_MAX]
        words = sorted(self.not_in_vocabulary.items())
        lengths = np.array([len(w) for w, _ in words], dtype=np.int64)
        header = {
            "spec": dataclasses.asdict(self.spec),
            "examples": self.examples,
            "missing": self.missing,
            "values_per_example": {
                str(k): v for k, v in self.values_per_example.items()
            },
            "class_ranges": sorted(self.class_ranges),
            "in_range": self.in_range,
            "non_integer": self.non_integer,
            "value_types": sorted(self.value_types),
            "locations": {
                p: [list(loc) for loc in f] for p, f in self.locations.items()
            },
        }
        arrays = {
            "class_ids": ids.astype(np.int64),
            "class_counts": counts.astype(np.int64),
            "outside_values": np.array([v for v, _ in low], dtype=np.int64),
            "outside_counts": np.array([c for _, c in low], dtype=np.int64),
            "outside_high_values": np.array([v for v, _ in high], dtype=np.uint64),
            "outside_high_counts": np.array([c for _, c in high], dtype=np.int64),
            "unknown_bytes": np.frombuffer(b"".join(w for w, _ in words), np.uint8),
            "unknown_ends": np.cumsum(lengths),
            "unknown_counts": np.array([c for _, c in words], dtype=np.int64),
        }
        return header, arrays

    @classmethod
    def from_state(
        cls, spec: LabelSpec, header: dict, arrays: dict[str, np.ndarray]
    ) -> "LabelStats":
        """The statistics `to_state` gave; ValueError when they are not of `spec`."""
        if header["spec"] != dataclasses.asdict(spec):
            raise ValueError(f"statistics of {header['spec']}, not of {spec}")
        stats = cls(spec)
        stats.examples = int(header["examples"])
        stats.missing = int(header["missing"])
        stats.values_per_example = collections.Counter(
            {int(k): int(v) for k, v in header["values_per_example"].items()}
        )
        counts = tally.ClassCounts(spec.num_classes)
        counts.add_counts(arrays["class_ids"], arrays["class_counts"])
        stats.class_counts = counts
        stats.class_ranges = set(map(int, header["class_ranges"]))
        stats.in_range = int(header["in_range"])
        stats.non_integer = int(header["non_integer"])
        stats.value_types = set(header["value_types"])
        for values, counts in (
            (arrays["outside_values"], arrays["outside_counts"]),
            (arrays["outside_high_values"], arrays["outside_high_counts"]),
        ):
            stats.outside.update(
                dict(zip(values.tolist(), counts.tolist(), strict=True))
            )
        data, ends = arrays["unknown_bytes"].tobytes(), arrays["unknown_ends"].tolist()
        starts = [0, *ends[:-1]] if ends else []
        stats.not_in_vocabulary = collections.Counter(
            {
                data[a:b]: int(c)
                for a, b, c in zip(starts, ends, arrays["unknown_counts"], strict=True)
            }
        )
        for problem, found in header["locations"].items():
            stats.locations[problem] = [Location(*loc) for loc in found]
        return stats

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


def ids(
    column: pa.Array, words: pa.Array | None = None, oov_buckets: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A column's ids as the trainer takes them: (flat int64 ids, ids per row).

    The same reading as `add_batch`'s, so data that passed the label checks reads
    without a loss here; nulls are left out. Raises ValueError for a value that is
    no id at all (what LABEL_TYPE_INVALID or LABEL_ABOVE_RANGE would have failed).
    """
    lengths, values, _ = _flatten(column, len(column))
    if values is None or len(values) == 0:
        return np.empty(0, dtype=np.int64), lengths
    found = _ids_of(values, words, oov_buckets)
    if len(found.bad) or found.huge:
        shown_value = found.bad_values[0] if len(found.bad) else found.huge[0]
        raise ValueError(f"{shown_value!r} ({found.kind}) is not a class id")
    return found.ids, lengths


def _flatten(column: pa.Array | None, rows: int):
    """(valid values per row, the flat non-null values, rows holding a null value).

    List, large-list and fixed-size-list columns are flattened; any other column
    holds one value per row. A null list or scalar is a row without values; a null
    element inside a list is dropped from the values and marks its row (the third
    item, None when no row has one). Dictionary-encoded values are decoded.
    """
    if column is None or pa.types.is_null(column.type):
        return np.zeros(rows, dtype=np.int64), None, None
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not _is_list(column.type):
        lengths = column.is_valid().to_numpy(zero_copy_only=False).astype(np.int64)
        return lengths, _decoded(column.drop_null()), None
    lengths = pc.list_value_length(column).fill_null(0)
    lengths = lengths.to_numpy(zero_copy_only=False).astype(np.int64)
    values = column.flatten()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    has_null = None
    if values.null_count:
        null_at = np.flatnonzero(~values.is_valid().to_numpy(zero_copy_only=False))
        nulls = np.bincount(_RowsOf(lengths)[null_at], minlength=rows)
        lengths = lengths - nulls
        has_null = nulls > 0
        values = values.drop_null()
    return lengths, _decoded(values), has_null


def _is_list(kind: pa.DataType) -> bool:
    return (
        pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_fixed_size_list(kind)
    )


def _decoded(values: pa.Array) -> pa.Array:
    """Dictionary-encoded values (pandas' category) as plain values."""
    if pa.types.is_dictionary(values.type):
        return values.dictionary_decode()
    return values


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


_NONE = np.empty(0, dtype=np.int64)


class _Ids(NamedTuple):
    """A batch's flat label values sorted into what each can be.

    `ids` are int64 ids (in range or not) at positions `ids_at` of the values;
    `huge` are integers beyond int64 (uint64 values of 2**63 and more: above any
    range) at `huge_at`; `bad` are positions of values that are no label, with
    `bad_values` to show; `unknown` counts strings the vocabulary lacks. Fields
    left out are empty; nothing here is changed after it is made.
    """

    kind: str
    ids: np.ndarray = _NONE
    ids_at: np.ndarray = _NONE
    huge: tuple = ()
    huge_at: np.ndarray = _NONE
    bad: np.ndarray = _NONE
    bad_values: np.ndarray | None = None
    unknown: collections.Counter = collections.Counter()


def _ids_of(values: pa.Array, words: pa.Array | None, oov_buckets: int) -> _Ids:
    """Sorts flat label values into ids, ids beyond int64, and values of no use.

    Without a vocabulary, integers are ids, and so are floats that hold whole
    numbers (pandas stores nullable ints as float64). With one, strings are ids by
    vocabulary line and nothing else is a label, as with tf.lookup's tables.
    """
    kind = values.type
    if words is not None and _is_text(kind):
        return _vocabulary_ids(values, words, oov_buckets)
    if words is None and pa.types.is_integer(kind):
        ids = values.to_numpy(zero_copy_only=False)
        if ids.dtype == np.uint64 and ids.size and ids.max() > _INT64_MAX:
            high = ids > _INT64_MAX
            ids_at, huge_at = np.flatnonzero(~high), np.flatnonzero(high)
            return _Ids(
                str(kind),
                ids=ids[ids_at].astype(np.int64),
                ids_at=ids_at,
                huge=tuple(ids[huge_at].tolist()),
                huge_at=huge_at,
            )
        ids = ids.astype(np.int64, copy=False)
        return _Ids(str(kind), ids=ids, ids_at=np.arange(len(ids)))
    if words is None and pa.types.is_floating(kind):
        floats = values.to_numpy(zero_copy_only=False).astype(np.float64)
        whole = np.isfinite(floats) & (np.floor(floats) == floats)
        whole &= np.abs(floats) < _INT64_LIMIT
        ids_at, bad = np.flatnonzero(whole), np.flatnonzero(~whole)
        return _Ids(
            str(kind),
            ids=floats[ids_at].astype(np.int64),
            ids_at=ids_at,
            bad=bad,
            bad_values=floats[bad],
        )
    # Bytes, strings, booleans, decimals, times, structs, maps, nested lists (and,
    # with a vocabulary, anything but strings): none of them is a class id as it is.
    return _Ids(str(kind), bad=np.arange(len(values)), bad_values=_shown_array(values))


def _is_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _vocabulary_ids(values: pa.Array, words: pa.Array, oov_buckets: int) -> _Ids:
    """Ids of strings by vocabulary line; unknown ones hash into the OOV buckets.

    Compared as bytes, as TensorFlow compares them. The hash is Fingerprint64
    modulo num_oov_buckets, what tf.lookup.StaticVocabularyTable uses, so the ids
    are the trainer's ids.
    """
    strings = values.cast(pa.binary())
    index = pc.index_in(strings, value_set=words)
    known = index.is_valid().to_numpy(zero_copy_only=False)
    ids = index.drop_null().to_numpy(zero_copy_only=False).astype(np.int64)
    ids_at = np.flatnonzero(known)
    unknown_at = np.flatnonzero(~known)
    unknown_words = strings.take(pa.array(unknown_at)).to_pylist()
    unknown = collections.Counter(unknown_words)
    if oov_buckets and unknown_words:
        buckets = np.array(
            [len(words) + fingerprint64(w) % oov_buckets for w in unknown_words],
            dtype=np.int64,
        )
        ids = np.concatenate([ids, buckets])
        ids_at = np.concatenate([ids_at, unknown_at])
        order = np.argsort(ids_at, kind="stable")  # file order, for locations
        ids, ids_at = ids[order], ids_at[order]
    return _Ids(str(values.type), ids=ids, ids_at=ids_at, unknown=unknown)


def _shown_array(values: pa.Array) -> np.ndarray:
    """Values as short JSON-able things to show, in an object array."""
    shown = values.slice(0, MAX_LOCATIONS).to_pylist()
    out = np.empty(len(values), dtype=object)
    out[: len(shown)] = [_plain(v) for v in shown]
    return out


def _plain(value):
    """A short JSON-able form of a value: numbers stay, anything else is text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else str(value)  # JSON has no NaN
    text = shown(value) if isinstance(value, bytes) else value
    if not isinstance(text, str):
        text = repr(text)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


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


def _first_locations(kept: list, found: list) -> list:
    return sorted(kept + found, key=_location_order)[:MAX_LOCATIONS]
