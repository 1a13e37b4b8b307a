"""TFRecord compression, judged from a file's first bytes, never from its name.

An uncompressed TFRecord opens with a length and that length's masked CRC32C: when
the checksum holds (a 1 in 2**32 chance for other bytes), the file is one, even if
its first length happens to read 1f 8b. Otherwise the gzip header must be whole:
magic 1f 8b, method 8 (deflate) and no reserved flag bits. Pure: no file is opened.
"""

import struct

import google_crc32c

GZIP = "gzip"
UNCOMPRESSED = "none"
# Bytes that decide the compression: a TFRecord frame header, a gzip header.
HEAD_SIZE = 12
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC32C of `data`."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def compression_of(head: bytes) -> str:
    """GZIP or UNCOMPRESSED, from a file's first HEAD_SIZE bytes.

    An uncompressed TFRecord opens with a length and that length's masked CRC32C:
    when the checksum holds (a 1 in 2**32 chance for other bytes), it is one, even
    if its first length happens to read 1f 8b. Otherwise the gzip header must be
    whole: magic 1f 8b, method 8 (deflate) and no reserved flag bits.
    """
    if len(head) >= 12:
        (stored,) = _CRC.unpack_from(head, 8)
        if masked_crc(head[:8]) == stored:
            return UNCOMPRESSED
    gzip_header = len(head) >= 4 and head[:3] == b"\x1f\x8b\x08"
    return GZIP if gzip_header and not head[3] & 0xE0 else UNCOMPRESSED


def named_gzip(path: str) -> bool:
    """Whether the file's name says gzip, as TFDV and most trainers take it."""
    return path.lower().endswith((".gz", ".gzip"))
