"""report.html: self-contained, escaped, with the plots, and a real page in Chromium.

Besides: every check that ran listed, failures first and the ticked ones folded
under their count; a "failed checks only" switch that Chromium shows hiding every
passed check; no empty cell; data files named below their pattern's folder; the
findings' values and locations as tables; plots whose bars and points carry
tooltips, whose histogram states its bin width and whose rank-frequency curve
shows the classes never seen; drift drawn as both runs overlaid; the other
features' TFDV figures; and the same content inline for a notebook.
"""

import collections
import copy
import html
import html.parser
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classgate import config
from classgate.checks import catalog
from classgate.checks.anomaly import Code
from classgate.outputs import publish
from classgate.report import checklist, paths, plots
from classgate.report import html as report_html
from classgate.report.model import Report

from tools import synthetic
from workspace import Workspace

CHROMIUM = shutil.which("chromium")
WINDOW = (1200, 2400)
# A blank 1200x2400 page compresses to about 13 KB and 4 distinct bytes once
# inflated; the failing report's page is over 150 KB with every byte value.
MIN_PNG_BYTES = 60_000
MIN_DISTINCT_BYTES = 64


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Real reports: 100 true classes checked against 80 (fails) and 100 (passes)."""
    ws = Workspace(tmp_path_factory.mktemp("html"))
    ids = synthetic.labels(3_000, 100, seed=5)
    train = ws.labels(ids, name="train")
    evaluation = ws.labels(ids[:500], name="eval")
    splits = ["--split", f"train={train}", "--split", f"eval={evaluation}"]
    small = ws.config(
        "name: small\nlabel_feature: label\nnum_classes: 80\n", "small.yaml"
    )
    failing = ws.validate(*splits, "--model-config", small, "--labels-only", output="f")
    passing = ws.validate(
        *splits, "--model-config", ws.model(100), "--labels-only", output="p"
    )
    assert (failing[0], passing[0]) == (1, 0)
    return {"failing": failing[1], "passing": passing[1], "root": ws.root, "ids": ids}


def render(report: dict) -> str:
    """The page of a report.json's content, read as the gate and renderers read it."""
    return report_html.render(Report.model_validate(report))


def svgs(page: str) -> list[ET.Element]:
    """Every inline SVG, parsed: each must be well-formed XML."""
    return [ET.fromstring(s) for s in re.findall(r"<svg.*?</svg>", page, re.S)]


@pytest.mark.parametrize("case", ["failing", "passing"])
def test_page_is_self_contained(reports, case):
    page = render(reports[case])
    assert "http://" not in page and "https://" not in page
    for fetch in ("src=", "<link", "<script", "url(", "@import"):
        assert fetch not in page
    links = re.findall(r'href="([^"]*)"', page)
    assert "schema.pbtxt" in links and "anomalies.pbtxt" in links
    assert "statistics/Split-eval/FeatureStats.pb" in links
    assert all(":" not in link and not link.startswith("/") for link in links)


@pytest.mark.parametrize("case", ["failing", "passing"])
def test_three_plots_per_split(reports, case):
    page = render(reports[case])
    titles = ["".join(svg.itertext()) for svg in svgs(page)]
    assert len(titles) == 3 * 2  # one model, two splits
    for plot in ("Rank-frequency", "Label ids", "Classes never seen"):
        assert sum(plot in t for t in titles) == 2
    # observed and expected curves in each rank-frequency plot
    assert page.count("<polyline") == 2 * 2


def test_out_of_range_bars_are_highlighted(reports):
    failing = render(reports["failing"])
    passing = render(reports["passing"])
    assert 'class="bar-out"' in failing and 'class="bar-in"' in failing
    assert 'class="bar-out"' not in passing
    assert "num_classes 80" in failing and "num_classes 100" in passing


