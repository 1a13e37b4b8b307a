"""TFRecord files of tf.Example: framing, CRC checks, and decoding to Arrow batches.

Each file is read whole by one worker, in order, so every row knows its record index
within the file: that is what lets a report point at "shard 3, record 1041". Files
are the unit of parallelism (datasets come sharded). Compression is judged from the
file's first bytes, not its name (`compression_of`): a first frame whose length
checksum holds is uncompressed TFRecord, whatever the bytes look like; otherwise a
whole gzip header is gzip and a valid zlib header is zlib (TFRecordOptions'
'ZLIB'); a zero-byte file is zero records. Every stream is read in bounded chunks,
and a record's length is bounded before anything is allocated for it. The readers
say what they found per file, so the driver can warn where name and bytes disagree.
Decoding uses tfx_bsl's tf.Example -> Arrow decoder, which does not import
TensorFlow. The compiled scan of `wire` (`scan_batches`, chosen by CLASSGATE_SCAN)
reads the named features alone: in labels-only mode that is all that is read; in
full mode it also frames and checks the records that tfx_bsl then decodes whole,
and its columns must agree with tfx_bsl's.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import queue
import struct
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import apache_beam as beam
import google_crc32c
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from isal import isal_zlib

from classgate import errors
from classgate.io import batches, compression, files, kernel_files, progress

if TYPE_CHECKING:  # numba's import is paid where the compiled scan runs
    from classgate.io import wire

# Bytes read from the (decompressed) stream at a time: large enough that Python's
# per-read cost vanishes, small enough to stay flat in memory whatever the file size
# and in the CPU's cache while the compiled scan walks them (uncompressed, 1M bench
# records: 235 ns a record in 8 MiB pieces, 163 ns in 1 MiB).
CHUNK_SIZE = 1 << 20
# Rows per decoded batch: large enough for numpy to pay off, small enough to keep
# a worker's memory flat.
BATCH_SIZE = 4096
# Decoded batches per batch of the labels-only scan, whose rows hold the named
# features alone: Python's cost per batch then falls by a third (scan and tally of
# 4M uncompressed records, one process: CPU 1.0 s in batches of 4,096, 0.7 s in
# 16,384), and by a sixteenth again in 65,536 (16M: 82 against 88 ns an
# example, scan and tally, medians of 5). A file the scan leaves is decoded whole
# in batches of BATCH_SIZE.
SCAN_BATCHES = 16
# Window bits of gzip (a header and a trailer) and zlib streams, as TensorFlow's
# reader inflates them; and the compressed bytes read at a time, which inflate to
# a few MiB: larger pieces were slower (each capped call copies what is left).
_GZIP_BITS, _ZLIB_BITS = 16 + 15, 15
_INFLATE_INPUT = 256 << 10
# Batches framed ahead of the one being decoded: enough to keep both busy.
DECODE_AHEAD = 2
# The compiled scan's pieces of CHUNK_SIZE read (and inflated) ahead of the one it
# walks, on a thread of their own (`_ReadAhead`); and the room before each piece
# for the end of the one before (a record cut in two): one longer is joined.
READ_AHEAD = 2
_KEPT_ROOM = 64 << 10
# The one switch between the two readers (docs/guide/validate.md).
SCAN_ENV = "CLASSGATE_SCAN"
SCAN_AUTO, SCAN_COMPILED, SCAN_PYTHON = "auto", "compiled", "python"
# auto: the compiled scan for a split of at least this many listed bytes. Loading
# numba and the kernels' cache file costs about 0.13 s a process (wire.kernels),
# which the scan repays at about 1 us an example: the two readers ran alike on the
# taxi gate's 436 KB and the compiled one ahead from 3.6 MB (250k examples) on
# (2026-12-06).
COMPILED_FROM_BYTES = 1 << 20
# auto, where the kernels are not compiled yet (no cache file for this install and
# CPU: a new virtual environment, a CI runner's fresh one): the compiled scan only
# from this many listed bytes, about where the scan repays its first compile
# (25-37 s here) within the run. The Python reader costs about 1.1 us an example
# more, 76 ns a byte of the bench's gzip shards and 15 ns a byte uncompressed
# (2026-12-07): 0.5 and 2.5 GB.
COMPILE_FROM_BYTES = 1 << 30
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
# A tf.Example is a protobuf message, and protobuf refuses messages of 2 GiB or
# more: a longer record cannot be one, and its length is never followed.
MAX_RECORD = (1 << 31) - 1


def compression_of_file(path: str) -> str:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return compression.compression_of(f.read(compression.HEAD_SIZE))


def is_gzip(path: str) -> bool:
    return compression_of_file(path) == compression.GZIP


def tensorflow_compression(path: str) -> str:
    """The compression_type TensorFlow's TFRecord readers need for this file."""
    return compression.TENSORFLOW_TYPE[compression_of_file(path)]


