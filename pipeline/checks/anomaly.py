"""The anomaly: one finding, with a stable code and a message that says what to do."""

import dataclasses
import enum


class Severity(enum.StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"


@dataclasses.dataclass(frozen=True)
class Anomaly:
    code: str
    severity: Severity
    message: str
    model: str | None = None
    feature: str | None = None
    split: str | None = None
    details: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "model": self.model,
            "feature": self.feature,
            "split": self.split,
            "message": self.message,
            "details": self.details,
        }

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
