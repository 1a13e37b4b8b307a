"""TFRecord frames and tf.Example's wire format, walked in compiled code.

The compiled scan (`tfrecord.scan_batches`) hands a piece of decompressed
TFRecord bytes to `Scanner.scan`, which cuts its frames, checks both CRC32Cs of
each, and walks each record's protobuf wire format for the named features only,
in code numba compiles: no Python object per record. It copies those features'
lists out as it goes, so a batch it hands over (`Scanned`) outlives the bytes,
and `Scanned.columns`, on whatever thread takes it, then gathers their values
into Arrow columns exactly as tfx_bsl's
decoder gives them (`large_list<int64>`, `large_list<float>`,
`large_list<large_binary>`; a row without the feature, or whose Feature has no
kind, is null; a batch where no row holds it has no column; one where rows hold
only kindless Features has a `null` column).

It reads what protobuf reads. Every record is walked whole, not only the named
features: a record protobuf would refuse is never taken. A record is either
*taken* (its values are exactly protobuf's: the last map entry of a key wins,
packed and unpacked lists in any mix, unknown fields skipped, 10-byte varints
cut to 64 bits as protobuf cuts them, fields of the wrong wire type as unknown
fields) or *left* to the reader it replaces: malformed bytes (truncated varints,
lengths past their message, field number 0, wire types 6 and 7, invalid UTF-8 in
a key), and what protobuf reads by merging or where its two parsers disagree
(groups, a Feature with two kinds or two values, unknown fields inside a map
entry: C++ keeps such an entry, Python's upb drops it). A batch holding a record
left, or a feature of two kinds, is decoded by tfx_bsl instead, which names the
damage as before: the compiled walk never needs to name it, only never to take
what tfx_bsl would not give alike.

Python calls the kernels through C functions (`_ENTRY_POINTS`), whose machine
code numba compiles once and `kernels` keeps in a cache file of its own beside
this module (or in NUMBA_CACHE_DIR; with neither writable, each process compiles
anew). A first compile takes about 37 s on one core; loading the cache file about
10 ms, after `import numba`'s 0.1 s. The kernels release the GIL.

Most map entries are not walked at all: an entry whose bytes match one walked
earlier in the batch in all but its values reads as that one did (entry shapes,
below). The scan then takes about half the time: 47 against 94 ns a bench record
(56 bytes, 3 features), 417 against 957 ns a record of TFX's taxi data (503
bytes, 18 features). A small record (16 to 256 bytes) that matches one taken
earlier in the batch, the same way, is read from it whole (record shapes): no
entry of it is walked.
"""

import builtins
import contextlib
import ctypes
import hashlib
import json
import os
import pathlib
import platform
import struct
import threading
from typing import NamedTuple

import numba
import numpy as np
import pyarrow as pa

from classgate.io import compression, kernel_files

# A record walk's outcome.
TAKEN, MALFORMED, UNSUPPORTED = 0, 1, 2
# What a row holds of a feature: no entry, a Feature of no kind, or a list (whose
# kind is 1 + the Feature's field number: bytes_list 1, float_list 2, int64_list 3).
ABSENT, KINDLESS, BYTES, FLOAT, INT64 = 0, 1, 2, 3, 4
# Why `scan` stopped.
BATCH_FULL, NEED_BYTES, DAMAGED, KEYS_FULL = 0, 1, 2, 3
# The damage `scan` found, as tfrecord.read_batches words it.
BAD_LENGTH_CRC, TOO_LONG, BAD_DATA_CRC = 1, 2, 3
# Protobuf refuses messages of 2 GiB or more (tfrecord.MAX_RECORD).
MAX_RECORD = (1 << 31) - 1
# Feature names noted per file (tfrecord's note): a hash table of key hashes, whose
# size bounds the distinct names one scan call can meet before Python grows it.
KEY_TABLE = 1 << 12

# Entry shapes (`_scan`'s fast path): slots, the longest map entry kept, the varint
# runs one may hold, and the misses of other entries of its slot before it is
# replaced.
SHAPE_SLOTS, SHAPE_MAX, SHAPE_RUNS, SHAPE_MISSES = 256, 128, 8, 16
# A shape's row of `shape_info`: the entry's length (-1: none; _UNSHAPED: an entry
# it could not hold, tried again after SHAPE_MISSES misses), misses, the named
# feature its key is (-1: none), its kind, its list's start and end, its values less
# those of packed runs, its varint runs; then per run (start, end, 1 when packed,
# the named feature or -1: as a record shape's). Positions are from the entry's
# start.
_LENGTH, _MISSES, _NAMED, _KIND, _LIST_START, _LIST_END, _COUNT, _RUNS = range(8)
_RUN_WIDTH = 4  # columns of a varint run, in an entry's shape and a record's
SHAPE_WIDTH = _RUNS + 1 + _RUN_WIDTH * SHAPE_RUNS
_UNSHAPED = -2
# Record shapes (the faster path, for small records): slots, the shortest and
# longest record kept, the varint runs and named features one may hold.
RECORD_SLOTS, RECORD_MIN, RECORD_MAX = 64, 16, 256
RECORD_RUNS, RECORD_NAMED = 8, 4
# A record shape's row of `record_info`: the record's length (-1: none; _UNSHAPED),
# misses, its map entries, its varint runs, its named features; then per run
# (start, end, 1 when packed, the named feature whose values it holds or -1), then
# per named feature (its index, kind, list start and end, values less those of
# packed runs). Positions are from the record's start.
_R_LENGTH, _R_MISSES, _R_ENTRIES, _R_RUNS, _R_NAMED = range(5)
_R_RUN = _R_NAMED + 1
_R_NAME = _R_RUN + _RUN_WIDTH * RECORD_RUNS
RECORD_WIDTH = _R_NAME + 5 * RECORD_NAMED
_SHAPE_SEED = np.uint64(0x9E3779B97F4A7C15)
_VARINT, _I64, _LEN, _START_GROUP, _END_GROUP, _I32 = 0, 1, 2, 3, 4, 5
_MASK_DELTA = np.uint32(0xA282EAD8)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def _crc32c_tables() -> np.ndarray:
    """CRC-32C (Castagnoli, reflected) tables for slicing by 8 bytes at a time."""
    tables = np.zeros((8, 256), dtype=np.uint32)
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1)
    tables[0] = table
    for k in range(1, 8):
        previous = tables[k - 1]
        tables[k] = (previous >> 8) ^ tables[0][previous & 0xFF]
    return tables


_TABLES = _crc32c_tables()


def _jit(function=None, *, inline: bool = False):
    """`function` compiled by numba, cached on disk where a cache folder is writable.

    Compiled without numba's reference counting (`_nrt`): the kernels allocate
    nothing, and counting the references of each array passed to a call cost
    more than the walk itself (two calls into numba's runtime per field). They
    take the TFRecord bytes as a raw pointer (`buf`, with their size), not an
    array: an array index is signed, and numba adds a branch for negative ones
    to every byte read, which also keeps LLVM from reading a word at once.

    `inline` for the small helpers (tag, varint, entry cursor), which numba
    inlines into their callers; inlining the larger walks too saves a little
    more but doubles the first compile, so they stay calls.
    """
    if function is None:
        return lambda function: _jit(function, inline=inline)
    options = {"nogil": True, "_nrt": False, "inline": "always" if inline else "never"}
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError:  # "no locator available": a read-only install, no home
        return numba.njit(**options)(function)


# Checksums ---------------------------------------------------------------------


@_jit(inline=True)
def _uint64_at(buf, at):
    value = np.uint64(0)
    for k in range(8):
        value |= np.uint64(buf[at + k]) << np.uint64(8 * k)
    return value


@_jit
def _crc32c_sliced(buf, start, end, tables):
    """CRC-32C by tables, slicing by 8 bytes: any CPU."""
    crc = np.uint32(0xFFFFFFFF)
    at = start
    while at + 8 <= end:
        low = crc ^ (
            np.uint32(buf[at])
            | (np.uint32(buf[at + 1]) << np.uint32(8))
            | (np.uint32(buf[at + 2]) << np.uint32(16))
            | (np.uint32(buf[at + 3]) << np.uint32(24))
        )
        crc = (
            tables[7, low & np.uint32(0xFF)]
            ^ tables[6, (low >> np.uint32(8)) & np.uint32(0xFF)]
            ^ tables[5, (low >> np.uint32(16)) & np.uint32(0xFF)]
            ^ tables[4, low >> np.uint32(24)]
            ^ tables[3, buf[at + 4]]
            ^ tables[2, buf[at + 5]]
            ^ tables[1, buf[at + 6]]
            ^ tables[0, buf[at + 7]]
        )
        at += 8
    while at < end:
        crc = tables[0, (crc ^ np.uint32(buf[at])) & np.uint32(0xFF)] ^ (
            crc >> np.uint32(8)
        )
        at += 1
    return crc ^ np.uint32(0xFFFFFFFF)


