"""The compiled labels-only scan reads what tfx_bsl's decoder (protobuf) reads.

Examples are written here as raw protobuf bytes, not only as TensorFlow writes
them: packed and unpacked lists in any mix, duplicate map keys, several Features
messages, unknown fields everywhere, non-minimal and 10-byte varints. The
reference is the reader the scan replaces: `read_batches` and tfx_bsl's decoder.
"""

import gzip
import math
import struct
import sys
import zlib

import hypothesis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tfx_bsl.coders import example_coder

import classgate.io
from classgate import errors
from classgate.io import compression, tfrecord

QUICK = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NAMES = ("label", "ctx", "x", "\u00e9t\u00e9")
READ = ("label", "ctx", "absent")  # the features a model names

# Protobuf wire format ----------------------------------------------------------


def varint(value: int, size: int = 0) -> bytes:
    """`value` (negative: its 64-bit two's complement) as a varint, padded with
    continuation bytes to `size` bytes, as protobuf accepts (up to 10)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        out.append(value & 0x7F)
        value >>= 7
        if not value:
            break
        out[-1] |= 0x80
    while len(out) < size:
        out[-1] |= 0x80
        out.append(0)
    return bytes(out)


def field(number: int, wire: int, payload: bytes = b"") -> bytes:
    tag = varint(number << 3 | wire)
    return tag + (varint(len(payload)) + payload if wire == 2 else payload)


unknown = st.one_of(
    st.builds(lambda n, v: field(n, 0, varint(v)), st.integers(4, 99), st.integers()),
    st.builds(
        lambda n, b: field(n, 1, b),
        st.integers(4, 99),
        st.binary(min_size=8, max_size=8),
    ),
    st.builds(
        lambda n, b: field(n, 2, b),
        st.integers(4, 99),
        st.binary(min_size=0, max_size=5),
    ),
    st.builds(
        lambda n, b: field(n, 5, b),
        st.integers(4, 99),
        st.binary(min_size=4, max_size=4),
    ),
)
unknowns = st.lists(unknown, max_size=2).map(b"".join)
int64s = st.integers(-(1 << 63), (1 << 63) - 1)


@st.composite
def int64_list(draw) -> bytes:
    """Int64List: runs of values, each packed or one field per value."""
    out = draw(unknowns)
    for run in draw(st.lists(st.lists(int64s, max_size=4), max_size=3)):
        pads = [draw(st.sampled_from([0, 0, 0, 10])) for _ in run]
        encoded = [varint(v, pad) for v, pad in zip(run, pads, strict=True)]
        if draw(st.booleans()):
            out += field(1, 2, b"".join(encoded))
        else:
            out += b"".join(field(1, 0, e) for e in encoded)
        out += draw(unknowns)
    return out


@st.composite
def float_list(draw) -> bytes:
    out = draw(unknowns)
    for run in draw(
        st.lists(st.lists(st.binary(min_size=4, max_size=4), max_size=3), max_size=3)
    ):
        if draw(st.booleans()):
            out += field(1, 2, b"".join(run))
        else:
            out += b"".join(field(1, 5, value) for value in run)
        out += draw(unknowns)
    return out


@st.composite
def bytes_list(draw) -> bytes:
    out = draw(unknowns)
    for value in draw(st.lists(st.binary(max_size=4), max_size=4)):
        out += field(1, 2, value) + draw(unknowns)
    return out


@st.composite
def feature(draw, kind: int | None) -> bytes:
    """A Feature of `kind` (1 bytes, 2 float, 3 int64; drawn when None) or of
    none, with unknown fields around it."""
    if kind is None:
        kind = draw(st.sampled_from([1, 2, 3, None]))
    elif not draw(st.integers(0, 5)):
        kind = None
    lists = {1: bytes_list, 2: float_list, 3: int64_list}
    body = field(kind, 2, draw(lists[kind]())) if kind else b""
    return draw(unknowns) + body + draw(unknowns)


@st.composite
def example(draw, kinds: dict | None = None) -> bytes:
    """An Example whose map entries are spread over 1 to 3 Features messages.

    A feature is of its kind in `kinds`, or of none; of any kind without `kinds`.
    """
    kinds = kinds or {}
    entries = []
    for name in draw(st.lists(st.sampled_from(NAMES), max_size=6)):
        key = field(1, 2, name.encode())
        value = draw(feature(kinds.get(name))) if draw(st.integers(0, 9)) else None
        value = b"" if value is None else field(2, 2, value)
        entries.append(key + value if draw(st.booleans()) else value + key)
    cuts = sorted(draw(st.lists(st.integers(0, len(entries)), max_size=2)))
    out = draw(unknowns)
    for start, end in zip([0, *cuts], [*cuts, len(entries)], strict=True):
        body = b"".join(field(1, 2, entry) for entry in entries[start:end])
        out += field(1, 2, body) + draw(unknowns)
    return out


def frame(record: bytes) -> bytes:
    header = struct.pack("<Q", len(record))
    crc = struct.Struct("<I")
    return (
        header
        + crc.pack(compression.masked_crc(header))
        + record
        + crc.pack(compression.masked_crc(record))
    )


def write(path, records, kind="plain") -> str:
    data = b"".join(frame(record) for record in records)
    if kind == "gzip":
        data = gzip.compress(data)
    elif kind == "zlib":
        data = zlib.compress(data)
    path.write_bytes(data)
    return str(path)


# Comparing with tfx_bsl --------------------------------------------------------


def assert_same_column(got: pa.Array, want: pa.Array):
    """Equal lists, float values compared by their bits (NaNs included)."""
    assert got.type == want.type
    assert got.is_null().to_pylist() == want.is_null().to_pylist()
    if pa.types.is_null(want.type):
        return
    assert got.value_lengths().to_pylist() == want.value_lengths().to_pylist()
    got, want = got.flatten(), want.flatten()
    if pa.types.is_floating(want.type):
        got = np.asarray(got).view(np.uint32)
        want = np.asarray(want).view(np.uint32)
        assert got.tolist() == want.tolist()
    else:
        assert got.to_pylist() == want.to_pylist()


def reference(path: str, batch_size: int) -> tuple[list, set]:
    """The batches of the reader the scan replaces, and the feature names met."""
    decoder = example_coder.ExamplesToRecordBatchDecoder()
    decoded = [decoder.DecodeBatch(b) for b in tfrecord.read_batches(path, batch_size)]
    return decoded, {name for batch in decoded for name in batch.schema.names}


def assert_reads_as_reference(path: str, batch_size: int):
    want, want_names = reference(path, batch_size)
    names = set()
    got = list(tfrecord.scan_batches(path, READ, batch_size, names=names))
    assert all(isinstance(batch, pa.RecordBatch) for batch in got), "left to tfx_bsl"
    assert [b.num_rows for b in got] == [b.num_rows for b in want]
    for mine, theirs in zip(got, want, strict=True):
        assert set(mine.schema.names) == set(theirs.schema.names) & set(READ)
        for name in mine.schema.names:
            assert_same_column(mine.column(name), theirs.column(name))
    assert names == want_names


@st.composite
def examples(draw, max_size: int) -> list[bytes]:
    """Examples in which each feature keeps one kind, as tfx_bsl requires."""
    kinds = {name: draw(st.sampled_from([1, 2, 3])) for name in NAMES}
    return draw(st.lists(example(kinds), min_size=1, max_size=max_size))


@QUICK
@given(
    records=examples(12),
    batch_size=st.integers(1, 5),
    kind=st.sampled_from(["plain", "gzip", "zlib"]),
    chunk=st.sampled_from([7, 61, 1 << 20]),
    room=st.sampled_from([0, 5, 1 << 16]),
)
def test_any_example_is_read_as_tfx_bsl_reads_it(
    tmp_path_factory, monkeypatch, records, batch_size, kind, chunk, room
):
    """Taken by the scan (no fallback), with tfx_bsl's columns, from any chunks.

    With any room before each piece read ahead: a record cut in two is put
    there, or joined to the piece after where it does not fit.
    """
    path = write(tmp_path_factory.mktemp("w") / "d", records, kind)
    monkeypatch.setattr(tfrecord, "CHUNK_SIZE", chunk)
    monkeypatch.setattr(tfrecord, "_KEPT_ROOM", room)
    assert_reads_as_reference(path, batch_size)


def test_what_tensorflow_writes_is_read_as_tfx_bsl_reads_it(tmp_path):
    import tensorflow as tf

    records = []
    for i in range(50):
        features = {
            "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i, -i])),
            "x": tf.train.Feature(float_list=tf.train.FloatList(value=[i / 3])),
            "ctx": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"c"] * i)),
        }
        if i % 7 == 0:
            features["label"] = tf.train.Feature()  # no kind: null
        records.append(
            tf.train.Example(
                features=tf.train.Features(feature=features)
            ).SerializeToString()
        )
    assert_reads_as_reference(write(tmp_path / "tf", records), 16)


# Records the scan leaves to tfx_bsl, and damage -------------------------------

LEFT = {
    "group": field(9, 3) + field(9, 4),
    "two kinds": field(
        1,
        2,
        field(1, 2, field(1, 2, b"label") + field(2, 2, field(3, 2) + field(2, 2))),
    ),
    "entry with an unknown field": field(
        1, 2, field(1, 2, field(1, 2, b"label") + field(2, 2) + field(3, 0, b"\x01"))
    ),
    "bad utf-8 key": field(1, 2, field(1, 2, field(1, 2, b"\xff"))),
    "truncated varint": field(1, 2, field(1, 2, field(1, 2, b"label")))[:-1] + b"\x80",
    "field 0": b"\x02\x00",
}
# A record whose label feature ends inside a varint: malformed, left to tfx_bsl.
CUT_LABEL = LEFT["truncated varint"]


def decode(
    path: str, mode: str, monkeypatch, batch_size=3, whole=False
) -> tuple[list, dict]:
    """The DoFn's batches and note, in `mode`: labels-only (READ's columns), or
    `whole` examples as full mode decodes them (every column)."""
    from apache_beam import pvalue

    monkeypatch.setenv(tfrecord.SCAN_ENV, mode)
    dofn = tfrecord.DecodeTFRecordFile(batch_size, features=READ, whole=whole)
    dofn.setup()
    assert dofn._scan == (mode == tfrecord.SCAN_COMPILED)
    found, note = [], None
    for item in dofn.process((path, 0)):
        if isinstance(item, pvalue.TaggedOutput):
            note = item.value[1]
        else:
            columns = {
                name: item.records.column(name)
                for name in item.records.schema.names
                if whole or name in READ
            }
            found.append((item.first_record, item.records.num_rows, columns))
    return found, note


def outcome(path, mode, monkeypatch, whole=False, batch_size=3):
    try:
        return decode(path, mode, monkeypatch, batch_size, whole=whole)
    except errors.InputError as e:
        return e.message


def assert_same_outcome(got, want):
    assert type(got) is type(want)
    if isinstance(want, str):
        # Which feature of two kinds tfx_bsl names first follows its hash map's
        # order, which changes from one decoder to the next.
        assert (
            got.split("Feature had wrong type")[0]
            == want.split("Feature had wrong type")[0]
        )
        return
    assert got[1] == want[1]
    assert rows_of(got[0]) == rows_of(want[0])


def rows_of(found: list) -> tuple[int, dict]:
    """The rows the batches hold, whatever their sizes: (rows, {feature: {row:
    (value type, values)}}), floats by their bits, rows without values left out;
    each batch must start where the one before ended."""
    at, rows = 0, {}
    for first, count, columns in found:
        assert first == at
        for name, column in columns.items():
            for index, row in enumerate(row_values(column)):
                if row is not None:
                    rows.setdefault(name, {})[first + index] = row
        at += count
    return at, rows


def row_values(column: pa.Array) -> list:
    """Per row of a decoded column: None, or (value type, its values)."""
    if pa.types.is_null(column.type):
        return [None] * len(column)
    kind = str(column.type.value_type)
    values = column.flatten()
    if pa.types.is_floating(values.type):
        values = np.asarray(values).view(np.uint32).tolist()
    else:
        values = values.to_pylist()
    found, at = [], 0
    for length in column.value_lengths().to_pylist():
        if length is None:
            found.append(None)
        else:
            found.append((kind, values[at : at + length]))
            at += length
    return found


@settings(QUICK, max_examples=120)  # 60 per mode: labels-only and whole
@given(
    records=st.lists(example(), min_size=1, max_size=8),
    damage=st.lists(
        st.tuples(
            st.integers(0, 7),
            st.one_of(
                st.sampled_from(list(LEFT.values())),
                st.tuples(st.integers(0, 10**6), st.integers(1, 255)),
            ),
        ),
        max_size=2,
    ),
    whole=st.booleans(),
    # labels-only scans SCAN_BATCHES batches at once: 4 to 12 records, so that
    # a record left after a whole scan batch is met too
    batch_size=st.integers(1, 3),
)
# Full mode once counted a framed batch as 2 records (a pair's length), so the
# records after a batch left to tfx_bsl were numbered from the wrong index.
@hypothesis.example(
    records=[b"\n\x00"] * 3 + [CUT_LABEL],
    damage=[],
    whole=True,
    batch_size=3,
)
# A record left after a whole labels-only scan batch (4 records): the Python
# reader must take over at the record after that batch.
@hypothesis.example(
    records=[b"\n\x00"] * 5 + [CUT_LABEL],
    damage=[],
    whole=False,
    batch_size=1,
)
def test_a_record_the_scan_leaves_reads_as_before(
    tmp_path_factory, monkeypatch, records, damage, whole, batch_size
):
    """Records with what the scan leaves, or a byte flipped anywhere: the same
    batches, note and columns as the Python reader gives, or the same error;
    labels-only or decoded `whole` (full mode, where the scan frames the records
    and its columns must agree with tfx_bsl's)."""
    records = list(records)
    for index, harm in damage:
        index %= len(records)
        if isinstance(harm, bytes):
            records[index] += harm
        elif records[index]:
            at, flip = harm
            data = bytearray(records[index])
            data[at % len(data)] ^= flip
            records[index] = bytes(data)
    path = write(tmp_path_factory.mktemp("l") / "d", records)
    assert_same_outcome(
        outcome(path, tfrecord.SCAN_COMPILED, monkeypatch, whole, batch_size),
        outcome(path, tfrecord.SCAN_PYTHON, monkeypatch, whole, batch_size),
    )


def damaged_files():
    """(name, bytes, message after the path) of damaged TFRecord files."""
    records = [frame(field(1, 2, b"")) for _ in range(3)]
    good = b"".join(records)
    size = len(records[0])
    bad_data = bytearray(good)
    bad_data[2 * size - 1] ^= 1
    bad_length = bytearray(good)
    bad_length[size + 8] ^= 1
    header = struct.pack("<Q", 1 << 40)
    too_long = good[:size] + header + struct.pack("<I", compression.masked_crc(header))
    return {
        "bad data checksum": (bytes(bad_data), "record 1: bad data checksum"),
        "bad length checksum": (
            bytes(bad_length),
            "record 1: bad length checksum (not a TFRecord?)",
        ),
        "truncated record": (good[:-3], "record 2: truncated record"),
        "truncated header": (good[: 2 * size + 5], "record 2: truncated record header"),
        "length over 2 GiB": (
            too_long,
            f"record 1: length {1 << 40} is over protobuf's 2 GiB message limit",
        ),
        "not examples": (
            frame(b"\xff\xff\xff junk"),
            "records 0..0 are not tf.Examples",
        ),
    }


@pytest.mark.parametrize("whole", [False, True], ids=["labels-only", "full"])
@pytest.mark.parametrize("mode", [tfrecord.SCAN_COMPILED, tfrecord.SCAN_PYTHON])
@pytest.mark.parametrize("kind", ["plain", "gzip", "zlib"])
@pytest.mark.parametrize("case", damaged_files().keys())
def test_damage_names_the_file_and_record_in_both_modes(
    tmp_path, monkeypatch, mode, kind, case, whole
):
    data, problem = damaged_files()[case]
    if kind == "gzip":
        data = gzip.compress(data)
    elif kind == "zlib":
        data = zlib.compress(data)
    path = tmp_path / "bad"
    path.write_bytes(data)
    with pytest.raises(errors.InputError) as raised:
        decode(str(path), mode, monkeypatch, whole=whole)
    assert raised.value.message.startswith(f"{path}: {problem}")


@pytest.mark.parametrize("mode", [tfrecord.SCAN_COMPILED, tfrecord.SCAN_PYTHON])
def test_labels_only_decoding_keeps_record_indices_and_notes(
    tmp_path, monkeypatch, mode
):
    batch = pa.RecordBatch.from_arrays(
        [pa.array([[i] for i in range(10)]), pa.array([[b"w"]] * 10)],
        ["label", "other"],
    )
    path = write(
        tmp_path / "d", example_coder.RecordBatchToExamplesEncoder().encode(batch)
    )
    found, note = decode(path, mode, monkeypatch, batch_size=4)
    # The labels-only scan's batches hold SCAN_BATCHES decoded batches' rows.
    size = 4 * (tfrecord.SCAN_BATCHES if mode == tfrecord.SCAN_COMPILED else 1)
    assert [found[:2] for found in found] == [
        (first, min(size, 10 - first)) for first in range(0, 10, size)
    ]
    assert found[-1][2]["label"].to_pylist()[-2:] == [[8], [9]]
    assert note == {
        "compression": compression.UNCOMPRESSED,
        "features": ["label", "other"],
    }


# Full mode: the scan's columns checked against tfx_bsl's ------------------------

LIST_TYPES = {
    "int64": (pa.large_list(pa.int64()), st.integers(-(2**63), 2**63 - 1)),
    "float": (pa.large_list(pa.float32()), st.just(math.nan) | st.floats(width=32)),
    "bytes": (pa.large_list(pa.large_binary()), st.binary(max_size=3)),
}


@st.composite
def column_and_change(draw):
    """A decoded column's rows, and the same rows with one change a misread makes."""
    kind = draw(st.sampled_from(sorted(LIST_TYPES)))
    list_type, values = LIST_TYPES[kind]
    rows = draw(
        st.lists(st.none() | st.lists(values, max_size=3), min_size=1, max_size=6)
    )
    changed = [None if row is None else list(row) for row in rows]
    at = draw(st.integers(0, len(rows) - 1))
    row = changed[at]
    change = draw(st.sampled_from(["null", "value", "length", "shift"]))
    before = changed[at - 1] if at else None
    if change == "null" or row is None:  # a list read as missing, or the reverse
        changed[at] = [] if row is None else None
    elif change == "shift" and row and before is not None:  # same values, one
        before.append(row.pop(0))  # moved to the row before
    elif change == "value" and row:
        # v == v: not NaN, whose bits need not differ from another NaN's
        row[0] = draw(values.filter(lambda v, was=row[0]: v == v and v != was))
    else:
        row.append(draw(values))
    return list_type, rows, changed


@QUICK
@given(column_and_change())
def test_full_mode_refuses_a_scan_that_disagrees_with_tfx_bsl(case):
    """The same rows agree (NaN with NaN); any changed row, or a column only one
    reader has, stops the run as a defect of ours, naming file and records."""
    list_type, rows, changed = case
    batch = pa.RecordBatch.from_arrays([pa.array(rows, list_type)], ["label"])
    again = pa.RecordBatch.from_arrays([pa.array(rows, list_type)], ["label"])
    misread = pa.RecordBatch.from_arrays([pa.array(changed, list_type)], ["label"])
    without = pa.RecordBatch.from_arrays([pa.array(rows, list_type)], ["other"])
    tfrecord._check_agreed(batch, again, ("label", "absent"), "f", 5)
    for scanned in (misread, without):
        with pytest.raises(RuntimeError, match=r"^f: records 5\.\.\d+: .* 'label'"):
            tfrecord._check_agreed(batch, scanned, ("label",), "f", 5)
        with pytest.raises(RuntimeError):
            tfrecord._check_agreed(scanned, batch, ("label",), "f", 5)


# The switch ---------------------------------------------------------------------


def test_an_unknown_scan_mode_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv(tfrecord.SCAN_ENV, "fast")
    with pytest.raises(errors.InputError, match="CLASSGATE_SCAN='fast'"):
        tfrecord.DecodeTFRecordFile(features=("label",))


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "not compiled"])
@pytest.mark.parametrize("mode", [None, tfrecord.SCAN_AUTO])
def test_auto_scans_compiled_from_a_size_on(monkeypatch, tmp_path, mode, cached):
    """The default: the Python reader for a split too small to repay loading the
    kernels, the compiled scan from COMPILED_FROM_BYTES on and for data of no
    known size; full mode (no features) never. Where the kernels are not compiled
    yet (no cache file), only from COMPILE_FROM_BYTES on, which repays compiling.
    """
    from classgate.io import kernel_files, wire

    if mode is None:
        monkeypatch.delenv(tfrecord.SCAN_ENV, raising=False)
    else:
        monkeypatch.setenv(tfrecord.SCAN_ENV, mode)
    wire.warm_up()  # a cache file in the cache folder, where one is writable
    if not cached:
        monkeypatch.setattr(kernel_files, "folder", lambda create=True: tmp_path)
    assert kernel_files.cached() == cached
    limit, compile_limit = tfrecord.COMPILED_FROM_BYTES, tfrecord.COMPILE_FROM_BYTES
    chosen = {
        size: tfrecord.DecodeTFRecordFile(features=READ, data_bytes=size)._compiled
        for size in (0, limit - 1, limit, compile_limit - 1, compile_limit, None)
    }
    assert chosen == {
        0: False,
        limit - 1: False,
        limit: cached,
        compile_limit - 1: cached,
        compile_limit: True,
        None: True,
    }
    assert not tfrecord.DecodeTFRecordFile(data_bytes=compile_limit)._compiled


