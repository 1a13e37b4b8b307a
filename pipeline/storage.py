"""Single files, local or remote, named literally: bounded reads, atomic writes.

Paths with a scheme (gs://, s3://) go through Beam's filesystems, imported only
then; local paths through os calls, since Beam's local delete and match expand
glob characters in a path. A read can be bounded (`limit`) and refuses what is not
a regular file, which would never end; a write goes to a temporary name and is
renamed into place, so no reader sees half a file.
"""

import contextlib
import errno
import os
import re
import uuid
from collections.abc import Iterable

from classgate import errors

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


def is_remote(path: str) -> bool:
    """True for scheme://... paths (gs://, s3://), handled by Beam's filesystems."""
    return bool(_SCHEME.match(path))


def write_atomic(
    path: str,
    content: bytes | str | Iterable[bytes | str],
    within: str | None = None,
) -> str:
    """Writes under a temporary name, then renames into place; returns `path`.

    `content` may be an iterable of pieces, so a large file is never one string.
    Locally the rename replaces the old file in one step (no moment without it),
    and with `within` the file's folder must lie inside that folder once links
    are followed: a planted link cannot carry a write elsewhere.
    """
    pieces = [content] if isinstance(content, bytes | str) else content
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    if is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.create(temporary) as f:
            for piece in pieces:
                f.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
        try:  # object stores copy over the old object: never a moment without it
            FileSystems.rename([temporary], [path])
        except Exception:
            if not FileSystems.exists(path):
                raise
            FileSystems.delete([path])  # a filesystem whose rename will not replace
            FileSystems.rename([temporary], [path])
        return path
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    if within is not None:
        root = os.path.realpath(within)
        if os.path.commonpath([root, os.path.realpath(parent)]) != root:
            raise errors.InputError(
                f"{path}: its folder leads outside {within} (a symbolic link?); "
                "nothing was written there"
            )
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            for piece in pieces:
                f.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    return path


def remove_file(path: str) -> None:
    """Removes one file, named literally; no error when it is absent."""
    if is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        if FileSystems.exists(path):
            FileSystems.delete([path])
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def read(path: str, limit: int | None = None) -> bytes:
    """A file's bytes (at most `limit`, else InputError), local or remote."""
    if is_remote(path):
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(
            path, compression_type=CompressionTypes.UNCOMPRESSED
        ) as f:
            data = f.read() if limit is None else f.read(limit + 1)
    else:
        if not os.path.isfile(path):
            if not os.path.exists(path):
                raise FileNotFoundError(errno.ENOENT, "No such file", path)
            # A FIFO or a device would never end.
            raise errors.InputError(f"{path}: not a regular file")
        with open(path, "rb") as f:
            data = f.read() if limit is None else f.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise errors.InputError(f"{path}: larger than {limit} bytes")
    return data


def exists(path: str) -> bool:
    if is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        return FileSystems.exists(path)
    return os.path.exists(path)