def _has_crc32c_instruction() -> bool:
    """Whether numba compiles for a CPU with SSE 4.2's CRC32 instruction.

    This CPU, as LLVM sees it, and only when numba targets it: with
    NUMBA_CPU_NAME or NUMBA_CPU_FEATURES set (a generic build, say), LLVM could
    not select the instruction and would end the process, so the tables serve.
    """
    import llvmlite.binding as llvm

    if numba.config.CPU_NAME or numba.config.CPU_FEATURES:
        return False
    features = llvm.get_host_cpu_features()
    return platform.machine().lower() in ("x86_64", "amd64") and bool(
        features.get("sse4.2")
    )


@numba.extending.intrinsic
def _crc32c_step(typingctx, crc, word):
    """SSE 4.2's CRC32 of a uint64 word, on a running (unfinished) CRC."""
    from llvmlite import ir

    def codegen(context, builder, signature, arguments):
        i64 = ir.IntType(64)
        function = builder.module.declare_intrinsic(
            "llvm.x86.sse42.crc32.64.64", fnty=ir.FunctionType(i64, [i64, i64])
        )
        return builder.call(function, arguments)

    return numba.types.uint64(numba.types.uint64, numba.types.uint64), codegen


@numba.extending.intrinsic
def _crc32c_byte(typingctx, crc, byte):
    """SSE 4.2's CRC32 of one byte, on a running (unfinished) CRC."""
    from llvmlite import ir

    def codegen(context, builder, signature, arguments):
        i32, i8 = ir.IntType(32), ir.IntType(8)
        function = builder.module.declare_intrinsic(
            "llvm.x86.sse42.crc32.32.8", fnty=ir.FunctionType(i32, [i32, i8])
        )
        return builder.call(function, arguments)

    return numba.types.uint32(numba.types.uint32, numba.types.uint8), codegen


@_jit
def _crc32c_hardware(buf, start, end, tables):
    """CRC-32C by SSE 4.2's instruction, 8 bytes a step, then a byte a step."""
    crc = np.uint64(0xFFFFFFFF)
    at = start
    while at + 8 <= end:
        crc = _crc32c_step(crc, _uint64_at(buf, at))
        at += 8
    low = np.uint32(crc)
    while at < end:
        low = _crc32c_byte(low, buf[at])
        at += 1
    return low ^ np.uint32(0xFFFFFFFF)


@_jit(inline=True)
def _masked(crc):
    # numba widens uint32 shifts: cut back to 32 bits, as the format's arithmetic
    rotated = ((crc >> np.uint32(15)) | (crc << np.uint32(17))) & np.uint32(0xFFFFFFFF)
    return np.uint32((rotated + _MASK_DELTA) & np.uint32(0xFFFFFFFF))


@_jit(inline=True)
def _uint32_at(buf, at):
    return (
        np.uint32(buf[at])
        | (np.uint32(buf[at + 1]) << np.uint32(8))
        | (np.uint32(buf[at + 2]) << np.uint32(16))
        | (np.uint32(buf[at + 3]) << np.uint32(24))
    )


# The CPU's own instruction where it has one: the cache key holds the CPU's
# features, so its code never runs on a CPU without it.
_crc32c = _crc32c_hardware if _has_crc32c_instruction() else _crc32c_sliced


# Varints and fields ------------------------------------------------------------


@_jit(inline=True)
def _varint(buf, at, end):
    """(value, position after it); position -1 when malformed (cut or > 10 bytes).

    Bits past the 64th (of a 10th byte) are dropped, as protobuf drops them.
    """
    if at < end and buf[at] < 0x80:  # one byte: most lengths, ids, tags
        return np.uint64(buf[at]), at + 1
    value = np.uint64(0)
    shift = np.uint64(0)
    while at < end:
        byte = buf[at]
        at += 1
        value |= np.uint64(byte & np.uint8(0x7F)) << shift
        if byte < 0x80:
            return value, at
        shift += np.uint64(7)
        if shift == np.uint64(70):
            break
    return value, -1


@_jit(inline=True)
def _tag(buf, at, end):
    """(field number, wire type, position after); position -1 when malformed.

    A tag is at most 5 bytes and fits 32 bits; field number 0 is no field.
    """
    if at < end and 0x08 <= buf[at] < 0x80:  # one byte: fields 1 to 15
        return np.int64(buf[at] >> 3), np.int64(buf[at] & 7), at + 1
    value, after = _varint(buf, at, end)
    if (
        after < 0
        or after - at > 5
        or value > np.uint64(0xFFFFFFFF)
        or value < np.uint64(8)
    ):
        return 0, 0, -1
    return np.int64(value >> np.uint64(3)), np.int64(value & np.uint64(7)), after


@_jit(inline=True)
def _length(buf, at, end):
    """(payload start, payload end) of a length-delimited field; start -1: bad."""
    size, at = _varint(buf, at, end)
    if at < 0 or size > np.uint64(end - at):
        return -1, -1
    return at, at + np.int64(size)


@_jit(inline=True)
def _skip(buf, at, end, wire):
    """The position after an unknown field's value; -1 malformed, -2 a group."""
    if wire == _VARINT:
        _, at = _varint(buf, at, end)
        return at
    if wire == _I64:
        return at + 8 if at + 8 <= end else -1
    if wire == _LEN:
        _, after = _length(buf, at, end)
        return after
    if wire == _I32:
        return at + 4 if at + 4 <= end else -1
    if wire == _START_GROUP or wire == _END_GROUP:
        return -2
    return -1


@_jit(inline=True)
def _packed_varints(buf, start, end):
    """The varints of a packed run; -1 when one is over 10 bytes or runs past it."""
    count = 0
    run = 0  # continuation bytes in a row: at most 9 before the last
    for k in range(start, end):
        if buf[k] < 0x80:
            count += 1
            run = 0
        else:
            run += 1
            if run == 10:
                return -1
    return -1 if run else count


@_jit(inline=True)
def _skipped_status(at):
    return UNSUPPORTED if at == -2 else MALFORMED


# The walk of one record ----------------------------------------------------------


@_jit
def _list_values(buf, start, end, kind):
    """(status, number of values) of an Int64List, FloatList or BytesList."""
    count = 0
    at = start
    while at < end:
        field, wire, at = _tag(buf, at, end)
        if at < 0:
            return MALFORMED, 0
        if field == 1 and kind == INT64 and wire == _VARINT:
            _, at = _varint(buf, at, end)
            if at < 0:
                return MALFORMED, 0
            count += 1
        elif field == 1 and kind == INT64 and wire == _LEN:
            payload, after = _length(buf, at, end)
            if payload < 0:
                return MALFORMED, 0
            values = _packed_varints(buf, payload, after)
            if values < 0:
                return MALFORMED, 0
            count += values
            at = after
        elif field == 1 and kind == FLOAT and wire == _I32:
            if at + 4 > end:
                return MALFORMED, 0
            at += 4
            count += 1
        elif field == 1 and kind == FLOAT and wire == _LEN:
            payload, after = _length(buf, at, end)
            if payload < 0 or (after - payload) % 4:
                return MALFORMED, 0
            count += (after - payload) // 4
            at = after
        elif field == 1 and kind == BYTES and wire == _LEN:
            payload, after = _length(buf, at, end)
            if payload < 0:
                return MALFORMED, 0
            count += 1
            at = after
        else:
            at = _skip(buf, at, end, wire)
            if at < 0:
                return _skipped_status(at), 0
    return TAKEN, count


@_jit
def _feature(buf, start, end):
    """(status, kind, list start, list end, values) of one Feature message."""
    kind = KINDLESS
    list_start = 0
    list_end = 0
    at = start
    while at < end:
        field, wire, at = _tag(buf, at, end)
        if at < 0:
            return MALFORMED, 0, 0, 0, 0
        if 1 <= field <= 3 and wire == _LEN:
            payload, after = _length(buf, at, end)
            if payload < 0:
                return MALFORMED, 0, 0, 0, 0
            if kind != KINDLESS:  # a second kind, or the same merged: left
                return UNSUPPORTED, 0, 0, 0, 0
            kind = field + 1
            list_start = payload
            list_end = after
            at = after
        else:
            at = _skip(buf, at, end, wire)
            if at < 0:
                return _skipped_status(at), 0, 0, 0, 0
    if kind == KINDLESS:
        return TAKEN, kind, 0, 0, 0
    status, count = _list_values(buf, list_start, list_end, kind)
    return status, kind, list_start, list_end, count


