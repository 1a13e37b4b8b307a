"""Shapes of a checkpoint's output layer, read from its index without loading values.

`checkpoint` is a TF checkpoint prefix or a SavedModel folder (its variables live at
variables/variables). A variable is named exactly, or by a substring that matches one
variable; optimizer slots (Adam's m and v share the variable's name) are left out.
"""

import posixpath
import re

from classgate import errors
from classgate.io import storage
from classgate.model_files import checkpoint_index

# A checkpoint folder's `checkpoint` file names the latest prefix, as text proto.
_LATEST = re.compile(r'^model_checkpoint_path:\s*"([^"]+)"', re.MULTILINE)


def variables(checkpoint: str) -> dict[str, list[int]]:
    """{name: shape} of every variable in the checkpoint.

    Read from the .index file directly (milliseconds); TensorFlow's own reader
    (seconds to import) only for an index this module cannot read.
    """
    found = prefix(checkpoint)
    try:
        return checkpoint_index.shapes(storage.read(found + ".index"))
    except (OSError, ValueError, errors.InputError):
        return _variables_by_tensorflow(checkpoint, found)


def prefix(checkpoint: str) -> str:
    """A checkpoint prefix, a folder of checkpoints (its latest), or a SavedModel."""
    latest = posixpath.join(checkpoint, "checkpoint")
    if storage.exists(latest) and not storage.exists(checkpoint + ".index"):
        try:
            found = _LATEST.search(storage.read(latest, 1 << 20).decode("utf-8"))
        except (OSError, UnicodeDecodeError, errors.InputError):
            found = None
        if found:
            name = found.group(1)
            return (
                name
                if name.startswith("/") or "://" in name
                else (posixpath.join(checkpoint, name))
            )
    saved_model = posixpath.join(checkpoint, "variables", "variables")
    if storage.exists(saved_model + ".index"):
        return saved_model
    return checkpoint


def _variables_by_tensorflow(checkpoint: str, prefix: str) -> dict[str, list[int]]:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    try:
        return dict(tf.train.list_variables(prefix))
    except Exception as e:  # NotFoundError, DataLossError, ...
        first = errors.first_line(e)
        raise errors.InputError(f"checkpoint {checkpoint}: cannot read: {first}") from e


def find(found: dict[str, list[int]], wanted: str, field: str, checkpoint: str):
    """The (name, shape) that `wanted` names; InputError naming the config field."""
    if wanted in found:
        return wanted, found[wanted]
    matches = [n for n in found if wanted in n and "OPTIMIZER_SLOT" not in n]
    if len(matches) == 1:
        return matches[0], found[matches[0]]
    listed = ", ".join(sorted(matches or found)[:8])
    problem = "matches several variables" if matches else "matches no variable"
    raise errors.InputError(f"{field} '{wanted}' {problem} in {checkpoint}: {listed}")
