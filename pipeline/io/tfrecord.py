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
from collections.abc import Iterator

import apache_beam as beam
import google_crc32c
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline import errors, progress
from pipeline.stats import label

GZIP_MAGIC = b"\x1f\x8b"
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
    compression = (
        CompressionTypes.GZIP if is_gzip(path) else CompressionTypes.UNCOMPRESSED
    )
    index = 0
    try:
        with FileSystems.open(path, compression_type=compression) as f:
            while True:
                header = f.read(_HEADER.size)
                if not header:
                    return
                if len(header) < _HEADER.size:
                    raise _damaged(path, index, "truncated record header")
                length, length_crc = _HEADER.unpack(header)
                if _masked_crc(header[:8]) != length_crc:
                    raise _damaged(path, index, "bad length checksum (not a TFRecord?)")
                body = f.read(length + _CRC.size)
                if len(body) < length + _CRC.size:
                    raise _damaged(path, index, "truncated record")
                data = body[:length]
                if _masked_crc(data) != _CRC.unpack(body[length:])[0]:
                    raise _damaged(path, index, "bad data checksum")
                yield data
                index += 1
    except errors.InputError:
        raise
    except (OSError, EOFError, gzip.BadGzipFile, ValueError) as e:
        raise _damaged(path, index, f"cannot read: {e}") from e


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
        pending, first = [], 0
        for record in read_records(path):
            pending.append(record)
            if len(pending) == self._batch_size:
                yield self._decode(path, first, pending)
                first += len(pending)
                pending = []
        if pending:
            yield self._decode(path, first, pending)
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