@_jit
def _key_hash(buf, start, end):
    """(valid UTF-8, FNV-1a hash) of a map key: proto3 refuses invalid UTF-8."""
    digest = _FNV_OFFSET
    at = start
    while at < end:
        byte = buf[at]
        digest = (digest ^ np.uint64(byte)) * _FNV_PRIME
        at += 1
        if byte < 0x80:
            continue
        if 0xC2 <= byte <= 0xDF:
            follow, low, high = 1, 0x80, 0xBF
        elif byte == 0xE0:
            follow, low, high = 2, 0xA0, 0xBF
        elif byte == 0xED:
            follow, low, high = 2, 0x80, 0x9F
        elif 0xE1 <= byte <= 0xEF:
            follow, low, high = 2, 0x80, 0xBF
        elif byte == 0xF0:
            follow, low, high = 3, 0x90, 0xBF
        elif 0xF1 <= byte <= 0xF3:
            follow, low, high = 3, 0x80, 0xBF
        elif byte == 0xF4:
            follow, low, high = 3, 0x80, 0x8F
        else:
            return False, digest
        for k in range(follow):
            if at >= end:
                return False, digest
            byte = buf[at]
            if not ((low if k == 0 else 0x80) <= byte <= (high if k == 0 else 0xBF)):
                return False, digest
            digest = (digest ^ np.uint64(byte)) * _FNV_PRIME
            at += 1
    return True, digest


@_jit
def _entry(buf, start, end):
    """One map entry (key, Feature), read from `buf` alone.

    Returns (status, key start, key end, key hash, kind, list start, list end,
    values). A missing key is the empty key, a missing value a Feature of no kind.
    """
    key_start = 0
    key_end = 0
    digest = _FNV_OFFSET
    value_start = -1
    value_end = -1
    at = start
    while at < end:
        field, wire, at = _tag(buf, at, end)
        if at < 0:
            return MALFORMED, 0, 0, digest, 0, 0, 0, 0
        if (field == 1 or field == 2) and wire == _LEN:
            payload, after = _length(buf, at, end)
            if payload < 0:
                return MALFORMED, 0, 0, digest, 0, 0, 0, 0
            if field == 1:  # a key twice: the last one counts, both are checked
                key_start = payload
                key_end = after
                valid, digest = _key_hash(buf, payload, after)
                if not valid:
                    return MALFORMED, 0, 0, digest, 0, 0, 0, 0
            else:
                if value_start >= 0:  # two values merge into one Feature: left
                    return UNSUPPORTED, 0, 0, digest, 0, 0, 0, 0
                value_start = payload
                value_end = after
            at = after
        else:  # C++ keeps an entry with unknown fields, upb drops it: left
            return UNSUPPORTED, 0, 0, digest, 0, 0, 0, 0
    if value_start < 0:
        return TAKEN, key_start, key_end, digest, KINDLESS, 0, 0, 0
    status, kind, list_start, list_end, count = _feature(buf, value_start, value_end)
    return status, key_start, key_end, digest, kind, list_start, list_end, count


@_jit(inline=True)
def _next_entry(buf, at, end, features_end):
    """The next map entry of a record: Example { Features { entry, ... }, ... }.

    `at` is inside the record (which ends at `end`) and, while `at` is before
    `features_end`, inside a Features message, whose entries come first. Every
    Features message of the record merges its entries into one map. Returns
    (status, entry start, entry end, position after it, features_end); the
    status is -1 at the end of the record.
    """
    while True:
        if at >= features_end:  # between Features messages: the Example's fields
            if at >= end:
                return -1, 0, 0, at, features_end
            field, wire, at = _tag(buf, at, end)
            if at < 0:
                return MALFORMED, 0, 0, at, features_end
            if field == 1 and wire == _LEN:
                at, features_end = _length(buf, at, end)
                if at < 0:
                    return MALFORMED, 0, 0, at, features_end
            else:
                at = _skip(buf, at, end, wire)
                if at < 0:
                    return _skipped_status(at), 0, 0, at, features_end
            continue
        field, wire, at = _tag(buf, at, features_end)
        if at < 0:
            return MALFORMED, 0, 0, at, features_end
        if field == 1 and wire == _LEN:
            entry, entry_end = _length(buf, at, features_end)
            if entry < 0:
                return MALFORMED, 0, 0, at, features_end
            return TAKEN, entry, entry_end, entry_end, features_end
        at = _skip(buf, at, features_end, wire)
        if at < 0:
            return _skipped_status(at), 0, 0, at, features_end


# Entry shapes --------------------------------------------------------------------
#
# The entries of a file's records mostly differ in their values alone: the same
# key, kind and list, each tag and length where it was (their order in a record
# varies: protobuf's maps are unordered). An entry taken is kept as a shape: its
# bytes, a mask of those that are not values, and its varint runs. A later entry
# whose bytes match a shape's under the mask, and whose varint runs are each well
# formed with their last byte where the shape's is, parses as the shape did:
# protobuf finds its way by tags, lengths and keys alone, and a varint's length by
# its own bytes. Its key, kind and list are the shape's; packed varints are
# counted anew. A shape holds for one batch (its kind was checked in it).


@_jit(inline=True)
def _shape_slot(buf, entry, size, slots):
    """The slot of an entry: from its length and its first 8 bytes (key's start)."""
    word = np.uint64(size)
    if size >= 8:
        word ^= _uint64_at(buf, entry) * _SHAPE_SEED
    word = (word ^ (word >> np.uint64(29))) * _SHAPE_SEED
    return np.int64(word >> np.uint64(40)) & (slots - 1)


@_jit(inline=True)
def _same_shape(buf, entry, size, shapes, slot, width):
    """Whether the bytes match the shape's at every byte not a value.

    Each slot of `shapes` holds `width` bytes of exemplar, then `width` of mask.
    """
    exemplar = slot * 2 * width
    mask = exemplar + width
    k = 0
    while k + 8 <= size:
        if (
            (_uint64_at(buf, entry + k) ^ _uint64_at(shapes, exemplar + k))
            & _uint64_at(shapes, mask + k)
        ) != np.uint64(0):
            return False
        k += 8
    while k < size:
        if (buf[entry + k] ^ shapes[exemplar + k]) & shapes[mask + k]:
            return False
        k += 1
    return True


@_jit(inline=True)
def _one_varint(buf, low, high):
    """Whether low..high is one varint: every byte but its last continues it."""
    if buf[high - 1] >= 0x80:
        return False
    for k in range(low, high - 1):
        if buf[k] < 0x80:
            return False
    return True


@_jit
def _shaped_count(buf, entry, info, slot):
    """The entry's values if its varint runs are well formed as the shape's; else -1.

    An unpacked varint must end at its last byte; a packed run must end there too,
    with no varint over 10 bytes (as `_list_values` reads them).
    """
    count = info[slot, _COUNT]
    for run in range(info[slot, _RUNS]):
        at = _RUNS + 1 + _RUN_WIDTH * run
        low = entry + info[slot, at]
        high = entry + info[slot, at + 1]
        if info[slot, at + 2]:  # packed: count its varints
            values = _packed_varints(buf, low, high)
            if values < 0:
                return -1
            count += values
        elif not _one_varint(buf, low, high):
            return -1
    return count


@_jit
def _keep_shape(buf, entry, end, named, kind, list_start, list_end, count, info, slot,
                shapes):  # fmt: skip
    """The entry at `entry..end`, taken with this key, kind and list, as a shape.

    One it cannot hold (more than SHAPE_RUNS varint runs) leaves the slot
    `_UNSHAPED`, so that its like is not copied again at every meeting.
    """
    info[slot, _MISSES] = 0
    info[slot, _LENGTH] = _UNSHAPED  # until the shape is whole
    mask = _exemplar(buf, entry, end, shapes, slot, SHAPE_MAX)
    runs, packed = _keep_runs(
        buf, kind, list_start, list_end, entry, shapes, mask, info, slot,
        _RUNS + 1, 0, SHAPE_RUNS, named,
    )  # fmt: skip
    if runs < 0:
        return
    info[slot, _NAMED] = named
    info[slot, _KIND] = kind
    base = entry if kind >= BYTES else 0  # a Feature of no kind has no list
    info[slot, _LIST_START] = list_start - base
    info[slot, _LIST_END] = list_end - base
    info[slot, _COUNT] = count - packed
    info[slot, _RUNS] = runs
    info[slot, _LENGTH] = end - entry


@_jit(inline=True)
def _exemplar(buf, start, end, shapes, slot, width):
    """Copies buf[start:end] to a slot of `shapes`, its mask all set.

    Returns where the mask starts: values are cleared from it as they are found.
    """
    exemplar = slot * 2 * width
    for k in range(end - start):
        shapes[exemplar + k] = buf[start + k]
        shapes[exemplar + width + k] = 0xFF
    return exemplar + width


