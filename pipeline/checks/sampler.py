"""Checks of a model's sampler settings, which need no data."""

from pipeline.checks.anomaly import Anomaly, Severity
from pipeline.config import ModelConfig


def check(model: ModelConfig) -> list[Anomaly]:
    n, sampled = model.num_classes, model.num_sampled
    if sampled <= 0:
        message = f"num_sampled is {sampled}: set it to at least 1" + (
            f" and below {n}" if model.unique else ""
        )
    elif model.unique and sampled >= n:
        # Unique sampling draws without replacement from num_classes candidates.
        message = (
            f"num_sampled {sampled} >= num_classes {n} with a unique sampler: "
            f"set num_sampled below {n}, or use a full softmax"
        )
    else:
        return []
    return [
        Anomaly(
            code="NUM_SAMPLED_INVALID",
            severity=Severity.ERROR,
            message=message,
            model=model.name,
            details={"num_sampled": sampled, "num_classes": n, "unique": model.unique},
        )
    ]
