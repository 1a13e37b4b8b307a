"""Checks of a model's sampler settings, which need no data."""

from classgate.checks.anomaly import Anomaly, Code, Severity
from classgate.config import ModelConfig

# From half the classes on, the sampled loss does at least half the work of the
# exact softmax and adds its estimator's variance on top.
HIGH_SAMPLED_SHARE = 0.5
# Lines of a per-class file (unigram, remap) at most: 2**30 lines are 2 GB of
# unigram counts, which fixed_unigram_candidate_sampler holds in memory as 8 GB
# of weights; past that a file of one line per class is no file to train with.
MAX_CLASS_FILE_LINES = 1 << 30


def check(model: ModelConfig) -> list[Anomaly]:
    """The sampler's settings (a sampled loss only) and the per-class files' size."""
    sampled = _num_sampled(model) + _advice(model) if model.sampled else []
    return sampled + _class_files(model)


def _class_files(model: ModelConfig) -> list[Anomaly]:
    if model.num_classes <= MAX_CLASS_FILE_LINES:
        return []
    return [
        Anomaly(
            code=Code.CLASS_FILES_SKIPPED,
            severity=Severity.WARNING,
            message=f"num_classes {model.num_classes} is above "
            f"{MAX_CLASS_FILE_LINES}: no unigram or remap file is written (one "
            "line per class would take more than 2 GB); report.json holds the "
            "label figures",
            model=model.name,
            details={"num_classes": model.num_classes, "limit": MAX_CLASS_FILE_LINES},
        )
    ]


def _advice(model: ModelConfig) -> list[Anomaly]:
    found = []
    if model.loss == "nce" and model.remove_accidental_hits:
        found.append(
            Anomaly(
                code=Code.ACCIDENTAL_HITS_WITH_NCE,
                severity=Severity.WARNING,
                message="remove_accidental_hits with nce loss turns NCE into sampled "
                "logistic regression: set it to false, or use loss: sampled_softmax",
                model=model.name,
            )
        )
    share = model.num_sampled / model.num_classes
    if share >= HIGH_SAMPLED_SHARE and 0 < model.num_sampled < model.num_classes:
        found.append(
            Anomaly(
                code=Code.NUM_SAMPLED_HIGH,
                severity=Severity.WARNING,
                message=f"num_sampled {model.num_sampled} is {share:.0%} of "
                f"num_classes {model.num_classes}: a full softmax would be about as "
                "cheap and exact",
                model=model.name,
                details={"share": share},
            )
        )
    return found


def _num_sampled(model: ModelConfig) -> list[Anomaly]:
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
            code=Code.NUM_SAMPLED_INVALID,
            severity=Severity.ERROR,
            message=message,
            model=model.name,
            details={"num_sampled": sampled, "num_classes": n, "unique": model.unique},
        )
    ]