def test_verdict_and_messages_are_escaped(reports):
    failing = copy.deepcopy(reports["failing"])
    # A file path is whatever the data's owner named it.
    failing["data"]["train"]["files"][0]["path"] = "data/m<b>&.tfrecord"
    page = render(failing)
    assert "classgate: FAIL" in page
    above = next(
        a for a in reports["failing"]["anomalies"] if a["code"] == "LABEL_ABOVE_RANGE"
    )
    assert ">=" in above["message"]
    assert above["message"].replace(">", "&gt;") in page
    assert "m&lt;b&gt;&amp;" in page and "m<b>" not in page
    assert "classgate: PASS" in render(reports["passing"])


def chromium(*args: str, tmp_path) -> str:
    """Runs headless Chromium with these arguments; returns what it printed."""
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (make test installs it)"
)


@needs_chromium
def test_chromium_renders_a_real_page(reports, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render(with_drift_and_features(reports["failing"])))
    png = tmp_path / "report.png"
    chromium(
        f"--screenshot={png}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"file://{page}",
        tmp_path=tmp_path,
    )
    width, height, pixels = read_png(png.read_bytes())
    assert (width, height) == WINDOW
    assert png.stat().st_size > MIN_PNG_BYTES
    assert len(set(pixels)) > MIN_DISTINCT_BYTES


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the inflated (still filtered) pixel rows of an RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, {}
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        chunks[kind] = chunks.get(kind, b"") + data[at + 8 : at + 8 + length]
        at += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {2: 3, 6: 4}[color]
    pixels = zlib.decompress(chunks[b"IDAT"])
    assert depth == 8 and len(pixels) == height * (1 + width * channels)
    return width, height, pixels


