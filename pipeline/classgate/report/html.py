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

report.json lists findings, not the checks that ran; `checks.catalog` works those
out from what it does carry (models, splits, their formats and example counts, the
mode); checklist.py draws their table, plots.py the plots.
"""

import datetime
import html

from classgate.checks.anomaly import TFDV_PREFIX, Code, Severity
from classgate.config import ModelConfig
from classgate.report import checklist, plots
from classgate.report.model import LabelSummary, Outputs, Report, SplitData

_SEVERITIES = ("ERROR", "WARNING")
# Model config keys per table row: 16 keys take four short rows, not sixteen.
_CONFIG_COLUMNS = 4
# A data set can have thousands of shards; the page lists the first ones.
_MAX_FILES = 50

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
    full = report.mode == "full"
    data = [
        a
        for a in report.anomalies
        if a.model is None or (full and a.code.startswith(TFDV_PREFIX))
    ]
    body.append(checklist.table(report.checks_ran(None), data))
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


def _source(model: ModelConfig, key: str) -> str:
    """Where a value read from the trainer's files came from, under the value."""
    return "".join(
        f"<br><small>from {_e(source.file)}: {_e(source.key)}</small>"
        for source in model.sources.get(key, [])
    )


def _model(report: Report, model: ModelConfig) -> str:
    name, feature = model.name, model.label_feature
    keys = model.model_dump(exclude={"sources", "files"})
    cells = [
        f"<th>{_e(k)}</th><td>{_e(v)}{_source(model, k)}</td>" for k, v in keys.items()
    ]
    config = "".join(
        f"<tr>{''.join(cells[i : i + _CONFIG_COLUMNS])}</tr>"
        for i in range(0, len(cells), _CONFIG_COLUMNS)
    )
    mine = [a for a in report.anomalies if a.model == name]
    parts = [f"<h2>Model {_e(name)}</h2><table>{config}</table>", "<h3>Checks</h3>"]
    parts.append(checklist.table(report.checks_ran(model), mine))
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
