import gzip
import struct
import tracemalloc
import zlib

import apache_beam as beam
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tfx_bsl.coders import example_coder

from classgate import errors
from classgate.checks import files as file_checks
from classgate.io import compression, tfrecord, wire

# Hypothesis, reproducible and quick: the same examples on every run.
QUICK = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def examples(n):
    batch = pa.RecordBatch.from_arrays([pa.array([[i] for i in range(n)])], ["label"])
    return example_coder.RecordBatchToExamplesEncoder().encode(batch)


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip_and_tensorflow_reads_what_we_write(tmp_path, compress):
    import tensorflow as tf

    path = str(tmp_path / "data.tfrecord")
    records = examples(10)
    tfrecord.write_records(path, records, compress=compress)
    assert tfrecord.is_gzip(path) == compress
    assert list(tfrecord.read_records(path)) == records
    kind = "GZIP" if compress else ""
    assert [r.numpy() for r in tf.data.TFRecordDataset(path, kind)] == records


def test_gzip_is_detected_by_content_not_name(tmp_path):
    path = tmp_path / "no-suffix"
    plain = tmp_path / "plain"
    tfrecord.write_records(str(plain), examples(3), compress=False)
    path.write_bytes(gzip.compress(plain.read_bytes()))
    assert len(list(tfrecord.read_records(str(path)))) == 3


def test_damage_names_file_and_record(tmp_path):
    path = tmp_path / "bad"
    tfrecord.write_records(str(path), examples(3), compress=False)
    data = bytearray(path.read_bytes())
    data[-3] ^= 1  # the last record's data checksum
    path.write_bytes(bytes(data))
    with pytest.raises(errors.InputError, match=r"bad: record 2: bad data checksum"):
        list(tfrecord.read_records(str(path)))


def test_decode_keeps_record_indices(tmp_path):
    path = str(tmp_path / "data")
    tfrecord.write_records(path, examples(10))
    decode = tfrecord.DecodeTFRecordFile(batch_size=4)
    decode.setup()
    found = list(decode.process((path, 0)))
    batches = [b for b in found if not isinstance(b, beam.pvalue.TaggedOutput)]
    assert found[-1].value == (
        path,
        {"compression": compression.GZIP, "features": ["label"]},
    )
    assert [(b.first_record, b.records.num_rows) for b in batches] == [
        (0, 4),
        (4, 4),
        (8, 2),
    ]
    assert batches[2].records.column(0).to_pylist() == [[8], [9]]


@pytest.mark.parametrize("chunk", [1, 7, 13, 64])
def test_frames_cut_across_chunk_boundaries(tmp_path, monkeypatch, chunk):
    records = [bytes([i]) * (i * 3) for i in range(40)]  # 0 to 117 bytes
    for compress in (True, False):
        path = str(tmp_path / f"data-{compress}")
        tfrecord.write_records(path, records, compress=compress)
        monkeypatch.setattr(tfrecord, "CHUNK_SIZE", chunk)
        batches = list(tfrecord.read_batches(path, 16))
        assert [len(b) for b in batches] == [16, 16, 8]
        assert [r for b in batches for r in b] == records


@pytest.mark.parametrize(
    ("byte", "flip", "problem"),
    [
        (0, 1, "bad length checksum"),  # the length now points inside the file
        (7, 0x40, "bad length checksum"),  # ... and now 2**62 bytes ahead
        (8, 1, "bad length checksum"),  # the length's own checksum
        (-1, 1, "bad data checksum"),
    ],
)
def test_damage_anywhere_in_a_frame_names_that_record(tmp_path, byte, flip, problem):
    """Record 1 of 3 damaged: its header checksum is checked before its length is
    followed out of the bytes at hand, and before any batch holding it leaves."""
    records = examples(3)
    path = tmp_path / "bad"
    tfrecord.write_records(str(path), records, compress=False)
    data = bytearray(path.read_bytes())
    frame = 16 + len(records[0])
    data[frame + (byte if byte >= 0 else frame + byte)] ^= flip
    path.write_bytes(bytes(data))
    with pytest.raises(errors.InputError, match=rf"bad: record 1: {problem}"):
        list(tfrecord.read_batches(str(path), batch_size=2))