def read_records(path: str) -> Iterator[bytes]:
    """Yields each record's bytes; raises InputError on any damage, naming the file."""
    for batch in read_batches(path, BATCH_SIZE):
        yield from batch


def read_batches(
    path: str, batch_size: int, found: list | None = None
) -> Iterator[list[bytes]]:
    """Yields lists of up to batch_size records, CRC-checked, in file order.

    The file is read into one buffer (`_Window`; the compiled scan's reads ahead)
    and the frames are cut out of it by a loop of a few C calls per record; the
    checksums of the frames read are compared all at once, in numpy, before the
    buffer moves on or a batch leaves. A length is trusted before its check only
    while it points inside the bytes at hand, so a damaged header never sends the
    reader after bytes it does not have; a checked length over MAX_RECORD is
    refused, and the buffer grows only as a longer record's bytes arrive, so
    memory follows the bytes the file holds, never the length it claims. The
    compression judged is appended to `found`, when given.
    """
    crc, length_of = google_crc32c.value, _LENGTH.unpack_from
    index = 0  # of the record at `at`
    try:
        with _records_stream(path, found) as stream:
            if stream is None:  # an empty file: no records
                return
            # `data`: the window's bytes, copied once as bytes, whose slices (the
            # records) and struct reads cost less per record than a view's.
            window, at, batch, data = _Window(stream), 0, [], b""
            starts, crcs = [], []  # of the frames cut from `data`, not yet checked
            while True:
                if window.size - at < 12:
                    _check_frames(path, data, starts, crcs, index)
                    starts, crcs = [], []
                    window.more(at, 12)
                    at, data = 0, bytes(window.data())
                    if not window.size:
                        break
                    if window.size < 12:
                        raise _damaged(path, index, "truncated record header")
                length = length_of(data, at)[0]
                end = at + 16 + length
                if end > window.size:  # the length leads out of the window: check it
                    _check_frames(path, data, starts, crcs, index)
                    _check_frames(path, data, [at], None, index + 1)
                    starts, crcs = [], []
                    if length > MAX_RECORD:
                        raise _too_long(path, index, length)
                    window.more(at, end - at)
                    end, at, data = end - at, 0, bytes(window.data())
                    if window.size < end:
                        raise _damaged(path, index, "truncated record")
                record = data[at + 12 : end - 4]
                batch.append(record)
                starts.append(at)
                crcs.append(crc(record))
                at = end
                index += 1
                if len(batch) == batch_size:
                    _check_frames(path, data, starts, crcs, index)
                    starts, crcs = [], []
                    yield batch
                    batch = []
            if batch:
                yield batch
    except errors.InputError:
        raise
    except (OSError, EOFError, ValueError, isal_zlib.error) as e:
        raise errors.InputError(f"{path}: cannot read past record {index}: {e}") from e


@dataclasses.dataclass(frozen=True)
class Framed:
    """A batch the compiled scan framed, to decode whole.

    Its named features' columns and its records' bytes; its length is its
    number of records.
    """

    columns: pa.RecordBatch
    records: list[bytes]

    def __len__(self) -> int:
        return len(self.records)


