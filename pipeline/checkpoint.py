"""Shapes of a checkpoint's output layer, read from its index without loading values.

`checkpoint` is a TF checkpoint prefix or a SavedModel folder (its variables live at
variables/variables). A variable is named exactly, or by a substring that matches one
variable; optimizer slots (Adam's m and v share the variable's name) are left out.
"""

import os

from pipeline import errors


def variables(checkpoint: str) -> dict[str, list[int]]:
    """{name: shape} of every variable in the checkpoint."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    prefix = checkpoint
    if tf.io.gfile.isdir(checkpoint):
        saved_model = os.path.join(checkpoint, "variables", "variables")
        prefix = tf.train.latest_checkpoint(checkpoint) or saved_model
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
