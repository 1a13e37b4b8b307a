"""TFRecord files of tf.Example: framing, CRC checks, and decoding to Arrow batches.

Each file is read whole by one worker, in order, so every row knows its record index
within the file: that is what lets a report point at "shard 3, record 1041". Files
are the unit of parallelism (datasets come sharded). Compression is detected from the
file's first bytes, not its name: gzip's magic number marks gzip whatever the suffix;
anything else is read as uncompressed TFRecord. Decoding uses tfx_bsl's
tf.Example -> Arrow decoder, which does not import TensorFlow.
"""

import gzip
import struct
import zlib
from collections.abc import Iterator

import apache_beam as beam
import google_crc32c
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline import errors, progress
from pipeline.stats import label

GZIP_MAGIC = b"\x1f\x8b"
# Bytes read from the (decompressed) stream at a time: large enough that Python's
# per-read cost vanishes, small enough to stay flat in memory whatever the file size.
CHUNK_SIZE = 8 << 20
# Rows per decoded batch: large enough for numpy to pay off, small enough to keep
# a worker's memory flat.
BATCH_SIZE = 4096
_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def is_gzip(path: str) -> bool:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read(2) == GZIP_MAGIC


def read_records(path: str) -> Iterator[bytes]:
    """Yields each record's bytes; raises InputError on any damage, naming the file."""
    for batch in read_batches(path, BATCH_SIZE):
        yield from batch


def read_batches(path: str, batch_size: int) -> Iterator[list[bytes]]:
    """Yields lists of up to batch_size records, CRC-checked, in file order.

    The file is read in CHUNK_SIZE pieces and the frames are cut out of each piece:
    one stream read per chunk rather than two per record, and the per-record loop
    kept to a few C calls, is what keeps Python's share of the work small.
    """
    crc, header, footer = google_crc32c.value, _HEADER.unpack_from, _CRC.unpack_from
    index = 0
    try:
        with FileSystems.open(
            path, compression_type=CompressionTypes.UNCOMPRESSED
        ) as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            data, at, size, batch = b"", 0, 0, []
            while True:
                if size - at < 12:
                    data, at = data[at:], 0
                    while len(data) < 12:  # a stream may return short reads
                        more = stream.read(CHUNK_SIZE)
                        if not more:
                            break
                        data += more
                    size = len(data)
                    if not size:
                        break
                    if size < 12:
                        raise _damaged(path, index, "truncated record header")
                length, expected = header(data, at)
                c = crc(data[at : at + 8])
                if (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF != expected:
                    raise _damaged(path, index, "bad length checksum (not a TFRecord?)")
                end = at + 16 + length
                while size < end:
                    more = stream.read(max(CHUNK_SIZE, end - size))
                    if not more:
                        raise _damaged(path, index, "truncated record")
                    data, end, at = data[at:] + more, end - at, 0
                    size = len(data)
                record = data[at + 12 : end - 4]
                c = crc(record)
                expected = footer(data, end - 4)[0]
                if (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF != expected:
                    raise _damaged(path, index, "bad data checksum")
                batch.append(record)
                if len(batch) == batch_size:
                    yield batch
                    batch = []
                at = end
                index += 1
            if batch:
                yield batch
    except errors.InputError:
        raise
    except (OSError, EOFError, gzip.BadGzipFile, ValueError, zlib.error) as e:
        raise errors.InputError(f"{path}: cannot read past record {index}: {e}") from e


def write_records(path: str, records, compress: bool = True) -> None:
    """Writes records as a TFRecord file (gzip when `compress`), as TensorFlow would."""
    compression = CompressionTypes.GZIP if compress else CompressionTypes.UNCOMPRESSED
    with FileSystems.create(path, compression_type=compression) as f:
        for record in records:
            header = struct.pack("<Q", len(record))
            f.write(header + _CRC.pack(_masked_crc(header)))
            f.write(record + _CRC.pack(_masked_crc(record)))


def _damaged(path: str, index: int, problem: str) -> errors.InputError:
    return errors.InputError(f"{path}: record {index}: {problem}")


class DecodeTFRecordFile(beam.DoFn):
    """A (path, size) -> `LocatedBatch`es of the file's tf.Examples, in file order."""

    def __init__(self, batch_size: int = BATCH_SIZE):
        self._batch_size = batch_size

    def setup(self):
        from tfx_bsl.coders import example_coder

        self._decoder = example_coder.ExamplesToRecordBatchDecoder()
        self._progress = progress.Reader()

    def process(self, element: tuple[str, int]):
        path, size = element
        first = 0
        for records in read_batches(path, self._batch_size):
            yield self._decode(path, first, records)
            first += len(records)
        self._progress.file_done(size)

    def _decode(self, path, first, records):
        try:
            batch = self._decoder.DecodeBatch(records)
        except Exception as e:  # tfx_bsl raises plain RuntimeErrors on bad protos.
            raise errors.InputError(
                f"{path}: records {first}..{first + len(records) - 1} are not "
                f"tf.Examples: {str(e).splitlines()[0]}"
            ) from e
        self._progress.examples(batch.num_rows)
        return label.LocatedBatch(path, first, batch)
