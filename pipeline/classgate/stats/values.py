"""A label column's values, sorted into what each can be: ids, or not.

`flatten` turns a column (scalar, list, large list, fixed-size list, dictionary-
encoded) into values per row, the flat non-null values and the rows holding a null
element; `ids_of` sorts the flat values into int64 ids, integers beyond int64, and
values of no use as ids (with a vocabulary: strings to ids by line, as tf.lookup's
tables map them). The label statistics and the trainer read columns through here,
so what passed the checks reads the same for training.
"""

import collections
import types
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from classgate.stats.fingerprint import fingerprint64

# Beyond 2**63 a float cannot be an int64 class id.
_INT64_LIMIT = 2.0**63
_INT64_MAX = (1 << 63) - 1
# A value shown in a report (an offending label) is cut to this many characters.
SHOWN_CHARS = 100
# Offending values kept to show per batch; the statistics keep no more locations.
SHOWN_VALUES = 20


def ids(
    column: pa.Array, words: pa.Array | None = None, oov_buckets: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A column's ids as the trainer takes them: (flat int64 ids, ids per row).

    The same reading as `add_batch`'s, so data that passed the label checks reads
    without a loss here; nulls are left out. Raises ValueError for a value that is
    no id at all (what LABEL_TYPE_INVALID or LABEL_ABOVE_RANGE would have failed).
    """
    lengths, values, _ = flatten(column, len(column))
    if values is None or len(values) == 0:
        return np.empty(0, dtype=np.int64), lengths
    found = ids_of(values, words, oov_buckets)
    if len(found.bad) or found.huge:
        shown_value = found.bad_values[0] if len(found.bad) else found.huge[0]
        raise ValueError(f"{shown_value!r} ({found.kind}) is not a class id")
    return found.ids, lengths


def flatten(column: pa.Array | None, rows: int):
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
        nulls = np.bincount(RowsOf(lengths)[null_at], minlength=rows)
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


class RowsOf:
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
_NONE.setflags(write=False)  # shared by every batch: never written


class Ids(NamedTuple):
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
    unknown: Mapping[bytes, int] = types.MappingProxyType({})


def ids_of(values: pa.Array, words: pa.Array | None, oov_buckets: int) -> Ids:
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
            return Ids(
                str(kind),
                ids=ids[ids_at].astype(np.int64),
                ids_at=ids_at,
                huge=tuple(ids[huge_at].tolist()),
                huge_at=huge_at,
            )
        ids = ids.astype(np.int64, copy=False)
        return Ids(str(kind), ids=ids, ids_at=np.arange(len(ids)))
    if words is None and pa.types.is_floating(kind):
        floats = values.to_numpy(zero_copy_only=False).astype(np.float64)
        whole = np.isfinite(floats) & (np.floor(floats) == floats)
        whole &= np.abs(floats) < _INT64_LIMIT
        ids_at, bad = np.flatnonzero(whole), np.flatnonzero(~whole)
        return Ids(
            str(kind),
            ids=floats[ids_at].astype(np.int64),
            ids_at=ids_at,
            bad=bad,
            bad_values=floats[bad],
        )
    # Bytes, strings, booleans, decimals, times, structs, maps, nested lists (and,
    # with a vocabulary, anything but strings): none of them is a class id as it is.
    return Ids(str(kind), bad=np.arange(len(values)), bad_values=_shown_array(values))


def _is_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _vocabulary_ids(values: pa.Array, words: pa.Array, oov_buckets: int) -> Ids:
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
    return Ids(str(values.type), ids=ids, ids_at=ids_at, unknown=unknown)


def _shown_array(values: pa.Array) -> np.ndarray:
    """Values as short JSON-able things to show, in an object array."""
    shown = values.slice(0, SHOWN_VALUES).to_pylist()
    out = np.empty(len(values), dtype=object)
    out[: len(shown)] = [plain(v) for v in shown]
    return out


def shown(word: bytes) -> str:
    """A vocabulary or label string as text, bytes that are not UTF-8 escaped."""
    return word.decode("utf-8", errors="backslashreplace")


def plain(value):
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