# ZLIB: TFRecordOptions(compression_type='ZLIB') -------------------------------------


def plain_tfrecord(records) -> bytes:
    """The bytes of an uncompressed TFRecord file of `records`."""
    return b"".join(frame(record) for record in records)


def frame(record: bytes, length: int | None = None) -> bytes:
    """One TFRecord frame; `length` overrides the header (its checksum still valid)."""
    header = struct.pack("<Q", len(record) if length is None else length)
    crc = struct.Struct("<I")
    return (
        header
        + crc.pack(compression.masked_crc(header))
        + record
        + crc.pack(compression.masked_crc(record))
    )


def read_with_tensorflow(path, compression_type) -> list[bytes]:
    import tensorflow as tf

    return [r.numpy() for r in tf.data.TFRecordDataset(str(path), compression_type)]


@pytest.mark.parametrize(
    "options",
    [{}, {"compression_level": 9, "window_bits": 10}, {"compression_level": 0}],
    ids=["default", "level 9, small window", "stored"],
)
def test_zlib_files_tensorflow_writes_are_read_and_named(tmp_path, options):
    import tensorflow as tf

    path = tmp_path / "data.tfrecord"
    records = examples(50)
    zlib_options = tf.io.TFRecordOptions(compression_type="ZLIB", **options)
    with tf.io.TFRecordWriter(str(path), options=zlib_options) as writer:
        for record in records:
            writer.write(record)
    assert zlib.decompress(path.read_bytes()) == plain_tfrecord(records)
    found = []
    assert [r for b in tfrecord.read_batches(str(path), 16, found) for r in b] == (
        records
    )
    assert found == [compression.ZLIB] == ["zlib"]
    assert tfrecord.tensorflow_compression(str(path)) == "ZLIB"
    decode = tfrecord.DecodeTFRecordFile(batch_size=16)
    decode.setup()
    *decoded, note = decode.process((str(path), 0))
    assert note.value[0] == str(path) and note.value[1]["compression"] == "zlib"
    assert sum(b.records.num_rows for b in decoded) == 50


@QUICK
@given(
    records=st.lists(st.binary(max_size=300), max_size=40),
    level=st.integers(0, 9),
    window=st.integers(9, 15),
    chunk=st.sampled_from([1, 5, 64, 1 << 20]),
)
def test_any_zlib_stream_reads_as_its_records(tmp_path, records, level, window, chunk):
    """Any level and window, cut into any chunks: the records, in order."""
    packer = zlib.compressobj(level, zlib.DEFLATED, window)
    path = tmp_path / "z"
    path.write_bytes(packer.compress(plain_tfrecord(records)) + packer.flush())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tfrecord, "CHUNK_SIZE", chunk)
        found = []
        read = [r for b in tfrecord.read_batches(str(path), 7, found) for r in b]
    assert read == records and found == ["zlib"]


def damaged(data: bytes, kind: str, where: int, byte: int, more: bytes) -> bytes:
    """`data` with one damage of `kind` at `where` (modulo its length): a byte
    flipped by `byte`, a cut, `byte` inserted or appended, zeros appended, or
    (any other kind) `more` appended, a second stream or member."""
    data = bytearray(data)
    at = where % len(data)
    if kind == "flip":
        data[at] ^= byte
    elif kind == "truncate":
        del data[at:]
    elif kind == "insert":
        data[at:at] = bytes([byte])
    elif kind == "append":
        data += bytes([byte]) * (1 + where % 3)
    elif kind == "zeros":
        data += bytes(1 + where % 9)
    else:
        data += more
    return bytes(data)


