"""junit.xml: the checks as JUnit test results, for CI test dashboards.

One <testsuite> per model and one, "data", for findings of no model (an empty split,
a TFDV anomaly on a feature several models share). One <testcase> per check code
that ran (the report's `checks_ran`, from checks.catalog, the same list report.html
ticks), so a dashboard shows what was checked, not only what failed; any other code
in the report (a baseline schema's TFDV_*) is a testcase of its suite too. A
testcase gathers every anomaly of its code across splits. A failing severity
(checks.anomaly.failing_severities: ERROR, and WARNING under --strict) fails it;
otherwise its messages go in <system-out>.
"""

import datetime
import xml.etree.ElementTree as ET

from classgate.checks import anomaly, catalog
from classgate.checks.anomaly import Anomaly
from classgate.report.model import Report

DATA_SUITE = "data"


def render(report: Report) -> str:
    """The JUnit XML document for one finished validation."""
    failing = anomaly.failing_severities(report.strict)
    root = ET.Element("testsuites", name="classgate")
    suites = [
        (m.name, _codes(report.checks_ran(m)), m.model_dump()) for m in report.models
    ]
    suites.append((None, _codes(report.checks_ran(None)), {}))
    for model, always, config in suites:
        anomalies = [a for a in report.anomalies if a.model == model]
        suite = ET.SubElement(
            root, "testsuite", name=model or DATA_SUITE, timestamp=report.started
        )
        if config:
            properties = ET.SubElement(suite, "properties")
            for key, value in config.items():
                if value is not None:
                    ET.SubElement(properties, "property", name=key, value=str(value))
        codes = dict.fromkeys([*always, *(a.code for a in anomalies)])
        # TFDV's schema check is its findings, each a TFDV_* testcase of its own.
        codes.pop(catalog.TFDV_SCHEMA, None)
        for code in codes:
            found = [a for a in anomalies if a.code == code]
            _testcase(suite, model or DATA_SUITE, code, found, failing)
        _count(suite, suite.findall("testcase"))
    _count(root, root.findall("testsuite/testcase"))
    root.set("time", _seconds(report.started, report.finished))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
        root, encoding="unicode"
    )


def _testcase(suite, owner: str, code: str, found: list, failing: set) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"classgate.{owner}", name=code)
    if not found:
        return
    text = "\n".join(_line(a) for a in found)
    fails = [a for a in found if a.severity in failing and a.waived is None]
    if fails:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        failure = ET.SubElement(
            case,
            "failure",
            message=fails[0].message + more,
            type=fails[0].severity,
        )
        failure.text = text
    else:
        ET.SubElement(case, "system-out").text = text


def _codes(ran) -> list[str]:
    """The codes of the checks that ran, once each, in the catalog's order."""
    return list(dict.fromkeys(code for code, _ in ran))


def _count(element, cases: list) -> None:
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    element.set("errors", "0")
    element.set("skipped", "0")


def _line(anomaly: Anomaly) -> str:
    where = ", ".join(
        f"{key}={getattr(anomaly, key)}"
        for key in ("split", "feature")
        if getattr(anomaly, key)
    )
    return f"{anomaly.severity} [{where}] {anomaly.message}"


def _seconds(started: str, finished: str | None) -> str:
    if finished is None:
        return "0"
    span = datetime.datetime.fromisoformat(finished) - datetime.datetime.fromisoformat(
        started
    )
    return str(span.total_seconds())