def scan_batches(
    path: str,
    features: tuple[str, ...],
    batch_size: int,
    found: list | None = None,
    names: set | None = None,
    records: bool = False,
    left_size: int | None = None,
    scanned: bool = False,
) -> Iterator["pa.RecordBatch | wire.Scanned | list[bytes] | Framed"]:
    """Batches of up to batch_size records: Arrow columns of `features` alone.

    The compiled scan (`wire.Scanner`) frames, checks and walks the decompressed
    bytes CHUNK_SIZE at a time, read (and inflated) ahead on a thread of their
    own (`_ReadAhead`), and gives the columns tfx_bsl's decoder would give
    for `features`. Damage is named as `read_batches` names it. From the first
    batch holding a record the scan leaves (see `wire`) on, the file is read again
    by `read_batches`, whose batches (lists of record bytes of `left_size`, a
    divisor of batch_size, by default batch_size itself) go to tfx_bsl as before:
    it names what is wrong with them. With `records`
    (full mode), each batch of columns comes with its records' bytes, as a
    `Framed`. With `scanned` (and not `records`), each batch comes as the
    scan left it, a `wire.Scanned`: whoever takes it makes its columns
    (`record_batch`), on its own thread. The compression judged is appended to
    `found`, and the feature names met added to `names`, when given.
    """
    from classgate.io import wire

    left_size = left_size or batch_size
    if batch_size % left_size:  # the batches skipped below are counted in it
        raise ValueError(f"left_size {left_size} does not divide {batch_size}")
    length_of = _LENGTH.unpack_from
    scanner = wire.Scanner(features, batch_size)
    done = 0  # records in the batches yielded
    left = False
    try:
        with contextlib.ExitStack() as stack:
            stream = stack.enter_context(_records_stream(path, found))
            if stream is None:  # an empty file: no records
                return
            window = stack.enter_context(_ReadAhead(stream))
            at, framed = 0, []
            while not left:
                data = window.data()
                buf = np.frombuffer(data, dtype=np.uint8)
                first = scanner.rows
                at, why, detail = scanner.scan(buf, at)
                left = scanner.left(first)
                if left:
                    break
                if records:
                    spans = zip(
                        scanner.starts[first : scanner.rows].tolist(),
                        scanner.ends[first : scanner.rows].tolist(),
                        strict=True,
                    )
                    framed += [bytes(data[start:end]) for start, end in spans]
                if why == wire.DAMAGED:
                    index = done + scanner.rows
                    if detail == wire.TOO_LONG:
                        raise _too_long(path, index, length_of(data, at)[0])
                    problem = _PROBLEMS[detail == wire.BAD_LENGTH_CRC]
                    raise _damaged(path, index, problem)
                if why == wire.NEED_BYTES:
                    window.more(at, detail)
                    at = 0
                    if window.size >= detail:
                        continue
                    if window.size:  # the stream ended inside a frame
                        part = "record header" if detail == 12 else "record"
                        raise _damaged(path, done + scanner.rows, f"truncated {part}")
                    if not scanner.rows:
                        break
                batch = scanner.finish()
                if not batch.one_kind():  # a feature of two kinds: tfx_bsl says so
                    left = True
                    break
                if records:
                    yield Framed(record_batch(batch), framed)
                else:
                    yield batch if scanned else record_batch(batch)
                framed = []
                done += batch.num_rows
                if why == wire.NEED_BYTES:
                    break  # the end of the stream
    except errors.InputError:
        raise
    except (OSError, EOFError, ValueError, isal_zlib.error) as e:
        where = done + scanner.rows
        raise errors.InputError(f"{path}: cannot read past record {where}: {e}") from e
    if names is not None:
        names.update(scanner.keys)
    if left:
        skipped = done // left_size  # every batch yielded was full
        for number, records in enumerate(read_batches(path, left_size)):
            if number >= skipped:
                yield records


@contextlib.contextmanager
def _records_stream(path: str, found: list | None):
    """The file's decompressed bytes; None for an empty file.

    The compression is judged from the first bytes, and appended to `found` when
    given.
    """
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
        judged = compression.compression_of(raw.read(compression.HEAD_SIZE))
        if found is not None:
            found.append(judged)
        if judged == compression.EMPTY:
            yield None
            return
        raw.seek(0)
        yield _decompressed(raw, judged)


