"""report.html's checks tables: every check that ran, and what each found.

A row per (check, split): ticked, with what it makes sure of, when it found
nothing; its severity and findings otherwise, each finding's message followed by
its figures and offending values as tables. Errors come first, then warnings,
then the ticked checks. Every string taken from the report is escaped.
"""

import dataclasses
import html

from classgate.checks import catalog
from classgate.checks.anomaly import TFDV_PREFIX, Anomaly, Code
from classgate.report import plots

_SEVERITIES = ("ERROR", "WARNING")
# Rows of a finding's table shown open; the rest (up to the 20 locations a finding
# keeps) fold away.
_ROWS_SHOWN = 10
# What each check makes sure of, shown beside a tick: a passed check says what
# passed, as a Data Docs expectation does.
_WHAT = {
    Code.LABEL_ABOVE_RANGE: "no label is >= num_classes",
    Code.LABEL_BELOW_RANGE: "no label is negative",
    Code.CLASSES_UNSEEN: "at most max_unseen_fraction of the classes never occur",
    Code.LABEL_MISSING: "every example has a label",
    Code.LABEL_COUNT_MISMATCH: "every example has num_true labels",
    Code.LABEL_TYPE_INVALID: "labels are int64 ids (or vocabulary strings)",
    Code.EMPTY_DATASET: "the split has examples",
    Code.NUM_SAMPLED_INVALID: "num_sampled is a size the sampler can draw",
    Code.NUM_SAMPLED_HIGH: "num_sampled is well below num_classes",
    Code.ACCIDENTAL_HITS_WITH_NCE: "NCE is not turned into sampled logistic loss",
    Code.CLASS_FILES_SKIPPED: "per-class files are small enough to write",
    Code.LABEL_ONE_BASED: "labels are not 1-based",
    Code.LABEL_SENTINEL: "no padding or sentinel label value",
    Code.LABEL_NOT_IN_VOCABULARY: "every label string is in the vocabulary",
    Code.VOCABULARY_SIZE_MISMATCH: "the vocabulary has num_classes entries",
    Code.WEIGHTS_SHAPE_MISMATCH: "the checkpoint's output layer has num_classes rows",
    Code.SOURCES_DISAGREE: "every source of a value gives the same value",
    Code.ID_OUT_OF_RANGE: "context ids are inside the embedding table",
    Code.ID_FEATURE_ABSENT: "examples have the context feature",
    Code.ID_TYPE_INVALID: "context ids are int64",
    Code.SAMPLER_FREQUENCY_ORDER: "class frequency falls with id (log-uniform)",
    Code.SPLIT_LABEL_UNSEEN_IN_TRAIN: "every label here occurs in the training split",
    Code.SPLIT_CLASSES_MISSING: "every training class occurs here",
    Code.COMPRESSION_NAME_MISMATCH: "file names and gzip compression agree",
    Code.COLUMNS_NOT_IN_STATISTICS: "every column fits TFDV's statistics",
    catalog.TFDV_SCHEMA: (
        "the split matches the schema inferred from the training split"
    ),
}
_TICK, _CROSS = "\u2713", "\u2717"


@dataclasses.dataclass(frozen=True)
class _Check:
    """One check as run on one split (None: on the config or the whole data)."""

    code: str
    split: str | None
    findings: tuple[Anomaly, ...]

    @property
    def severity(self) -> str | None:
        """The worst finding's severity; None when the check found nothing."""
        found = {a.severity for a in self.findings}
        return next((s for s in _SEVERITIES if s in found), None)


def _gather(ran: list, anomalies: list[Anomaly]) -> list[_Check]:
    """A row per check that ran, holding its findings.

    A finding of a check not known to have run (a TFDV type against a baseline
    schema, a newer classgate's check) is a row of its own.
    """
    by_key = {}
    for anomaly in anomalies:
        code = anomaly.code
        if code.startswith(TFDV_PREFIX) and (catalog.TFDV_SCHEMA, anomaly.split) in ran:
            code = catalog.TFDV_SCHEMA
        by_key.setdefault((code, anomaly.split), []).append(anomaly)
    keys = list(dict.fromkeys([*ran, *by_key]))
    rows = [
        _Check(code, split, tuple(by_key.get((code, split), ())))
        for code, split in keys
    ]
    order = {None: 2, "WARNING": 1, "ERROR": 0}
    return sorted(rows, key=lambda c: order[c.severity])


