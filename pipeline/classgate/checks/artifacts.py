"""Checks of the files a model was built with: its vocabulary and its checkpoint.

The files are read on the driver before the scan (classgate.model_files.summary);
these functions only compare what was read with the config.
"""

from classgate.checks.anomaly import Anomaly, Code, Severity
from classgate.config import ModelConfig
from classgate.model_files.summary import ModelFiles


def check(model: ModelConfig, files: ModelFiles) -> list[Anomaly]:
    found = []
    n = model.num_classes
    if files.vocabulary_size is not None:
        size = files.vocabulary_size + model.num_oov_buckets
        duplicated = files.vocabulary_duplicates
        if size != n or duplicated:
            parts = []
            if size != n:
                parts.append(
                    f"{model.vocabulary_file} has {files.vocabulary_size} lines + "
                    f"{model.num_oov_buckets} OOV buckets = {size}, not num_classes "
                    f"{n}: set num_classes to {size} or fix the file"
                )
            if duplicated:
                shown = ", ".join(
                    f"{w!r} x{c}" for w, c in list(duplicated.items())[:5]
                )
                parts.append(f"duplicate lines: {shown}")
            found.append(
                Anomaly(
                    code=Code.VOCABULARY_SIZE_MISMATCH,
                    severity=Severity.ERROR,
                    message="; ".join(parts),
                    model=model.name,
                    feature=model.label_feature,
                    details={
                        "lines": files.vocabulary_size,
                        "num_oov_buckets": model.num_oov_buckets,
                        "duplicates": duplicated,
                    },
                )
            )
    for role, found_variable, axis_name in (
        ("weights", files.weights, "rows"),
        ("biases", files.biases, "length"),
    ):
        if found_variable is None:
            continue
        name, shape = found_variable
        if not shape or shape[0] != n:
            found.append(
                Anomaly(
                    code=Code.WEIGHTS_SHAPE_MISMATCH,
                    severity=Severity.ERROR,
                    message=f"{role} '{name}' in {model.checkpoint} has shape "
                    f"{list(shape)} ({axis_name} {shape[0] if shape else 'none'}), "
                    f"not num_classes {n}: the checkpoint was built for another "
                    "class count",
                    model=model.name,
                    details={"variable": name, "shape": list(shape), "role": role},
                )
            )
    return found
