"""Where the compiled scan's kernels are cached: found without importing numba.

`wire` compiles its kernels once and keeps their machine code in a file named by
`key`, in `folder`. Whoever only needs to know whether that file is there (the
reader auto picks where a job is built, `tfrecord.compiled_scan_chosen`) asks
`cached`, which reads llvmlite's view of the CPU, not numba: numba's import
(about 0.2 s) would be paid for nothing by a launch whose workers scan.
"""

import contextlib
import hashlib
import importlib.metadata
import os
import pathlib
import platform
import sys

# The kernels' source: the file is named by its digest, among the rest.
WIRE = pathlib.Path(__file__).with_name("wire.py")


def folder(create: bool = True) -> pathlib.Path | None:
    """Where numba would cache `wire`'s kernels.

    Beside it, else in NUMBA_CACHE_DIR when that is set; None where neither is
    writable. Without `create`, a folder not there yet is passed over, not made.
    """
    for candidate in (
        WIRE.parent / "__pycache__",
        os.environ.get("NUMBA_CACHE_DIR")
        and pathlib.Path(os.environ["NUMBA_CACHE_DIR"]),
    ):
        if not candidate:
            continue
        if create:
            with contextlib.suppress(OSError):
                candidate.mkdir(parents=True, exist_ok=True)
        if os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return None


def key() -> str:
    """A digest of the kernels' source, numba, llvmlite, Python and the CPU."""
    import llvmlite.binding as llvm

    digest = hashlib.sha256(WIRE.read_bytes())
    for part in (
        importlib.metadata.version("numba"),
        importlib.metadata.version("llvmlite"),
        sys.version,
        platform.machine(),
        llvm.get_host_cpu_name(),
        llvm.get_host_cpu_features().flatten(),
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:24]


def path(where: pathlib.Path) -> pathlib.Path:
    """The cache file's path in the folder `where`."""
    return where / f"wire.{key()}.kernels"


def cached() -> bool:
    """Whether a cache file of the kernels, for this install and CPU, is there.

    False where numba or llvmlite is not installed: the Python reader reads. It
    only looks: no folder is made.
    """
    try:
        where = folder(create=False)
        return where is not None and path(where).is_file()
    except (ImportError, importlib.metadata.PackageNotFoundError):
        return False
