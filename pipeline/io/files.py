"""Listing the files of a split, and the fingerprint that binds a verdict to them.

Files are listed once, on the driver, through Beam's FileSystems (local, gs://, ...).
Local patterns are made absolute first, so a report names the same files from any
working directory. Only regular files are data: a FIFO or a device matched by a
glob would never end. Files whose names start with '_' or '.' (Spark's _SUCCESS,
Hadoop's .crc files) are skipped when a glob matches them, as Hadoop's input
formats and Arrow datasets skip them; a path named exactly is always read.
The fingerprint covers each file's path, size and modification time: cheap to
recompute without reading the data, and it changes when a shard is added, removed,
rewritten or truncated.
"""

import dataclasses
import hashlib
import json
import os
import posixpath
import re
import stat

from classgate import errors, storage

# The tag of the (path, what the reader found) pairs that readers emit per file.
NOTES = "file_notes"
_GLOB = re.compile(r"[*?\[]")


@dataclasses.dataclass(frozen=True)
class DataFile:
    path: str
    size: int
    modified: float  # seconds since the epoch, as the filesystem reports it


@dataclasses.dataclass(frozen=True)
class Split:
    """A named split (`train`, `eval`, ...): its patterns, format and matched files."""

    name: str
    patterns: tuple[str, ...]
    format: str  # "tfrecord" or "parquet"
    files: tuple[DataFile, ...]
    # Hidden files the patterns matched and the split leaves out.
    skipped: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        listing = [dataclasses.astuple(f) for f in self.files]
        digest = hashlib.sha256(json.dumps(listing).encode()).hexdigest()
        return "sha256:" + digest

    def describe(self) -> dict:
        return {
            "patterns": list(self.patterns),
            "format": self.format,
            "files": [dataclasses.asdict(f) for f in self.files],
            "skipped": list(self.skipped),
            "bytes": sum(f.size for f in self.files),
            "fingerprint": self.fingerprint,
        }


def absolute(pattern: str) -> str:
    """A local pattern made absolute (its glob characters kept); URIs as they are."""
    return pattern if storage.is_remote(pattern) else os.path.abspath(pattern)


def is_hidden(path: str, pattern: str) -> bool:
    """Whether a name below the pattern's fixed folder starts with '_' or '.'."""
    fixed = posixpath.dirname(_GLOB.split(pattern, 1)[0])
    below = path[len(fixed) :] if path.startswith(fixed) else posixpath.basename(path)
    return any(part.startswith(("_", ".")) for part in below.split("/") if part)


def list_split(name: str, patterns: tuple[str, ...], data_format: str) -> Split:
    """Matches the patterns; raises InputError when one matches no file."""
    from apache_beam.io.filesystems import FileSystems

    found: dict[str, DataFile] = {}
    skipped: set[str] = set()
    for pattern in patterns:
        try:
            matched = FileSystems.match([pattern])[0].metadata_list
        except Exception as e:  # Beam raises BeamIOError and others for bad patterns.
            raise errors.InputError(
                f"split '{name}': cannot list '{pattern}': {errors.first_line(e)}"
            ) from e
        matched = [m for m in matched if not m.path.endswith("/")]
        if _GLOB.search(pattern):
            skipped.update(m.path for m in matched if is_hidden(m.path, pattern))
            matched = [m for m in matched if not is_hidden(m.path, pattern)]
        if not matched:
            hidden = " (only hidden files: names starting with '_' or '.')"
            raise errors.InputError(
                f"split '{name}': no files match '{pattern}'"
                + (hidden if skipped else "")
            )
        for m in matched:
            _require_regular(m.path)
            found[m.path] = DataFile(m.path, m.size_in_bytes, m.last_updated_in_seconds)
    files = tuple(sorted(found.values(), key=lambda f: f.path))
    return Split(
        name,
        tuple(patterns),
        _resolve_format(name, files, data_format),
        files,
        tuple(sorted(skipped - set(found))),
    )


def matches(pattern: str, path: str) -> bool:
    """Whether Beam's match of `pattern` would take `path` (both absolute)."""
    from apache_beam.io.filesystem import FileSystem

    if not _GLOB.search(pattern):
        return pattern == path
    return re.match(FileSystem.translate_pattern(pattern), path) is not None


def _require_regular(path: str) -> None:
    if storage.is_remote(path):
        return
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise errors.InputError(f"{path}: cannot read: {e.strerror}") from e
    if not stat.S_ISREG(mode):
        raise errors.InputError(
            f"{path}: not a regular file (a FIFO, socket or device would never end "
            "or never start); narrow the pattern"
        )


def _resolve_format(name: str, files: tuple[DataFile, ...], requested: str) -> str:
    if requested != "auto":
        return requested
    kinds = {"parquet" if f.path.endswith(".parquet") else "tfrecord" for f in files}
    if len(kinds) > 1:
        raise errors.InputError(
            f"split '{name}': mixes .parquet and other files; pass --format"
        )
    return kinds.pop()