class _Tables(html.parser.HTMLParser):
    """Every <table> of a page: its class, caption and rows of cell texts.

    A table inside a cell is a table of its own; its text is not its cell's.
    """

    def __init__(self):
        super().__init__()
        self.tables, self._open, self._caption = [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._open.append(
                {"class": attrs.get("class", ""), "caption": "", "rows": []}
            )
        elif not self._open:
            return
        elif tag == "caption":
            self._caption = True
        elif tag == "tr":
            self._open[-1]["rows"].append({"attrs": attrs, "cells": [], "titles": []})
        elif tag in ("td", "th"):
            self._open[-1]["rows"][-1]["cells"].append("")
            self._open[-1]["rows"][-1]["titles"].append(attrs.get("title"))

    def handle_endtag(self, tag):
        if tag == "table" and self._open:
            self.tables.append(self._open.pop())
        elif tag == "caption":
            self._caption = False

    def handle_data(self, data):
        if not self._open:
            return
        table = self._open[-1]
        if self._caption:
            table["caption"] += data
        elif table["rows"] and table["rows"][-1]["cells"]:
            table["rows"][-1]["cells"][-1] += data


def tables(page: str) -> list[dict]:
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def checklists(page: str) -> list[str]:
    """The checks blocks' HTML, in page order: the data's, then each model's."""
    starts = [m.start() for m in re.finditer("<div class=checklist>", page)]
    return [page[a:b] for a, b in zip(starts, [*starts[1:], len(page)], strict=True)]


def check_tables(page: str) -> list[list[dict]]:
    """The rows of each checks block, in page order: the data's, then each model's.

    A block's checks that found something come first, in their table; the passed
    ones in the table folded under their count.
    """
    return [
        [
            r
            for t in tables(block)
            if t["class"] == "checks"
            for r in t["rows"]
            if "data-code" in r["attrs"]
        ]
        for block in checklists(page)
    ]


def statuses(rows: list[dict]) -> dict[tuple[str, str], str]:
    """(code, split) -> the status cell of each row of a checks table."""
    return {
        (r["attrs"]["data-code"], r["attrs"]["data-split"]): r["cells"][0] for r in rows
    }


def plot(page: str, title: str) -> list[ET.Element]:
    """The plots of one kind, in split order."""
    return [svg for svg in svgs(page) if title in "".join(svg.itertext())]


def title_of(element: ET.Element) -> str:
    child = element.find("title")
    assert child is not None, ET.tostring(element)
    return child.text


@pytest.mark.parametrize("case", ["failing", "passing"])
def test_every_check_that_ran_is_listed_and_passed_ones_ticked(reports, case):
    report = reports[case]
    page = render(report)
    data_rows, *model_rows = check_tables(page)
    assert len(model_rows) == len(report["models"]) == 1
    owners = [(None, data_rows), (report["models"][0]["name"], model_rows[0])]
    for owner, rows in owners:
        found = collections.defaultdict(set)
        for a in report["anomalies"]:
            if a["model"] == owner:
                found[(a["code"], a["split"] or "")].add(a["severity"])
        status = statuses(rows)
        assert len(status) == len(rows)  # one row per check and split
        ticked = [k for k, text in status.items() if text.startswith("✓")]
        flagged = {k: text for k, text in status.items() if k not in ticked}
        assert len(ticked) == len(rows) - len(found)
        assert set(flagged) == set(found)
        for key, status in flagged.items():
            worst = "ERROR" if "ERROR" in found[key] else "WARNING"
            assert status == f"✗ {worst}"
    splits = list(report["data"])
    assert {("EMPTY_DATASET", s) for s in splits} <= set(statuses(data_rows))
    model_codes = {r["attrs"]["data-code"] for r in model_rows[0]}
    assert {"LABEL_ABOVE_RANGE", "CLASSES_UNSEEN", "LABEL_MISSING"} <= model_codes
    # one model, two splits: 4 config checks, 7 label checks per split, 2 checks
    # of eval against train, coverage and frequency order on train
    assert len(model_rows[0]) == 4 + 7 * 2 + 2 + 2
    status = statuses(model_rows[0])
    assert status[("LABEL_MISSING", "train")] == "✓ passed"
    assert status[("CLASSES_UNSEEN", "train")] == "✓ passed"  # 100 of 100, 80 of 80
    above = status[("LABEL_ABOVE_RANGE", "train")]
    assert above == ("✗ ERROR" if case == "failing" else "✓ passed")


def test_offending_values_and_locations_are_tables(reports):
    report, ids = reports["failing"], reports["ids"]
    page = render(report)
    assert "<pre" not in page and '"most_frequent"' not in page  # no JSON dumps
    found = tables(page)
    # The most frequent value >= num_classes 80 in the generated data, and its count.
    value, count = collections.Counter(int(i) for i in ids if i >= 80).most_common(1)[0]
    frequent = [t for t in found if t["caption"].startswith("most frequent")]
    assert len(frequent) == 2  # train and eval
    assert frequent[0]["rows"][0]["cells"] == ["value", "count"]
    assert frequent[0]["rows"][1]["cells"] == [str(value), str(count)]
    locations = [t for t in found if t["caption"].startswith("locations")]
    train = next(
        t for t in locations if "/data/train/" in (t["rows"][1]["titles"][0] or "")
    )
    assert train["rows"][0]["cells"] == ["file", "record", "value"]
    shown = [r["cells"] for r in train["rows"][1:]]
    assert len(shown) == 10
    # Shard 0 holds the first rows: record r of it is the r-th generated label.
    first = [(int(rec), int(v)) for f, rec, v in shown if "-00000-of-" in f]
    assert first and all(ids[rec] == v >= 80 for rec, v in first)
    anomaly = next(
        a
        for a in report["anomalies"]
        if a["code"] == "LABEL_ABOVE_RANGE" and a["split"] == "train"
    )
    where = anomaly["details"]["locations"][0]
    # Named below the train pattern's folder, the whole path in the tooltip.
    folder = report["data"]["train"]["patterns"][0].rsplit("/", 1)[0] + "/"
    assert train["rows"][1]["titles"][0] == where["file"] == folder + shown[0][0]
    # The rest of the 20 locations fold under a <details>, in a table too.
    rest = [t for t in found if t["class"] == "locations" and not t["caption"]]
    assert sum(len(t["rows"]) - 1 for t in rest) == 2 * 20 - 2 * 10
    figures = [t for t in found if t["caption"] == "figures"]
    assert ["max", "99"] in [r["cells"] for t in figures for r in t["rows"]]


def test_finding_tables_are_escaped(reports):
    failing = copy.deepcopy(reports["failing"])
    above = next(a for a in failing["anomalies"] if a["code"] == "LABEL_ABOVE_RANGE")
    above["details"]["locations"][0]["file"] = "/d/<script>x</script>&.gz"
    above["details"]["most_frequent"][0]["value"] = "<b>"
    page = render(failing)
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;&amp;.gz" in page and "&lt;b&gt;" in page
    # ... and read back as the text of table cells, not as markup
    cells = [c for t in tables(page) for r in t["rows"] for c in r["cells"]]
    assert "<b>" in cells
    assert any(c.endswith("/<script>x</script>&.gz") for c in cells)


def test_tfdv_schema_is_a_check_in_full_mode(reports):
    full = copy.deepcopy(reports["passing"])
    full["mode"] = "full"
    full["anomalies"].append(
        {
            "code": "TFDV_ENUM_TYPE_UNEXPECTED_STRING_VALUES",
            "severity": "WARNING",
            "model": "m",  # on the label feature of model m
            "feature": "label",
            "split": "eval",
            "message": "Unexpected string values (against the inferred schema)",
            "details": {"schema": "inferred", "short": "Unexpected string values"},
        }
    )
    data_rows, model_rows = check_tables(render(full))
    status = statuses(data_rows)
    assert status[(catalog.TFDV_SCHEMA, "train")] == "✓ passed"
    assert status[(catalog.TFDV_SCHEMA, "eval")] == "✗ WARNING"
    code = full["anomalies"][-1]["code"]
    assert statuses(model_rows)[(code, "eval")] == "✗ WARNING"
    labels_only = check_tables(render(reports["passing"]))[0]
    assert catalog.TFDV_SCHEMA not in {r["attrs"]["data-code"] for r in labels_only}


@pytest.mark.parametrize("case", ["failing", "passing"])
def test_histogram_states_its_bin_width(reports, case):
    report = reports[case]
    page = render(report)
    drawn = plot(page, "Label ids")
    assert len(drawn) == len(report["labels"])
    for svg, stats in zip(drawn, report["labels"].values(), strict=True):
        edges = stats["label"]["profile"]["id_histogram"]["edges"]
        assert edges[1] - edges[0] == 2  # 50 bins over ids 0..99
        assert "bin width 2" in [t.text.split("; ")[-1] for t in svg.iter("text")]


def test_bin_width_names_each_stretch_when_they_differ():
    assert plots.bin_widths([0, 2, 4, 6], 6) == "bin width 2"
    widths = plots.bin_widths([-3, -1.5, 0, 2, 4, 6, 10], 6)
    assert widths == "bin width 1.5 below 0, 2 in range, 4 above"


@pytest.mark.parametrize("case", ["failing", "passing"])
def test_every_bar_and_point_has_a_tooltip_with_its_figures(reports, case):
    report = reports[case]
    page = render(report)
    histograms, curves = plot(page, "Label ids"), plot(page, "Rank-frequency")
    assert len(histograms) == len(curves) == len(report["labels"])
    for split, histogram, ranks in zip(
        report["labels"].values(), histograms, curves, strict=True
    ):
        profile = split["label"]["profile"]
        bars = [r for r in histogram.iter("rect") if r.get("class", "")[:4] == "bar-"]
        counts = [c for c in profile["id_histogram"]["counts"] if c > 0]
        told = [int(re.search(r": (\d+) values", title_of(b)).group(1)) for b in bars]
        assert told == counts
        told = [
            [
                int(n)
                for n in re.match(r"rank (\d+): (\d+) values", title_of(p)).groups()
            ]
            for p in ranks.iter("circle")
        ]
        assert told == profile["rank_frequency"]
    for donut in plot(page, "Classes never seen"):
        assert all(title_of(arc) for arc in donut.iter("circle"))


def test_unseen_classes_are_drawn_on_the_rank_frequency_plot(reports):
    drawn = 0
    for case in ("failing", "passing"):
        page = render(reports[case])
        curves = plot(page, "Rank-frequency")
        for svg, by_feature in zip(
            curves, reports[case]["labels"].values(), strict=True
        ):
            stats = by_feature["label"]
            unseen = stats["num_classes"] - stats["classes_seen"]
            tails = [g for g in svg.iter("g") if g.get("class") == "unseen"]
            if unseen == 0:
                assert not tails
                continue
            drawn += 1
            (tail,) = tails
            assert f"{unseen} classes never seen" in "".join(tail.itertext())
            first, last = stats["distinct"] + 1, stats["distinct"] + unseen
            assert title_of(tail).startswith(f"ranks {first} to {last}: {unseen} of")
            # The tail lies past every observed point, on the axis.
            band = tail.find("rect")
            right_most = max(float(c.get("cx")) for c in svg.iter("circle"))
            assert float(band.get("x")) > right_most
            assert float(band.get("x")) + float(band.get("width")) <= 400
    # eval misses 20 of 80 classes (failing) and 28 of 100 (passing)
    assert drawn == 2


def test_legend_draws_curves_as_lines(reports):
    page = render(reports["failing"])
    for svg in plot(page, "Rank-frequency"):
        (legend,) = [g for g in svg.iter("g") if g.get("class") == "legend"]
        lines = {
            ln.get("stroke"): ln.get("stroke-dasharray") for ln in legend.iter("line")
        }
        assert lines == {"#1f77b4": None, "#ff7f0e": "6,4"}
        boxes = [r.get("fill") for r in legend.iter("rect")]
        assert "#1f77b4" not in boxes and "#ff7f0e" not in boxes


# Failures first, passed checks folded, the failed-only switch ---------------------

_FOLDED = re.compile(
    r"<details class=passed><summary>(\d+) checks? passed</summary>(.*?)</details>",
    re.S,
)


def rows_of(fragment: str) -> list[dict]:
    return [
        r
        for t in tables(fragment)
        if t["class"] == "checks"
        for r in t["rows"]
        if "data-code" in r["attrs"]
    ]


def test_checks_that_found_something_come_first_and_passed_ones_fold(reports):
    kinds = set()
    for case in ("failing", "passing"):
        for block in checklists(render(reports[case])):
            folded = _FOLDED.search(block)
            open_rows = rows_of(block[: folded.start()] if folded else block)
            folded_rows = rows_of(folded.group(2)) if folded else []
            statuses = [r["cells"][0] for r in open_rows]
            assert all(s.startswith("✗") for s in statuses)
            assert statuses == sorted(statuses, key=lambda s: "WARNING" in s)
            assert all(r["cells"][0] == "✓ passed" for r in folded_rows)
            if folded:
                assert int(folded.group(1)) == len(folded_rows) > 0
            summary = re.search(r"(\d+) checks ran: (\d+) passed, (\d+) found", block)
            ran, passed, found = map(int, summary.groups())
            assert (passed, found) == (len(folded_rows), len(open_rows))
            assert ran == passed + found
            kinds.add((bool(open_rows), bool(folded_rows)))
    # blocks with findings and passed checks, and blocks where all passed
    assert {(True, True), (False, True)} <= kinds


# Probes the page in Chromium: each passed-check block's display and whether each
# check that found something is drawn, before and after a click on the switch's
# label; written into the page, which --dump-dom prints.
_PROBE = """<script>
const state = () => ({
  passed: [...document.querySelectorAll("details.passed")].map(
    e => getComputedStyle(e).display),
  found: [...document.querySelectorAll("tr[data-code]")]
    .filter(r => !r.closest(".passed")).map(r => r.getClientRects().length > 0),
});
const before = state();
document.querySelector("label.toggle").click();
const after = state();
const out = document.createElement("pre");
out.id = "probe";
out.textContent = JSON.stringify({before, after});
document.body.appendChild(out);
</script>"""


@needs_chromium
def test_failed_only_switch_hides_every_passed_check_in_chromium(reports, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render(reports["failing"]).replace("</body>", _PROBE + "</body>"))
    dom = chromium("--dump-dom", f"file://{page}", tmp_path=tmp_path)
    probe = json.loads(
        html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom).group(1))
    )
    before, after = probe["before"], probe["after"]
    assert len(before["passed"]) == 2  # the data's block and the model's
    assert set(before["passed"]) == {"block"} and set(after["passed"]) == {"none"}
    assert before["found"] and all(before["found"]) and all(after["found"])
    # The page itself holds no script: the switch is a checkbox and a CSS rule.
    assert "<script" not in render(reports["failing"])


