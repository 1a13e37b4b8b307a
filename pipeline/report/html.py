"""report.html: one self-contained page for people: verdict, models, plots, files.

Everything is inline (CSS and SVG drawn here from the report's numbers), so the page
opens from a CI artifact or a bucket with no network and no scripts. Per model it
shows the resolved config, a table of every check that ran (ticked when it found
nothing, its severity when it found something, with the offending values and their
locations as tables), and per split three plots of its label: the rank-frequency
curve on log-log axes beside what the log-uniform sampler expects, with the classes
never seen as its tail; the id histogram with the valid range [0, num_classes)
marked and its bin width stated; and the share of classes never seen. Every string
taken from the report is escaped.

report.json lists findings, not the checks that ran; `_model_checks` and
`_data_checks` work those out from what it does carry (models, splits, their
formats and example counts, the mode), following `checks.evaluate`.
"""

import dataclasses
import datetime
import html

from classgate.checks.anomaly import TFDV_PREFIX, Anomaly, Code
from classgate.config import ModelConfig
from classgate.report import plots
from classgate.report.model import LabelSummary, Outputs, Report, SplitData

_SEVERITIES = ("ERROR", "WARNING")
# Model config keys per table row: 16 keys take four short rows, not sixteen.
_CONFIG_COLUMNS = 4
# A data set can have thousands of shards; the page lists the first ones.
_MAX_FILES = 50
# Rows of a finding's table shown open; the rest (up to the 20 locations a finding
# keeps) fold away.
_ROWS_SHOWN = 10
# The row of TFDV's schema validation of a split (full mode): its findings are the
# split's TFDV_* anomalies, whatever their type.
TFDV_SCHEMA = "TFDV schema"
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
    Code.ID_OUT_OF_RANGE: "context ids are inside the embedding table",
    Code.ID_FEATURE_ABSENT: "examples have the context feature",
    Code.ID_TYPE_INVALID: "context ids are int64",
    Code.SAMPLER_FREQUENCY_ORDER: "class frequency falls with id (log-uniform)",
    Code.SPLIT_LABEL_UNSEEN_IN_TRAIN: "every label here occurs in the training split",
    Code.SPLIT_CLASSES_MISSING: "every training class occurs here",
    Code.COMPRESSION_NAME_MISMATCH: "file names and gzip compression agree",
    Code.COLUMNS_NOT_IN_STATISTICS: "every column fits TFDV's statistics",
    TFDV_SCHEMA: "the split matches the schema inferred from the training split",
}
# Checks of a model's config and files, which need no data.
_CONFIG_CHECKS = (
    Code.NUM_SAMPLED_INVALID,
    Code.NUM_SAMPLED_HIGH,
    Code.ACCIDENTAL_HITS_WITH_NCE,
    Code.CLASS_FILES_SKIPPED,
)
# Checks of a model's label values in each split that has examples.
_SPLIT_CHECKS = (
    Code.LABEL_MISSING,
    Code.LABEL_COUNT_MISMATCH,
    Code.LABEL_TYPE_INVALID,
    Code.LABEL_ABOVE_RANGE,
    Code.LABEL_BELOW_RANGE,
    Code.LABEL_ONE_BASED,
    Code.LABEL_SENTINEL,
)
_CONTEXT_CHECKS = (Code.ID_FEATURE_ABSENT, Code.ID_TYPE_INVALID, Code.ID_OUT_OF_RANGE)
_PAIR_CHECKS = (Code.SPLIT_LABEL_UNSEEN_IN_TRAIN, Code.SPLIT_CLASSES_MISSING)
_TICK, _CROSS = "\u2713", "\u2717"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1360px;padding:16px 24px;color:#222}
.banner{color:#fff;padding:16px 24px;border-radius:6px}
.banner h1{margin:0;font-size:40px}.banner p{margin:4px 0 0;font-size:16px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;
padding:3px 8px;text-align:left;font-size:13px}th{background:#f5f5f5}
.num{text-align:right}.check{border-left:6px solid;padding:4px 10px;margin:6px 0;
background:#fafafa}.code{font-family:monospace;font-weight:bold}
.plots{display:flex;flex-wrap:wrap;gap:12px}svg{background:#fff;border:1px solid #eee}
.note{color:#555;font-size:13px}
table.checks{width:100%}.checks>tbody>tr>td{vertical-align:top;font-size:14px}
.status{white-space:nowrap;font-weight:bold}.finding{margin:2px 0 6px}
.tables{display:flex;flex-wrap:wrap;gap:4px 16px;align-items:flex-start}
.tables table{margin:2px 0}caption{text-align:left;font-size:12px;color:#555;
padding:2px 0}
"""


def render(report: Report) -> str:
    """The whole page for one finished validation."""
    verdict = "PASS" if report.status == "pass" else "FAIL"
    body = [_banner(report, verdict), "<h2>Data checks</h2>"]
    # A split's TFDV row holds all its TFDV findings, those on a model's label too.
    tfdv = report.mode == "full"
    data = [
        a
        for a in report.anomalies
        if a.model is None or (tfdv and a.code.startswith(TFDV_PREFIX))
    ]
    body.append(_checks(_data_checks(report), data))
    body += [_model(report, model) for model in report.models]
    body += [_outputs(report.outputs), _data(report.data)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>classgate: {verdict}</title><style>{_CSS}</style></head>\n"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _banner(report: Report, verdict: str) -> str:
    severities = [a.severity for a in report.anomalies]
    count = {s: severities.count(s) for s in _SEVERITIES}
    strict = " (--strict: warnings fail the gate)" if report.strict else ""
    color = plots.COLORS["pass" if verdict == "PASS" else "ERROR"]
    return (
        f'<div class="banner" style="background:{color}"><h1>classgate: {verdict}'
        f"</h1><p>{count['ERROR']} error(s), {count['WARNING']} warning(s){strict}"
        f"</p></div>\n<p class=note>Mode {_e(report.mode)}; classgate "
        f"{_e(report.version)}; {_e(report.started)} to "
        f"{_e(report.finished)}; training split {_e(report.training_split)}; "
        f"config {_e(report.config_fingerprint[:19])}</p>"
    )


def _model(report: Report, model: ModelConfig) -> str:
    name, feature = model.name, model.label_feature
    cells = [f"<th>{_e(k)}</th><td>{_e(v)}</td>" for k, v in model.model_dump().items()]
    config = "".join(
        f"<tr>{''.join(cells[i : i + _CONFIG_COLUMNS])}</tr>"
        for i in range(0, len(cells), _CONFIG_COLUMNS)
    )
    mine = [a for a in report.anomalies if a.model == name]
    parts = [f"<h2>Model {_e(name)}</h2><table>{config}</table>", "<h3>Checks</h3>"]
    parts.append(_checks(_model_checks(report, model), mine))
    past = report.history.get(name)
    if past:
        parts.append(
            f"<h3>History (compared with {_e(report.previous_report)})</h3>"
            + plots.history(past, model.num_classes)
        )
    for split, by_feature in report.labels.items():
        stats = by_feature.get(feature)
        if stats is None:
            continue
        judged = split == report.training_split
        parts.append(f"<h3>Split {_e(split)}: feature {_e(feature)}</h3>")
        parts.append(_plots(model, stats, judged))
    return "\n".join(parts)


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


def _model_checks(report: Report, model: ModelConfig) -> list[tuple[str, str | None]]:
    """(code, split) of every check `checks.evaluate` ran for this model.

    Config checks always run; the label checks run on each split with examples;
    the split-against-training checks on every other split once the training
    split has examples; coverage and frequency order on the training split.
    """
    ran = [(code, None) for code in _CONFIG_CHECKS]
    if model.vocabulary_file:
        ran.append((Code.VOCABULARY_SIZE_MISMATCH, None))
    if model.checkpoint:
        ran.append((Code.WEIGHTS_SHAPE_MISMATCH, None))
    examples = {
        split: by_feature[model.label_feature]
        for split, by_feature in report.labels.items()
        if model.label_feature in by_feature
    }
    training = examples.get(report.training_split)
    for split, stats in examples.items():
        if not stats.examples:
            continue
        codes = list(_SPLIT_CHECKS)
        if model.vocabulary_file:
            codes.append(Code.LABEL_NOT_IN_VOCABULARY)
        if model.context_feature:
            codes += _CONTEXT_CHECKS
        if split != report.training_split and training and training.examples:
            codes += _PAIR_CHECKS
        ran += [(code, split) for code in codes]
    if training and training.examples:
        ran.append((Code.CLASSES_UNSEEN, report.training_split))
        if model.sampler == "log_uniform" and training.classes_seen:
            ran.append((Code.SAMPLER_FREQUENCY_ORDER, report.training_split))
    return ran


def _data_checks(report: Report) -> list[tuple[str, str | None]]:
    """(code, split) of every check of the data as a whole, per split.

    Every split is checked for emptiness and for columns TFDV cannot take;
    TFRecord splits for gzip names; in full mode TFDV validates every split
    against the schema inferred from the training split.
    """
    ran = []
    for split, data in report.data.items():
        ran += [(Code.EMPTY_DATASET, split), (Code.COLUMNS_NOT_IN_STATISTICS, split)]
        if data.format == "tfrecord":
            ran.append((Code.COMPRESSION_NAME_MISMATCH, split))
        if report.mode == "full":
            ran.append((TFDV_SCHEMA, split))
    return ran


def _gather(ran: list, anomalies: list[Anomaly]) -> list[_Check]:
    """A row per check that ran, holding its findings.

    A finding of a check not known to have run (a TFDV type against a baseline
    schema, a newer classgate's check) is a row of its own.
    """
    by_key = {}
    for anomaly in anomalies:
        code = anomaly.code
        if code.startswith(TFDV_PREFIX) and (TFDV_SCHEMA, anomaly.split) in ran:
            code = TFDV_SCHEMA
        by_key.setdefault((code, anomaly.split), []).append(anomaly)
    keys = list(dict.fromkeys([*ran, *by_key]))
    rows = [
        _Check(code, split, tuple(by_key.get((code, split), ())))
        for code, split in keys
    ]
    order = {None: 2, "WARNING": 1, "ERROR": 0}
    return sorted(rows, key=lambda c: order[c.severity])


def _checks(ran: list, anomalies: list[Anomaly]) -> str:
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


def _plots(model: ModelConfig, stats: LabelSummary, judged: bool) -> str:
    figures = (
        f"{stats.examples} examples, {stats.missing} missing, ids "
        f"{_e(stats.min)} to {_e(stats.max)}, {stats.distinct} distinct, "
        f"{stats.above_range} above and {stats.below_range} below range, "
        f"{stats.non_integer} not integers"
    )
    profile = stats.profile
    drawn = [
        plots.rank_frequency(profile, stats, model.num_classes),
        plots.histogram(profile.id_histogram, stats, model.num_classes),
        plots.coverage(stats, model.max_unseen_fraction, judged),
    ]
    notes = [figures]
    if stats.num_classes != model.num_classes:
        notes.append(
            f"the statistics were counted against num_classes {stats.num_classes} "
            "(another model with this label feature); classes seen refer to that"
        )
    beyond = profile.id_histogram
    for side, word in (("beyond_low", "below"), ("beyond_high", "above")):
        if getattr(beyond, side):
            notes.append(
                f"{getattr(beyond, side)} values lie {word} the plotted id range"
            )
    note = "".join(f"<p class=note>{n}.</p>" for n in notes)
    return f"<div class=plots>{''.join(drawn)}</div>{note}"


def _outputs(outputs: Outputs) -> str:
    links = [("report.json", "report.json"), ("report.md", "report.md")]
    links += [(outputs.schema_, "schema"), (outputs.anomalies, "anomalies")]
    links += [(p, f"statistics of {s}") for s, p in outputs.statistics.items()]
    items = "".join(
        f'<li><a href="{_e(path)}">{_e(path)}</a> ({_e(what)})</li>'
        for path, what in links
    )
    return f"<h2>TFDV artifacts</h2><ul>{items}</ul>"


def _data(data: dict[str, SplitData]) -> str:
    parts = ["<h2>Data</h2>"]
    for split, d in data.items():
        rows = "".join(
            f"<tr><td>{_e(f.path)}</td><td class=num>{f.size}</td>"
            f"<td>{_e(_time(f.modified))}</td></tr>"
            for f in d.files[:_MAX_FILES]
        )
        more = len(d.files) - _MAX_FILES
        parts.append(
            f"<h3>Split {_e(split)}</h3><p>{len(d.files)} {_e(d.format)} "
            f"file(s), {d.bytes} bytes, from {_e(', '.join(d.patterns))}<br>"
            f"fingerprint <code>{_e(d.fingerprint)}</code></p><table><tr>"
            f"<th>file</th><th>bytes</th><th>modified</th></tr>{rows}</table>"
            + (f"<p class=note>and {more} more file(s)</p>" if more > 0 else "")
        )
    return "\n".join(parts)


def _time(seconds) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.isoformat(timespec="seconds")


def _e(value) -> str:
    return html.escape("" if value is None else str(value))
