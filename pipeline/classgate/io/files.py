"""Listing the files of a split, and the fingerprint that binds a verdict to them.

Files are listed once, on the driver, through Beam's FileSystems (local, gs://, ...).
Local patterns are made absolute first, so a report names the same files from any
working directory. Only regular files are data: a FIFO or a device matched by a
glob would never end. A file a trainer's reader would read is never skipped
silently. Under a glob, the job markers that Spark, Hadoop and Parquet writers
leave beside the data (`is_marker`: _SUCCESS, .crc, _metadata, ...) are skipped
and listed. Other files whose names start with '_' or '.' are read as TFRecord,
since TensorFlow's glob (`tf.io.gfile.glob`, `Dataset.list_files`) returns them;
as Parquet they are skipped, since Arrow datasets and Spark skip them, listed and
named in a warning (HIDDEN_FILES_SKIPPED). A path named exactly is always read.

The fingerprint covers every matched file, the skipped ones included: its path,
size and modification time, and locally its device, inode and change time (which
no rewrite in place, `touch` or swapped link can keep). It is cheap to recompute
without reading the data, and it changes when a shard is added, removed, rewritten
or truncated.
"""

import hashlib
import json
import os
import posixpath
import re
import stat
from typing import Annotated, Literal

import pydantic

from classgate import errors
from classgate.io import storage

# The tag of the (path, what the reader found) pairs that readers emit per file.
NOTES = "file_notes"
# A split's name: it names output files (statistics/Split-<name>/...).
SPLIT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_GLOB = re.compile(r"[*?\[]")
# Files that job writers leave beside the data and no data reader takes for data:
# Spark's and Hadoop's _SUCCESS and .<name>.crc checksums, Parquet's summary files,
# and the commit protocol's _committed_<id> / _started_<id> markers.
_MARKER_NAMES = ("_SUCCESS", "_metadata", "_common_metadata")
_MARKER_PREFIXES = ("_committed_", "_started_")


class DataFile(pydantic.BaseModel):
    """One listed file, as the fingerprint sees it."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    path: str
    size: Annotated[int, pydantic.Field(ge=0)]
    modified: float  # seconds since the epoch, as the filesystem reports it
    # Locally "device:inode:change time (ns)"; empty for remote objects, whose
    # update time (`modified`) any rewrite changes.
    identity: str = ""


class Split(pydantic.BaseModel):
    """A named split (`train`, `eval`, ...): its patterns, format and matched files."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, pydantic.Field(pattern=SPLIT_NAME.pattern)]
    patterns: tuple[str, ...]
    format: Literal["tfrecord", "parquet"]
    files: tuple[DataFile, ...]
    # Job markers the patterns matched and the split leaves out.
    skipped: tuple[DataFile, ...] = ()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.files, self.skipped)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


def fingerprint(data_files, skipped=()) -> str:
    """The digest of a listing: every file's and skipped marker's identity."""
    listing = [
        [[f.path, f.size, f.modified, f.identity] for f in group]
        for group in (data_files, skipped)
    ]
    digest = hashlib.sha256(json.dumps(listing).encode()).hexdigest()
    return "sha256:" + digest


def absolute(pattern: str) -> str:
    """A local pattern made absolute (its glob characters kept); URIs as they are."""
    return pattern if storage.is_remote(pattern) else os.path.abspath(pattern)


# Feature names a reader notes per file, at most: enough to say what a misspelled
# feature might have been, few enough for a note.
MAX_FEATURES_NOTED = 200


def listed(features) -> list[str]:
    """Feature names as a file's note keeps them: sorted, at most MAX_FEATURES_NOTED."""
    return sorted(features)[:MAX_FEATURES_NOTED]


def is_marker(path: str) -> bool:
    """Whether a file is a job marker that data readers never take for data."""
    base = posixpath.basename(path)
    return (
        base in _MARKER_NAMES
        or base.startswith(_MARKER_PREFIXES)
        or (base.startswith(".") and base.endswith(".crc"))
    )


def is_hidden(path: str, pattern: str) -> bool:
    """Whether a name below the pattern's fixed folder starts with '_' or '.'.

    Arrow datasets and Spark skip such files; TensorFlow's glob does not.
    """
    fixed = posixpath.dirname(_GLOB.split(pattern, 1)[0])
    below = path[len(fixed) :] if path.startswith(fixed) else posixpath.basename(path)
    return any(part.startswith(("_", ".")) for part in below.split("/") if part)


