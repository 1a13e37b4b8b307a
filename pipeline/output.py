"""The output folder: the one place a run writes, named literally, locked and swept.

`--output` is a path, never a pattern: local folders are written with os calls
(Beam's FileSystems.delete globs its argument), and a remote path may not hold the
glob characters Beam would expand. A run takes the folder's lock (a second run on
it exits 2), removes report.json first, then every file the previous run listed
in the folder's manifest, then writes its own manifest before any output: whatever
a crash leaves, the next run knows to sweep. Every file is written under a
temporary name and renamed into place, and report.json comes last, so its presence
means a run finished and a run that failed leaves no verdict.
"""

import contextlib
import errno
import fcntl
import json
import os
import posixpath
import re
import shutil
import socket
import uuid
from collections.abc import Iterable, Iterator

from pipeline import errors
from pipeline.names import REPORT

# What the previous run may have written, so that this one can sweep it.
MANIFEST = ".classgate-manifest.json"
LOCK = ".classgate.lock"
# The job's results for the driver; derived from --output, never from a file.
STAGING = ".classgate-staging"
# A manifest longer than this was not written by classgate.
_MANIFEST_LIMIT = 1 << 20
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_GLOB = re.compile(r"[*?\[]")


def is_remote(path: str) -> bool:
    """True for scheme://... paths (gs://, s3://), handled by Beam's filesystems."""
    return bool(_SCHEME.match(path))


