"""Vocabulary files: line i is the string of class id i, as TFX and tf.lookup read them.

Lines are taken whole, without their line ending: "Credit Card" and "Credit Card "
are different classes, as they are to tf.lookup.TextFileInitializer.
"""

import collections
import functools

import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from pipeline import errors


@functools.cache
def load(path: str) -> tuple[str, ...]:
    """The lines of a vocabulary file; cached, since every worker batch asks."""
    try:
        with FileSystems.open(path) as f:
            text = f.read().decode("utf-8")
    except Exception as e:  # missing file, bad encoding, remote errors
        raise errors.InputError(f"vocabulary_file {path}: cannot read: {e}") from e
    return tuple(text.splitlines())


@functools.cache
def as_array(path: str) -> pa.Array:
    return pa.array(load(path), type=pa.string())


def duplicates(path: str) -> dict[str, int]:
    """Lines that occur more than once, with their counts."""
    counts = collections.Counter(load(path))
    return {line: n for line, n in counts.items() if n > 1}
