"""junit.xml: the checks as JUnit test results, for CI test dashboards.

One <testsuite> per model and one, "data", for findings of no model (an empty split,
a TFDV anomaly on a feature several models share). One <testcase> per check code:
the checks every model goes through are listed even when they found nothing, so a
dashboard shows what was checked, not only what failed; any other code in the
report (TFDV_*, future checks) is a testcase of its suite. A testcase gathers every
anomaly of its code across splits. ERROR fails it; WARNING passes it, with the
messages in <system-out>, unless the report was made with --strict.
"""

import datetime
import xml.etree.ElementTree as ET

from classgate import checks
from classgate.checks.anomaly import Anomaly
from classgate.report.model import Report

# The checks every model and every split go through: passing testcases when they
# found nothing.
MODEL_CHECKS, DATA_CHECKS = checks.MODEL_CHECKS, checks.DATA_CHECKS
DATA_SUITE = "data"


def render(report: Report) -> str:
    """The JUnit XML document for one finished validation."""
    failing = {"ERROR", "WARNING"} if report.strict else {"ERROR"}
    root = ET.Element("testsuites", name="classgate")
    suites = [(m.name, MODEL_CHECKS, m.model_dump()) for m in report.models]
    suites.append((None, DATA_CHECKS, {}))
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
    fails = [a for a in found if a.severity in failing]
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