# No empty cells --------------------------------------------------------------------


def test_every_check_says_what_it_makes_sure_of():
    unknown = checklist.what("NOT_A_CHECK_OF_THIS_CLASSGATE")
    for code in [*Code, catalog.TFDV_SCHEMA]:
        assert checklist.what(code).strip() and checklist.what(code) != unknown, code


@pytest.mark.parametrize("case", ["failing", "passing"])
def test_no_cell_is_empty(reports, case):
    page = render(with_drift_and_features(reports[case]))
    for table in tables(page):
        for row in table["rows"]:
            assert all(cell.strip() for cell in row["cells"]), (table, row)


_NULLABLE = st.fixed_dictionaries(
    {},
    optional={
        "loss": st.sampled_from(
            ["nce", "sampled_softmax", "softmax", "torch_cross_entropy"]
        ),
        "vocabulary_file": st.just("vocab.txt"),
        "checkpoint": st.just("ckpt/model"),
        "biases_variable": st.just("output/bias"),
        "ignore_index": st.integers(-5, 5),
        "drift_error_js_divergence": st.floats(0.1, 1.0),
        "drift_error_linf": st.floats(0.1, 1.0),
        "context_feature": st.just("history"),
    },
)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(keys=_NULLABLE)
def test_a_config_key_without_a_value_says_why(reports, keys):
    if "checkpoint" in keys:
        keys["weights_variable"] = "output/kernel"
    if "context_feature" in keys:
        keys["context_vocab_size"] = 100
    model = config.ModelConfig(name="m", label_feature="label", num_classes=100, **keys)
    report = copy.deepcopy(reports["passing"])
    report["models"] = [model.model_dump()]
    (table,) = [t for t in tables(render(report)) if t["class"] == "config"]
    cells = [c for row in table["rows"] for c in row["cells"]]
    assert all(c.strip() for c in cells)
    shown = dict(zip(cells[::2], cells[1::2], strict=True))
    for key, value in model.model_dump(exclude={"sources", "files"}).items():
        if value is None:
            assert shown[key].startswith("— (") and shown[key] != "— (not set)", key