class OutputFolder:
    """A run's output folder; `open` locks and sweeps it, `write` adds a file."""

    def __init__(self, path: str):
        if not path or not path.strip():
            raise errors.InputError(
                "--output is empty (an unset variable?): name the folder to write"
            )
        self.remote = is_remote(path)
        if self.remote and _GLOB.search(path):
            raise errors.InputError(
                f"--output {path}: '*', '?' and '[' are patterns to Beam's "
                "filesystems, which would act on every folder they match: use a "
                "plain folder name"
            )
        self.path = path.rstrip("/") if self.remote else os.path.abspath(path)
        self._names: set[str] = set()
        self._lock = None

    def join(self, *parts: str) -> str:
        if self.remote:
            return posixpath.join(self.path, *parts)
        return os.path.join(self.path, *parts)

    def relative(self, path: str) -> str | None:
        """`path`'s name inside this folder, or None when it lies elsewhere."""
        if self.remote != is_remote(path):
            return None
        full = path if self.remote else os.path.abspath(path)
        prefix = self.path.rstrip("/") + "/"
        return full[len(prefix) :] if full.startswith(prefix) else None

    @contextlib.contextmanager
    def open(
        self, names: Iterable[str], sweep: bool = True
    ) -> Iterator["OutputFolder"]:
        """Locks the folder for one run that may write `names`, and sweeps it.

        With `sweep`, report.json goes first, then every file the previous run
        named in the manifest and the staging folder; then the manifest lists
        `names`. Without it (a run that only reads an earlier verdict), the
        folder is only created and locked.
        """
        try:
            self._mkdirs(self.path)
            self._take_lock()
        except errors.InputError:
            raise
        except Exception as e:  # OSError locally, BeamIOError remotely
            raise errors.InputError(
                f"--output {self.path}: not writable: {_first_line(e)}"
            ) from e
        try:
            self._names = set(names)
            if sweep:
                self._sweep()
                self._write_manifest()
            yield self
        finally:
            self._release_lock()

    def staging(self) -> str:
        """The folder the job stages its results in, made empty."""
        path = self.join(STAGING)
        self._remove_tree(path)
        self._mkdirs(path)
        return path

    def remove_staging(self) -> None:
        self._remove_tree(self.join(STAGING))

    def write(self, name: str, content: bytes | str | Iterable[bytes | str]) -> str:
        """Writes `name` (declared to `open`) atomically; returns its path."""
        if name not in self._names:
            raise RuntimeError(f"{name} was not declared in the manifest")
        return write_atomic(self.join(name), content, within=self.path)

    def remove(self, name: str) -> None:
        """Removes the file or folder `name`, taken literally; no error if absent."""
        self._remove_tree(self.join(name))

    # The lock ------------------------------------------------------------------

    def _take_lock(self) -> None:
        path = self.join(LOCK)
        busy = errors.InputError(
            f"--output {self.path}: another classgate run is using this folder "
            f"(it holds {LOCK}); wait for it, or pick another --output"
        )
        if not self.remote:
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(path, flags, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise busy from e
                raise
            self._lock = fd
            return
        # An object store has no flock: the lock is an object naming its holder,
        # taken over only when that holder is a dead process on this machine.
        from apache_beam.io.filesystems import FileSystems

        if FileSystems.exists(path):
            holder = _read_json(path, 4096) or {}
            alive = holder.get("host") != socket.gethostname() or _alive(
                holder.get("pid")
            )
            if alive:
                raise errors.InputError(
                    f"{busy.message}; if no run is active, delete {path}"
                )
        token = uuid.uuid4().hex
        mine = {"host": socket.gethostname(), "pid": os.getpid(), "token": token}
        with FileSystems.create(path) as f:
            f.write(json.dumps(mine).encode())
        if (_read_json(path, 4096) or {}).get("token") != token:
            raise busy
        self._lock = path

    def _release_lock(self) -> None:
        if self._lock is None:
            return
        if self.remote:
            with contextlib.suppress(Exception):
                self._remove_tree(self._lock)
        else:
            os.close(self._lock)  # the flock goes with the descriptor
        self._lock = None

    # Sweeping ------------------------------------------------------------------

    def _sweep(self) -> None:
        self._remove_tree(self.join(REPORT))  # first: no verdict survives a crash
        previous = self._read_manifest()
        for name in previous:
            self._remove_tree(self.join(name))
        self._remove_tree(self.join(STAGING))
        if not self.remote:
            for name in previous:  # folders left empty, e.g. statistics/Split-x
                parent = os.path.dirname(self.join(name))
                while parent.startswith(self.path + os.sep):
                    with contextlib.suppress(OSError):
                        os.rmdir(parent)
                    parent = os.path.dirname(parent)

    def _read_manifest(self) -> list[str]:
        path = self.join(MANIFEST)
        found = _read_json(path, _MANIFEST_LIMIT)
        if found is None:
            return []
        names = found.get("files") if isinstance(found, dict) else None
        if not isinstance(names, list) or not all(map(_is_plain_name, names)):
            raise errors.InputError(
                f"{path}: not a manifest classgate wrote (it names files outside "
                "the folder, or is not a list of names); remove it to go on"
            )
        return names

    def _write_manifest(self) -> None:
        for name in self._names:
            if not _is_plain_name(name):
                raise RuntimeError(f"output name {name!r} is not a plain name")
        content = json.dumps({"version": 1, "files": sorted(self._names)}, indent=1)
        write_atomic(self.join(MANIFEST), content, within=self.path)

    # Filesystem calls, literal on both sides -------------------------------------

    def _mkdirs(self, path: str) -> None:
        if self.remote:
            from apache_beam.io.filesystems import FileSystems

            if not FileSystems.exists(path):
                FileSystems.mkdirs(path)
        else:
            os.makedirs(path, exist_ok=True)

    def _remove_tree(self, path: str) -> None:
        if not self.remote:
            if os.path.islink(path) or os.path.isfile(path):
                os.remove(path)
            elif os.path.isdir(path):
                shutil.rmtree(path)
            return
        from apache_beam.io.filesystems import FileSystems

        # The output path holds no glob characters (refused above), nor do the
        # names classgate writes: match and delete act on exact paths.
        doomed = [m.path for m in FileSystems.match([path + "/**"])[0].metadata_list]
        if FileSystems.exists(path):
            doomed.append(path)
        if doomed:
            FileSystems.delete(doomed)


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
        if FileSystems.exists(path):
            FileSystems.delete([path])
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


def _read_json(path: str, limit: int):
    """The JSON in `path`, or None when there is no such file."""
    if not exists(path):
        return None
    try:
        return json.loads(read(path, limit))
    except (errors.InputError, ValueError) as e:
        raise errors.InputError(f"{path}: not a file classgate wrote: {e}") from e


def _is_plain_name(name) -> bool:
    """A relative path inside the folder: no '..', no absolute or empty parts."""
    if not isinstance(name, str) or not name or len(name) > 1024:
        return False
    parts = name.split("/")
    return all(p and p not in (".", "..") and "\\" not in p for p in parts)


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