def test_without_numba_the_python_reader_reads(tmp_path, monkeypatch):
    """numba absent (an import that fails, as it does where it is not installed)."""
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "classgate.io.wire", raising=False)
    monkeypatch.delattr(classgate.io, "wire", raising=False)
    assert not tfrecord.compiled_scan_runs()
    path = write(tmp_path / "d", [field(1, 2, field(1, 2, field(1, 2, b"label")))])
    monkeypatch.setenv(tfrecord.SCAN_ENV, tfrecord.SCAN_COMPILED)
    dofn = tfrecord.DecodeTFRecordFile(features=READ)
    dofn.setup()
    assert not dofn._scan
    batches = [b for b in dofn.process((path, 0)) if hasattr(b, "records")]
    assert batches[0].records.column("label").type == pa.null()


def test_a_kernel_that_cannot_be_cached_is_compiled_uncached():
    """numba refuses cache=True where no cache folder is writable (as for code
    without a file): `_jit` compiles the kernel without one."""
    from classgate.io import wire

    scope = {}
    exec("def twice(x):\n    return 2 * x\n", scope)  # no file to cache beside
    assert wire._jit(scope["twice"])(21) == 42


@QUICK
@given(data=st.binary(max_size=300), cut=st.data())
def test_both_crc32c_kernels_agree_with_google_crc32c(data, cut):
    """The table kernel (any CPU) and SSE 4.2's instruction, over any span."""
    import google_crc32c

    from classgate.io import wire

    start = cut.draw(st.integers(0, len(data)))
    end = cut.draw(st.integers(start, len(data)))
    buf = np.frombuffer(data, dtype=np.uint8)
    expected = google_crc32c.value(data[start:end])
    assert wire._crc32c_sliced(buf, start, end, wire._TABLES) == expected
    if wire._has_crc32c_instruction():
        assert wire._crc32c_hardware(buf, start, end, wire._TABLES) == expected
        assert wire._crc32c is wire._crc32c_hardware