# Paths below the pattern's folder ---------------------------------------------------

_PART = st.text("abcxyz019_.-", min_size=1, max_size=6).filter(
    lambda p: p not in (".", "..")
)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    scheme=st.sampled_from(["", "/", "gs://"]),
    folders=st.lists(_PART, min_size=1, max_size=4),
    stem=st.text("abc0", max_size=3),
    wildcard=st.sampled_from(["*", "?", "[0-9]", "**/*"]),
    name=_PART,
)
def test_paths_are_shown_below_the_patterns_fixed_folder(
    scheme, folders, stem, wildcard, name
):
    folder = scheme + "/".join(folders) + "/"
    pattern = folder + stem + wildcard + ".tfrecord"
    assert paths.fixed_folder(pattern) == folder
    roots = paths.Roots([pattern, "/elsewhere/*"])
    assert roots.short(folder + name) == name
    assert roots.short("/other/" + name) == "/other/" + name  # under no pattern
    cell = roots.cell(folder + name)
    assert cell == f'<td title="{html.escape(folder + name)}">{html.escape(name)}</td>'


@pytest.mark.parametrize("case", ["failing", "passing"])
def test_data_files_are_named_below_their_pattern_with_the_path_in_a_tooltip(
    reports, case
):
    report = reports[case]
    files = [t for t in tables(render(report)) if t["class"] == "files"]
    assert len(files) == len(report["data"])
    for table, (split, data) in zip(files, report["data"].items(), strict=True):
        folder = data["patterns"][0].rsplit("/", 1)[0] + "/"
        rows = table["rows"][1:]
        assert [r["titles"][0] for r in rows] == [f["path"] for f in data["files"]]
        for row in rows:
            assert folder + row["cells"][0] == row["titles"][0]
            assert not row["cells"][0].startswith("/") and split in row["cells"][0]