@_jit
def _keep_runs(buf, kind, list_start, list_end, origin, shapes, mask, info, slot,
               column, runs, most, feature):  # fmt: skip
    """Marks a list's values in a shape's mask, and notes its varint runs.

    Walks the list at `list_start..list_end` as `_list_values` does. The bytes of
    each value, from `origin` on, become 0 in the mask at `mask` (any bytes of
    that length parse alike); each run of int64 varints is noted in `info[slot]`,
    _RUN_WIDTH columns from `column` on after the `runs` there: (start, end, 1
    when packed, `feature`). Returns (runs, values in packed runs), or (-1, 0)
    for a list it cannot walk or more than `most` runs.
    """
    packed_values = 0
    at = list_start
    while at < list_end:
        field, wire, at = _tag(buf, at, list_end)
        if at < 0:
            return -1, 0
        low, high, packed = at, at, 0
        if field == 1 and kind == INT64 and wire == _VARINT:
            _, high = _varint(buf, at, list_end)
        elif field == 1 and kind >= BYTES and wire == _LEN:
            low, high = _length(buf, at, list_end)
            packed = 1
        elif field == 1 and kind == FLOAT and wire == _I32:
            high = at + 4
        else:
            at = _skip(buf, at, list_end, wire)
            if at < 0:
                return -1, 0
            continue
        if low < 0 or high < 0:
            return -1, 0
        for k in range(low, high):  # values: any bytes of this length
            shapes[mask + k - origin] = 0
        if kind == INT64 and high > low:  # varints: checked, packed ones counted
            if runs == most:
                return -1, 0
            row = column + _RUN_WIDTH * runs
            info[slot, row] = low - origin
            info[slot, row + 1] = high - origin
            info[slot, row + 2] = packed
            info[slot, row + 3] = feature
            runs += 1
            if packed:
                packed_values += _packed_varints(buf, low, high)
        at = high
    return runs, packed_values


# Record shapes -------------------------------------------------------------------
#
# A small record whose every entry has a shape mostly repeats one of a few whole
# records but for its values (one per order of its entries and length of its
# varints). A record taken is kept as a record shape, as an entry is: its bytes, a
# mask of those that are not values, its varint runs, and where its named features'
# lists lie. A later record that matches one, under the same conditions as an
# entry, parses as it did, and is read from it without walking any of its entries.
# Its keys and kinds are those of a record taken in the same batch: noted, and
# checked against the batch's.


@_jit(inline=True)
def _record_slot(buf, start, size, slots):
    """A record's slot: from its length and two words that are not values.

    Its first 8 bytes (Features, the first entry's length and key) and the 8 where
    a second entry would start (its key).
    """
    word = np.uint64(size) ^ (_uint64_at(buf, start) * _SHAPE_SEED)
    second = start + 4 + np.int64(buf[start + 3])
    if second + 8 <= start + size:
        word ^= (_uint64_at(buf, second) * _SHAPE_SEED) >> np.uint64(17)
    word = (word ^ (word >> np.uint64(29))) * _SHAPE_SEED
    return np.int64(word >> np.uint64(40)) & (slots - 1)


@_jit
def _name_index(buf, key_start, key_end, names, name_ends):
    """The named feature a key is: its index, or -1 for none.

    -2 for a name twice, which `Scanner` refuses (no shape is kept of it).
    """
    key_size = key_end - key_start
    name_start = 0
    named = -1
    for index in range(len(name_ends)):
        name_end = name_ends[index]
        if name_end - name_start == key_size:
            same = True
            for k in range(key_size):
                if buf[key_start + k] != names[name_start + k]:
                    same = False
                    break
            if same:
                named = index if named == -1 else -2
        name_start = name_end
    return named


@_jit
def _keep_record(buf, start, end, names, name_ends, info, slot, shapes):
    """The record at `start..end`, taken, as a record shape.

    One it cannot hold (over RECORD_RUNS runs or RECORD_NAMED named features, a
    named feature twice) leaves the slot `_UNSHAPED`.
    """
    info[slot, _R_MISSES] = 0
    info[slot, _R_LENGTH] = _UNSHAPED  # until the shape is whole
    mask = _exemplar(buf, start, end, shapes, slot, RECORD_MAX)
    runs = 0
    named = 0
    entries = 0
    position = start
    features_end = start
    while True:
        step, entry, entry_end, position, features_end = _entry_after(
            buf, position, end, features_end
        )
        if step == -1:
            break
        if step != TAKEN:
            return
        entries += 1
        step, key_start, key_end, _, kind, list_start, list_end, count = _entry(
            buf, entry, entry_end
        )
        if step != TAKEN:
            return
        feature = _name_index(buf, key_start, key_end, names, name_ends)
        if feature == -2:
            return
        runs, packed = _keep_runs(
            buf, kind, list_start, list_end, start, shapes, mask, info, slot,
            _R_RUN, runs, RECORD_RUNS, feature,
        )  # fmt: skip
        if runs < 0:
            return
        if feature >= 0:
            for n in range(named):
                if info[slot, _R_NAME + 5 * n] == feature:
                    return  # a key twice: the last entry wins
            if named == RECORD_NAMED:
                return
            row = _R_NAME + 5 * named
            named += 1
            info[slot, row] = feature
            info[slot, row + 1] = kind
            info[slot, row + 2] = list_start - start
            info[slot, row + 3] = list_end - start
            info[slot, row + 4] = count - packed
    info[slot, _R_ENTRIES] = entries
    info[slot, _R_RUNS] = runs
    info[slot, _R_NAMED] = named
    info[slot, _R_LENGTH] = end - start


@_jit(inline=True)
def _record_counts(buf, record, info, slot, counts, row):
    """Whether a record that matches a record shape has its varint runs as the shape's.

    Each well formed, ending where the shape's does (as `_shaped_count` asks of
    an entry); each named feature's values are then in `counts[row]`.
    """
    for n in range(info[slot, _R_NAMED]):
        column = _R_NAME + 5 * n
        counts[row, info[slot, column]] = info[slot, column + 4]
    for run in range(info[slot, _R_RUNS]):
        column = _R_RUN + _RUN_WIDTH * run
        low = record + info[slot, column]
        high = record + info[slot, column + 1]
        if info[slot, column + 2]:  # packed: counted
            values = _packed_varints(buf, low, high)
            if values < 0:
                return False
            if info[slot, column + 3] >= 0:
                counts[row, info[slot, column + 3]] += values
        elif not _one_varint(buf, low, high):
            return False
    return True


@_jit
def _entry_after(buf, at, end, features_end):
    """`_next_entry`, as a call: inlined once here, not into each keeper."""
    return _next_entry(buf, at, end, features_end)


@_jit(inline=True)
def _to_arena(buf, start, end, size, arena, state):
    """Copies buf[start:end] to the arena from `state[1]` on: the copy's span.

    A list of up to 8 bytes with 8 bytes of `buf` from its start (`size` long) is
    copied as one word (a label's list is a few bytes: no call to memcpy). The
    word's bytes past the list land in the arena's room: the room `_scan` is
    given holds the rest of `buf` from its position, which holds those 8 bytes.
    """
    used = state[1]
    if end - start <= 8 and start + 8 <= size:
        word = _uint64_at(buf, start)
        for k in range(8):
            arena[used + k] = np.uint8((word >> np.uint64(8 * k)) & np.uint64(0xFF))
    else:
        for k in range(end - start):
            arena[used + k] = buf[start + k]
    state[1] = used + (end - start)
    return used, used + (end - start)


# Frames ------------------------------------------------------------------------


