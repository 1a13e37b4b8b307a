"""Per-check control: a model config's severity overrides and waivers, applied once.

`checks: {CODE: {severity: ERROR}}` makes every finding of that code for that model
an ERROR (or a WARNING); `checks: {CODE: {waive: REASON, until: DATE}}` waives them:
each stays in every report, marked with the reason, and fails nothing, until the
day after DATE, when the check counts again (the finding then says the waiver
expired). Applied to every finding of the model, TFDV's and the history's
included, after the checks ran; the gate's re-derivation asks `waived` too. The
checks whose failure breaks training (codes.MUST_HOLD) take no control.
"""

import datetime
from collections.abc import Iterable, Sequence

from classgate.checks.anomaly import Anomaly, Severity
from classgate.codes import MUST_HOLD
from classgate.config import ModelConfig


def apply(
    models: Sequence[ModelConfig], anomalies: Iterable[Anomaly], today: datetime.date
) -> list[Anomaly]:
    """The anomalies with each model's overrides and waivers applied on `today`."""
    by_name = {m.name: m for m in models}
    found = []
    for anomaly in anomalies:
        model = by_name.get(anomaly.model)
        control = model.checks.get(anomaly.code) if model else None
        if control is None or anomaly.code in MUST_HOLD:
            found.append(anomaly)
            continue
        update, details = {}, dict(anomaly.details)
        if control.severity is not None and control.severity != anomaly.severity:
            update["severity"] = Severity(control.severity)
            details["severity_from"] = anomaly.severity.value
        if control.waive is not None:
            if control.until is None or today <= control.until:
                update["waived"] = {
                    "reason": control.waive,
                    "until": control.until.isoformat() if control.until else None,
                }
            else:
                details["waiver_expired"] = control.until.isoformat()
        update["details"] = details
        found.append(anomaly.model_copy(update=update))
    return found


def waived(model: ModelConfig, code: str, today: datetime.date) -> bool:
    """Whether the model waives `code` on `today` (never a MUST_HOLD code)."""
    control = model.checks.get(code)
    if control is None or control.waive is None or code in MUST_HOLD:
        return False
    return control.until is None or today <= control.until