class _Window:
    """A stream's bytes, read into one buffer that is reused from read to read.

    The Python reader reads through it (`read_batches`); the compiled scan reads
    ahead through `_ReadAhead`, which gives the same. `data` is the
    bytes read and kept; `more` keeps those from `at` on (moved to the front) and
    reads after them until `needed` bytes are there or the stream ends. Read in
    place, each byte is copied once: joining what is kept to each new piece of
    CHUNK_SIZE cost about 30 ns an example, uncompressed. The buffer grows,
    doubling, only as bytes arrive: a length that claims more than the stream
    holds costs only the bytes that are there.
    """

    def __init__(self, stream):
        self._stream = stream
        self._buffer = bytearray(CHUNK_SIZE)
        self.size = 0

    def data(self) -> memoryview:
        return memoryview(self._buffer)[: self.size]

    def more(self, at: int, needed: int) -> None:
        kept = self.size - at
        if at:  # at 0 (a record longer than the buffer) nothing moves
            self._buffer[:kept] = self._buffer[at : self.size]
        self.size = kept
        while self.size < needed:
            if self.size == len(self._buffer):  # a new one: views hold the old
                grown = bytearray(2 * len(self._buffer))
                grown[: self.size] = self._buffer
                self._buffer = grown
            read = _read_into(self._stream, memoryview(self._buffer)[self.size :])
            if not read:
                return
            self.size += read


