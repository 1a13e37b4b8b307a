"""report.html: one self-contained page for people: failures first, then the rest.

Everything is inline (CSS and SVG drawn here from the report's numbers), so the page
opens from a CI artifact or a bucket with no network and no scripts. The verdict
comes first, and a switch ("failed checks only", a checkbox and a CSS rule: no
script) that hides every check that passed. Per model it shows the resolved config
(a key without a value says why), the checks that found something, with the
offending values and their locations as tables, and the checks that passed folded
under their count; per split three plots of its label: the rank-frequency curve on
log-log axes beside what the log-uniform sampler expects, with the classes never
seen as its tail; the id histogram with the valid range [0, num_classes) marked and
its bin width stated; and the share of classes never seen. Against a previous run
(--previous-report) both runs' class shares and rank-frequency curves are drawn
overlaid. In full mode a table gives TFDV's figures of every other feature. Data
files are named relative to their pattern's fixed folder, the whole path in a
tooltip. Every string taken from the report is escaped.

`render` gives the page; `inline` the same content as one <div> with its style
scoped to it, for a notebook cell (`Report._repr_html_`). checklist.py draws the
checks tables, plots.py the plots, paths.py the paths.
"""

import datetime
import hashlib
import html

from classgate.checks.anomaly import TFDV_PREFIX, Code, Severity
from classgate.config import ModelConfig
from classgate.report import checklist, paths, plots
from classgate.report.model import (
    FeatureSummary,
    FeatureTable,
    LabelSummary,
    Outputs,
    Report,
    SplitData,
)

_SEVERITIES = ("ERROR", "WARNING")
# Model config keys per table row: 16 keys take four short rows, not sixteen.
_CONFIG_COLUMNS = 4
# A data set can have thousands of shards; the page lists the first ones.
_MAX_FILES = 50
# Why a config key holds no value, shown in its cell instead of nothing.
_UNSET = {
    "num_sampled": "the loss samples no negatives",
    "ignore_index": "no label value is ignored",
    "vocabulary_file": "labels are integer ids",
    "checkpoint": "no checkpoint is checked",
    "weights_variable": "no checkpoint is checked",
    "biases_variable": "the biases are not checked",
    "context_feature": "no context ids are checked",
    "context_vocab_size": "no context ids are checked",
    "drift_error_js_divergence": "drift is never an error",
    "drift_error_linf": "drift is never an error",
}
_DASH = "\u2014"

# Scoped to the report's <div class=classgate>: the same rules style the page and
# a notebook cell, and leave the notebook's own page alone.
_CSS = """
.classgate{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
margin:0 auto;max-width:1360px;padding:16px 24px;color:#222;background:#fff}
.classgate .banner{color:#fff;padding:16px 24px;border-radius:6px}
.classgate .banner h1{margin:0;font-size:40px;color:#fff}
.classgate .banner p{margin:4px 0 0;font-size:16px}
.classgate table{border-collapse:collapse;margin:8px 0}
.classgate td,.classgate th{border:1px solid #ddd;padding:3px 8px;text-align:left;
font-size:13px}.classgate th{background:#f5f5f5}
.classgate .num{text-align:right}.classgate .code{font-family:monospace;
font-weight:bold}.classgate .plots{display:flex;flex-wrap:wrap;gap:12px}
.classgate svg{background:#fff;border:1px solid #eee}
.classgate .note{color:#555;font-size:13px}.classgate .unset{color:#777}
.classgate table.checks{width:100%}
.classgate .checks>tbody>tr>td{vertical-align:top;font-size:14px}
.classgate .status{white-space:nowrap;font-weight:bold}
.classgate .finding{margin:2px 0 6px}
.classgate .tables{display:flex;flex-wrap:wrap;gap:4px 16px;align-items:flex-start}
.classgate .tables table{margin:2px 0}.classgate caption{text-align:left;
font-size:12px;color:#555;padding:2px 0}
.classgate details.passed>summary{cursor:pointer;font-weight:bold;color:#2e7d32;
margin:6px 0}
.classgate .toggle{display:inline-block;margin:10px 0 0;font-size:14px;
cursor:pointer}
.classgate .only-failed:checked~* .passed,.classgate .only-failed:checked~.passed{
display:none}
"""


def render(report: Report) -> str:
    """The whole page for one finished validation."""
    verdict = _verdict(report)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>classgate: {verdict}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{_content(report)}\n</body></html>\n"
    )


def inline(report: Report) -> str:
    """The page's content as one <div>, its style inside it: a notebook's view."""
    content = _content(report)
    at = content.index(">") + 1  # inside the <div class=classgate>
    return f"{content[:at]}<style>{_CSS}</style>{content[at:]}"


