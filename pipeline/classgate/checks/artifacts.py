"""Sources must agree: every file that says how many classes a model has, checked.

A config field may be given by several sources: references that must agree (a
value read from the trainer's config and the checkpoint's weight rows), the
vocabulary (its lines and OOV buckets are the classes), and the checkpoint (its
output weights' rows, its biases' length). One rule: each source's figure for a
field must equal the value the config gives it; a disagreement is an ERROR naming
both sources and both values, with the code of the kind of source
(SOURCES_DISAGREE, VOCABULARY_SIZE_MISMATCH, WEIGHTS_SHAPE_MISMATCH).

The files are read on the driver before the scan (classgate.model_files.summary,
classgate.config); these functions only compare what was read.
"""

from classgate.checks.anomaly import Anomaly, Code, Severity
from classgate.config import ModelConfig
from classgate.model_files.summary import ModelFiles


def check(model: ModelConfig, files: ModelFiles) -> list[Anomaly]:
    """Every disagreement among the sources of the model's fields."""
    found = []
    for field, sources in model.sources.items():
        given = getattr(model, field)
        for source in sources[1:]:
            if source.value != given:
                found.append(
                    _disagreement(
                        model,
                        Code.SOURCES_DISAGREE,
                        field,
                        source.value,
                        f"{source.file}: {source.key}",
                        f"its values must agree: fix {source.file} or the reference",
                        {"sources": [s.model_dump() for s in sources]},
                    )
                )
    if files.vocabulary_size is not None:
        size = files.vocabulary_size + model.num_oov_buckets
        if size != model.num_classes:
            found.append(
                _disagreement(
                    model,
                    Code.VOCABULARY_SIZE_MISMATCH,
                    "num_classes",
                    size,
                    f"{model.vocabulary_file}: {files.vocabulary_size} lines + "
                    f"{model.num_oov_buckets} OOV buckets",
                    f"set num_classes to {size} or fix the file",
                    {
                        "lines": files.vocabulary_size,
                        "num_oov_buckets": model.num_oov_buckets,
                    },
                )
            )
        if files.vocabulary_duplicates:
            shown = ", ".join(
                f"{w!r} x{c}" for w, c in list(files.vocabulary_duplicates.items())[:5]
            )
            found.append(
                Anomaly(
                    code=Code.VOCABULARY_SIZE_MISMATCH,
                    severity=Severity.ERROR,
                    message=f"{model.vocabulary_file} has duplicate lines ({shown}): "
                    "a string maps to its first line only, and the later ones are "
                    "classes no label can reach",
                    model=model.name,
                    feature=model.label_feature,
                    details={"duplicates": files.vocabulary_duplicates},
                )
            )
    for role, variable, axis_name in (
        ("weights", files.weights, "rows"),
        ("biases", files.biases, "length"),
    ):
        if variable is None:
            continue
        name, shape = variable
        figure = shape[0] if shape else None
        if figure != model.num_classes:
            found.append(
                _disagreement(
                    model,
                    Code.WEIGHTS_SHAPE_MISMATCH,
                    "num_classes",
                    figure,
                    f"{model.checkpoint}: {role} '{name}' of shape {list(shape)} "
                    f"({axis_name})",
                    "the checkpoint was built for another class count",
                    {"variable": name, "shape": list(shape), "role": role},
                )
            )
    return found


def source_of(model: ModelConfig, field: str) -> str:
    """Where a field's value came from: a file and key, or the model config."""
    sources = model.sources.get(field)
    if sources:
        return f"{sources[0].file}: {sources[0].key}"
    return "the model config"


def _disagreement(model, code, field, figure, where, advice, details) -> Anomaly:
    given = getattr(model, field)
    return Anomaly(
        code=code,
        severity=Severity.ERROR,
        message=f"{field} is {given} ({source_of(model, field)}) but {figure} "
        f"({where}): {advice}",
        model=model.name,
        feature=model.label_feature,
        details={
            "field": field,
            "value": given,
            "source": source_of(model, field),
            "other_value": figure,
            "other_source": where,
            **details,
        },
    )