def _read_into(stream, free: memoryview) -> int:
    """One read of `stream` into `free`: how many bytes it gave (0: its end)."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return readinto(free) or 0
    more = stream.read(len(free))  # a reader that only reads (_Inflated)
    free[: len(more)] = more
    return len(more)


class _ReadAhead:
    """A stream's bytes as `_Window` gives them, read on a thread of their own.

    The compiled scan's window: the thread reads (and inflates) the stream a piece
    of CHUNK_SIZE at a time, up to READ_AHEAD pieces ahead, while the scan walks
    the piece before, so reading no longer waits on walking, nor walking on
    reading. Each piece is a new array, never reused: a view of an old one stays
    valid. `more` puts the bytes kept from the piece before (the start of a record
    cut in two) in the room before the next piece, or joins them to the pieces
    after where they do not fit or more are needed. What the thread raises is
    raised by `more`, where the piece it could not read was due. As a context
    manager it stops the thread on leaving, before the stream is closed.
    """

    def __init__(self, stream):
        self._stream = stream
        self._pieces = queue.Queue(READ_AHEAD)
        self._stop = threading.Event()
        self._data = np.empty(0, np.uint8)
        self.size = 0
        self._ended = False
        self._reader = threading.Thread(
            target=self._read, name="classgate-read-ahead", daemon=True
        )

    def __enter__(self) -> "_ReadAhead":
        self._reader.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        while self._reader.is_alive():  # a put waiting for room gets it
            with contextlib.suppress(queue.Empty):
                self._pieces.get(timeout=0.01)

    def data(self) -> memoryview:
        return memoryview(self._data)[: self.size]

    def more(self, at: int, needed: int) -> None:
        kept = self._data[at : self.size]
        parts, size = [kept], len(kept)
        while size < needed and not self._ended:
            piece, read = self._next()
            if not read:
                break
            parts.append(piece[_KEPT_ROOM : _KEPT_ROOM + read])
            size += read
        if len(parts) == 2 and len(kept) <= _KEPT_ROOM:
            start = _KEPT_ROOM - len(kept)
            piece[start:_KEPT_ROOM] = kept
            self._data = piece[start : _KEPT_ROOM + read]
        elif len(parts) > 1:
            self._data = np.concatenate(parts)
        else:
            self._data = kept
        self.size = size

    def _next(self) -> tuple[np.ndarray, int]:
        got = self._pieces.get()
        if isinstance(got, BaseException):
            self._ended = True
            raise got
        piece, read = got
        self._ended = read < CHUNK_SIZE
        return piece, read

    def _read(self) -> None:
        try:
            while not self._stop.is_set():
                piece = np.empty(_KEPT_ROOM + CHUNK_SIZE, np.uint8)
                read = self._fill(memoryview(piece)[_KEPT_ROOM:])
                self._pieces.put((piece, read))
                if read < CHUNK_SIZE:
                    return
        except BaseException as e:  # noqa: BLE001 -- raised again by `more`
            self._pieces.put(e)

    def _fill(self, free: memoryview) -> int:
        """Reads into `free` until it is full or the stream ends."""
        filled = 0
        while filled < len(free) and (read := _read_into(self._stream, free[filled:])):
            filled += read
        return filled


def record_batch(scanned: "wire.Scanned") -> pa.RecordBatch:
    """The Arrow batch of a batch the compiled scan walked, as tfx_bsl gives it."""
    names, arrays = scanned.columns()
    if arrays:
        return pa.RecordBatch.from_arrays(arrays, names)
    # no column, as tfx_bsl gives it for examples without the features: still rows
    rows = scanned.num_rows
    return pa.RecordBatch.from_struct_array(pa.array([{}] * rows, pa.struct([])))


def _decompressed(raw, judged: str):
    """The TFRecord bytes of `raw`, a file of the compression judged."""
    if judged in (compression.GZIP, compression.ZLIB):
        return _Inflated(raw, gzip=judged == compression.GZIP)
    return raw


class _Inflated:
    """The inflated bytes of a gzip or zlib file over `raw`, never more than asked.

    Inflated by ISA-L (python-isal's `isal_zlib`, zlib's interface at 2.4x its
    speed on TFRecord shards here), stream by stream as TensorFlow's reader
    (ZlibInputStream) takes them:

    - gzip: where a member ends, a new one starts, up to the end of the file. So
      bytes after the last member must be one: zero padding, which Python's gzip
      skips, fails TensorFlow's header check, and is refused here.
    - zlib: one stream. TensorFlow stops at its end and ignores what follows:
      bytes there (a second stream, from files joined end to end) are refused,
      since their records would be validated but never trained on.

    Input that ends inside a member or stream is truncated (EOFError), also where
    TensorFlow would read the records before the cut: a file cut short is not
    the file written.
    """

    def __init__(self, raw, gzip: bool):
        self._raw = raw
        self._gzip = gzip
        self._inflate = isal_zlib.decompressobj(_GZIP_BITS if gzip else _ZLIB_BITS)
        self._input = b""  # compressed bytes read but not yet inflated

    def read(self, size: int) -> bytes:
        while True:
            if self._inflate.eof:
                after = self._inflate.unused_data or self._raw.read(_INFLATE_INPUT)
                if not after:
                    return b""
                if not self._gzip:
                    raise ValueError(
                        "data after the end of the zlib stream, which TensorFlow's "
                        "ZLIB reader ignores (were files joined end to end?)"
                    )
                self._inflate = isal_zlib.decompressobj(_GZIP_BITS)
                self._input = after
            # Output is capped at `size`: a few bytes of input may inflate to
            # gigabytes, never all at once. Called with no input too: the
            # inflater may hold output from input it took before.
            out = self._inflate.decompress(self._input, size)
            self._input = self._inflate.unconsumed_tail
            if out:
                return out
            if not self._input and not self._inflate.eof:
                self._input = self._raw.read(_INFLATE_INPUT)
                if not self._input:
                    kind = "gzip member" if self._gzip else "zlib stream"
                    raise EOFError(
                        f"compressed data ended before the end of the {kind}"
                    )


def _check_frames(path, data: bytes, starts: list, crcs: list | None, end_index):
    """Checks the frames at `starts` in `data`, the last being record end_index - 1.

    The length header's CRC always; the data's against `crcs` (their computed
    CRCs) unless None. Raises for the first bad record, its header before its data.
    """
    if not starts:
        return
    buffer = np.frombuffer(data, dtype=np.uint8)
    at = np.asarray(starts, dtype=np.int64)
    header = buffer[at[:, None] + np.arange(12)].astype(np.uint32)
    c = np.full(len(at), 0xFFFFFFFF, dtype=np.uint32)
    for byte in header[:, :8].T:
        c = _CRC32C_TABLE[(c ^ byte) & 0xFF] ^ (c >> 8)
    bad_header = _masked(c ^ np.uint32(0xFFFFFFFF)) != _uint32(header[:, 8:])
    bad_data = np.zeros(len(at), dtype=bool)
    if crcs is not None:
        good = ~bad_header
        lengths = (header[good, :8].astype(np.uint64) << _SHIFTS64).sum(axis=1)
        footers = at[good] + 12 + lengths.astype(np.int64)
        stored = _uint32(buffer[footers[:, None] + np.arange(4)].astype(np.uint32))
        computed = np.asarray(crcs, dtype=np.uint32)[good]
        bad_data[good] = _masked(computed) != stored
    bad = np.flatnonzero(bad_header | bad_data)
    if bad.size:
        first = int(bad[0])
        problem = _PROBLEMS[bool(bad_header[first])]
        raise _damaged(path, end_index - len(starts) + first, problem)


# A frame's bad checksum, by whether it is its header's (both readers word it so).
_PROBLEMS = {True: "bad length checksum (not a TFRecord?)", False: "bad data checksum"}


def _masked(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC, on uint32 arrays (which wrap as the format's do)."""
    return ((crc >> 15) | (crc << 17)) + np.uint32(_MASK_DELTA)