def list_split(name: str, patterns: tuple[str, ...], data_format: str) -> Split:
    """Matches the patterns; raises InputError when one matches no file to read.

    Under a glob, job markers are skipped; so are Parquet files whose names (below
    the pattern's fixed folder) start with '_' or '.', as Arrow datasets and Spark
    skip them (`hidden_parquet` names them for a warning). TFRecord files of such
    names are read: TensorFlow's glob returns them.
    """
    from apache_beam.io.filesystems import FileSystems

    kinds: dict[str, str] = {}  # path -> "data", "hidden" or "marker"
    entries: dict[str, DataFile] = {}
    per_pattern: list[tuple[str, list[str]]] = []
    for pattern in patterns:
        storage.contact(pattern)
        try:
            matched = FileSystems.match([pattern])[0].metadata_list
        except Exception as e:  # Beam raises BeamIOError and others for bad patterns.
            raise errors.InputError(
                f"split '{name}': cannot list '{pattern}': {errors.first_line(e)}"
            ) from e
        paths = []
        for m in matched:
            if m.path.endswith("/"):
                continue
            globbed = bool(_GLOB.search(pattern))
            if globbed and is_marker(m.path):
                kind = "marker"
            elif globbed and is_hidden(m.path, pattern):
                kind = "hidden"
            else:
                kind = "data"
            # A file a pattern names as data stays data, whatever another says.
            if kinds.get(m.path) != "data":
                kinds[m.path] = kind
            entries.setdefault(m.path, _data_file(m))
            paths.append(m.path)
        per_pattern.append((pattern, paths))
    candidates = [entries[p] for p, kind in sorted(kinds.items()) if kind != "marker"]
    chosen = _resolve_format(name, candidates, data_format) if candidates else None
    read = {"data"} | ({"hidden"} if chosen == "tfrecord" else set())
    for pattern, paths in per_pattern:
        if not any(kinds[p] in read for p in paths):
            why = {
                "marker": " (only job markers such as _SUCCESS)",
                "hidden": " (only Parquet files named '_*' or '.*', which Arrow "
                "datasets and Spark skip)",
            }
            found = {kinds[p] for p in paths}
            only = next((why[k] for k in ("hidden", "marker") if k in found), "")
            raise errors.InputError(f"split '{name}': no files match '{pattern}'{only}")
    return Split(
        name=name,
        patterns=tuple(patterns),
        format=chosen,
        files=tuple(entries[p] for p, k in sorted(kinds.items()) if k in read),
        skipped=tuple(entries[p] for p, k in sorted(kinds.items()) if k not in read),
    )


def hidden_parquet(split: Split) -> list[str]:
    """The Parquet files a split skipped for their '_' or '.' names (not markers)."""
    if split.format != "parquet":
        return []
    return [f.path for f in split.skipped if not is_marker(f.path)]


def _data_file(metadata) -> DataFile:
    """A matched file's listing entry; locally a regular file, with its identity."""
    identity = "" if storage.is_remote(metadata.path) else _identity(metadata.path)
    return DataFile(
        path=metadata.path,
        size=metadata.size_in_bytes,
        modified=metadata.last_updated_in_seconds,
        identity=identity,
    )


def real(path: str) -> str:
    """A local path with its symbolic links followed; a remote one as it is."""
    return path if storage.is_remote(path) else os.path.realpath(path)


def real_pattern(pattern: str) -> str:
    """A local pattern whose fixed folder has its links followed (globs kept)."""
    if storage.is_remote(pattern) or not _GLOB.search(pattern):
        return real(pattern)
    fixed, rest = _GLOB.split(pattern, 1)[0], pattern
    folder = posixpath.dirname(fixed)
    return posixpath.join(real(folder), rest[len(folder) :].lstrip("/"))


def matches(pattern: str, path: str) -> bool:
    """Whether Beam's match of `pattern` would take `path` (both absolute)."""
    from apache_beam.io.filesystem import FileSystem

    if not _GLOB.search(pattern):
        return pattern == path
    return re.match(FileSystem.translate_pattern(pattern), path) is not None


def _identity(path: str) -> str:
    """A local file's device, inode and change time; refuses what is not a file."""
    try:
        found = os.stat(path)
    except OSError as e:
        raise errors.InputError(f"{path}: cannot read: {e.strerror}") from e
    if not stat.S_ISREG(found.st_mode):
        raise errors.InputError(
            f"{path}: not a regular file (a FIFO, socket or device would never end "
            "or never start); narrow the pattern"
        )
    return f"{found.st_dev}:{found.st_ino}:{found.st_ctime_ns}"


def _resolve_format(name: str, files: tuple[DataFile, ...], requested: str) -> str:
    if requested not in ("auto", "tfrecord", "parquet"):
        raise errors.InputError(
            f"data format {str(requested)[:40]!r}: expected auto, tfrecord or parquet"
        )
    if requested != "auto":
        return requested
    kinds = {"parquet" if f.path.endswith(".parquet") else "tfrecord" for f in files}
    if len(kinds) > 1:
        raise errors.InputError(
            f"split '{name}': mixes .parquet and other files; pass --format"
        )
    return kinds.pop()
