"""Listing the files of a split, and the fingerprint that binds a verdict to them.

Files are listed once, on the driver, through Beam's FileSystems (local, gs://, ...).
The fingerprint covers each file's path, size and modification time: cheap to
recompute without reading the data, and it changes when a shard is added, removed,
rewritten or truncated.
"""

import dataclasses
import hashlib
import json

from apache_beam.io.filesystems import FileSystems

from pipeline import errors

FORMATS = ("auto", "tfrecord", "parquet")


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
            "bytes": sum(f.size for f in self.files),
            "fingerprint": self.fingerprint,
        }


def list_split(name: str, patterns: tuple[str, ...], data_format: str) -> Split:
    """Matches the patterns; raises InputError when one matches no file."""
    found: dict[str, DataFile] = {}
    for pattern in patterns:
        try:
            matched = FileSystems.match([pattern])[0].metadata_list
        except Exception as e:  # Beam raises BeamIOError and others for bad patterns.
            raise errors.InputError(
                f"split '{name}': cannot list '{pattern}': {_first_line(e)}"
            ) from e
        files = [m for m in matched if not m.path.endswith("/")]
        if not files:
            raise errors.InputError(f"split '{name}': no files match '{pattern}'")
        for m in files:
            found[m.path] = DataFile(m.path, m.size_in_bytes, m.last_updated_in_seconds)
    files = tuple(sorted(found.values(), key=lambda f: f.path))
    return Split(
        name, tuple(patterns), _resolve_format(name, files, data_format), files
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


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
