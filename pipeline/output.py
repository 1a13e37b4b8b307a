"""The output folder: atomic writes, a staging area, and no stale verdicts.

Every file is written under a temporary name and renamed into place, so a crash never
leaves a file that looks done. report.json is written last and removed first: its
presence means a run finished, and a crashed rerun cannot leave an old "pass" behind.
"""

import os
import uuid
from collections.abc import Iterable

from apache_beam.io.filesystems import FileSystems

from pipeline import errors

REPORT = "report.json"
# Removed when a run starts, so nothing of an earlier verdict (or an earlier
# submitted run waiting for `conclude`) survives a crash.
VERDICT_FILES = (REPORT, "report.md", "report.html", "pending.json")


class OutputFolder:
    def __init__(self, path: str):
        self.path = path.rstrip("/") or "/"

    def join(self, *parts: str) -> str:
        return FileSystems.join(self.path, *parts)

    def prepare(self) -> None:
        """Creates the folder, proves it writable and clears an earlier verdict."""
        try:
            if not FileSystems.exists(self.path):
                FileSystems.mkdirs(self.path)
            probe = self.join(f".classgate-probe-{uuid.uuid4().hex}")
            with FileSystems.create(probe) as f:
                f.write(b"")
            FileSystems.delete([probe])
            stale = [
                self.join(n) for n in VERDICT_FILES if FileSystems.exists(self.join(n))
            ]
            if stale:
                FileSystems.delete(stale)
        except Exception as e:  # OSError locally, BeamIOError on remote filesystems
            raise errors.InputError(
                f"--output {self.path}: not writable: {_first_line(e)}"
            ) from e

    def staging(self) -> str:
        """A fresh folder for the pipeline's results, inside the output folder."""
        path = self.join(f".classgate-staging-{uuid.uuid4().hex}")
        FileSystems.mkdirs(path)
        return path

    def remove(self, path: str) -> None:
        if FileSystems.exists(path):
            FileSystems.delete([path])

    def write(self, name: str, content: bytes | str | Iterable[bytes | str]) -> str:
        """Writes `name` in the folder atomically; returns its path."""
        return write_atomic(self.join(name), content)


def write_atomic(path: str, content: bytes | str | Iterable[bytes | str]) -> str:
    """Writes under a temporary name, then renames into place; returns `path`.

    `content` may be an iterable of pieces, so a large file is never one string.
    """
    pieces = [content] if isinstance(content, bytes | str) else content
    parent = os.path.dirname(path)
    if parent and not FileSystems.exists(parent):
        FileSystems.mkdirs(parent)
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    with FileSystems.create(temporary) as f:
        for piece in pieces:
            f.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([temporary], [path])
    return path


def exists(path: str) -> bool:
    return FileSystems.exists(path)


def read(path: str) -> bytes:
    with FileSystems.open(path) as f:
        return f.read()


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
