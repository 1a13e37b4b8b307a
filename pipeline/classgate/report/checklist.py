"""report.html's checks tables: every check that ran, and what each found.

A row per (check, split): ticked, with what it makes sure of, when it found
nothing; its severity and findings otherwise, each finding's message followed by
its figures and offending values as tables. Failures first: errors, then warnings
in one table, and the ticked checks folded under their count ("15 checks
passed"), which the page's "failed checks only" switch hides altogether. A file
named in a finding is shown relative to its split's data folder, the whole path
in its tooltip (paths.Roots). Every string taken from the report is escaped.
"""

import dataclasses
import html

from classgate.checks import catalog
from classgate.checks.anomaly import TFDV_PREFIX, Anomaly, Code
from classgate.report import paths, plots

_SEVERITIES = ("ERROR", "WARNING")
# A check whose every finding the model config waived (checks: {CODE: {waive}}):
# listed with its findings and the reasons, failing nothing.
WAIVED = "waived"
_WAIVED_COLOR = "#757575"
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
    Code.HIDDEN_FILES_SKIPPED: (
        "no Parquet data file the glob matched is hidden (a name starting with _ or .)"
    ),
    Code.LABEL_DRIFT: "class frequencies moved less than the drift thresholds",
    Code.CLASSES_APPEARED: "no class appeared that chance does not explain",
    Code.CLASSES_VANISHED: "no class vanished that chance does not explain",
    Code.NUM_CLASSES_HEADROOM: "labels will not outgrow num_classes within "
    "headroom_days",
    Code.HISTORY_SKIPPED: "every earlier report could be compared with",
    catalog.TFDV_SCHEMA: (
        "the split matches the schema inferred from the training split"
    ),
}
# A passed check of a code this classgate does not know (a newer one's report).
_UNKNOWN = "a check this version of classgate does not describe"
_TICK, _CROSS, _DASH = "\u2713", "\u2717", "\u2014"


@dataclasses.dataclass(frozen=True)
class _Check:
    """One check as run on one split (None: on the config or the whole data)."""

    code: str
    split: str | None
    findings: tuple[Anomaly, ...]

    @property
    def severity(self) -> str | None:
        """The worst severity of the findings not waived.

        WAIVED when the model config waived them all; None when the check found
        nothing.
        """
        found = {a.severity for a in self.findings if a.waived is None}
        worst = next((s for s in _SEVERITIES if s in found), None)
        return worst or (WAIVED if self.findings else None)


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
    order = {None: 3, WAIVED: 2, "WARNING": 1, "ERROR": 0}
    return sorted(rows, key=lambda c: order[c.severity])


def what(code: str) -> str:
    """What a check makes sure of, in a few words: a ticked row's result."""
    return _WHAT.get(code, _UNKNOWN)


def table(ran: list, anomalies: list[Anomaly], roots: paths.Roots) -> str:
    """The checks that found something in a table, the passed ones folded below.

    Errors first, then warnings; the ticked checks under their count.
    """
    rows = _gather(ran, anomalies)
    found = [c for c in rows if c.severity is not None]
    passed = [c for c in rows if c.severity is None]
    summary = (
        f"<p class=note>{len(rows)} checks ran: {len(passed)} passed, "
        f"{len(found)} found something.</p>"
    )
    head = "<tr><th>status</th><th>check</th><th>split</th><th>result</th></tr>"
    parts = [summary]
    if found:
        cells = "".join(_row(c, roots) for c in found)
        parts.append(f"<table class=checks>{head}{cells}</table>")
    if passed:
        cells = "".join(_row(c, roots) for c in passed)
        parts.append(
            f"<details class=passed><summary>{len(passed)} check"
            f"{'s' if len(passed) > 1 else ''} passed</summary>"
            f"<table class=checks>{head}{cells}</table></details>"
        )
    return f"<div class=checklist>{''.join(parts)}</div>"


def _row(check: _Check, roots: paths.Roots) -> str:
    if check.severity is None:
        color = plots.COLORS["pass"]
        status = f"{_TICK} passed"
        result = _e(what(check.code))
        kind = "passed"
    elif check.severity == WAIVED:
        color = _WAIVED_COLOR
        status = "waived"
        result = "".join(_finding(a, False, roots) for a in check.findings)
        kind = WAIVED
    else:
        color = plots.COLORS[check.severity]
        status = f"{_CROSS} {check.severity}"
        several = len(check.findings) > 1
        result = "".join(_finding(a, several, roots) for a in check.findings)
        kind = check.severity
    return (
        f'<tr class="{kind}" data-code="{_e(check.code)}" '
        f'data-split="{_e(check.split or "")}" style="border-left:6px solid {color}">'
        f'<td class=status style="color:{color}">{status}</td>'
        f"<td class=code>{_e(check.code)}</td>{_split(check.split)}"
        f"<td>{result}</td></tr>"
    )


def _split(split: str | None) -> str:
    """The split cell: a check of the config or the whole data has none."""
    if split is None:
        return (
            f'<td class=unset title="a check of the config, of no split">{_DASH}</td>'
        )
    return f"<td>{_e(split)}</td>"


def _finding(anomaly: Anomaly, several: bool, roots: paths.Roots) -> str:
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
    waiver = ""
    if anomaly.waived:
        until = anomaly.waived.get("until")
        waiver = (
            f" <em class=waiver>(waived: {_e(anomaly.waived.get('reason', ''))}"
            f"{f', until {_e(until)}' if until else ''})</em>"
        )
    return (
        f"<div class=finding>{severity}{code}{_e(anomaly.message)}{where}{waiver}"
        f"{_details(anomaly.details, roots)}</div>"
    )


def _details(details: dict, roots: paths.Roots) -> str:
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
            tables.append(_records(name, value, roots))
        elif isinstance(value, dict):
            if value:
                rows = [{"key": k, "value": v} for k, v in value.items()]
                tables.append(_records(name, rows, roots))
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


def _records(name: str, records: list[dict], roots: paths.Roots) -> str:
    """A table of dicts (offending values, locations): a column per key.

    A file is shown relative to its split's data folder, the whole path in its
    tooltip; rows past _ROWS_SHOWN fold under a <details>, so two findings do not
    push the plots off the page.
    """
    columns = list(dict.fromkeys(k for r in records for k in r))
    head = "<tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>"
    rows = [
        "<tr>"
        + "".join(
            roots.cell(r[c])
            if c == "file" and isinstance(r.get(c), str)
            else _cell(r.get(c))
            for c in columns
        )
        + "</tr>"
        for r in records
    ]
    table = (
        f'<table class="{_e(name)}"><caption>{_e(name)} ({len(records)})'
        f"</caption>{head}{''.join(rows[:_ROWS_SHOWN])}</table>"
    )
    if len(rows) <= _ROWS_SHOWN:
        return table
    return (
        f"<div>{table}<details><summary class=note>{len(rows) - _ROWS_SHOWN} more"
        f'</summary><table class="{_e(name)}">{head}'
        f"{''.join(rows[_ROWS_SHOWN:])}</table></details></div>"
    )


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