@pytest.mark.parametrize("variable", ["CPU_NAME", "CPU_FEATURES"])
def test_a_cpu_chosen_for_numba_gets_the_table_crc(monkeypatch, variable):
    """NUMBA_CPU_NAME=generic (a portable build): no SSE 4.2 instruction, which
    LLVM could not select for that CPU."""
    import numba

    from classgate.io import wire

    monkeypatch.setattr(numba.config, variable, "generic")
    assert not wire._has_crc32c_instruction()


def test_thousands_of_feature_names_are_all_noted(tmp_path):
    """More names than the scan's first key table holds: it grows, mid-batch."""
    records = []
    for r in range(6):
        names = [f"f{r}_{i}" for i in range(700)] + ["label"]
        records.append(
            field(
                1,
                2,
                b"".join(
                    field(
                        1,
                        2,
                        field(1, 2, name.encode())
                        + field(2, 2, field(3, 2, field(1, 0, varint(r + i)))),
                    )
                    for i, name in enumerate(names)
                ),
            )
        )
    assert_reads_as_reference(write(tmp_path / "many", records), 4)


# Entry shapes: the scan's fast path ---------------------------------------------


def scanned(records: list[bytes], batch_size: int, shapes: bool) -> dict:
    """All a Scanner gives for these records, batch by batch, with its shapes
    (`_scan`'s fast path) or walking every entry."""
    from classgate.io import wire

    buf = np.frombuffer(b"".join(frame(r) for r in records), dtype=np.uint8)
    scanner = wire.Scanner(READ, batch_size, shapes=shapes)
    batches, at = [], 0
    while True:
        at, why, _ = scanner.scan(buf, at)
        rows = scanner.rows
        walked = scanner.walked[:rows].tolist()
        left = scanner.left(0)
        got = scanner.finish()
        lists = [
            [bytes(got.arena[start:end]) for start, end in row]
            for row in np.where(got.kinds[..., None] >= wire.BYTES, got.spans, 0)
        ]
        batch = {
            "rows": rows,
            "walked": walked,
            "kinds": got.kinds.tolist(),
            "lists": lists,
            "counts": got.counts.tolist(),
        }
        if rows and not left:
            batch["columns"] = got.one_kind() and (
                got.columns()[0],
                [as_compared(column) for column in got.columns()[1]],
            )
        batches.append(batch)
        if why == wire.NEED_BYTES:
            assert at == len(buf)
            return {
                "batches": batches,
                "keys": scanner.keys,
                "shaped": scanner.shaped,
                "records_shaped": scanner.records_shaped,
            }


