"""Exact, mergeable statistics of one label feature, computed batch by batch.

A `LabelStats` takes batches (`add_batch`) and other LabelStats (`merge`), in any
order and grouping, with the same result: Beam is a thin adapter around it and every
figure can be checked without Beam.

Class ids inside [0, num_classes) are counted in a `ClassCounts`; every
value outside it goes to a sparse {value: count} map, so a label of 2**63-1 costs
one dict entry, not memory that grows with the value. A pipeline takes the class
counts out by key range (`take_class_counts`), combines each range apart and puts
them back on the driver (`put_class_counts`). Offending locations keep the first
`MAX_LOCATIONS` by (file, record), whatever order batches arrive and merge in, so the
result is the same however a runner splits the work. `to_state` and `from_state`
turn the statistics into plain JSON and arrays (the staging format) and back.
"""

import collections
import dataclasses
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from classgate.io import arrow
from classgate.io.batches import LocatedBatch
from classgate.stats import profile
from classgate.stats import values as label_values
from classgate.stats.class_counts import ClassCounts

# Enough rows to find a problem by hand; few enough to ship between workers.
MAX_LOCATIONS = 20
_INT64_MAX = (1 << 63) - 1

# The problems whose locations are kept.
MISSING = "missing"
COUNT_MISMATCH = "count_mismatch"
ABOVE_RANGE = "above_range"
BELOW_RANGE = "below_range"
NON_INTEGER = "non_integer"


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
    # Ids equal to this are the loss's to ignore (PyTorch's ignore_index): they
    # count as labels of their example, but are neither in nor out of range.
    ignore_index: int | None = None

    @classmethod
    def of_label(cls, model) -> "LabelSpec":
        """What the pipeline computes for a model's label (a config.ModelConfig)."""
        return cls(
            model.label_feature,
            model.num_classes,
            model.num_true,
            model.vocabulary_file,
            model.num_oov_buckets,
            model.ignore_index,
        )

    @classmethod
    def of_context(cls, model) -> "LabelSpec | None":
        """The trainer's input ids, checked against its embedding table's rows."""
        if model.context_feature is None:
            return None
        return cls(model.context_feature, model.context_vocab_size, num_true=1)


def specs_of(models) -> list[LabelSpec]:
    """Label specs first, then the trainer's context ids: one accumulator each."""
    labels = [LabelSpec.of_label(m) for m in models]
    contexts = [LabelSpec.of_context(m) for m in models]
    return list(dict.fromkeys(labels + [c for c in contexts if c]))


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
    class_counts: ClassCounts = None
    # Key ranges whose class counts were taken out (`take_class_counts`).
    class_ranges: set = dataclasses.field(default_factory=set)
    # Ids counted into class_counts: what the ranges must add up to when put back.
    in_range: int = 0
    # Integer values outside [0, num_classes) -> how often they occur.
    outside: collections.Counter = dataclasses.field(
        default_factory=collections.Counter
    )
    non_integer: int = 0
    # Label ids equal to the spec's ignore_index: counted, then left out.
    ignored: int = 0
    # Examples that hold the feature at all (its value not null, an empty list
    # included): none of them is a feature absent from every example.
    present: int = 0
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
            self.class_counts = ClassCounts(self.spec.num_classes)

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
            "ignored": self.ignored,
            "value_types": sorted(self.value_types),
            "profile": profile.profile(self),
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
        # A top-level column of that name, or a struct field (`meta.label`).
        column = arrow.feature_column(batch.records, self.spec.feature)
        if column is not None and not pa.types.is_null(column.type):
            self.present += rows - column.null_count
        lengths, values, has_null = label_values.flatten(column, rows)

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
        value_rows = label_values.RowsOf(lengths)
        found = label_values.ids_of(values, words, self.spec.num_oov_buckets)
        if self.spec.ignore_index is not None and found.ids.size:
            kept = found.ids != self.spec.ignore_index
            if not kept.all():  # the loss ignores these: neither in nor out of range
                self.ignored += int(found.ids.size - kept.sum())
                found = found._replace(ids=found.ids[kept], ids_at=found.ids_at[kept])
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
            Location(batch.file, batch.first_record + int(r), label_values.plain(v))
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
        self.ignored += other.ignored
        self.present += other.present
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
            "ignored": self.ignored,
            "present": self.present,
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
        counts = ClassCounts(spec.num_classes)
        counts.add_counts(arrays["class_ids"], arrays["class_counts"])
        stats.class_counts = counts
        stats.class_ranges = set(map(int, header["class_ranges"]))
        stats.in_range = int(header["in_range"])
        stats.non_integer = int(header["non_integer"])
        stats.ignored = int(header.get("ignored", 0))
        stats.present = int(header.get("present", stats.examples))
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

    def take_class_counts(self, width: int) -> list[tuple[int, ClassCounts]]:
        """Removes the class counts, as (key range index, counts) of `width` classes.

        The ranges taken are remembered (and merged), so whoever puts the counts
        back knows which ranges to expect.
        """
        pieces = self.class_counts.split(width)
        self.class_ranges.update(index for index, _ in pieces)
        self.class_counts = ClassCounts(self.spec.num_classes)
        return pieces

    def put_class_counts(self, width: int, pieces) -> None:
        """Puts back the counts `take_class_counts` took, each range merged whole."""
        self.class_counts.merge(ClassCounts.join(self.spec.num_classes, width, pieces))


def _first_locations(kept: list, found: list) -> list:
    return sorted(kept + found, key=_location_order)[:MAX_LOCATIONS]
