"""report.html: self-contained, escaped, with the plots, and a real page in Chromium."""

import copy
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib

import pytest

from classgate.report import html
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
    return {"failing": failing[1], "passing": passing[1], "root": ws.root}


def render(report: dict) -> str:
    """The page of a report.json's content, read as the gate and renderers read it."""
    return html.render(Report.model_validate(report))


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


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (make test installs it)"
)
def test_chromium_renders_a_real_page(reports, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render(reports["failing"]))
    png = tmp_path / "report.png"
    subprocess.run(
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
            f"--screenshot={png}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            f"file://{page}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
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