def as_compared(column: pa.Array) -> tuple:
    """A column as plain values, floats by their bits (NaN equals itself)."""
    if pa.types.is_null(column.type):
        return str(column.type), len(column)
    values = column.flatten()
    if pa.types.is_floating(values.type):
        values = np.asarray(values).view(np.uint32)
    return (
        str(column.type),
        column.is_null().to_pylist(),
        column.value_lengths().to_pylist(),
        values.tolist(),
    )


def one_byte_changed(record: bytes, at: int, value: int) -> bytes:
    if not record:
        return record
    changed = bytearray(record)
    changed[at % len(record)] = value
    return bytes(changed)


@st.composite
def shaped_streams(draw) -> list[bytes]:
    """Records drawn from a few examples, some with a byte set anywhere: mostly
    entries whose shape the scan keeps, and entries that match one but for a
    structure byte, or whose varints end elsewhere."""
    kinds = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries({n: st.sampled_from([1, 2, 3]) for n in NAMES}),
        )
    )
    templates = draw(st.lists(example(kinds), min_size=1, max_size=3))
    changes = st.lists(
        st.tuples(
            st.integers(0, 10**6),
            st.one_of(
                st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF]),
                st.integers(0, 255),
            ),
        ),
        max_size=2,
    )
    records = []
    for _ in range(draw(st.integers(1, 30))):
        record = draw(st.sampled_from(templates))
        for at, value in draw(changes):
            record = one_byte_changed(record, at, value)
        records.append(record)
    return records


