"""Single files, local or remote, named literally: bounded reads, atomic writes.

Paths with a scheme (gs://, s3://) go through Beam's filesystems, imported only
then; local paths through os calls, since Beam's local delete and match expand
glob characters in a path. A read can be bounded (`limit`) and refuses what is not
a regular file, which would never end; a write goes to a temporary name and is
renamed into place, so no reader sees half a file. Every path here is one the user
named (an output, a JUnit file, a staging folder, a config): a write or removal the
filesystem refuses (permissions, a full disk) is an InputError naming the path,
exit 2, never a defect of classgate's.

A remote filesystem is first contacted with a deadline (`contact`): without a
network or credentials Beam's clients retry for minutes, in silence; classgate says
which path it could not reach within seconds instead.
"""

import contextlib
import errno
import json
import os
import re
import threading
import uuid
from collections.abc import Iterable

from classgate import errors

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
# Seconds a remote filesystem has to answer the first call to one of its buckets:
# a reachable bucket answers in well under a second; Beam's GCS client retries an
# unreachable one for about two minutes.
CONTACT_TIMEOUT_S = 10.0
# (scheme, bucket) -> None once answered, or the error to raise again.
_contacted: dict[tuple[str, str], errors.InputError | None] = {}
_contact_lock = threading.Lock()


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
    try:
        return _write_atomic(path, content, within)
    except errors.InputError:
        raise
    except Exception as e:  # OSError locally, BeamIOError (an IOError) remotely
        if not isinstance(e, OSError) and not is_remote(path):
            raise
        raise errors.InputError(f"{path}: cannot write: {_reason(e)}") from e


def _write_atomic(path, content, within) -> str:
    pieces = [content] if isinstance(content, bytes | str) else content
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    if is_remote(path):
        contact(path)
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
    if within is not None:  # checked before any folder is made on the way
        root = os.path.realpath(within)
        if os.path.commonpath([root, os.path.realpath(parent)]) != root:
            raise errors.InputError(
                f"{path}: its folder leads outside {within} (a symbolic link?); "
                "nothing was written there"
            )
    os.makedirs(parent, exist_ok=True)
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
    try:
        if is_remote(path):
            from apache_beam.io.filesystems import FileSystems

            contact(path)
            if FileSystems.exists(path):
                FileSystems.delete([path])
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    except errors.InputError:
        raise
    except Exception as e:  # OSError locally, BeamIOError remotely
        if not isinstance(e, OSError) and not is_remote(path):
            raise
        raise errors.InputError(f"{path}: cannot remove: {_reason(e)}") from e


def read(path: str, limit: int | None = None) -> bytes:
    """A file's bytes (at most `limit`, else InputError), local or remote."""
    if is_remote(path):
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems

        contact(path)
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


def opened(path: str):
    """A file opened for reading bytes, local or remote, seekable; named literally.

    For readers that need a part of a large file (a zip's directory, a header).
    """
    if is_remote(path):
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems

        contact(path)
        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    if not os.path.isfile(path):
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, "No such file", path)
        raise errors.InputError(f"{path}: not a regular file")
    return open(path, "rb")


def exists(path: str) -> bool:
    if is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        contact(path)
        return FileSystems.exists(path)
    return os.path.exists(path)


def parse_json(data: bytes | str, path: str):
    """JSON from a file classgate reads; InputError (naming `path`) if it is not JSON.

    Nesting deep enough to exhaust Python's recursion is refused the same way:
    no JSON classgate writes is nested more than a few levels.
    """
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        raise errors.InputError(f"{path}: not valid JSON: {reason[:200]}") from e


def contact(path: str) -> None:
    """Makes sure `path`'s remote filesystem answers; InputError within seconds if not.

    The first call per bucket asks whether `path` exists, on a helper thread
    given CONTACT_TIMEOUT_S; later calls return at once (or raise the same
    error). Local paths return at once.
    """
    match = _SCHEME.match(path)
    if not match:
        return
    bucket = (match.group(0), path[match.end() :].split("/", 1)[0])
    with _contact_lock:
        if bucket in _contacted:
            known = _contacted[bucket]
            if known is not None:
                raise known
            return
    answer: list[BaseException | None] = []

    def ask():
        from apache_beam.io.filesystems import FileSystems

        try:
            FileSystems.exists(path)
            answer.append(None)
        except BaseException as e:  # noqa: BLE001 (reported on the caller's thread)
            answer.append(e)

    asking = threading.Thread(target=ask, name="classgate-contact", daemon=True)
    asking.start()
    asking.join(CONTACT_TIMEOUT_S)
    if not answer:
        found = errors.InputError(
            f"{path}: no answer from {bucket[0]}{bucket[1]} within "
            f"{CONTACT_TIMEOUT_S:g} s (no network, or no credentials?)"
        )
    elif answer[0] is not None:
        found = errors.InputError(f"{path}: cannot reach it: {_reason(answer[0])}")
    else:
        found = None
    with _contact_lock:
        _contacted[bucket] = found
    if found is not None:
        raise found


def _reason(error: BaseException) -> str:
    """An OS error's own words (its strerror), else the first line of its message."""
    return getattr(error, "strerror", None) or errors.first_line(error)[:200]