@QUICK
@given(
    kind=st.sampled_from(["flip", "truncate", "insert", "append", "second stream"]),
    where=st.integers(0, 10**6),
    byte=st.integers(1, 255),
)
def test_damaged_zlib_is_refused_or_reads_as_tensorflow_reads_it(
    tmp_path, kind, where, byte
):
    """Never a record TensorFlow would not give, nor one it would give left out.

    TensorFlow's ZLIB reader stops at the end of the first stream and passes a
    stream cut short; classgate refuses both, since what they hold is not what a
    trainer reads.
    """
    stream = zlib.compress(plain_tfrecord(examples(20)))
    path = tmp_path / "damaged"
    path.write_bytes(damaged(stream, kind, where, byte, more=stream))
    try:
        read = list(tfrecord.read_records(str(path)))
    except errors.InputError as e:
        assert str(e).startswith(f"{path}: ")
        return
    assert read == read_with_tensorflow(
        path, tfrecord.tensorflow_compression(str(path))
    )


@settings(QUICK, max_examples=60)
@given(
    kind=st.sampled_from(
        ["flip", "truncate", "insert", "append", "zeros", "second member"]
    ),
    where=st.integers(0, 10**6),
    byte=st.integers(1, 255),
)
def test_damaged_gzip_is_refused_or_reads_as_tensorflow_reads_it(
    tmp_path, kind, where, byte
):
    """Never a record TensorFlow's GZIP reader would not give, nor one it would
    give left out, by the reader or the compiled scan; and what TensorFlow fails
    on (zero padding after the last member, say) is refused."""
    member = gzip.compress(plain_tfrecord(examples(20)), mtime=0)
    second = gzip.compress(plain_tfrecord(examples(3)), mtime=0)
    path = tmp_path / "damaged.gz"
    path.write_bytes(damaged(member, kind, where, byte, more=second))
    import tensorflow as tf

    try:
        trained = read_with_tensorflow(path, "GZIP")
    except tf.errors.OpError:  # a trainer's input pipeline fails on it
        trained = None
    try:
        read = list(tfrecord.read_records(str(path)))
        scanned = [
            label
            for batch in tfrecord.scan_batches(str(path), ("label",), 7)
            for label in batch.column("label").to_pylist()
        ]
    except errors.InputError as e:
        assert str(e).startswith(f"{path}: ")
        # Refused where TensorFlow reads: only a file cut short, by choice
        cut = kind == "truncate" or "before the end of the gzip member" in str(e)
        assert trained is None or cut
        return
    assert read == trained
    labels = [[i] for i in range(20)] + [[i] for i in range(3)]
    assert scanned == labels[: len(read)]


def test_zlib_after_the_end_of_the_stream_is_refused(tmp_path):
    path = tmp_path / "joined.tfrecord"
    one = zlib.compress(plain_tfrecord(examples(3)))
    path.write_bytes(one + one)  # TensorFlow reads 3 records, not 6
    assert len(read_with_tensorflow(path, "ZLIB")) == 3
    with pytest.raises(errors.InputError, match="after the end of the zlib stream"):
        list(tfrecord.read_records(str(path)))


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (b"\x78\x9c", compression.ZLIB),  # zlib's default
        (b"\x78\x01", compression.ZLIB),  # level 1
        (b"\x78\xda", compression.ZLIB),  # level 9
        (b"\x28\x15", compression.ZLIB),  # a 1 KiB window (TF's window_bits=10)
        (b"\x78\x9d", compression.UNCOMPRESSED),  # header check fails
        (b"\x78\xbb", compression.UNCOMPRESSED),  # a preset dictionary
        (b"\x88\x98", compression.UNCOMPRESSED),  # a 64 KiB window: no such zlib
        (b"\x77\x09", compression.UNCOMPRESSED),  # method 7, not deflate
    ],
    ids=lambda value: value.hex() if isinstance(value, bytes) else value,
)
def test_zlib_is_judged_by_its_header(first, expected):
    assert (first[0] * 256 + first[1]) % 31 == 0 or expected != compression.ZLIB
    assert compression.compression_of(first + bytes(10)) == expected


def test_a_valid_first_frame_beats_a_zlib_looking_header():
    """A first record of 0x9c78 bytes: its length reads 78 9c, zlib's header."""
    record = bytes(0x9C78)
    head = plain_tfrecord([record])[: compression.HEAD_SIZE]
    assert head[:2] == b"\x78\x9c"
    assert compression.compression_of(head) == compression.UNCOMPRESSED


