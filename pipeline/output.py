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

from classgate import errors, storage
from classgate.names import REPORT

# What the previous run may have written, so that this one can sweep it.
MANIFEST = ".classgate-manifest.json"
LOCK = ".classgate.lock"
# The job's results for the driver; derived from --output, never from a file.
STAGING = ".classgate-staging"
# A manifest longer than this was not written by classgate.
_MANIFEST_LIMIT = 1 << 20
_GLOB = re.compile(r"[*?\[]")


class OutputFolder:
    """A run's output folder; `open` locks and sweeps it, `write` adds a file."""

    def __init__(self, path: str):
        if not path or not path.strip():
            raise errors.InputError(
                "--output is empty (an unset variable?): name the folder to write"
            )
        self.remote = storage.is_remote(path)
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
        if self.remote != storage.is_remote(path):
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
                f"--output {self.path}: not writable: {errors.first_line(e)}"
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
        return storage.write_atomic(self.join(name), content, within=self.path)

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
        storage.write_atomic(self.join(MANIFEST), content, within=self.path)

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


def _read_json(path: str, limit: int):
    """The JSON in `path`, or None when there is no such file."""
    if not storage.exists(path):
        return None
    try:
        return json.loads(storage.read(path, limit))
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
