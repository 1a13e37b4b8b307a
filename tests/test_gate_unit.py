"""The gate over hand-built reports and real files: what opens it, what closes it."""

import json

import pytest
from builders import model, report_file

from classgate import errors, gate

CLEAN = list(range(10)) * 3


@pytest.fixture
def passing(tmp_path):
    return report_file(tmp_path / "data", [model(num_sampled=2)], CLEAN)


def test_a_pass_that_matches_opens_the_gate(passing):
    path, pattern = passing
    blessing = gate.check(path, [model(num_sampled=2)], {"train": (pattern,)})
    assert [len(s.files) for s in blessing.splits] == [2]
    assert blessing.environment() == {
        "CLASSGATE_REPORT": path,
        "CLASSGATE_NUM_CLASSES": "10",
        "CLASSGATE_NUM_SAMPLED": "2",
        "CLASSGATE_NUM_TRUE": "1",
        "CLASSGATE_LABEL_FEATURE": "label",
    }


def test_a_failed_report_names_its_errors(tmp_path):
    path, _ = report_file(tmp_path, [model(num_sampled=2)], CLEAN + [12])
    with pytest.raises(gate.GateClosed, match="not pass.*LABEL_ABOVE_RANGE"):
        gate.check(path)


@pytest.mark.parametrize(
    "edit, why",
    [
        (lambda r: r.update(status="pass"), "LABEL_ABOVE_RANGE"),
        (lambda r: r.update(status="pass", anomalies=[]), "labels reach 12"),
        (
            lambda r: (
                r.update(status="pass", anomalies=[]),
                r["models"][0].update(num_classes=13),
            ),
            "fingerprint",
        ),
        (
            lambda r: (
                r.update(status="pass", anomalies=[]),
                r["labels"]["train"]["label"].update(max=9),
            ),
            "labels lie outside",
        ),
    ],
)
def test_a_report_edited_to_pass_stays_closed(tmp_path, edit, why):
    path, _ = report_file(tmp_path, [model(num_sampled=2)], CLEAN + [12])
    report = json.loads(open(path).read())
    edit(report)
    open(path, "w").write(json.dumps(report))
    with pytest.raises(gate.GateClosed, match="edited or damaged") as closed:
        gate.check(path)
    assert __import__("re").search(why, str(closed.value)), str(closed.value)


@pytest.mark.parametrize("change", ["added", "removed", "changed"])
def test_a_change_to_the_files_closes_the_gate(passing, change):
    path, pattern = passing
    folder = pattern.rsplit("/", 1)[0]
    if change == "added":
        open(f"{folder}/c.parquet", "wb").write(b"new")
    elif change == "removed":
        __import__("os").remove(f"{folder}/b.parquet")
    else:
        open(f"{folder}/b.parquet", "ab").write(b"more")
    with pytest.raises(gate.GateClosed, match=f"1 file\\(s\\) {change}"):
        gate.check(path)


def test_another_config_or_pattern_closes_the_gate(passing):
    path, pattern = passing
    with pytest.raises(gate.GateClosed, match="num_sampled is 3, but 2 was validated"):
        gate.check(path, [model(num_sampled=3)])
    with pytest.raises(gate.GateClosed, match="validated as"):
        gate.check(path, None, {"train": (pattern + "x",)})
    with pytest.raises(gate.GateClosed, match="'eval' was not validated"):
        gate.check(path, None, {"train": (pattern,), "eval": ("x",)})


def test_a_report_of_another_schema_version_is_refused(passing):
    path, _ = passing
    report = json.loads(open(path).read())
    report["schema_version"] = 2
    open(path, "w").write(json.dumps(report))
    with pytest.raises(errors.InputError, match="schema version 2"):
        gate.check(path)
