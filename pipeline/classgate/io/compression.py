"""TFRecord compression, judged from a file's first bytes, never from its name.

An uncompressed TFRecord opens with a length and that length's masked CRC32C: when
the checksum holds (a 1 in 2**32 chance for other bytes), the file is one, even if
its first length happens to read 1f 8b or 78 9c. Otherwise a whole gzip header
(magic 1f 8b, method 8, no reserved flag bits) is gzip, and a valid zlib header (what
`TFRecordOptions(compression_type='ZLIB')` writes: method 8, a window TensorFlow
inflates, the header check, no preset dictionary) is zlib. A zero-byte file is
empty: every reader, whatever compression it is told, reads it as zero records.
Pure: no file is opened.
"""

import struct

import google_crc32c

GZIP = "gzip"
ZLIB = "zlib"
UNCOMPRESSED = "none"
EMPTY = "empty"
# Bytes that decide the compression: a TFRecord frame header, a gzip header.
HEAD_SIZE = 12
# TensorFlow's compression_type for each judgement (TFRecordDataset, TFRecordOptions).
TENSORFLOW_TYPE = {GZIP: "GZIP", ZLIB: "ZLIB", UNCOMPRESSED: "", EMPTY: ""}
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
# zlib (RFC 1950): CMF's low nibble is the method, 8 for deflate; its high nibble
# the window, at most 7 (32 KiB); FLG's bit 5 asks for a preset dictionary, which
# TensorFlow's reader never has.
_DEFLATE = 8
_LARGEST_WINDOW = 7
_PRESET_DICTIONARY = 0x20


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC32C of `data`."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def compression_of(head: bytes) -> str:
    """UNCOMPRESSED, GZIP, ZLIB or EMPTY, from a file's first HEAD_SIZE bytes.

    An uncompressed TFRecord opens with a length and that length's masked CRC32C:
    when the checksum holds (a 1 in 2**32 chance for other bytes), it is one, even
    if its first length happens to read 1f 8b or 78 9c. Otherwise the gzip header
    must be whole: magic 1f 8b, method 8 (deflate) and no reserved flag bits; then
    the zlib header: method 8, a window of at most 32 KiB, (CMF * 256 + FLG) a
    multiple of 31 and no preset dictionary. Anything else is read as uncompressed,
    and its first frame tells what is wrong.
    """
    if not head:
        return EMPTY
    if len(head) >= 12:
        (stored,) = _CRC.unpack_from(head, 8)
        if masked_crc(head[:8]) == stored:
            return UNCOMPRESSED
    if len(head) >= 4 and head[:3] == b"\x1f\x8b\x08" and not head[3] & 0xE0:
        return GZIP
    if len(head) >= 2 and _zlib_header(head[0], head[1]):
        return ZLIB
    return UNCOMPRESSED


def _zlib_header(cmf: int, flg: int) -> bool:
    return (
        cmf & 0x0F == _DEFLATE
        and cmf >> 4 <= _LARGEST_WINDOW
        and (cmf * 256 + flg) % 31 == 0
        and not flg & _PRESET_DICTIONARY
    )


def named_gzip(path: str) -> bool:
    """Whether the file's name says gzip, as TFDV and most trainers take it."""
    return path.lower().endswith((".gz", ".gzip"))
