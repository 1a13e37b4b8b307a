"""A TensorFlow checkpoint's variable shapes, read from its index without TensorFlow.

A checkpoint prefix `p` has `p.index`: a LevelDB-style table (TensorFlow's
table::TableBuilder, uncompressed for tensor bundles) that maps each tensor's name
to a BundleEntryProto holding its dtype and shape. Reading it takes milliseconds,
where importing TensorFlow takes seconds: what lets `classgate check-config` check
a model's output layer in under a second. Anything unexpected raises ValueError,
and the caller falls back on TensorFlow's own reader.
"""

import struct

# The table footer: two block handles padded to 40 bytes, then the magic number.
_FOOTER_SIZE = 48
_MAGIC = 0xDB4775248B80FB57
# A block is followed by a compression byte and a masked CRC32C.
_TRAILER_SIZE = 5
_NO_COMPRESSION = 0


def shapes(index: bytes) -> dict[str, list[int]]:
    """{tensor name: shape} of a checkpoint's .index file content."""
    if len(index) < _FOOTER_SIZE:
        raise ValueError("too short for a checkpoint index")
    footer = index[-_FOOTER_SIZE:]
    if struct.unpack("<Q", footer[-8:])[0] != _MAGIC:
        raise ValueError("not a checkpoint index (bad magic number)")
    at = 0
    _, at = _block_handle(footer, at)  # the metaindex block: nothing we need
    index_handle, _ = _block_handle(footer, at)
    found = {}
    for _, value in _entries(_block(index, index_handle)):
        handle, _ = _block_handle(value, 0)
        for name, entry in _entries(_block(index, handle)):
            if name:  # the empty key holds the bundle's header
                found[name.decode("utf-8", "replace")] = _shape(entry)
    return found


def _block(data: bytes, handle: tuple[int, int]) -> bytes:
    offset, size = handle
    if offset + size + _TRAILER_SIZE > len(data):
        raise ValueError("a block runs past the end of the index")
    if data[offset + size] != _NO_COMPRESSION:
        raise ValueError("compressed index blocks are not read here")
    return data[offset : offset + size]


def _entries(block: bytes):
    """(key, value) of a table block, keys prefix-compressed between restarts."""
    if len(block) < 4:
        raise ValueError("a block too short for its restart count")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    if end < 0:
        raise ValueError("a block's restarts run past its start")
    at, key = 0, b""
    while at < end:
        shared, at = _varint(block, at)
        unshared, at = _varint(block, at)
        length, at = _varint(block, at)
        if shared > len(key) or at + unshared + length > end:
            raise ValueError("a damaged block entry")
        key = key[:shared] + block[at : at + unshared]
        at += unshared
        yield key, block[at : at + length]
        at += length


def _block_handle(data: bytes, at: int) -> tuple[tuple[int, int], int]:
    offset, at = _varint(data, at)
    size, at = _varint(data, at)
    return (offset, size), at


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("a damaged varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(message: bytes):
    """(field number, wire type, value) of a serialized protobuf message."""
    at = 0
    while at < len(message):
        tag, at = _varint(message, at)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, at = _varint(message, at)
        elif wire == 1:
            value, at = message[at : at + 8], at + 8
        elif wire == 2:
            length, at = _varint(message, at)
            value, at = message[at : at + length], at + length
        elif wire == 5:
            value, at = message[at : at + 4], at + 4
        else:
            raise ValueError(f"protobuf wire type {wire} is not read here")
        yield number, wire, value


def _shape(entry: bytes) -> list[int]:
    """The dims of a BundleEntryProto (field 2: TensorShapeProto, dims field 2)."""
    dims = []
    for number, wire, value in _fields(entry):
        if number == 2 and wire == 2:
            for dim_number, dim_wire, dim in _fields(value):
                if dim_number == 2 and dim_wire == 2:
                    size = 0
                    for size_number, size_wire, size_value in _fields(dim):
                        if size_number == 1 and size_wire == 0:
                            size = (
                                size_value - (1 << 64)
                                if size_value >> 63
                                else size_value
                            )
                    dims.append(size)
    return dims