@_jit
def _scan(
    buf,
    size,
    at,
    rows,
    row,
    names,
    name_ends,
    tables,
    starts,
    ends,
    walked,
    kinds,
    spans,
    counts,
    keys,
    key_kinds,
    new_keys,
    info,
    shapes,
    record_info,
    record_shapes,
    arena,
    state,
):
    """Frames, checks and walks records from `at` until rows `row..rows` are full.

    Returns (position, next row, why it stopped, detail, keys noted in `new_keys`):
    NEED_BYTES when the frame at the position is not whole in `buf` (the detail:
    the bytes it needs; its header, when whole, checked first), DAMAGED with the
    damage of the frame at the position, KEYS_FULL when `new_keys` is full before
    the record at the position is walked again (with more room).

    `buf` is a pointer to `size` bytes. One function holds every loop that
    writes to an array of rows, but for `_record_counts` (a row's counts, which
    the row's walk writes anew when the record does not match). The other
    helpers read `buf` alone, but for `_keep_shape` and `_keep_record`, which
    write a shape, and `_to_arena`. A record that matches a record shape of
    this batch, or else an entry that matches a shape, is read from it, not
    walked (`state[0]` counts the entries so read). The list of each named
    feature is copied to `arena` from `state[1]` on (the caller leaves room for
    `size - at` bytes), and its span is the copy's: the batch is gathered from
    the arena, once `buf` is gone.
    """
    found = 0
    key_slots = len(keys) - 1
    features = len(name_ends)
    while row < rows:
        if size - at < 12:
            return at, row, NEED_BYTES, 12, found
        if _masked(_crc32c(buf, at, at + 8, tables)) != _uint32_at(buf, at + 8):
            return at, row, DAMAGED, BAD_LENGTH_CRC, found
        length = _uint64_at(buf, at)
        if length > np.uint64(MAX_RECORD):
            return at, row, DAMAGED, TOO_LONG, found
        data_end = at + 12 + np.int64(length)
        if data_end + 4 > size:
            return at, row, NEED_BYTES, data_end + 4 - at, found
        if _masked(_crc32c(buf, at + 12, data_end, tables)) != _uint32_at(
            buf, data_end
        ):
            return at, row, DAMAGED, BAD_DATA_CRC, found
        for index in range(features):
            kinds[row, index] = ABSENT
            counts[row, index] = 0
        record = at + 12
        size_r = data_end - record
        record_slot = -1
        if len(record_info) and RECORD_MIN <= size_r <= RECORD_MAX:
            record_slot = _record_slot(buf, record, size_r, len(record_info))
            if record_info[record_slot, _R_LENGTH] == size_r and _same_shape(
                buf, record, size_r, record_shapes, record_slot, RECORD_MAX
            ):
                if _record_counts(buf, record, record_info, record_slot, counts, row):
                    named = record_info[record_slot, _R_NAMED]
                    for n in range(named):
                        column = _R_NAME + 5 * n
                        feature = record_info[record_slot, column]
                        kind = record_info[record_slot, column + 1]
                        kinds[row, feature] = kind
                        if kind >= BYTES:
                            spans[row, feature, 0], spans[row, feature, 1] = _to_arena(
                                buf,
                                record + record_info[record_slot, column + 2],
                                record + record_info[record_slot, column + 3],
                                size,
                                arena,
                                state,
                            )
                    state[0] += record_info[record_slot, _R_ENTRIES]
                    state[2] += 1
                    starts[row] = record
                    ends[row] = data_end
                    walked[row] = TAKEN
                    at = data_end + 4
                    row += 1
                    continue
                for index in range(features):
                    counts[row, index] = 0
            record_info[record_slot, _R_MISSES] += 1
        noted = found
        status = TAKEN
        position = at + 12
        features_end = position
        while True:
            step, entry, entry_end, position, features_end = _next_entry(
                buf, position, data_end, features_end
            )
            if step != TAKEN:
                status = TAKEN if step == -1 else step
                break
            size_e = entry_end - entry
            shape = -1
            if len(info) and size_e <= SHAPE_MAX:
                shape = _shape_slot(buf, entry, size_e, len(info))
                if info[shape, _LENGTH] == size_e and _same_shape(
                    buf, entry, size_e, shapes, shape, SHAPE_MAX
                ):
                    count = _shaped_count(buf, entry, info, shape)
                    if count >= 0:
                        named = info[shape, _NAMED]
                        if named >= 0:
                            kind = info[shape, _KIND]
                            kinds[row, named] = kind
                            if kind >= BYTES:
                                spans[row, named, 0], spans[row, named, 1] = _to_arena(
                                    buf,
                                    entry + info[shape, _LIST_START],
                                    entry + info[shape, _LIST_END],
                                    size,
                                    arena,
                                    state,
                                )
                            counts[row, named] = count
                        state[0] += 1
                        continue
                info[shape, _MISSES] += 1
            step, key_start, key_end, digest, kind, list_start, list_end, count = (
                _entry(buf, entry, entry_end)
            )
            if step != TAKEN:
                status = step
                break
            # The key's name, noted once per file (0 marks an empty slot).
            digest |= np.uint64(1)
            slot = np.int64(digest & np.uint64(key_slots))
            while keys[slot] != np.uint64(0) and keys[slot] != digest:
                slot = (slot + 1) & key_slots
            if keys[slot] == np.uint64(0):
                if noted == len(new_keys):
                    # This record's keys leave the table, latest first (as
                    # linear probing allows), to be noted when it is walked again.
                    for k in range(noted - 1, found - 1, -1):
                        keys[new_keys[k, 2]] = np.uint64(0)
                        key_kinds[new_keys[k, 2]] = ABSENT
                    # and no shape stands for them: walked again, they are noted
                    for k in range(len(info)):
                        info[k, _LENGTH] = -1
                    for k in range(len(record_info)):
                        record_info[k, _R_LENGTH] = -1
                    return at, row, KEYS_FULL, 0, found
                keys[slot] = digest
                new_keys[noted, 0] = key_start
                new_keys[noted, 1] = key_end
                new_keys[noted, 2] = slot
                noted += 1
            # One list kind per feature in a batch, every feature, as tfx_bsl
            # holds; a key met twice in a record may count twice (left: safe).
            if kind >= BYTES:
                if key_kinds[slot] >= BYTES and key_kinds[slot] != kind:
                    status = UNSUPPORTED
                    break
                key_kinds[slot] = kind
            # A named feature: this entry replaces any earlier one of its key.
            named = _name_index(buf, key_start, key_end, names, name_ends)
            if named >= 0:
                kinds[row, named] = kind
                if kind >= BYTES:
                    spans[row, named, 0], spans[row, named, 1] = _to_arena(
                        buf, list_start, list_end, size, arena, state
                    )
                counts[row, named] = count
            if (
                shape >= 0
                and named != -2
                and (info[shape, _LENGTH] == -1 or info[shape, _MISSES] >= SHAPE_MISSES)
            ):
                _keep_shape(
                    buf, entry, entry_end, named, kind, list_start, list_end,
                    count, info, shape, shapes,
                )  # fmt: skip
        if (
            record_slot >= 0
            and status == TAKEN
            and (
                record_info[record_slot, _R_LENGTH] == -1
                or record_info[record_slot, _R_MISSES] >= SHAPE_MISSES
            )
        ):
            _keep_record(
                buf, record, data_end, names, name_ends, record_info, record_slot,
                record_shapes,
            )  # fmt: skip
        found = noted
        starts[row] = at + 12
        ends[row] = data_end
        walked[row] = status
        at = data_end + 4
        row += 1
    return at, row, BATCH_FULL, 0, found


# Gathering values ----------------------------------------------------------------


@_jit
def _gather_int64(buf, first, last, column, kinds, spans, offsets, values):
    """Int64List values of rows first..last-1 of one feature, into `values`.

    Returns the values gathered, or -1 where a list does not walk or holds more
    than `values` has room for: the scan walked and counted them, so either is
    a defect of ours, and nothing is written past `values`.
    """
    out = 0
    room = len(values)
    for row in range(first, last):
        if kinds[row, column] == INT64:
            end = spans[row, column, 1]
            at = spans[row, column, 0]
            while at < end:
                field, wire, at = _tag(buf, at, end)
                if at < 0:
                    return -1
                if field == 1 and wire == _VARINT:
                    value, at = _varint(buf, at, end)
                    if at < 0 or out >= room:
                        return -1
                    values[out] = np.int64(value)
                    out += 1
                elif field == 1 and wire == _LEN:
                    payload, after = _length(buf, at, end)
                    if payload < 0:
                        return -1
                    while payload < after:
                        value, payload = _varint(buf, payload, after)
                        if payload < 0 or out >= room:
                            return -1
                        values[out] = np.int64(value)
                        out += 1
                    at = after
                else:
                    at = _skip(buf, at, end, wire)
                    if at < 0:
                        return -1
        offsets[row - first + 1] = out
    return out


@_jit
def _gather_float(buf, first, last, column, kinds, spans, offsets, values):
    """FloatList values (their float32 bits) of rows first..last-1.

    Returns the values gathered, or -1, as `_gather_int64`.
    """
    out = 0
    room = len(values)
    for row in range(first, last):
        if kinds[row, column] == FLOAT:
            end = spans[row, column, 1]
            at = spans[row, column, 0]
            while at < end:
                field, wire, at = _tag(buf, at, end)
                if at < 0:
                    return -1
                if field == 1 and wire == _I32:
                    if at + 4 > end or out >= room:
                        return -1
                    values[out] = _uint32_at(buf, at)
                    out += 1
                    at += 4
                elif field == 1 and wire == _LEN:
                    payload, after = _length(buf, at, end)
                    if payload < 0 or (after - payload) % 4:
                        return -1
                    while payload < after:
                        if out >= room:
                            return -1
                        values[out] = _uint32_at(buf, payload)
                        out += 1
                        payload += 4
                    at = after
                else:
                    at = _skip(buf, at, end, wire)
                    if at < 0:
                        return -1
        offsets[row - first + 1] = out
    return out


@_jit
def _bytes_size(buf, first, last, column, kinds, spans):
    """The bytes a feature's BytesList values hold, over rows first..last-1.

    -1 where a list does not walk: a defect of ours, since the scan walked them.
    """
    total = 0
    for row in range(first, last):
        if kinds[row, column] == BYTES:
            end = spans[row, column, 1]
            at = spans[row, column, 0]
            while at < end:
                field, wire, at = _tag(buf, at, end)
                if at < 0:
                    return -1
                if field == 1 and wire == _LEN:
                    payload, after = _length(buf, at, end)
                    if payload < 0:
                        return -1
                    total += after - payload
                    at = after
                else:
                    at = _skip(buf, at, end, wire)
                    if at < 0:
                        return -1
    return total