def test_a_zlib_file_named_gz_is_a_mismatch_and_not_named_gz_is_not():
    """TensorFlow's GZIP reader fails on zlib; a zlib file is read as 'ZLIB'."""
    notes = {
        "a.tfrecord.gz": {"compression": "zlib"},
        "b.tfrecord": {"compression": "zlib"},
        "c.tfrecord.zlib": {"compression": "zlib"},
        "d.tfrecord.gz": {"compression": "gzip"},
    }
    (mismatch,) = file_checks.check_compression("train", "tfrecord", notes)
    assert mismatch.details["files"] == ["a.tfrecord.gz"]
    assert "zlib-compressed" in mismatch.message


# Empty shards ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x.tfrecord.gz", "x.tfrecord", "x.tfrecord.gzip"])
def test_an_empty_file_is_zero_records_whatever_its_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    decode = tfrecord.DecodeTFRecordFile()
    decode.setup()
    (note,) = decode.process((str(path), 0))
    assert note.value == (str(path), {"compression": "empty", "features": []})
    notes = {str(path): note.value[1]}
    assert file_checks.check_compression("train", "tfrecord", notes) == []
    # TensorFlow reads it as zero records, whatever compression it is told.
    for told in ("GZIP", "ZLIB", tfrecord.tensorflow_compression(str(path))):
        assert read_with_tensorflow(path, told) == []


# Lengths are bounded before anything is allocated ---------------------------------


READERS = {
    "python": tfrecord.read_records,
    "compiled": lambda path: tfrecord.scan_batches(path, ("label",), 4),
}


