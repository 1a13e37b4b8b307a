import gzip

import apache_beam as beam
import pyarrow as pa
import pytest
from tfx_bsl.coders import example_coder

from classgate import errors
from classgate.io import compression, tfrecord


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
    assert found[-1].value == (path, {"compression": compression.GZIP})
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