def _uint32(little_endian: np.ndarray) -> np.ndarray:
    """Rows of 4 bytes (as uint32) -> their little-endian uint32 values."""
    return (little_endian << _SHIFTS32).sum(axis=1, dtype=np.uint32)


def _crc32c_table() -> np.ndarray:
    """CRC-32C (Castagnoli, reflected) byte table, for checking headers in numpy."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1)
    return table.astype(np.uint32)


_CRC32C_TABLE = _crc32c_table()
_SHIFTS32 = np.arange(0, 32, 8, dtype=np.uint32)
_SHIFTS64 = np.arange(0, 64, 8, dtype=np.uint64)


def write_records(path: str, records, compress: bool = True) -> None:
    """Writes records as a TFRecord file (gzip when `compress`), as TensorFlow would."""
    kind = CompressionTypes.GZIP if compress else CompressionTypes.UNCOMPRESSED
    with FileSystems.create(path, compression_type=kind) as f:
        for record in records:
            header = struct.pack("<Q", len(record))
            f.write(header + _CRC.pack(compression.masked_crc(header)))
            f.write(record + _CRC.pack(compression.masked_crc(record)))


def _damaged(path: str, index: int, problem: str) -> errors.InputError:
    return errors.InputError(f"{path}: record {index}: {problem}")


def _too_long(path: str, index: int, length: int) -> errors.InputError:
    return _damaged(
        path,
        index,
        f"length {length} is over protobuf's 2 GiB message limit, so it is no "
        "tf.Example",
    )


def scan_mode() -> str:
    """The reader `CLASSGATE_SCAN` asks for.

    SCAN_COMPILED: `scan_batches`, where numba runs; SCAN_PYTHON: frames cut in
    Python, whole examples decoded by tfx_bsl (in labels-only mode as well);
    SCAN_AUTO (the default): the compiled scan where the data is large enough to
    repay loading it.
    """
    mode = os.environ.get(SCAN_ENV, SCAN_AUTO)
    if mode not in (SCAN_AUTO, SCAN_COMPILED, SCAN_PYTHON):
        raise errors.InputError(
            f"{SCAN_ENV}={mode!r}: expected '{SCAN_AUTO}', '{SCAN_COMPILED}' or "
            f"'{SCAN_PYTHON}'"
        )
    return mode


def compiled_scan_chosen(data_bytes: int | None) -> bool:
    """Whether CLASSGATE_SCAN picks the compiled scan for data of `data_bytes`.

    In auto mode, data of unknown size (None: a DoFn built outside a job) is
    scanned compiled; other data from COMPILED_FROM_BYTES on where the kernels
    are compiled already (`kernel_files.cached`: this machine's, where the job is
    built), else from COMPILE_FROM_BYTES.
    """
    mode = scan_mode()
    if mode == SCAN_AUTO:
        if data_bytes is None or data_bytes >= COMPILE_FROM_BYTES:
            return True
        return data_bytes >= COMPILED_FROM_BYTES and kernel_files.cached()
    return mode == SCAN_COMPILED


def compiled_scan_runs() -> bool:
    """Whether the compiled scan imports and compiles here (numba is optional).

    Its kernels are compiled (or loaded from numba's cache) by scanning one
    record; where that fails, the reader is the Python one, and says why.
    """
    try:
        from classgate.io import wire

        wire.warm_up()
    except Exception as e:  # numba missing, or no compiler for this machine
        logging.warning("classgate: the Python TFRecord reader is used: %s", e)
        return False
    return True


class DecodeTFRecordFile(beam.DoFn):
    """A (path, size) -> `LocatedBatch`es of the file's tf.Examples, in file order.

    With `features` and the compiled scan (`scan_mode` and `compiled_scan_chosen`,
    where the job is built, so workers follow the launching machine), those
    features are read by `scan_batches`. In labels-only mode they are all that is
    read, on a helper thread while the bundle's thread tallies the batches before
    (`_scanned_ahead`). Decoding examples `whole` (full mode, or without
    `features`), the scan (or, without it, Python, which holds the GIL) frames the
    records on the bundle's thread while the helper decodes each batch with
    tfx_bsl, which releases the GIL (`_decoded_ahead`); the scan's columns must
    then be read alike by tfx_bsl (`_check_agreed`), or the run stops as a defect
    of ours. Either way two cores work on one file (with the compiled scan, a
    third thread reads and inflates its bytes ahead), at most DECODE_AHEAD
    batches are in flight, and every batch is still yielded from the bundle's own
    thread, in order.
    """

    def __init__(
        self,
        batch_size: int = BATCH_SIZE,
        features: tuple[str, ...] | None = None,
        data_bytes: int | None = None,
        whole: bool = False,
    ):
        self._batch_size = batch_size
        self._only = tuple(features) if features else None
        self._whole = whole or not self._only
        # data_bytes: the split's listed bytes, for CLASSGATE_SCAN=auto
        self._compiled = bool(self._only) and compiled_scan_chosen(data_bytes)

    def setup(self):
        from tfx_bsl.coders import example_coder

        self._decoder = example_coder.ExamplesToRecordBatchDecoder()
        self._progress = progress.ReadProgress()
        self._scan = self._compiled and compiled_scan_runs()

    def _batches(self, path: str, found: list) -> Iterator:
        """The file's batches: record bytes to decode, or columns the scan gave."""
        if self._scan:
            scan_size = self._batch_size * (1 if self._whole else SCAN_BATCHES)
            return scan_batches(
                path,
                self._only,
                scan_size,
                found,
                self._features,
                records=self._whole,
                left_size=self._batch_size,
                scanned=True,
            )
        return read_batches(path, self._batch_size, found)

    def process(self, element: tuple[str, int]):
        path, size = element
        found = []
        self._features = set()
        with concurrent.futures.ThreadPoolExecutor(1) as helper:
            scanned = self._scan and not self._whole
            ahead = self._scanned_ahead if scanned else self._decoded_ahead
            yield from ahead(path, found, helper)
        self._progress.file_done(size)
        note = {"compression": found[0], "features": files.listed(self._features)}
        yield beam.pvalue.TaggedOutput(files.NOTES, (path, note))

    def _decoded_ahead(self, path: str, found: list, helper) -> Iterator:
        """Frames on this thread (Python holds the GIL), decodes on the helper."""
        first, pending = 0, collections.deque()
        for records in self._batches(path, found):
            pending.append(helper.submit(self._decode, path, first, records))
            first += len(records)
            if len(pending) > DECODE_AHEAD:
                yield self._done(pending.popleft())
        while pending:
            yield self._done(pending.popleft())

    def _scanned_ahead(self, path: str, found: list, helper) -> Iterator:
        """The compiled scan itself runs on the helper, DECODE_AHEAD batches ahead.

        Its kernels release the GIL, and so do reading and inflating, on the
        scan's own reading thread (`_ReadAhead`), so the file is read and walked
        while this thread makes the columns of the batches before
        (`record_batch`) and tallies them. The helper's one thread takes the
        steps one after the other, in order; records the scan leaves are decoded
        there by tfx_bsl.
        """
        scanned, first = self._batches(path, found), 0

        def step() -> tuple[int, object] | None:
            nonlocal first
            records = next(scanned, None)
            if records is None:
                return None
            at = first
            if isinstance(records, list):  # left by the scan: decoded whole
                first += len(records)
                return at, self._decoded(path, at, records)
            first += records.num_rows
            return at, records

        pending = collections.deque(helper.submit(step) for _ in range(DECODE_AHEAD))
        while (done := pending.popleft().result()) is not None:
            pending.append(helper.submit(step))
            at, records = done
            if not isinstance(records, pa.RecordBatch):
                records = record_batch(records)
            yield self._counted(batches.LocatedBatch(path, at, records))

    def _done(self, decoded: concurrent.futures.Future) -> batches.LocatedBatch:
        return self._counted(decoded.result())

    def _counted(self, batch: batches.LocatedBatch) -> batches.LocatedBatch:
        # Counted here, on the bundle's thread: Beam's counters are per thread.
        self._progress.examples(batch.records.num_rows)
        self._features.update(batch.records.schema.names)
        return batch

    def _decode(self, path, first, records):
        if isinstance(records, Framed):  # and its records, to decode whole
            whole = self._decoded(path, first, records.records)
            _check_agreed(whole, records.columns, self._only, path, first)
            return batches.LocatedBatch(path, first, whole)
        return batches.LocatedBatch(path, first, self._decoded(path, first, records))

    def _decoded(self, path, first, records) -> pa.RecordBatch:
        try:
            batch = self._decoder.DecodeBatch(records)
        except Exception as e:  # tfx_bsl raises plain RuntimeErrors on bad protos.
            where = f"{path}: records {first}..{first + len(records) - 1}"
            reason = str(e).splitlines()[0]
            if "wrong type" in reason:  # one feature, two list types
                raise errors.InputError(
                    f"{where}: {reason}; a feature must keep one type in every example"
                ) from e
            raise errors.InputError(f"{where} are not tf.Examples: {reason}") from e
        return batch


def _check_agreed(
    whole: pa.RecordBatch, scanned: pa.RecordBatch, features, path: str, first: int
) -> None:
    """Raises (a defect of ours) unless both readers read `features` alike.

    `whole` is tfx_bsl's decode of the records, `scanned` the compiled scan's
    columns of the same records. Floats compare bit for bit (both copy them
    from the wire), so a NaN label agrees with itself.
    """
    for name in features:
        ours, theirs = _column(scanned, name), _column(whole, name)
        if not _same_column(ours, theirs):
            last = first + whole.num_rows - 1
            raise RuntimeError(
                f"{path}: records {first}..{last}: the compiled scan and tfx_bsl "
                f"read feature {name!r} differently (CLASSGATE_SCAN=python reads "
                "without the scan)"
            )


def _column(batch: pa.RecordBatch, name: str) -> pa.Array | None:
    index = batch.schema.get_field_index(name)
    return None if index < 0 else batch.column(index)


def _same_column(a: pa.Array | None, b: pa.Array | None) -> bool:
    """Whether two decoded columns hold the same rows, None being no column.

    Rows compare by their lengths (a null row's length is null) and values,
    floats by their bits.
    """
    if a is None or b is None:
        return a is b
    if a.type != b.type or len(a) != len(b):
        return False
    if pa.types.is_null(a.type):
        return True
    if not a.value_lengths().equals(b.value_lengths()):
        return False
    ours, theirs = a.flatten(), b.flatten()
    if pa.types.is_floating(ours.type):  # bit for bit: NaN agrees with itself
        ours, theirs = (_bits(v) for v in (ours, theirs))
        return bool(np.array_equal(ours, theirs))
    return ours.equals(theirs)


def _bits(values: pa.Array) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False).view(np.uint32)
