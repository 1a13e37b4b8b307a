"""`classgate index PREFIX`: one page listing every run of a history folder, newest
first, with its verdict and figures and a link to its report.html that opens."""

import html.parser
import json
import os
import pathlib

import builders
import pytest

from classgate import cli
from classgate.report import html as report_html
from classgate.report.model import Report


class _Rows(html.parser.HTMLParser):
    """The runs table's rows (cell texts) and every link's target."""

    def __init__(self):
        super().__init__()
        self.rows, self.links, self._in_runs = [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("class") == "runs":
            self._in_runs = True
        elif tag == "tr" and self._in_runs:
            self.rows.append([])
        elif tag in ("td", "th") and self._in_runs:
            self.rows[-1].append("")
        elif tag == "a":
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_runs = False

    def handle_data(self, data):
        if self._in_runs and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def _run(root: pathlib.Path, name: str, rows, finished: str, num_classes=4) -> dict:
    """A run folder with report.json (finished at `finished`) and its report.html."""
    folder = root / name
    path, _ = builders.report_file(
        folder, [builders.model(num_classes=num_classes)], rows
    )
    document = json.loads(pathlib.Path(path).read_text())
    document["finished"] = finished
    pathlib.Path(path).write_text(json.dumps(document))
    (folder / "report.html").write_text(report_html.render(Report.load(path)))
    return document


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    made = {
        "monday": _run(root, "monday", [0, 1, 2, 3], "2026-01-05T10:00:00+00:00"),
        "wednesday": _run(root, "wednesday", [0, 1, 9, 9], "2026-01-07T10:00:00+00:00"),
        "tuesday": _run(root, "tuesday", [0, 1, 2, 3, 3], "2026-01-06T10:00:00+00:00"),
    }
    broken = root / "broken"
    broken.mkdir()
    (broken / "report.json").write_text("{not json")
    return root, made


def _index(page: pathlib.Path) -> _Rows:
    parsed = _Rows()
    parsed.feed(page.read_text())
    return parsed


@pytest.mark.parametrize("output", [None, "elsewhere/pages/index.html"])
def test_index_lists_every_run_newest_first_with_a_link_that_opens(
    runs, output, tmp_path, capsys
):
    root, made = runs
    args = ["index", str(root)]
    if output:
        args += ["--output", str(tmp_path / output)]
    assert cli.main(args) == 0
    page = tmp_path / output if output else root / "index.html"
    said = capsys.readouterr().out
    assert said == (
        f"classgate: index of 3 run(s) in {page}; 1 report(s) left out, listed there\n"
    )
    parsed = _index(page)
    head, *rows = parsed.rows
    assert head[:3] == ["finished", "run", "verdict"]
    order = ["wednesday", "tuesday", "monday"]
    assert [row[1] for row in rows] == order
    for row, name in zip(rows, order, strict=True):
        report = made[name]
        labels = report["labels"]["train"]["label"]
        severities = [a["severity"] for a in report["anomalies"]]
        assert row == [
            report["finished"],
            name,
            report["status"].upper(),
            str(severities.count("ERROR")),
            str(severities.count("WARNING")),
            report["mode"],
            "m",
            str(labels["examples"]),
            "4",
            str(labels["max"]),
            str(labels["distinct"]),
        ]
    assert [row[2] for row in rows] == ["FAIL", "PASS", "PASS"]  # 9 >= num_classes 4
    targets = [page.parent / link for link in parsed.links]
    assert [os.path.realpath(t) for t in targets] == [
        os.path.realpath(root / name / "report.html") for name in order
    ]
    assert all(t.is_file() for t in targets)
    assert "broken/report.json" in page.read_text()  # left out, and why


def test_a_prefix_without_reports_is_one_line_naming_it(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["index", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"classgate: error: index {tmp_path / 'empty'}: no classgate report there\n"
    )
    assert not (tmp_path / "empty" / "index.html").exists()
