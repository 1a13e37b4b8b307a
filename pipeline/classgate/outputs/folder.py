"""The output folder: the one place a run writes, named literally, locked and swept.

`--output` is a path, never a pattern: local folders are written with os calls
(Beam's FileSystems.delete globs its argument), and a remote path may not hold the
glob characters Beam would expand. A run takes the folder's lock (a second run on
it exits 2), removes report.json first, then every file the previous run listed
in the folder's manifest and any per-class file no manifest lists, then writes its
own manifest before any output: whatever a crash leaves, the next run knows to
sweep. Every file is written under a temporary name and renamed into place, and
report.json comes last, so its presence means a run finished and a run that failed
leaves no verdict.

Deletes are guarded exactly as writes: a name is removed only when it has the shape
of a file classgate writes (a manifest naming anything else is refused), and never
through a symbolic link: a link inside the folder is removed as a link, and a link
on the way to a name stops the removal there. Nothing outside the folder changes.
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

from classgate import errors, names
from classgate.io import storage

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
        self, declared: Iterable[str], sweep: bool = True
    ) -> Iterator["OutputFolder"]:
        """Locks the folder for one run that may write `declared`, and sweeps it.

        With `sweep`, report.json goes first, then every file the previous run
        named in the manifest, any per-class file, and the staging folder; then
        the manifest lists `declared`. Without it (a run that only reads an
        earlier verdict), the folder is only created and locked.
        """
        try:
            storage.contact(self.path)
            self._mkdirs(self.path)
            self._take_lock()
        except errors.InputError:
            raise
        except Exception as e:  # OSError locally, BeamIOError remotely
            raise errors.InputError(
                f"--output {self.path}: not writable: {errors.first_line(e)}"
            ) from e
        try:
            self._names = set(declared)
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

    def write_below(
        self, name: str, content: bytes | str | Iterable[bytes | str]
    ) -> str:
        """Writes `name` inside a folder declared to `open` (swept whole)."""
        parent = name.split("/", 1)[0]
        if parent not in self._names or not names.is_output_name(name):
            raise RuntimeError(f"{name} is not inside a folder the manifest lists")
        return storage.write_atomic(self.join(name), content, within=self.path)

    def remove(self, name: str) -> None:
        """Removes the file or folder `name`, taken literally; no error if absent."""
        self._remove_tree(self.join(name))

    # The lock ------------------------------------------------------------------

    def _take_lock(self) -> None:
        path = self.join(LOCK)
        busy = errors.FolderBusy(
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
            holder = _read_json(path, 4096)
            holder = holder if isinstance(holder, dict) else {}
            alive = holder.get("host") != socket.gethostname() or _alive(
                holder.get("pid")
            )
            if alive:
                raise errors.FolderBusy(
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
        self._remove_tree(self.join(names.REPORT))  # first: no verdict survives a crash
        previous = self._read_manifest()
        for name in [*previous, *self._per_class_files()]:
            self._remove_tree(self.join(name))
        self._remove_tree(self.join(STAGING))
        if not self.remote:
            for name in previous:  # folders left empty, e.g. statistics/Split-x
                parent = os.path.dirname(self.join(name))
                while parent.startswith(self.path + os.sep) and not os.path.islink(
                    parent
                ):
                    with contextlib.suppress(OSError):
                        os.rmdir(parent)
                    parent = os.path.dirname(parent)

    def _per_class_files(self) -> list[str]:
        """unigram-*.txt and remap-*.txt in the folder, listed in a manifest or not.

        A trainer loads them by name: one left by an earlier run (or copied in)
        would lie beside a verdict that never looked at it.
        """
        if self.remote:
            from apache_beam.io.filesystems import FileSystems

            pattern = self.join("*.txt")
            listed = FileSystems.match([pattern])[0].metadata_list
            found = [posixpath.basename(m.path) for m in listed]
        else:
            try:
                found = [e.name for e in os.scandir(self.path)]
            except OSError:
                return []
        return sorted(name for name in found if names.PER_CLASS.fullmatch(name))

    def _read_manifest(self) -> list[str]:
        path = self.join(MANIFEST)
        found = _read_json(path, _MANIFEST_LIMIT)
        if found is None:
            return []
        listed = found.get("files") if isinstance(found, dict) else None
        if not isinstance(listed, list) or not all(
            isinstance(name, str) and names.is_output_name(name) for name in listed
        ):
            raise errors.InputError(
                f"{path}: not a manifest classgate wrote (it names files classgate "
                "does not write, or is not a list of names); remove it to go on"
            )
        return listed

    def _write_manifest(self) -> None:
        for name in self._names:
            if not names.is_output_name(name):
                raise RuntimeError(
                    f"output name {name!r} is not a name classgate writes"
                )
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
        """Removes `path`, a file or folder inside this folder; never through a link."""
        name = self.relative(path)
        if name is None or not _is_plain_name(name):
            raise RuntimeError(f"{path} is not a plain name inside {self.path}")
        try:
            if self.remote:
                self._remove_remote(path)
            else:
                self._remove_local(name)
        except OSError as e:
            raise errors.InputError(
                f"--output {self.path}: cannot remove {name}: {e.strerror or e}"
            ) from e

    def _remove_local(self, name: str) -> None:
        """Removes `name` unless a link lies on the way to it; a link itself goes."""
        at = self.path
        *folders, last = name.split("/")
        for part in folders:
            at = os.path.join(at, part)
            if os.path.islink(at) or not os.path.isdir(at):
                return  # a link (or no folder) on the way: nothing of ours there
        target = os.path.join(at, last)
        if os.path.islink(target) or (
            os.path.lexists(target) and not os.path.isdir(target)
        ):
            os.remove(target)  # a link is removed as a link, never followed
        elif os.path.isdir(target):
            # Python 3.11's rmtree works on file descriptors and removes a link
            # met inside the tree as a link: it never leaves the tree.
            shutil.rmtree(target)

    def _remove_remote(self, path: str) -> None:
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
        return storage.parse_json(storage.read(path, limit), path)
    except errors.InputError as e:
        raise errors.InputError(
            f"{path}: not a file classgate wrote: {e.message}"
        ) from e


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