@QUICK
@given(
    length=st.integers(1001, (1 << 64) - 1),
    packing=st.sampled_from(["none", "gzip", "zlib"]),
    reader=st.sampled_from(sorted(READERS)),
)
@example(length=1 << 40, packing="none", reader="python")
@example(length=tfrecord.MAX_RECORD, packing="none", reader="python")
@example(length=tfrecord.MAX_RECORD, packing="none", reader="compiled")
@example(length=tfrecord.MAX_RECORD + 1, packing="zlib", reader="python")
@example(length=1 << 30, packing="gzip", reader="python")
@example(length=1 << 30, packing="gzip", reader="compiled")
def test_a_length_with_a_valid_checksum_never_allocates_what_it_claims(
    tmp_path, length, packing, reader
):
    """Record 1 claims `length` bytes (its header checksum valid); 1000 follow.

    Over protobuf's 2 GiB limit it is no tf.Example; within it, the bytes run out:
    truncated. Either way the reader holds no more than a few chunks: the Python
    reader and the compiled scan alike.
    """
    body = frame(b"") + frame(b"x" * 1000, length)[:-4]  # an empty tf.Example first
    packed = {"none": bytes, "gzip": gzip.compress, "zlib": zlib.compress}[packing]
    path = tmp_path / "lying"
    path.write_bytes(packed(body))
    problem = (
        "over protobuf's 2 GiB message limit"
        if length > tfrecord.MAX_RECORD
        else "truncated record"
    )
    if reader == "compiled":
        wire.warm_up()  # its kernels are loaded once per process, not per file
    tracemalloc.start()
    try:
        with pytest.raises(errors.InputError, match=rf"lying: record 1: .*{problem}"):
            list(READERS[reader](str(path)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * tfrecord.CHUNK_SIZE


@pytest.mark.slow
@pytest.mark.parametrize("mode", [[], ["--labels-only"]], ids=["full", "labels-only"])
def test_zlib_gzip_and_empty_shards_pass_strict(ws, mode):
    """What TensorFlow writes and reads, named as its users name it: no warning."""
    import tensorflow as tf

    folder = ws.root / "data"
    folder.mkdir()
    records = examples(40)
    options = tf.io.TFRecordOptions(compression_type="ZLIB")
    with tf.io.TFRecordWriter(str(folder / "a.tfrecord"), options=options) as writer:
        for record in records[:25]:
            writer.write(record)
    tfrecord.write_records(str(folder / "b.tfrecord.gz"), records[25:])
    (folder / "c.tfrecord.gz").write_bytes(b"")  # an empty shard, as gzip names it
    config = ws.model(40, num_sampled=5, max_unseen_fraction=1.0, sampler="uniform")
    code, report = ws.validate(
        "--data", f"{folder}/*", "--model-config", config, "--strict", *mode
    )
    assert code == 0, report and report["anomalies"]
    assert report["labels"]["train"]["label"]["examples"] == 40


# Damage, compression and value types as the job's reader meets them --------------


def write_examples(path, columns: dict, compress=False) -> str:
    """A TFRecord file of tf.Examples with the given (list) columns."""
    batch = pa.RecordBatch.from_arrays(list(columns.values()), list(columns))
    records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    tfrecord.write_records(str(path), records, compress=compress)
    return str(path)


def _valid() -> bytes:
    return plain_tfrecord(examples(2))


DAMAGE = {
    "crc": ("crc.tfrecord", lambda: _flipped(_valid(), 14), ["record 0", "checksum"]),
    "truncated": ("cut.tfrecord", lambda: _valid()[:-5], ["record 1", "truncated"]),
    "truncated gzip": ("cut.tfrecord.gz", lambda: gzip.compress(_valid())[:-12], []),
    "not a tfrecord": (
        "text.tfrecord.gz",
        lambda: b"this is not a tfrecord file at all\n" * 3,
        ["not a TFRecord"],
    ),
    "not examples": (
        "junk.tfrecord",
        lambda: plain_tfrecord([b"\xff\xff\xff junk"]),
        ["not tf.Examples"],
    ),
}


def _flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


@pytest.mark.parametrize("case", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_file_is_one_line_naming_it_and_the_record(tmp_path, case):
    """What a worker raises, and cli.main prints as the one line of exit 2."""
    import builders

    name, content, needles = case
    path = tmp_path / name
    path.write_bytes(content())
    with pytest.raises(errors.InputError) as raised:
        builders.read_files([path])
    message = raised.value.message
    assert message.startswith(str(path)) and "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_a_plain_tfrecord_named_gz_is_read_by_content_and_named(tmp_path):
    import builders

    path = write_examples(
        tmp_path / "plain.tfrecord.gz", {"label": pa.array([[0], [1]])}
    )
    model = builders.model(num_classes=2, num_sampled=1)
    found = builders.evaluate_files([model], {"train": [path]})
    (mismatch,) = [a for a in found if a.code == "COMPRESSION_NAME_MISMATCH"]
    assert mismatch.severity == "WARNING" and path in mismatch.message
    assert not [a for a in found if a.severity == "ERROR"]


def test_a_first_record_of_0x8b1f_bytes_is_not_taken_for_gzip(tmp_path):
    """Its length field opens with 1f 8b, gzip's magic number."""
    import builders

    target = 0x8B1F
    encoder = example_coder.RecordBatchToExamplesEncoder()
    pad = target
    for _ in range(3):  # the padding's own length prefix changes the total a bit
        batch = pa.RecordBatch.from_arrays(
            [pa.array([[1]]), pa.array([[b"x" * pad]], pa.list_(pa.binary()))],
            ["label", "pad"],
        )
        (record,) = encoder.encode(batch)
        pad += target - len(record)
    assert len(record) == target
    path = tmp_path / "odd.tfrecord"
    tfrecord.write_records(str(path), [record] * 3, compress=False)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    batches, notes = builders.read_files([path])
    assert sum(b.records.num_rows for b in batches) == 3
    assert notes[str(path)]["compression"] == compression.UNCOMPRESSED
    found = builders.evaluate_files(
        [builders.model(num_classes=2, max_unseen_fraction=1.0)], {"train": [path]}
    )
    assert "COMPRESSION_NAME_MISMATCH" not in {a.code for a in found}


def test_tf_example_value_lists_are_judged_by_their_type(tmp_path):
    """A float_list label and a bytes_list context feature are read as such, and
    refused for what the trainer would do with them (a float label is cast, bytes
    are no ids), where an int64_list would pass."""
    import builders

    model = builders.model(
        num_classes=4, context_feature="context", context_vocab_size=10
    )
    labels = pa.array([[0.0], [1.0], [2.0], [3.0]], pa.list_(pa.float32()))
    context = pa.array([[b"a"], [b"b"], [b"c"], [b"d"]], pa.list_(pa.binary()))
    path = write_examples(
        tmp_path / "t.tfrecord", {"label": labels, "context": context}
    )
    found = builders.evaluate_files([model], {"train": [path]})
    errors_found = {a.code: a for a in found if a.severity == "ERROR"}
    assert "float_list" in errors_found["LABEL_TYPE_INVALID"].message
    assert "ID_TYPE_INVALID" in errors_found
    ints = write_examples(
        tmp_path / "i.tfrecord",
        {"label": pa.array([[0], [1], [2], [3]]), "context": pa.array([[1]] * 4)},
    )
    found = builders.evaluate_files([model], {"train": [ints]})
    assert not [a.code for a in found if a.severity == "ERROR"]


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(["flip", "truncate", "insert", "cut-at-record"]),
    where=st.integers(0, 10**6),
    byte=st.integers(1, 255),
    compress=st.booleans(),
)
def test_any_damage_is_refused_or_read_as_tensorflow_reads_it(
    tmp_path_factory, kind, where, byte, compress
):
    """Plain or gzip, flipped, cut or stretched anywhere: one line naming the file,
    or exactly the examples (and label figures) TensorFlow's own reader reads."""
    import builders
    import numpy as np
    import tensorflow as tf

    path = tmp_path_factory.mktemp("tfr") / ("d.tfrecord.gz" if compress else "d")
    batch = pa.RecordBatch.from_arrays(
        [pa.array([[i % 4] for i in range(30)])], ["label"]
    )
    records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    tfrecord.write_records(str(path), records, compress=compress)
    data = path.read_bytes()
    if kind != "cut-at-record":
        data = damaged(data, kind, where, byte, b"")
    elif not compress:  # cut at a record boundary: a shorter, valid file
        kept = where % 30
        data = data[: 16 * kept + sum(len(r) for r in records[:kept])]
    path.write_bytes(data)
    model = builders.model(num_classes=4)
    try:
        found = builders.results_of_files([model], {"train": [path]})
    except errors.InputError as e:
        assert e.message.startswith(str(path)) and "\n" not in e.message
        return
    compression_type = tfrecord.tensorflow_compression(str(path))
    read = [
        tf.train.Example.FromString(r.numpy())
        .features.feature["label"]
        .int64_list.value[0]
        for r in tf.data.TFRecordDataset(str(path), compression_type)
    ]
    stats = found.label(model, "train")
    assert stats.examples == len(read)
    ids, counts = stats.class_counts.pairs()
    expected = np.bincount(read, minlength=4)
    assert dict(zip(ids.tolist(), counts.tolist(), strict=True)) == {
        i: int(n) for i, n in enumerate(expected) if n
    }


def read_ahead_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "classgate-read-ahead"]


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("end", ["read whole", "closed early", "damaged"])
def test_the_read_ahead_thread_ends_with_the_scan(tmp_path, monkeypatch, compress, end):
    """However the compiled scan ends, its reading thread has ended with it.

    Pieces of 64 bytes: the thread is READ_AHEAD pieces ahead, waiting for room,
    when the scan stops after its first batch.
    """
    wire.warm_up()
    labels = pa.array([[i] for i in range(300)], pa.list_(pa.int64()))
    path = write_examples(tmp_path / "d", {"label": labels}, compress=compress)
    if end == "damaged":
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0x10
        open(path, "wb").write(bytes(data))
    monkeypatch.setattr(tfrecord, "CHUNK_SIZE", 64)
    scan = tfrecord.scan_batches(path, ("label",), 8)
    if end == "read whole":
        assert sum(b.num_rows for b in scan) == 300
    elif end == "closed early":
        assert next(scan).num_rows == 8
        scan.close()
    else:
        with pytest.raises(errors.InputError, match=r"d: .*record"):
            list(scan)
    assert read_ahead_threads() == []
