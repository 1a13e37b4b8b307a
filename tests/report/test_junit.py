"""junit.xml: one testcase per (model, check), failures from ERRORs (and --strict).

Rendered from reports built by hand as publish builds them (no pipeline runs).
"""

import json
import xml.etree.ElementTree as ET

import builders
import pytest

from classgate.checks import catalog
from classgate.io import files
from classgate.outputs import publish
from classgate.report import junit
from classgate.report.model import Report
from classgate.run.request import Request

from tools import synthetic

STARTED = "2026-01-01T00:00:00+00:00"


def hand_built(root, models, splits: dict, strict=False) -> dict:
    """The report.json of a labels-only run over {split: label rows}, built as
    publish builds it from hand-built results (no pipeline)."""
    listed = []
    for name in splits:
        (root / name).mkdir(parents=True)
        (root / name / "a.tfrecord").write_bytes(b"x")
        listed.append(files.list_split(name, (str(root / name / "*"),), "tfrecord"))
    request = Request(
        splits=tuple(listed),
        models=tuple(models),
        output=str(root / "out"),
        labels_only=True,
        strict=strict,
    )
    rows = {name: {"label": values} for name, values in splits.items()}
    formats = dict.fromkeys(splits, "tfrecord")
    found = builders.evaluate(models, rows, formats)
    verdict = builders.verdict(found, strict=strict)
    made = publish.report_of(
        request, builders.results(models, rows), verdict, STARTED, STARTED, {}
    )
    return json.loads(made.with_checks().to_json())


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Errors in two splits plus an empty one; warnings only, and under --strict."""
    root = tmp_path_factory.mktemp("junit")
    ids = synthetic.labels(1_000, 100, seed=7).tolist()
    models = [
        builders.model(name="small", num_classes=80),
        builders.model(name="right", num_classes=100),
    ]
    errors = hand_built(
        root / "errors", models, {"train": ids, "eval": ids, "test": []}
    )
    dense = list(range(98)) * 3  # 2 of 100 classes unseen
    one = [builders.model(num_classes=100)]
    warnings = hand_built(root / "warnings", one, {"train": dense})
    strict = hand_built(root / "strict", one, {"train": dense}, strict=True)
    return {"errors": errors, "warnings": warnings, "strict": strict}


def parse(report: dict) -> ET.Element:
    return ET.fromstring(junit.render(Report.model_validate(report)).encode())


def cases(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    found = {}
    for case in root.iter("testcase"):
        key = (case.get("classname"), case.get("name"))
        assert key not in found, f"{key} twice"
        found[key] = case
    return found


@pytest.mark.parametrize("case", ["errors", "warnings", "strict"])
def test_counts_match_the_testcases(reports, case):
    root = parse(reports[case])
    for suite in root.iter("testsuite"):
        testcases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(testcases) > 0
        failed = sum(c.find("failure") is not None for c in testcases)
        assert int(suite.get("failures")) == failed
    all_cases = list(root.iter("testcase"))
    assert int(root.get("tests")) == len(all_cases)
    assert int(root.get("failures")) == sum(
        c.find("failure") is not None for c in all_cases
    )


@pytest.mark.parametrize("case", ["errors", "warnings"])
def test_every_check_that_ran_is_a_testcase_and_no_other(reports, case):
    """The testcases are the catalog's checks that ran (what report.html ticks),
    with the findings of checks it does not know (a baseline's TFDV_*)."""
    report = reports[case]
    typed = Report.model_validate(report)
    found = cases(parse(report))
    for model in [*typed.models, None]:
        suite = f"classgate.{model.name if model else 'data'}"
        ran = {code for code, _ in typed.checks_ran(model)} - {catalog.TFDV_SCHEMA}
        owner = model.name if model else None
        extra = {a.code for a in typed.anomalies if a.model == owner}
        assert {code for s, code in found if s == suite} == ran | extra


def test_one_failing_testcase_per_model_and_error_code(reports):
    report = reports["errors"]
    found = cases(parse(report))
    failing = {
        (f"classgate.{a['model'] or 'data'}", a["code"])
        for a in report["anomalies"]
        if a["severity"] == "ERROR"
    }
    assert ("classgate.small", "LABEL_ABOVE_RANGE") in failing
    assert ("classgate.data", "EMPTY_DATASET") in failing
    assert ("classgate.right", "LABEL_ABOVE_RANGE") not in failing
    for key, case in found.items():
        failure = case.find("failure")
        assert (failure is not None) == (key in failing), key
    # the above-range values of train and eval make one testcase with both messages
    text = found[("classgate.small", "LABEL_ABOVE_RANGE")].find("failure").text
    messages = [
        a["message"]
        for a in report["anomalies"]
        if (a["model"], a["code"]) == ("small", "LABEL_ABOVE_RANGE")
    ]
    assert len(messages) == 2 and all(m in text for m in messages)


def test_warnings_pass_with_their_messages(reports):
    report = reports["warnings"]
    assert report["status"] == "pass"
    found = cases(parse(report))
    warned = [a for a in report["anomalies"] if a["severity"] == "WARNING"]
    assert any(a["code"] == "CLASSES_UNSEEN" for a in warned)
    for anomaly in warned:
        case = found[(f"classgate.{anomaly['model'] or 'data'}", anomaly["code"])]
        assert case.find("failure") is None
        assert anomaly["message"] in case.find("system-out").text


def test_warnings_fail_under_strict(reports):
    report = reports["strict"]
    assert report["strict"] and report["status"] == "fail"
    found = cases(parse(report))
    for anomaly in report["anomalies"]:
        case = found[(f"classgate.{anomaly['model'] or 'data'}", anomaly["code"])]
        failure = case.find("failure")
        assert failure is not None and failure.get("type") == "WARNING"
        assert anomaly["message"] in failure.text