@_jit
def _gather_bytes(
    buf, first, last, column, kinds, spans, offsets, value_ends, data, data_size
):
    """BytesList values of rows first..last-1: their bytes, where each one ends.

    Returns the values gathered, or -1 where a list does not walk, or holds
    more values than `value_ends` or bytes than `data` (of `data_size`) has
    room for, as `_gather_int64`.
    """
    out = 0
    used = 0
    room = len(value_ends) - 1
    for row in range(first, last):
        if kinds[row, column] == BYTES:
            end = spans[row, column, 1]
            at = spans[row, column, 0]
            while at < end:
                field, wire, at = _tag(buf, at, end)
                if at < 0:
                    return -1
                if field == 1 and wire == _LEN:
                    payload, after = _length(buf, at, end)
                    if payload < 0 or out >= room or used + after - payload > data_size:
                        return -1
                    for k in range(payload, after):
                        data[used] = buf[k]
                        used += 1
                    out += 1
                    value_ends[out] = used
                    at = after
                else:
                    at = _skip(buf, at, end, wire)
                    if at < 0:
                        return -1
        offsets[row - first + 1] = out
    return out


# Entry points ------------------------------------------------------------------
#
# Python calls the kernels through C functions (numba's cfunc) and ctypes, not
# through numba's dispatchers. Arrays pass as their data pointers and sizes; the
# caller keeps them alive and shaped as each entry point says. The C functions'
# machine code is kept in a cache file of this module's own (`_kernels`): loading
# it takes milliseconds, where numba, loading its own cache, first sets up its
# typing and target contexts (about 0.4 s of each process's start).

_P = numba.types.CPointer
_INT64, _UINT8, _UINT32, _UINT64 = (
    numba.types.int64,
    numba.types.uint8,
    numba.types.uint32,
    numba.types.uint64,
)
# name -> (function, argument types, return type), filled by @_entry_point
_ENTRY_POINTS: dict[str, tuple] = {}


def _entry_point(name: str, *arguments, returns=numba.types.void):
    """Marks a function as the entry point `name` (a field of `Kernels`).

    Its arguments are of these C types (pointers pass as ints), its result of
    `returns`.
    """

    def marked(function):
        _ENTRY_POINTS[name] = (function, arguments, returns)
        return function

    return marked


# buf, its size; rows of the batch, features (the shape of kinds, spans, counts)
# scan's out: position, row, why, detail, keys noted; then its state: entries read
# by a shape, the arena's bytes used, records read by a record shape
_OUT = 8
_BUFFER = (_P(_UINT8), _INT64)
_BATCH = (_P(_UINT8), _P(_INT64), _INT64, _INT64)  # kinds, spans, rows, features


@_entry_point(
    "scan",
    *_BUFFER,
    _INT64,  # at
    _INT64,  # rows
    _INT64,  # row
    _P(_UINT8),  # names
    _INT64,
    _P(_INT64),  # name_ends (features of them)
    _INT64,
    _P(_UINT32),  # tables
    _P(_INT64),  # starts
    _P(_INT64),  # ends
    _P(_UINT8),  # walked
    _P(_UINT8),  # kinds
    _P(_INT64),  # spans
    _P(_INT64),  # counts
    _P(_UINT64),  # keys
    _P(_UINT8),  # key_kinds
    _INT64,
    _P(_INT64),  # new_keys (rows of 3)
    _INT64,
    _P(_INT64),  # shape_info (shape slots of SHAPE_WIDTH)
    _INT64,
    _P(_UINT8),  # shapes (shape slots of 2 SHAPE_MAX)
    _P(_INT64),  # record_info (record slots of RECORD_WIDTH)
    _INT64,
    _P(_UINT8),  # record_shapes (record slots of 2 RECORD_MAX)
    _P(_UINT8),  # arena
    _INT64,
    _P(_INT64),  # out: what _scan returns, then its state (_OUT long)
)
def _scan_c(
    buf, size, at, rows, row, names, names_size, name_ends, features, tables,
    starts, ends, walked, kinds, spans, counts, keys, key_kinds, key_slots,
    new_keys, new_keys_rows, info, shape_slots, shapes, record_info, record_slots,
    record_shapes, arena, arena_size, out,
):  # fmt: skip
    found = _scan(
        buf,
        size,
        at,
        rows,
        row,
        numba.carray(names, (names_size,)),
        numba.carray(name_ends, (features,)),
        numba.carray(tables, (8, 256)),
        numba.carray(starts, (rows,)),
        numba.carray(ends, (rows,)),
        numba.carray(walked, (rows,)),
        numba.carray(kinds, (rows, features)),
        numba.carray(spans, (rows, features, 2)),
        numba.carray(counts, (rows, features)),
        numba.carray(keys, (key_slots,)),
        numba.carray(key_kinds, (key_slots,)),
        numba.carray(new_keys, (new_keys_rows, 3)),
        numba.carray(info, (shape_slots, SHAPE_WIDTH)),
        shapes,  # a pointer, as buf: read a word at a time
        numba.carray(record_info, (record_slots, RECORD_WIDTH)),
        record_shapes,
        arena,  # a pointer, as buf: no check of a negative index per byte
        numba.carray(out, (_OUT,))[5:],  # counted on from call to call
    )
    result = numba.carray(out, (_OUT,))
    for k in range(5):
        result[k] = found[k]


def _gathering(gather):
    """The entry point of a gather of fixed-width values.

    `_gather_int64` and `_gather_float` take the same arguments; only their
    values' type differs.
    """

    def entry(
        buf, size, first, last, column, kinds, spans, rows, features,
        offsets, offsets_size, values, values_size,
    ):  # fmt: skip
        return gather(
            buf,
            first,
            last,
            column,
            numba.carray(kinds, (rows, features)),
            numba.carray(spans, (rows, features, 2)),
            numba.carray(offsets, (offsets_size,)),
            numba.carray(values, (values_size,)),
        )

    return entry


# buf, first, last, column, the batch, offsets; then the values and their size
_GATHER = (*_BUFFER, _INT64, _INT64, _INT64, *_BATCH, _P(_INT64), _INT64)
_entry_point("gather_int64", *_GATHER, _P(_INT64), _INT64, returns=_INT64)(
    _gathering(_gather_int64)
)
_entry_point("gather_float", *_GATHER, _P(_UINT32), _INT64, returns=_INT64)(
    _gathering(_gather_float)
)


@_entry_point("bytes_size", *_BUFFER, _INT64, _INT64, _INT64, *_BATCH, returns=_INT64)
def _bytes_size_c(buf, size, first, last, column, kinds, spans, rows, features):
    return _bytes_size(
        buf,
        first,
        last,
        column,
        numba.carray(kinds, (rows, features)),
        numba.carray(spans, (rows, features, 2)),
    )


@_entry_point(
    "gather_bytes",
    *_BUFFER,
    _INT64,
    _INT64,
    _INT64,
    *_BATCH,
    _P(_INT64),
    _INT64,
    _P(_INT64),
    _INT64,
    _P(_UINT8),  # data: room for bytes_size bytes
    _INT64,
    returns=_INT64,
)
def _gather_bytes_c(
    buf, size, first, last, column, kinds, spans, rows, features,
    offsets, offsets_size, value_ends, value_ends_size, data, data_size,
):  # fmt: skip
    return _gather_bytes(
        buf,
        first,
        last,
        column,
        numba.carray(kinds, (rows, features)),
        numba.carray(spans, (rows, features, 2)),
        numba.carray(offsets, (offsets_size,)),
        numba.carray(value_ends, (value_ends_size,)),
        data,  # a pointer, as buf: each byte written without a sign check
        data_size,
    )


def _at(array: np.ndarray) -> int:
    """The data pointer of a C-contiguous array, for an entry point."""
    return array.ctypes.data


# Loading the entry points --------------------------------------------------------

# A cache file: this, the sha256 of the rest, the header's length (8 bytes, little
# endian), the header (JSON: per entry point its symbol, its object code's size and
# the symbols it needs), then each entry point's object code in the header's order.
_CACHE_MAGIC = b"classgate-wire-kernels 1\n"


class Kernels(NamedTuple):
    """The entry points as ctypes functions (ints for pointers), and whence."""

    scan: object
    gather_int64: object
    gather_float: object
    bytes_size: object
    gather_bytes: object
    source: str  # "cache": loaded from the cache file; "compiled": by numba


_loaded: Kernels | None = None
_loading = threading.Lock()
# The code the entry points run lives as long as what holds it: the engines
# that linked a cache file's code, numba's C functions for a compile.
_holders: list = []


def kernels() -> Kernels:
    """This process's entry points, loaded (or compiled) on first use, once."""
    global _loaded
    with _loading:
        if _loaded is None:
            _loaded = _load(kernel_files.folder())
    return _loaded