# Drift overlaid, the other features, inline ----------------------------------------


def _counts(seed: int, shift: int):
    rng = np.random.default_rng(seed)
    ids = (rng.zipf(1.3, 4_000) + shift) % 100
    found, counts = np.unique(ids, return_counts=True)
    return found, counts


def with_drift_and_features(report: dict) -> dict:
    """The report with a drift profile of its model and a features table."""
    report = copy.deepcopy(report)
    drift = publish.drift_profile(_counts(1, 0), _counts(2, 30))
    report["drift"] = {report["models"][0]["name"]: {"train": drift.model_dump()}}
    report["features"] = {
        "train": {
            "examples": 3_000,
            "total": 5,
            "features": [
                {"name": "age", "type": "INT", "present": 2_990, "missing": 10}
                | {"min": 1.0, "max": 90.0, "mean": 40.5},
                {"name": "city", "type": "STRING", "present": 3_000, "missing": 0}
                | {"unique": 3},
                {"name": "label", "type": "INT", "present": 3_000, "missing": 0}
                | {"min": 0.0, "max": 99.0, "mean": 20.0},
                {"name": "score", "type": "FLOAT", "present": 3_000, "missing": 0},
            ],
        }
    }
    return report


_BAR = re.compile(
    r"class (\d+): [\d.]+% before \((\d+) of (\d+)\), [\d.]+% now \((\d+) of (\d+)\)"
)


