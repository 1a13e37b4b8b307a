"""The anomaly: one finding, with a stable code and a message that says what to do.

`Code` names every finding classgate's own checks make; TFDV's findings keep TFDV's
names behind a `TFDV_` prefix. Codes are a contract: CI rules, dashboards and the
report's readers match on them. What findings mean for a run is here too, once:
`status_of` is the verdict (the decision, the gate's re-derivation and the JUnit
file all ask it).
"""

import enum
from collections.abc import Iterable

import pydantic


class Severity(enum.StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"


class Status(enum.StrEnum):
    """How a run ended: a verdict, or none yet."""

    PASS = "pass"
    FAIL = "fail"
    # The runner only translated the job (--dry_run): nothing was validated.
    DRY_RUN = "dry-run"
    # The job was submitted; `classgate conclude` gives the verdict later.
    SUBMITTED = "submitted"


def failing_severities(strict: bool) -> frozenset[Severity]:
    """The severities that fail a run: errors, and with --strict warnings too."""
    return frozenset({Severity.ERROR, *([Severity.WARNING] if strict else [])})


def failing(anomalies: Iterable["Anomaly"], strict: bool) -> list["Anomaly"]:
    """The anomalies that fail the run."""
    severities = failing_severities(strict)
    return [a for a in anomalies if a.severity in severities]


def status_of(anomalies: Iterable["Anomaly"], strict: bool) -> Status:
    """FAIL with a failing anomaly among them (see `failing`), else PASS."""
    return Status.FAIL if failing(anomalies, strict) else Status.PASS


class Code(enum.StrEnum):
    """classgate's anomaly codes (see the README's tables for when each fires)."""

    # Labels against num_classes and num_true.
    LABEL_ABOVE_RANGE = "LABEL_ABOVE_RANGE"
    LABEL_BELOW_RANGE = "LABEL_BELOW_RANGE"
    CLASSES_UNSEEN = "CLASSES_UNSEEN"
    LABEL_MISSING = "LABEL_MISSING"
    LABEL_COUNT_MISMATCH = "LABEL_COUNT_MISMATCH"
    LABEL_TYPE_INVALID = "LABEL_TYPE_INVALID"
    EMPTY_DATASET = "EMPTY_DATASET"
    # The sampler's settings, which need no data.
    NUM_SAMPLED_INVALID = "NUM_SAMPLED_INVALID"
    NUM_SAMPLED_HIGH = "NUM_SAMPLED_HIGH"
    ACCIDENTAL_HITS_WITH_NCE = "ACCIDENTAL_HITS_WITH_NCE"
    CLASS_FILES_SKIPPED = "CLASS_FILES_SKIPPED"
    # Diagnoses: why the config and the data disagree.
    LABEL_ONE_BASED = "LABEL_ONE_BASED"
    LABEL_SENTINEL = "LABEL_SENTINEL"
    LABEL_NOT_IN_VOCABULARY = "LABEL_NOT_IN_VOCABULARY"
    VOCABULARY_SIZE_MISMATCH = "VOCABULARY_SIZE_MISMATCH"
    WEIGHTS_SHAPE_MISMATCH = "WEIGHTS_SHAPE_MISMATCH"
    ID_OUT_OF_RANGE = "ID_OUT_OF_RANGE"
    ID_FEATURE_ABSENT = "ID_FEATURE_ABSENT"
    ID_TYPE_INVALID = "ID_TYPE_INVALID"
    SAMPLER_FREQUENCY_ORDER = "SAMPLER_FREQUENCY_ORDER"
    SPLIT_LABEL_UNSEEN_IN_TRAIN = "SPLIT_LABEL_UNSEEN_IN_TRAIN"
    SPLIT_CLASSES_MISSING = "SPLIT_CLASSES_MISSING"
    # Against earlier runs (--previous-report).
    LABEL_DRIFT = "LABEL_DRIFT"
    CLASSES_APPEARED = "CLASSES_APPEARED"
    CLASSES_VANISHED = "CLASSES_VANISHED"
    NUM_CLASSES_HEADROOM = "NUM_CLASSES_HEADROOM"
    HISTORY_SKIPPED = "HISTORY_SKIPPED"
    # The data files themselves.
    COMPRESSION_NAME_MISMATCH = "COMPRESSION_NAME_MISMATCH"
    COLUMNS_NOT_IN_STATISTICS = "COLUMNS_NOT_IN_STATISTICS"
    HIDDEN_FILES_SKIPPED = "HIDDEN_FILES_SKIPPED"


# TFDV's anomaly types, as codes: TFDV_<AnomalyInfo.Type name>.
TFDV_PREFIX = "TFDV_"


class Anomaly(pydantic.BaseModel):
    """One finding: which check, how bad, where, what to do, and its figures."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    code: str  # a Code, or TFDV_<type>
    severity: Severity
    model: str | None = None
    feature: str | None = None
    split: str | None = None
    message: str
    details: dict = {}

    def line(self) -> str:
        """One line for a terminal or a log."""
        where = ", ".join(
            f"{key}={value}"
            for key, value in (
                ("model", self.model),
                ("split", self.split),
                ("feature", self.feature),
            )
            if value is not None
        )
        return f"{self.severity.value:<7} {self.code} [{where}] {self.message}"