def _verdict(report: Report) -> str:
    return "PASS" if report.status == "pass" else "FAIL"


def _content(report: Report) -> str:
    """Everything the page shows, in one <div class=classgate>."""
    roots = paths.Roots(p for d in report.data.values() for p in d.patterns)
    # Two reports inline in one notebook each need their own switch.
    switch = "failed-only-" + hashlib.sha256(report.to_json().encode()).hexdigest()[:12]
    body = [
        _banner(report, _verdict(report)),
        f'<input type=checkbox class=only-failed id="{switch}">'
        f'<label class=toggle for="{switch}">failed checks only</label>',
        _facts(report, roots),
        "<h2>Data checks</h2>",
    ]
    # A split's TFDV row holds all its TFDV findings, those on a model's label too.
    full = report.mode == "full"
    data = [
        a
        for a in report.anomalies
        if a.model is None or (full and a.code.startswith(TFDV_PREFIX))
    ]
    body.append(checklist.table(report.checks_ran(None), data, roots))
    body += [_model(report, model, roots) for model in report.models]
    if report.features:
        body.append(_features(report))
    body += [_outputs(report.outputs), _data(report.data, roots)]
    return "<div class=classgate>\n" + "\n".join(body) + "\n</div>"


def _banner(report: Report, verdict: str) -> str:
    severities = [a.severity for a in report.anomalies if a.waived is None]
    count = {s: severities.count(s) for s in _SEVERITIES}
    waived = len(report.anomalies) - len(severities)
    waived_text = f", {waived} waived" if waived else ""
    strict = " (--strict: warnings fail the gate)" if report.strict else ""
    color = plots.COLORS["pass" if verdict == "PASS" else "ERROR"]
    return (
        f'<div class="banner" style="background:{color}"><h1>classgate: {verdict}'
        f"</h1><p>{count['ERROR']} error(s), {count['WARNING']} warning(s)"
        f"{waived_text}{strict}</p></div>"
    )


def _facts(report: Report, roots: paths.Roots) -> str:
    folders = "; ".join(
        f"{_e(split)}: {_e(paths.fixed_folder(p) or './')}"
        for split, d in report.data.items()
        for p in d.patterns
    )
    return (
        f"<p class=note>Mode {_e(report.mode)}; classgate {_e(report.version)}; "
        f"{_e(report.started)} to {_e(report.finished)}; training split "
        f"{_e(report.training_split)}; config {_e(report.config_fingerprint[:19])}"
        f"</p><p class=note>Data files are named relative to their pattern's "
        f"folder ({folders}); a name's tooltip gives its whole path.</p>"
    )


def _source(model: ModelConfig, key: str) -> str:
    """Where a value read from the trainer's files came from, under the value."""
    return "".join(
        f"<br><small>from {_e(source.file)}: {_e(source.key)}</small>"
        for source in model.sources.get(key, [])
    )


def _config_value(key: str, value) -> str:
    """A config key's value; one without a value says why, never an empty cell."""
    if value is None:
        why = _UNSET.get(key, "not set")
        return f"<span class=unset>{_DASH} ({_e(why)})</span>"
    if value == [] or value == {}:
        return f"<span class=unset>{_DASH} (none)</span>"
    return _e(value)


def _model(report: Report, model: ModelConfig, roots: paths.Roots) -> str:
    name, feature = model.name, model.label_feature
    keys = model.model_dump(exclude={"sources", "files"})
    cells = [
        f"<th>{_e(k)}</th><td>{_config_value(k, v)}{_source(model, k)}</td>"
        for k, v in keys.items()
    ]
    config = "".join(
        f"<tr>{''.join(cells[i : i + _CONFIG_COLUMNS])}</tr>"
        for i in range(0, len(cells), _CONFIG_COLUMNS)
    )
    mine = [a for a in report.anomalies if a.model == name]
    parts = [
        f"<h2>Model {_e(name)}</h2><table class=config>{config}</table>",
        "<h3>Checks</h3>",
    ]
    parts.append(checklist.table(report.checks_ran(model), mine, roots))
    past = report.history.get(name)
    if past:
        parts.append(
            f"<h3>History (compared with {_e(report.previous_report)})</h3>"
            + plots.history(past, model.num_classes)
        )
    for split, drift in report.drift.get(name, {}).items():
        parts.append(
            f"<h3>Split {_e(split)}: feature {_e(feature)} against the previous run"
            f"</h3><div class=plots>{plots.drift_classes(drift)}"
            f"{plots.drift_ranks(drift)}</div><p class=note>Jensen-Shannon "
            f"divergence {drift.js_divergence:.4f} bits, L-infinity "
            f"{drift.linf:.4f} (LABEL_DRIFT warns from {model.drift_js_divergence} "
            f"and {model.drift_linf}); {drift.values_before} label values in "
            f"{drift.distinct_before} classes before, {drift.values_now} in "
            f"{drift.distinct_now} now; previous run {_e(report.previous_report)}."
            "</p>"
        )
    for split, by_feature in report.labels.items():
        stats = by_feature.get(feature)
        if stats is None:
            continue
        judged = split == report.training_split
        # The finding says whether the unseen classes fail: the plot only shows it.
        failing = any(
            a.code == Code.CLASSES_UNSEEN
            and a.model == name
            and a.split == split
            and a.severity == Severity.ERROR
            for a in report.anomalies
        )
        parts.append(f"<h3>Split {_e(split)}: feature {_e(feature)}</h3>")
        parts.append(_plots(model, stats, judged, failing))
    return "\n".join(parts)


