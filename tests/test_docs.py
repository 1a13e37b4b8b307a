"""docs/reference/ is generated from the code (tools/docs.py, `make docs`).

Every page is rendered again here, in memory, and compared with the committed one:
a flag, config key, anomaly code, report key or output file that changed without
`make docs` fails the suite, naming the page. What the generator reads from the
code must be complete too: every anomaly code says when it fires, every output
name is listed, and report.json as classgate writes it meets the published schema.
"""

import inspect
import json
import re

import builders
import jsonschema
import pytest

from classgate import names
from classgate.checks import anomaly

from tools import docs


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return docs.render()


@pytest.mark.parametrize("page", sorted(docs.PAGES))
def test_the_committed_page_is_what_the_code_renders(rendered, page):
    path = docs.FOLDER / page
    committed = path.read_text() if path.is_file() else None
    if committed != rendered[page]:
        pytest.fail(f"docs/reference/{page} is stale: run `make docs`", pytrace=False)


def test_the_check_names_a_stale_page(tmp_path, capsys):
    """`python -m tools.docs --check` on a folder with one page edited."""
    assert docs.main(["--folder", str(tmp_path)]) == 0
    assert docs.main(["--folder", str(tmp_path), "--check"]) == 0
    page = tmp_path / "config.md"
    page.write_text(page.read_text().replace("num_classes", "num_clases", 1))
    assert docs.main(["--folder", str(tmp_path), "--check"]) == 1
    assert "config.md is stale: run `make docs`" in capsys.readouterr().err


def test_every_anomaly_code_says_when_it_fires_and_how_badly():
    missing = [code.value for code in anomaly.Code if code not in anomaly.DESCRIPTIONS]
    assert not missing, f"add them to checks.anomaly.DESCRIPTIONS: {missing}"
    severities = {s.value for s in anomaly.Severity}
    for code, (severity, when) in anomaly.DESCRIPTIONS.items():
        assert re.match(r"[A-Z]+", severity).group() in severities, code
        assert when.strip(), code


def _produced_names() -> set[str]:
    """Every name the names module gives: its constants, and each function's
    name with its arguments as placeholders (`unigram-<model>.txt`)."""
    found = set()
    for key, value in vars(names).items():
        if key.isupper() and not key.startswith("_") and isinstance(value, str):
            found.add(value)
        elif inspect.isfunction(value) and not key.startswith(("_", "is_")):
            placeholders = [f"<{p}>" for p in inspect.signature(value).parameters]
            found.add(value(*placeholders))
    return found


def test_every_output_name_is_listed_with_what_it_is():
    listed = {name for name, _ in names.FILES}
    assert _produced_names() <= listed, _produced_names() - listed
    for name, what in names.FILES:
        example = name.replace("<model>", "m").replace("<split>", "train")
        assert names.is_output_name(example.replace("<name>", "junit")), name
        assert what.strip(), name


@pytest.mark.parametrize("rows", [[0, 1, 2, 3], [0, 1, 2, 11]], ids=["pass", "fail"])
def test_report_json_as_written_meets_the_published_schema(tmp_path, rows):
    path, _ = builders.report_file(tmp_path, [builders.model(num_classes=4)], rows)
    document = json.loads(open(path).read())
    committed = json.loads((docs.FOLDER / "report.schema.json").read_text())
    jsonschema.validate(document, committed)
    assert document["status"] == ("pass" if rows[-1] < 4 else "fail")


def _pages() -> list:
    root = docs.FOLDER.parents[1]
    return [
        root / "README.md",
        root / "CHANGELOG.md",
        *sorted(root.glob("docs/**/*.md")),
    ]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_relative_link_names_a_file_that_exists(page):
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
    local = [link for link in links if "://" not in link]
    missing = [link for link in local if not (page.parent / link).exists()]
    assert not missing, f"{page.name} links to what is not there: {missing}"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_test_a_page_cites_is_there(page):
    """`tests/x.py` and `tests/x.py::test_y` (or `::test_y` after it) name a test
    file, and a test in it, that exist: the guarantees point at what holds them."""
    root = docs.FOLDER.parents[1]
    missing, cited = [], None
    for match in re.finditer(r"(tests/[\w/.-]+\.py)|::(test_\w+)", page.read_text()):
        if match.group(1):
            cited = root / match.group(1)
            if not cited.is_file():
                missing.append(match.group(1))
        elif cited is not None and cited.is_file():
            if f"def {match.group(2)}(" not in cited.read_text():
                missing.append(f"{cited.relative_to(root)}::{match.group(2)}")
    assert not missing, f"{page.name} cites what is not there: {missing}"
