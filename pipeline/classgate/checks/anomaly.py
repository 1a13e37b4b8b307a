"""The anomaly: one finding, with a stable code and a message that says what to do.

The codes and severities are classgate.codes' (re-exported here). What findings
mean for a run is here, once: `status_of` is the verdict (the decision, the gate's
re-derivation and the JUnit file all ask it); a waived finding fails nothing.
"""

from collections.abc import Iterable

import pydantic

from classgate.codes import (  # noqa: F401 (the vocabulary of findings, re-exported)
    DESCRIPTIONS,
    TFDV_DESCRIPTION,
    TFDV_PREFIX,
    Code,
    Severity,
    Status,
)


def failing_severities(strict: bool) -> frozenset[Severity]:
    """The severities that fail a run: errors, and with --strict warnings too."""
    return frozenset({Severity.ERROR, *([Severity.WARNING] if strict else [])})


def failing(anomalies: Iterable["Anomaly"], strict: bool) -> list["Anomaly"]:
    """The anomalies that fail the run: of a failing severity, and not waived."""
    severities = failing_severities(strict)
    return [a for a in anomalies if a.severity in severities and a.waived is None]


def status_of(anomalies: Iterable["Anomaly"], strict: bool) -> Status:
    """FAIL with a failing anomaly among them (see `failing`), else PASS."""
    return Status.FAIL if failing(anomalies, strict) else Status.PASS


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
    # The model config's waiver of this finding (`checks: {CODE: {waive: ...}}`):
    # {"reason": ..., "until": date or None}. A waived finding is listed, and fails
    # nothing.
    waived: dict | None = None

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
        waived = f" (waived: {self.waived['reason']})" if self.waived else ""
        return f"{self.severity.value:<7} {self.code} [{where}] {self.message}{waived}"