def test_drift_draws_both_runs_overlaid(reports):
    report = with_drift_and_features(reports["passing"])
    drift = report["drift"]["m"]["train"]
    page = render(report)
    (shares,) = plot(page, "Class shares")
    (curves,) = plot(page, "Rank-frequency: previous run and this run")
    for kind in ("bar-before", "bar-now"):
        bars = [r for r in shares.iter("rect") if r.get("class") == kind]
        told = [_BAR.match(title_of(b)).groups() for b in bars]
        assert [[int(t[0]), int(t[1]), int(t[3])] for t in told] == drift["classes"]
        assert {(int(t[2]), int(t[4])) for t in told} == {
            (drift["values_before"], drift["values_now"])
        }
    # one curve a run, a point per rank of each
    assert len(list(curves.iter("polyline"))) == 2
    points = len(drift["rank_frequency_before"]) + len(drift["rank_frequency_now"])
    assert len(list(curves.iter("circle"))) == points
    assert f"divergence {drift['js_divergence']:.4f} bits" in page
    assert not plot(render(reports["passing"]), "Class shares")  # only when compared


def test_other_features_are_a_table_of_their_tfdv_figures(reports):
    page = render(with_drift_and_features(reports["passing"]))
    (table,) = [t for t in tables(page) if t["class"] == "features"]
    head, *rows = table["rows"]
    assert head["cells"] == [
        *("feature", "type", "present", "missing"),
        *("min", "max", "mean", "unique"),
    ]
    by_name = {r["cells"][0]: r for r in rows}
    assert list(by_name) == ["age", "city", "score"]  # the label is the model's
    assert by_name["age"]["cells"][1:] == ["INT", "2990", "10", "1", "90", "40.5", "—"]
    assert by_name["city"]["cells"][4:] == ["—", "—", "—", "3"]
    assert by_name["city"]["titles"][4] == "not numeric"
    assert by_name["score"]["titles"][4] == "no finite values"
    assert "1 more not listed in report.json" in page


def test_a_notebook_shows_the_report_inline(reports):
    report = Report.model_validate(with_drift_and_features(reports["failing"]))
    inline = report._repr_html_()
    assert inline.startswith("<div class=classgate>")
    for whole_page in ("<html", "<head", "<body", "<!DOCTYPE", "<script", "http"):
        assert whole_page not in inline
    style = re.search(r"<style>(.*?)</style>", inline, re.S).group(1)
    selectors = [
        one.strip()
        for rule in re.findall(r"([^{}]+)\{", style)
        for one in rule.split(",")
    ]
    assert selectors and all(s.startswith(".classgate") for s in selectors)
    # The page's content, exactly: the same views, checks and plots.
    page = report_html.render(report)
    assert inline.replace(f"<style>{report_html._CSS}</style>", "", 1) in page