def table(ran: list, anomalies: list[Anomaly]) -> str:
    """The checks table: errors, then warnings, then the ticked checks."""
    rows = _gather(ran, anomalies)
    passed = sum(c.severity is None for c in rows)
    summary = (
        f"<p class=note>{len(rows)} checks ran: {passed} passed, "
        f"{len(rows) - passed} found something.</p>"
    )
    head = "<tr><th>status</th><th>check</th><th>split</th><th>result</th></tr>"
    return f"{summary}<table class=checks>{head}{''.join(map(_row, rows))}</table>"


def _row(check: _Check) -> str:
    if check.severity is None:
        color = plots.COLORS["pass"]
        status = f"{_TICK} passed"
        result = _e(_WHAT.get(check.code, ""))
        kind = "passed"
    else:
        color = plots.COLORS[check.severity]
        status = f"{_CROSS} {check.severity}"
        several = len(check.findings) > 1
        result = "".join(_finding(a, several) for a in check.findings)
        kind = check.severity
    return (
        f'<tr class="{kind}" data-code="{_e(check.code)}" '
        f'data-split="{_e(check.split or "")}" style="border-left:6px solid {color}">'
        f'<td class=status style="color:{color}">{status}</td>'
        f"<td class=code>{_e(check.code)}</td><td>{_e(check.split or '')}</td>"
        f"<td>{result}</td></tr>"
    )


def _finding(anomaly: Anomaly, several: bool) -> str:
    """One anomaly's message, then its details as tables.

    The status cell gives the severity; of several findings each says its own.
    """
    code = (
        f"<span class=code>{_e(anomaly.code)}</span>: "
        if anomaly.code.startswith(TFDV_PREFIX)
        else ""
    )
    where = f" (feature {_e(anomaly.feature)})" if anomaly.feature else ""
    colour = plots.COLORS[anomaly.severity]
    severity = (
        f'<span style="color:{colour}">{_e(anomaly.severity)}</span> '
        if several
        else ""
    )
    return (
        f"<div class=finding>{severity}{code}{_e(anomaly.message)}{where}"
        f"{_details(anomaly.details)}</div>"
    )


def _details(details: dict) -> str:
    """An anomaly's figures as tables: its scalars in one, each list or mapping apart.

    A list of records (most_frequent: value and count; locations: file, record and
    value) is a table with a column per key; a mapping, one of keys and values.
    """
    figures, tables = [], []
    for key, value in details.items():
        name = key.replace("_", " ")
        if (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) for v in value)
        ):
            tables.append(_records(name, value))
        elif isinstance(value, dict):
            if value:
                rows = [{"key": k, "value": v} for k, v in value.items()]
                tables.append(_records(name, rows))
        elif isinstance(value, list):
            figures.append((name, ", ".join(map(_cell_text, value))))
        else:
            figures.append((name, value))
    if figures:
        rows = "".join(
            f"<tr><th>{_e(name)}</th>{_cell(value)}</tr>" for name, value in figures
        )
        tables.insert(
            0, f"<table class=figures><caption>figures</caption>{rows}</table>"
        )
    return f"<div class=tables>{''.join(tables)}</div>" if tables else ""


def _records(name: str, records: list[dict]) -> str:
    """A table of dicts (offending values, locations): a column per key.

    Files in one folder are named once, in the caption; rows past _ROWS_SHOWN
    fold under a <details>, so two findings do not push the plots off the page.
    """
    columns = list(dict.fromkeys(k for r in records for k in r))
    folder = _folder([r.get("file") for r in records])
    if folder:
        records = [{**r, "file": r["file"][len(folder) :]} for r in records]
    head = "<tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>"
    rows = [
        "<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>" for r in records
    ]
    where = f" in {_e(folder)}" if folder else ""
    table = (
        f'<table class="{_e(name)}"><caption>{_e(name)} ({len(records)}){where}'
        f"</caption>{head}{''.join(rows[:_ROWS_SHOWN])}</table>"
    )
    if len(rows) <= _ROWS_SHOWN:
        return table
    return (
        f"<div>{table}<details><summary class=note>{len(rows) - _ROWS_SHOWN} more"
        f'</summary><table class="{_e(name)}">{head}'
        f"{''.join(rows[_ROWS_SHOWN:])}</table></details></div>"
    )


def _folder(paths: list) -> str:
    """The folder (up to its last "/") every path lies in; "" if not one."""
    if not paths or not all(isinstance(p, str) for p in paths):
        return ""
    common = paths[0]
    for path in paths[1:]:
        while not path.startswith(common):
            common = common[:-1]
    return common[: common.rfind("/") + 1]


def _cell(value) -> str:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return f"<td{' class=num' if number else ''}>{_e(_cell_text(value))}</td>"


def _cell_text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _e(value) -> str:
    return html.escape("" if value is None else str(value))
