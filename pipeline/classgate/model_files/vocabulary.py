r"""Vocabulary files, read exactly as TensorFlow's TextFileInitializer reads them.

Line i is the bytes of class id i. Lines end at b"\n" only, one trailing b"\r" is
dropped, and an empty line (or an empty file) is refused, as TensorFlow refuses it:
U+2028, form feeds and lone carriage returns stay inside their line, where
str.splitlines() would have split them. Lines are bytes, compared with label bytes,
so a vocabulary or a label that is not UTF-8 maps as it does in TensorFlow.
Strings absent from it hash into the OOV buckets (classgate.stats.fingerprint).
"""

import collections

import pyarrow as pa

from classgate import errors
from classgate.stats.values import shown

# A vocabulary past this size is not a vocabulary file (2 GiB: 100M ids of 20 bytes).
MAX_BYTES = 2 << 30


def parse(data: bytes, path: str) -> tuple[bytes, ...]:
    """The lines of a vocabulary file's bytes; InputError where TensorFlow fails."""
    if not data:
        raise errors.InputError(
            f"vocabulary_file {path}: empty; TensorFlow's TextFileInitializer "
            "refuses an empty file"
        )
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    for number, line in enumerate(lines, 1):
        if not line:
            raise errors.InputError(
                f"vocabulary_file {path}: line {number} is empty; TensorFlow's "
                "TextFileInitializer refuses empty lines"
            )
    return tuple(lines)


# path -> its lines, and the lines as an Arrow array: read once, since every
# worker's DoFn asks, until `forget` (a file edited since is read again).
_LINES: dict[str, tuple[bytes, ...]] = {}
_ARRAYS: dict[str, pa.Array] = {}


def load(path: str) -> tuple[bytes, ...]:
    """The lines of a vocabulary file; cached until `forget(path)`."""
    from classgate.io import storage

    if path in _LINES:
        return _LINES[path]
    try:
        data = storage.read(path, MAX_BYTES)
    except errors.InputError as e:
        raise errors.InputError(f"vocabulary_file {e.message}") from e
    except Exception as e:  # missing file, permissions, remote errors
        first = errors.first_line(e)
        raise errors.InputError(f"vocabulary_file {path}: cannot read: {first}") from e
    return _LINES.setdefault(path, parse(data, path))


def as_array(path: str) -> pa.Array:
    if path not in _ARRAYS:
        _ARRAYS[path] = pa.array(load(path), type=pa.binary())
    return _ARRAYS[path]


def forget(path: str) -> None:
    """Drops what was cached of `path`: the next `load` reads the file again.

    The driver forgets each vocabulary before it reads it for a validation, so a
    process that validates twice (a notebook's) never judges the second run by a
    file since edited; workers in the same process then read what it read.
    """
    _LINES.pop(path, None)
    _ARRAYS.pop(path, None)


def duplicates(lines: tuple[bytes, ...]) -> dict[str, int]:
    """Lines that occur more than once, with their counts (shown as text)."""
    counts = collections.Counter(lines)
    return {shown(line): n for line, n in counts.items() if n > 1}