@settings(QUICK, max_examples=150)
@given(records=shaped_streams(), batch_size=st.integers(1, 8))
def test_entries_read_by_their_shape_read_as_entries_walked(records, batch_size):
    """Every row, kind, list span, value count, column and key name is the same
    with the scan's entry shapes as with every entry walked: for records that
    match a kept shape, that match it but for one byte, left records, and
    features of two kinds."""
    unshaped = {"shaped": 0, "records_shaped": 0}
    assert scanned(records, batch_size, True) | unshaped == scanned(
        records, batch_size, False
    )


@pytest.mark.parametrize("chunk", [61, 1 << 20])
@pytest.mark.parametrize("packed", [True, False], ids=["packed", "unpacked"])
def test_labels_of_every_varint_length_are_read_by_their_shape(
    tmp_path, monkeypatch, packed, chunk
):
    """Records as TensorFlow writes them but for the label's encoding: 1- to
    10-byte varints and negatives, one and two values. Most entries are read by
    their shape, and the columns are tfx_bsl's, read from chunks of any size
    (a shape outlives the bytes it was kept from)."""
    values = [0, 1, 127, 128, 300, 1 << 20, 1 << 40, -1, -(1 << 62), (1 << 63) - 1]
    records = []
    for r in range(400):
        label = [values[r % len(values)]] + (
            [values[r // 7 % len(values)]] if r % 3 else []
        )
        if packed:
            int64s = field(1, 2, b"".join(varint(v) for v in label))
        else:
            int64s = b"".join(field(1, 0, varint(v)) for v in label)
        entries = [
            (b"label", field(3, 2, int64s)),
            (b"ctx", field(3, 2, field(1, 2, varint(r % 5)))),
            (b"x", field(2, 2, field(1, 2, struct.pack("<f", r / 3)))),
        ]
        body = b"".join(
            field(1, 2, field(1, 2, key) + field(2, 2, value))
            for key, value in entries[r % 3 :] + entries[: r % 3]  # map order varies
        )
        records.append(field(1, 2, body))
    got = scanned(records, 64, True)
    assert got["shaped"] > 600  # of 1,200 entries
    assert got["records_shaped"] > 100  # of 400 records
    monkeypatch.setattr(tfrecord, "CHUNK_SIZE", chunk)
    assert_reads_as_reference(write(tmp_path / "labels", records), 64)


def varint_templates() -> list[bytes]:
    """Records of multi-byte varints, unpacked and packed, named and not, in two
    entry orders: a record shape of each holds several varint runs."""
    label = b"".join(field(1, 0, varint(v)) for v in (300, 1 << 40))  # unpacked
    ctx = field(1, 2, varint(300) + varint(5) + varint(1 << 20))  # packed
    other = field(1, 0, varint(128))  # an int64 feature no model names
    entries = [
        (b"label", field(3, 2, label)),
        (b"ctx", field(3, 2, ctx)),
        (b"y", field(3, 2, other)),
        (b"x", field(2, 2, field(1, 2, struct.pack("<f", 0.5)))),
    ]
    return [
        field(
            1,
            2,
            b"".join(
                field(1, 2, field(1, 2, key) + field(2, 2, value))
                for key, value in order
            ),
        )
        for order in (entries, entries[::-1])
    ]


@pytest.mark.parametrize("template", range(2))
def test_a_record_that_matches_a_record_shape_but_for_one_bit_reads_as_walked(
    template,
):
    """Every byte of a record, with its continuation bit set and cleared, after
    two copies of it (the second read by its record shape): each such record
    reads as walked. A varint that runs on past the shape's end, or ends before
    it, must be walked (or left), never read by the shape."""
    record = varint_templates()[template]
    streams = []
    for at in range(len(record)):
        for changed in (record[at] | 0x80, record[at] & 0x7F):
            if changed != record[at]:
                streams.append([record, record, one_byte_changed(record, at, changed)])
    for records in streams:
        got = scanned(records, 4, True)
        assert got["records_shaped"] >= 1
        assert got == scanned(records, 4, False) | {
            "shaped": got["shaped"],
            "records_shaped": got["records_shaped"],
        }


def test_a_record_whose_names_fill_the_key_table_notes_them_all_when_walked_again():
    """A record's first entry is kept as a shape; a later entry of the same
    record finds the key table full, so the record is walked again with a larger
    one. The first entry's name must be noted then, not read by its shape."""
    from classgate.io import wire

    names = ["label"] + [f"n{i}" for i in range(wire.KEY_TABLE)]
    record = field(
        1,
        2,
        b"".join(
            field(
                1,
                2,
                field(1, 2, n.encode())
                + field(2, 2, field(3, 2, field(1, 2, b"\x01"))),
            )
            for n in names
        ),
    )
    got = scanned([record], 1, True)
    assert got["keys"] == set(names)
    assert got == scanned([record], 1, False) | {
        "shaped": got["shaped"],
        "records_shaped": got["records_shaped"],
    }


# The entry points' cache file ----------------------------------------------------


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """A cache file written by a compile, and its bytes."""
    from classgate.io import wire

    folder = tmp_path_factory.mktemp("kernels")
    assert wire._load(folder).source == "compiled"
    (path,) = folder.glob("wire.*.kernels")
    return path, path.read_bytes()


def test_the_cache_file_is_where_auto_looks_for_it(cached):
    """The file a compile writes is the one `kernel_files` finds without numba:
    auto's choice of reader (`tfrecord.compiled_scan_chosen`) sees it."""
    from classgate.io import kernel_files

    path, _ = cached
    assert kernel_files.path(path.parent) == path


def test_asking_whether_the_kernels_are_cached_makes_no_folder(tmp_path, monkeypatch):
    """Where the job is built, auto only looks for the cache file: an install
    whose cache folders are not there yet gets none made by the question."""
    from classgate.io import kernel_files

    module = tmp_path / "io"
    module.mkdir()
    (module / "wire.py").write_text("# the kernels' source\n")
    monkeypatch.setattr(kernel_files, "WIRE", module / "wire.py")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba-cache"))
    assert not kernel_files.cached()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["io"]
    assert [p.name for p in module.iterdir()] == ["wire.py"]


def test_kernels_load_from_their_cache_file_and_read_alike(
    cached, tmp_path, monkeypatch
):
    """The second process's kernels come from the file, and read what the compiled
    ones read, records taken and records left alike."""
    from classgate.io import wire

    path, _ = cached
    loaded = wire._load(path.parent)
    assert loaded.source == "cache"
    records = [
        field(1, 2, field(1, 2, field(1, 2, b"label") + field(2, 2, int_feature)))
        for int_feature in (field(3, 2, field(1, 0, varint(v))) for v in (7, -1, 3))
    ]
    data = write(tmp_path / "d", records + [b"\x08"], "gzip")  # the last: left
    compiled = wire._load(None)
    assert compiled.source == "compiled"
    read = {}
    for kernels in (loaded, compiled):
        monkeypatch.setattr(wire, "_loaded", kernels)
        read[kernels.source] = outcome(data, tfrecord.SCAN_COMPILED, monkeypatch)
    assert_same_outcome(read["cache"], read["compiled"])


@settings(QUICK, max_examples=40)
@given(data=st.data())
def test_a_cache_file_changed_anywhere_is_refused(cached, data):
    """A byte changed, bytes cut or added: refused (ValueError), never run."""
    from classgate.io import wire

    _, good = cached
    change = data.draw(st.sampled_from(["flip", "cut", "add"]))
    if change == "flip":
        at = data.draw(st.integers(0, len(good) - 1))
        bit = data.draw(st.integers(0, 7))
        damaged = good[:at] + bytes([good[at] ^ (1 << bit)]) + good[at + 1 :]
    elif change == "cut":
        damaged = good[: data.draw(st.integers(0, len(good) - 1))]
    else:
        damaged = good + data.draw(st.binary(min_size=1, max_size=9))
    with pytest.raises(ValueError):
        wire._from_cache(damaged)


def test_code_needing_a_symbol_no_one_defines_is_refused(cached):
    """LLVM would end the process on an unresolved symbol: refused before."""
    import hashlib
    import json

    from classgate.io import wire

    _, good = cached
    at = len(wire._CACHE_MAGIC) + 32
    size = int.from_bytes(good[at : at + 8], "little")
    header = json.loads(good[at + 8 : at + 8 + size])
    header["scan"]["needs"].append("classgate_no_such_symbol")
    text = json.dumps(header).encode()
    body = len(text).to_bytes(8, "little") + text + good[at + 8 + size :]
    forged = wire._CACHE_MAGIC + hashlib.sha256(body).digest() + body
    with pytest.raises(ValueError, match="classgate_no_such_symbol"):
        wire._from_cache(forged)


def test_a_damaged_cache_file_is_compiled_anew_and_rewritten(cached, tmp_path):
    from classgate.io import wire

    path, good = cached
    damaged = tmp_path / path.name
    damaged.write_bytes(good[:-1])
    assert wire._load(tmp_path).source == "compiled"
    assert damaged.read_bytes() != good[:-1]
    assert wire._load(tmp_path).source == "cache"


def test_the_symbols_an_object_needs_are_read_from_its_symbol_table(cached):
    """Those numba's code calls (its C helpers, CPython's), found in the ELF
    symbol table, and each resolves once numba's symbols are installed."""
    import json

    import llvmlite.binding as llvm

    from classgate.io import wire

    _, good = cached
    at = len(wire._CACHE_MAGIC) + 32
    size = int.from_bytes(good[at : at + 8], "little")
    header = json.loads(good[at + 8 : at + 8 + size])
    at += 8 + size
    wire._install_numba_symbols()
    for entry in header.values():
        needs = wire._undefined_symbols(good[at : at + entry["size"]])
        at += entry["size"]
        assert needs == entry["needs"]
        assert {"numba_gil_ensure", "PyErr_WriteUnraisable"} <= set(needs)
        assert all(llvm.address_of_symbol(name) for name in needs)
    with pytest.raises(ValueError):
        wire._undefined_symbols(b"\xcf\xfa\xed\xfe" + good[4:])  # Mach-O


def test_a_scanner_refuses_a_feature_named_twice():
    """Each list is copied to the batch's arena once: the room the scan is given
    for it counts on every name being there once (the job names each once)."""
    from classgate.io import wire

    with pytest.raises(ValueError, match="named twice"):
        wire.Scanner(("label", "ctx", "label"), 4)


@QUICK
@given(
    records=examples(12),
    row=st.integers(0, 11),
    change=st.sampled_from([-2, -1, 1, 3]),
)
def test_a_miscounted_batch_is_a_defect_not_a_crash(
    tmp_path_factory, records, row, change
):
    """A batch whose counts disagree with its lists (a defect of the scan) stops
    the run as a defect of ours (exit 3); no gather writes past its array."""
    from classgate.io import wire

    path = write(tmp_path_factory.mktemp("w") / "d", records)
    (batch,) = tfrecord.scan_batches(path, READ, len(records), scanned=True)
    row %= batch.num_rows
    present = np.flatnonzero(batch.kinds[row] >= wire.BYTES)  # a list of a kind
    hypothesis.assume(present.size)
    column = int(present[0])
    counts = batch.counts.copy()
    counts[row, column] = max(0, counts[row, column] + change)
    hypothesis.assume(counts[row, column] != batch.counts[row, column])
    with pytest.raises(RuntimeError, match=r"counted \d+ values of feature"):
        tfrecord.record_batch(batch._replace(counts=counts))