def _load(folder: pathlib.Path | None) -> Kernels:
    """The entry points from the cache file in `folder`, else compiled by numba.

    The file is named by `kernel_files.key`, over this module's source, numba,
    llvmlite, Python and the CPU, so a file from another build or machine is
    never loaded. A missing, damaged or unloadable file is compiled anew and
    written again (atomically; a folder that is not writable keeps no file).
    """
    path = None if folder is None else kernel_files.path(folder)
    if path is not None and path.is_file():
        try:
            return _from_cache(path.read_bytes())
        except (OSError, ValueError, KeyError, RuntimeError):
            pass  # compiled anew below, and written again
    compiled = {
        name: numba.cfunc(returns(*arguments), nopython=True, nogil=True)(function)
        for name, (function, arguments, returns) in _ENTRY_POINTS.items()
    }
    if path is not None:  # a cache that cannot be written is no error
        with contextlib.suppress(OSError, ValueError, struct.error, IndexError):
            _write_cache(path, compiled)
    _holders.extend(compiled.values())
    return _kernels_at({n: f.address for n, f in compiled.items()}, "compiled")


def _kernels_at(addresses: dict, source: str) -> Kernels:
    functions = {}
    for name, (_, arguments, returns) in _ENTRY_POINTS.items():
        c_types = [
            ctypes.c_void_p if isinstance(a, numba.types.CPointer) else ctypes.c_int64
            for a in arguments
        ]
        restype = None if returns == numba.types.void else ctypes.c_int64
        functions[name] = ctypes.CFUNCTYPE(restype, *c_types)(addresses[name])
    return Kernels(**functions, source=source)


def _write_cache(path: pathlib.Path, compiled: dict) -> None:
    """Each entry point's object code, its symbol and the symbols it needs."""
    header, blobs = {}, []
    for name, function in compiled.items():
        library = function._library
        code = library.serialize_using_object_code()[2][0]
        header[name] = {
            "symbol": function.native_name,
            "size": len(code),
            "needs": _undefined_symbols(code),
        }
        blobs.append(code)
    text = json.dumps(header).encode()
    body = len(text).to_bytes(8, "little") + text + b"".join(blobs)
    data = _CACHE_MAGIC + hashlib.sha256(body).digest() + body
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, path)


def _undefined_symbols(code: bytes) -> list[str]:
    """The symbols an ELF64 little-endian object file uses but does not define.

    Read from its symbol table, so they include the C library's functions that
    code generation calls (memset, ...), which no IR declares. Other formats are
    refused (ValueError): their code is not cached.
    """
    if code[:6] != b"\x7fELF\x02\x01":
        raise ValueError("not an ELF64 little-endian object")
    (table, entry_size, count) = struct.unpack_from("<Q10xHH", code, 0x28)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", code, table + k * entry_size)
        for k in range(count)
    ]
    found = set()
    for _, kind, _, _, offset, size, link, _, _, item in sections:
        if kind != 2:  # SHT_SYMTAB
            continue
        names = sections[link][4]
        for at in range(offset, offset + size, item):
            name, _, _, section, _, _ = struct.unpack_from("<IBBHQQ", code, at)
            if name and section == 0:  # SHN_UNDEF
                end = code.index(b"\0", names + name)
                found.add(code[names + name : end].decode())
    return sorted(found)


def _from_cache(data: bytes) -> Kernels:
    """The entry points of a cache file's object code, linked by llvmlite alone.

    The file must hold its sha256 digest: machine code changed by a byte is never
    run. Every symbol the code needs must resolve first (numba's C helpers, CPython's
    and the C library's); one that does not refuses the file (ValueError), since
    LLVM would end the process on it.
    """
    import llvmlite.binding as llvm

    if not data.startswith(_CACHE_MAGIC):
        raise ValueError("not a kernels cache file")
    at = len(_CACHE_MAGIC) + 32
    if hashlib.sha256(data[at:]).digest() != data[at - 32 : at]:
        raise ValueError("a kernels cache file whose digest does not hold")
    size = int.from_bytes(data[at : at + 8], "little")
    header = json.loads(data[at + 8 : at + 8 + size])
    at += 8 + size
    if set(header) != set(_ENTRY_POINTS):
        raise ValueError("other entry points")
    _install_numba_symbols()
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    machine = llvm.Target.from_default_triple().create_target_machine()
    addresses, engines = {}, []
    for name, entry in header.items():
        code = data[at : at + entry["size"]]
        at += entry["size"]
        if len(code) != entry["size"]:
            raise ValueError("a truncated kernels cache file")
        missing = [n for n in entry["needs"] if not llvm.address_of_symbol(n)]
        if missing:
            raise ValueError(f"unresolved symbols: {missing}")
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)
        engine.add_object_file(llvm.ObjectFileRef.from_data(code))
        engine.finalize_object()
        addresses[name] = engine.get_function_address(entry["symbol"])
        if not addresses[name]:
            raise ValueError(f"no symbol {entry['symbol']}")
        engines.append(engine)
    if at != len(data):
        raise ValueError("bytes after the last entry point")
    _holders.extend(engines)
    return _kernels_at(addresses, "cache")


def _install_numba_symbols() -> None:
    """The symbols numba gives its own compiled code, which ours calls too.

    As numba.core.base._load_global_helpers and numba.core.runtime.nrt install
    them when numba sets up its target context; adding one twice is harmless.
    """
    import llvmlite.binding as llvm
    from numba import _dynfunc, _helperlib
    from numba.core.runtime import _nrt_python

    llvm.add_symbol("_Py_NoneStruct", id(None))
    for helpers in (_helperlib.c_helpers, _dynfunc.c_helpers):
        for name, address in helpers.items():
            llvm.add_symbol(f"numba_{name}", address)
    for name, address in _nrt_python.c_helpers.items():
        llvm.add_symbol(name if name.startswith("_") else f"NRT_{name}", address)
    for value in builtins.__dict__.values():
        if isinstance(value, type) and issubclass(value, BaseException):
            llvm.add_symbol(f"PyExc_{value.__name__}", id(value))


# The Python face ---------------------------------------------------------------


class Scanned(NamedTuple):
    """A batch the scan walked, its columns not yet made (`columns`).

    Per row and feature: its kind, its list's span in `arena` (a copy of the
    named features' lists, made as the rows were walked) and its values; per
    feature, its rows of each kind (`present`, counted once, in `Scanner.finish`).
    It owns its arrays, so any thread may make its columns while the scan goes on.
    """

    features: tuple[str, ...]
    kinds: np.ndarray  # rows x features: ABSENT, KINDLESS, BYTES, FLOAT or INT64
    spans: np.ndarray  # rows x features x 2: the list's start and end in arena
    counts: np.ndarray  # rows x features: the list's values
    arena: np.ndarray
    present: np.ndarray  # features x (INT64 + 1): rows of each kind

    @property
    def num_rows(self) -> int:
        return len(self.kinds)

    def one_kind(self) -> bool:
        """Whether each feature holds one list kind over the rows, as tfx_bsl asks."""
        return bool((np.count_nonzero(self.present[:, BYTES:], axis=1) <= 1).all())

    def columns(self) -> tuple[list[str], list[pa.Array]]:
        """The (names, Arrow columns) of a `one_kind` batch, as tfx_bsl makes them."""
        names, arrays = [], []
        for column, name in enumerate(self.features):
            present = self.present[column]
            typed = np.flatnonzero(present[BYTES:])
            if typed.size:
                names.append(name)
                arrays.append(self._column(column, BYTES + int(typed[0])))
            elif present[KINDLESS]:  # only Features of no kind
                names.append(name)
                arrays.append(pa.nulls(self.num_rows))
        return names, arrays

    def _column(self, column: int, kind: int) -> pa.Array:
        """One feature's values, gathered from the arena: a large_list column."""
        c = kernels()
        rows, name = self.num_rows, self.features[column]
        kinds = self.kinds[:, column]
        total = int(self.counts[:, column][kinds == kind].sum())
        offsets = np.zeros(rows + 1, dtype=np.int64)
        where = (
            _at(self.arena), len(self.arena), 0, rows, column,
            _at(self.kinds), _at(self.spans), rows, len(self.features),
            _at(offsets), len(offsets),
        )  # fmt: skip
        if kind == INT64:
            values = np.empty(total, dtype=np.int64)
            _gathered(c.gather_int64(*where, _at(values), total), total, name)
            values = pa.array(values, type=pa.int64())
        elif kind == FLOAT:
            bits = np.empty(total, dtype=np.uint32)
            _gathered(c.gather_float(*where, _at(bits), total), total, name)
            values = pa.array(bits.view(np.float32), type=pa.float32())
        else:
            data = np.empty(max(c.bytes_size(*where[:-2]), 0), dtype=np.uint8)
            value_ends = np.zeros(total + 1, dtype=np.int64)
            gathered = c.gather_bytes(
                *where, _at(value_ends), len(value_ends), _at(data), len(data)
            )
            _gathered(gathered, total, name)
            values = pa.Array.from_buffers(
                pa.large_binary(),
                total,
                [None, pa.py_buffer(value_ends), pa.py_buffer(data)],
            )
        null = self.present[column, ABSENT] or self.present[column, KINDLESS]
        mask = pa.array(kinds < BYTES) if null else None
        return pa.LargeListArray.from_arrays(pa.array(offsets), values, mask=mask)