def _plots(model: ModelConfig, stats: LabelSummary, judged: bool, failing: bool) -> str:
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
        plots.coverage(stats, model.max_unseen_fraction, judged, failing),
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


def _features(report: Report) -> str:
    """TFDV's figures of every feature but the models' labels, a table per split."""
    labels = {model.label_feature for model in report.models}
    parts = [
        "<h2>Other features</h2><p class=note>TFDV's statistics of each split "
        "(FeatureStats.pb), in brief; the label features are in the model "
        "sections above.</p>"
    ]
    for split, table in report.features.items():
        parts.append(f"<h3>Split {_e(split)}</h3>" + _feature_table(table, labels))
    return "\n".join(parts)


def _feature_table(table: FeatureTable, labels: set[str]) -> str:
    shown = [f for f in table.features if f.name not in labels]
    head = "".join(
        f"<th>{c}</th>"
        for c in (
            "feature",
            "type",
            "present",
            "missing",
            "min",
            "max",
            "mean",
            "unique",
        )
    )
    rows = "".join(f"<tr>{_feature_row(f)}</tr>" for f in shown)
    more = table.total - len(table.features)
    note = f"{table.examples} examples; {len(shown)} feature(s) besides the labels"
    if more > 0:
        note += (
            f"; {more} more not listed in report.json (FeatureStats.pb has them all)"
        )
    if not shown:
        return f"<p class=note>{note}.</p>"
    return (
        f"<p class=note>{note}.</p><table class=features><tr>{head}</tr>{rows}</table>"
    )


def _feature_row(feature: FeatureSummary) -> str:
    numeric = feature.type in ("INT", "FLOAT")
    cells = [
        f"<td>{_e(feature.name)}</td><td>{_e(feature.type)}</td>",
        f"<td class=num>{feature.present}</td><td class=num>{feature.missing}</td>",
    ]
    for value in (feature.min, feature.max, feature.mean):
        cells.append(_figure(value, "no finite values" if numeric else "not numeric"))
    cells.append(_figure(feature.unique, "not a string feature"))
    return "".join(cells)


def _figure(value, why: str) -> str:
    """A figure's cell; one without a figure says why in its tooltip."""
    if value is None:
        return f'<td class=unset title="{_e(why)}">{_DASH}</td>'
    shown = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"<td class=num>{_e(shown)}</td>"


def _outputs(outputs: Outputs) -> str:
    links = [("report.json", "report.json"), ("report.md", "report.md")]
    links += [(outputs.schema_, "schema"), (outputs.anomalies, "anomalies")]
    links += [(p, f"statistics of {s}") for s, p in outputs.statistics.items()]
    items = "".join(
        f'<li><a href="{_e(path)}">{_e(path)}</a> ({_e(what)})</li>'
        for path, what in links
    )
    return f"<h2>TFDV artifacts</h2><ul>{items}</ul>"


def _data(data: dict[str, SplitData], roots: paths.Roots) -> str:
    parts = ["<h2>Data</h2>"]
    for split, d in data.items():
        rows = "".join(
            f"<tr>{roots.cell(f.path)}<td class=num>{f.size}</td>"
            f"<td>{_e(_time(f.modified))}</td></tr>"
            for f in d.files[:_MAX_FILES]
        )
        more = len(d.files) - _MAX_FILES
        parts.append(
            f"<h3>Split {_e(split)}</h3><p>{len(d.files)} {_e(d.format)} "
            f"file(s), {d.bytes} bytes, from {_e(', '.join(d.patterns))}<br>"
            f"fingerprint <code>{_e(d.fingerprint)}</code></p><table class=files>"
            f"<tr><th>file</th><th>bytes</th><th>modified</th></tr>{rows}</table>"
            + (f"<p class=note>and {more} more file(s)</p>" if more > 0 else "")
        )
    return "\n".join(parts)


def _time(seconds) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.isoformat(timespec="seconds")


def _e(value) -> str:
    return html.escape("" if value is None else str(value))
