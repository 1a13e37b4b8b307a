"""index.html: one page listing the runs of a history, newest first (`classgate index`).

Great Expectations' Data Docs open on an index of every validation; this is
classgate's: a row per run of a `--previous-report` folder (or bucket prefix),
with its verdict, its errors and warnings, and per model the training split's
figures (examples, num_classes, max id, distinct classes), each run linking to its
own report.html. Reports that could not be read are listed with why. Self-contained
like report.html: inline CSS, no script, every string from a report escaped.
"""

import html
from collections.abc import Sequence

from classgate.report import plots
from classgate.report.model import Report

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1360px;padding:16px 24px;color:#222}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;
padding:3px 8px;text-align:left;font-size:13px;vertical-align:top}
th{background:#f5f5f5}.num{text-align:right}.note{color:#555;font-size:13px}
.verdict{color:#fff;font-weight:bold;text-align:center}.unset{color:#777}
"""
_DASH = "\u2014"


def render(prefix: str, runs: Sequence[tuple[str, Report]], skipped) -> str:
    """The index of the runs at `prefix`.

    `runs` are (link to the run's report.html, its report), in any order; the page
    lists them newest first. `skipped` are (path, why) of reports left out.
    """
    ordered = sorted(runs, key=lambda run: run[1].finished, reverse=True)
    passed = sum(report.status == "pass" for _, report in ordered)
    head = "".join(
        f"<th>{c}</th>"
        for c in (
            "finished",
            "run",
            "verdict",
            "errors",
            "warnings",
            "mode",
            "model",
            "examples",
            "num_classes",
            "max",
            "distinct",
        )
    )
    rows = "".join(_rows(link, report) for link, report in ordered)
    parts = [
        f"<h1>classgate runs in {_e(prefix)}</h1>",
        f"<p class=note>{len(ordered)} run(s), newest first: {passed} passed, "
        f"{len(ordered) - passed} failed. Figures are of each model's label in "
        "the run's training split.</p>",
        f"<table class=runs><tr>{head}</tr>{rows}</table>",
    ]
    if skipped:
        items = "".join(
            f"<li>{_e(why if why.startswith(path) else f'{path}: {why}')}</li>"
            for path, why in skipped
        )
        parts.append(
            f"<h2>Left out</h2><p class=note>{len(skipped)} report(s) could not be "
            f"listed:</p><ul class=skipped>{items}</ul>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>classgate runs: {_e(prefix)}</title><style>{_CSS}</style></head>\n"
        "<body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def _rows(link: str, report: Report) -> str:
    """A run's rows: one per model, the run's own cells spanning them all."""
    severities = [a.severity for a in report.anomalies]
    verdict = "PASS" if report.status == "pass" else "FAIL"
    color = plots.COLORS["pass" if verdict == "PASS" else "ERROR"]
    span = max(len(report.models), 1)
    own = (
        f"<td rowspan={span}>{_e(report.finished)}</td>"
        f'<td rowspan={span}><a href="{_e(link)}">{_e(_run_name(link))}</a></td>'
        f'<td rowspan={span} class=verdict style="background:{color}">{verdict}</td>'
        f"<td rowspan={span} class=num>{severities.count('ERROR')}</td>"
        f"<td rowspan={span} class=num>{severities.count('WARNING')}</td>"
        f"<td rowspan={span}>{_e(report.mode)}</td>"
    )
    training = report.labels.get(report.training_split, {})
    rows = []
    for model in report.models:
        figures = training.get(model.label_feature)
        cells = [
            f"<td>{_e(model.name)}</td>",
            _number(figures.examples if figures else None, "no figures"),
            _number(model.num_classes, ""),
            _number(figures.max if figures else None, "no label values"),
            _number(figures.distinct if figures else None, "no figures"),
        ]
        rows.append("".join(cells))
    rows = rows or [f"<td colspan=5 class=unset>{_DASH} (no models)</td>"]
    return f"<tr class=run>{own}{rows[0]}</tr>" + "".join(
        f"<tr>{row}</tr>" for row in rows[1:]
    )


def _run_name(link: str) -> str:
    """A run's name: the folder its report.html lies in."""
    folder = link.rsplit("/", 1)[0] if "/" in link else "."
    return folder.rstrip("/").rsplit("/", 1)[-1] or folder


def _number(value, why: str) -> str:
    if value is None:
        return f'<td class=unset title="{_e(why)}">{_DASH}</td>'
    return f"<td class=num>{value}</td>"


def _e(value) -> str:
    return html.escape("" if value is None else str(value))