def _gathered(written: int, counted: int, name: str) -> None:
    """Raises (a defect of ours) unless a gather gave the values the scan counted."""
    if written != counted:
        got = "more, or a list that does not walk" if written < 0 else written
        raise RuntimeError(
            f"the compiled scan counted {counted} values of feature {name!r} in a "
            f"batch and gathered {got} (CLASSGATE_SCAN=python reads without the scan)"
        )


class Scanner:
    """One file's scan for `features`: its tables reused from batch to batch.

    `scan` fills the batch's rows from a buffer of TFRecord bytes, copying the
    named features' lists out of it; `finish` hands the batch over (`Scanned`)
    and starts the next. `keys` collects every feature name met in records
    taken. Without `shapes`, every map entry is walked (the fast path off, for
    comparison).
    """

    def __init__(self, features: tuple[str, ...], batch_size: int, shapes: bool = True):
        if len(set(features)) != len(features):  # the arena's room counts on it
            raise ValueError(f"a feature named twice: {features}")
        encoded = [name.encode() for name in features]
        self.features = tuple(features)
        self.batch_size = batch_size
        self._names = np.frombuffer(b"".join(encoded) + b"\0", dtype=np.uint8)
        self._name_ends = np.cumsum([len(name) for name in encoded], dtype=np.int64)
        self.starts = np.zeros(batch_size, dtype=np.int64)
        self.ends = np.zeros(batch_size, dtype=np.int64)
        self.walked = np.zeros(batch_size, dtype=np.uint8)
        self._keys = np.zeros(KEY_TABLE, dtype=np.uint64)
        self._key_kinds = np.zeros(KEY_TABLE, dtype=np.uint8)  # in this batch
        self._new_keys = np.zeros((KEY_TABLE // 2, 3), dtype=np.int64)
        # Entry shapes (none: every entry walked); they hold for one batch.
        slots = SHAPE_SLOTS if shapes else 0
        self._shape_info = np.full((slots, SHAPE_WIDTH), -1, dtype=np.int64)
        self._shapes = np.zeros(max(slots, 1) * 2 * SHAPE_MAX, dtype=np.uint8)
        slots = RECORD_SLOTS if shapes else 0
        self._record_info = np.full((slots, RECORD_WIDTH), -1, dtype=np.int64)
        self._record_shapes = np.zeros(max(slots, 1) * 2 * RECORD_MAX, np.uint8)
        self._out = np.zeros(_OUT, dtype=np.int64)  # what _scan returns; its state
        self._c = kernels()
        self._out_at = _at(self._out)
        self.keys: set[str] = set()
        self._point()
        self.reset()

    def _point(self) -> None:
        """The pointers `scan` passes, kept: taking one costs a microsecond or two."""
        self._head = (
            _at(self._names), len(self._names), _at(self._name_ends),
            len(self._name_ends), _at(_TABLES), _at(self.starts), _at(self.ends),
            _at(self.walked),
        )  # fmt: skip
        self._tail = (
            _at(self._keys), _at(self._key_kinds), len(self._keys), _at(self._new_keys),
        )  # fmt: skip
        self._shaping = (
            _at(self._shape_info),
            len(self._shape_info),
            _at(self._shapes),
            _at(self._record_info),
            len(self._record_info),
            _at(self._record_shapes),
        )

    @property
    def shaped(self) -> int:
        """Map entries read from a shape (theirs or their record's), so far."""
        return int(self._out[5])

    @property
    def records_shaped(self) -> int:
        """Records read from a record shape, none of their entries walked, so far."""
        return int(self._out[7])

    def reset(self) -> None:
        """Starts a batch, in arrays of its own (the last one's were handed over)."""
        self.rows = 0
        self._key_kinds[:] = ABSENT
        self._shape_info[:, _LENGTH] = -1  # a shape's kind was checked in its batch
        self._record_info[:, _R_LENGTH] = -1
        shape = (self.batch_size, len(self.features))
        self._kinds = np.empty(shape, dtype=np.uint8)
        self._spans = np.empty((*shape, 2), dtype=np.int64)
        self._counts = np.empty(shape, dtype=np.int64)
        self._rows_at = (_at(self._kinds), _at(self._spans), _at(self._counts))
        self._arena = _NO_ARENA
        self._out[6] = 0  # the arena's bytes used

    def finish(self) -> Scanned:
        """The rows scanned since `reset`, handed over; then `reset`."""
        rows = self.rows
        kinds = self._kinds[:rows]
        scanned = Scanned(
            self.features,
            kinds,
            self._spans[:rows],
            self._counts[:rows],
            self._arena[: self._out[6]],
            np.array(
                [
                    np.bincount(kinds[:, column], minlength=INT64 + 1)
                    for column in range(len(self.features))
                ]
            ).reshape(len(self.features), INT64 + 1),
        )
        self.reset()
        return scanned

    def scan(self, buf: np.ndarray, at: int) -> tuple[int, int, int]:
        """Scans from `at`: (position, why it stopped, detail); see `_scan`."""
        while True:
            room = len(self._keys) // 2 - len(self.keys)
            if room < len(self._keys) // 8:
                self._grow_keys()
                continue
            # The lists copied in one call lie in buf[at:], each once.
            needed = int(self._out[6]) + len(buf) - at
            if len(self._arena) < needed:
                grown = np.empty(max(needed, 2 * len(self._arena)), dtype=np.uint8)
                grown[: self._out[6]] = self._arena[: self._out[6]]
                self._arena = grown
            self._c.scan(
                _at(buf), len(buf), at, self.batch_size, self.rows, *self._head,
                *self._rows_at, *self._tail, room, *self._shaping,
                _at(self._arena), len(self._arena), self._out_at,
            )  # fmt: skip
            at, self.rows, why, detail, found = self._out[:5].tolist()
            for start, end, _ in self._new_keys[:found].tolist():
                self.keys.add(bytes(buf[start:end]).decode())
            if why != KEYS_FULL:
                return at, why, detail
            if not found:  # one record holds more new names than there is room
                self._grow_keys()

    def _grow_keys(self) -> None:
        """A table twice the size, holding the keys noted so far and their kinds."""
        old, old_kinds = self._keys, self._key_kinds
        self._keys = np.zeros(2 * len(old), dtype=np.uint64)
        self._key_kinds = np.zeros(2 * len(old), dtype=np.uint8)
        self._new_keys = np.zeros((len(self._keys) // 2, 3), dtype=np.int64)
        mask = len(self._keys) - 1
        for digest, kind in zip(old.tolist(), old_kinds.tolist(), strict=True):
            if digest:
                slot = digest & mask
                while self._keys[slot]:
                    slot = (slot + 1) & mask
                self._keys[slot] = digest
                self._key_kinds[slot] = kind
        self._point()

    def left(self, first: int) -> bool:
        """Whether a row from `first` on is left to tfx_bsl (malformed, merged)."""
        return bool(self.walked[first : self.rows].any())


# A batch's arena before its first scan: none (`scan` makes one of the room needed).
_NO_ARENA = np.empty(0, dtype=np.uint8)


def warm_up() -> None:
    """Compiles every kernel (or loads it from the cache) on one framed record.

    The record holds a feature of each kind, so that each gather runs once.
    """
    int64 = b"\x1a\x03\x0a\x01\x07"  # Feature { int64_list { value: [7] } }
    floats = b"\x12\x06\x0a\x04\x00\x00\x80\x3f"  # float_list { value: [1.0] }
    data = b"\x0a\x03\x0a\x01\x78"  # bytes_list { value: ["x"] }
    entries = b"".join(
        _message(1, _message(1, key) + _message(2, value))
        for key, value in ((b"i", int64), (b"f", floats), (b"b", data))
    )
    record = _message(1, entries)
    header = len(record).to_bytes(8, "little")
    frame = (
        header
        + compression.masked_crc(header).to_bytes(4, "little")
        + record
        + compression.masked_crc(record).to_bytes(4, "little")
    )
    buf = np.frombuffer(frame, dtype=np.uint8)
    scanner = Scanner(("i", "f", "b"), 1)
    scanner.scan(buf, 0)
    if scanner.finish().columns()[1][0].to_pylist() != [[7]]:
        raise RuntimeError("the compiled scan misreads a tf.Example")


def _message(field: int, payload: bytes) -> bytes:
    """A length-delimited field of a message (payloads under 128 bytes)."""
    return bytes([field << 3 | _LEN, len(payload)]) + payload
