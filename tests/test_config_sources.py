"""A model config that reads the trainer's own files: sections, references, paths,
sources that must agree, and a gate bound to every file read; any classifier head."""

import json
import os

import pytest
import yaml
from builders import codes, evaluate, find, model, report_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classgate import config, errors
from classgate.cli import main
from classgate.codes import MUST_HOLD, Code
from classgate.gate import blessing
from classgate.model_files import summary


def write(folder, name, text) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


TRAINER = """\
optimizer: adam
seed: 007
task:
  model:
    num_classes: 5000
classgate:
  name: m
  label_feature: label
  num_classes: {from: trainer.yaml, key: task.model.num_classes}
  vocabulary_file: vocab.txt
  num_oov_buckets: 4996
"""


def test_a_trainers_yaml_holds_classgate_in_a_section(tmp_path, monkeypatch):
    path = write(tmp_path / "cfg", "trainer.yaml", TRAINER)
    write(tmp_path / "cfg", "vocab.txt", "a\nb\nc\nd\n")
    monkeypatch.chdir(tmp_path)  # relative paths start at the config's folder
    (found,) = config.load([path])
    assert found.num_classes == 5000
    assert found.vocabulary_file == str(tmp_path / "cfg" / "vocab.txt")
    (source,) = found.sources["num_classes"]
    assert (source.file, source.key, source.value, source.line) == (
        path,
        "task.model.num_classes",
        5000,
        9,
    )
    assert set(found.files) == {path, str(tmp_path / "cfg" / "vocab.txt")}


def test_a_json_trainer_config_with_a_section(tmp_path):
    document = {
        "trainer": {"heads": 300},
        "classgate": {
            "models": [
                {"name": "a", "label_feature": "l", "num_classes": 300},
                {
                    "name": "b",
                    "label_feature": "l",
                    "num_classes": {"from": "t.json", "key": "trainer.heads"},
                },
            ]
        },
    }
    path = write(tmp_path, "t.json", json.dumps(document))
    assert [m.num_classes for m in config.load([path])] == [300, 300]


@pytest.mark.parametrize(
    "text, needle",
    [
        ("classgate:\n  name: m\n  label_feature: l\n  num_clases: 3\n",
         "did you mean"),
        ("classgate: [1]\n", "must be a mapping"),
        ("optimizer: adam\nname: m\n", "unknown key"),
        ("classgate:\n  name: m\n  label_feature: l\n  num_classes: 3\n  files: {}\n",
         "classgate computes this key"),
        ("classgate:\n  name: m\n  label_feature: l\n"
         "  num_classes: {from: absent.yaml, key: n}\n", "absent.yaml: cannot read"),
        ("classgate:\n  name: m\n  label_feature: l\n"
         "  num_classes: {from: t.yaml, key: task}\n", "holds a dict at 'task'"),
        ("classgate:\n  name: m\n  label_feature: l\n"
         "  num_classes: {from: t.yaml, key: task.nope}\n",
         "line 4: classgate.num_classes"),
    ],
)  # fmt: skip
def test_what_cannot_be_read_is_one_line_naming_file_key_and_line(
    tmp_path, capsys, text, needle
):
    path = write(tmp_path, "t.yaml", text + "task: {n: 3}\n")
    assert main(["check-config", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err, err


def test_references_that_disagree_are_one_error_naming_both(tmp_path):
    write(tmp_path, "trainer.yaml", "heads: 5000\n")
    write(tmp_path, "other.yaml", "classes: 4000\n")
    path = write(
        tmp_path,
        "m.yaml",
        "name: m\nlabel_feature: label\nnum_classes:\n"
        "  - {from: trainer.yaml, key: heads}\n  - {from: other.yaml, key: classes}\n",
    )
    (found,) = config.load([path])
    anomalies = evaluate([found], {"train": {"label": list(range(5000))}})
    disagree = find(anomalies, "SOURCES_DISAGREE")
    assert "num_classes is 5000" in disagree.message
    assert "trainer.yaml: heads" in disagree.message
    assert "4000 (" in disagree.message and "other.yaml: classes" in disagree.message


def test_vocabulary_and_checkpoint_are_sources_of_num_classes_too(tmp_path):
    write(tmp_path, "trainer.yaml", "n: 6\n")
    m = model(num_classes=6, vocabulary_file="vocab.txt")
    m = m.model_copy(
        update={"sources": {"num_classes": [config.Source(file="t", key="n", value=6)]}}
    )
    files = {"m": summary.ModelFiles(vocabulary_size=5)}
    found = evaluate([m], {"train": {"label": []}}, files=files)
    mismatch = find(found, "VOCABULARY_SIZE_MISMATCH")
    assert "num_classes is 6 (t: n) but 5 (vocab.txt: 5 lines" in mismatch.message


# The gate binds to every file read: an edit of any referenced value closes it ------


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    keys=st.lists(
        st.from_regex(r"[a-z][a-z_]{0,6}", fullmatch=True), min_size=1, max_size=4
    ),
    edit=st.sampled_from(["value", "sibling", "comment"]),
)
def test_any_edit_of_a_file_read_closes_the_gate(tmp_path_factory, keys, edit):
    folder = tmp_path_factory.mktemp("bound")
    nested = 10
    for key in reversed(keys):
        nested = {key: nested, "other": 1}
    trainer = write(folder, "trainer.yaml", yaml.safe_dump(nested))
    reference = "{from: trainer.yaml, key: " + ".".join(keys) + "}"
    path = write(
        folder,
        "m.yaml",
        f"name: m\nlabel_feature: label\nnum_classes: {reference}\nnum_sampled: 2\n",
    )
    models = config.load([path])
    report, _ = report_file(folder / "run", list(models), list(range(10)) * 3)
    blessing.check(report)  # opens
    if edit == "value":
        text = yaml.safe_dump(nested).replace(": 10\n", ": 11\n")
    elif edit == "sibling":
        text = yaml.safe_dump(nested).replace("other: 1", "other: 2", 1)
    else:
        text = yaml.safe_dump(nested) + "# an edit\n"
    write(folder, "trainer.yaml", text)
    with pytest.raises(blessing.GateClosed, match="trainer.yaml changed since"):
        blessing.check(report)
    assert os.path.exists(trainer)


def test_a_vocabulary_or_checkpoint_index_edited_after_validation_is_seen(tmp_path):
    vocabulary = write(tmp_path, "vocab.txt", "a\nb\n")
    (bound,) = config.load(
        [write(tmp_path, "m.yaml", "name: m\nlabel_feature: l\nnum_classes: 2\n"
               "vocabulary_file: vocab.txt\n")]
    )  # fmt: skip
    assert blessing._file_changed([bound]) is None
    write(tmp_path, "vocab.txt", "a\nc\n")
    assert f"{vocabulary} changed since" in blessing._file_changed([bound])


# Any classifier head ---------------------------------------------------------------


def test_a_full_softmax_samples_nothing_and_unseen_classes_only_warn():
    m = model(num_classes=10, loss="softmax")
    assert m.num_sampled is None and m.max_unseen_fraction == 1.0
    found = evaluate([m], {"train": {"label": [0, 1, 2] * 5}})
    assert codes(found) == ["CLASSES_UNSEEN"]
    assert find(found, "CLASSES_UNSEEN").severity == "WARNING"
    sampled = model(num_classes=10, num_sampled=2)
    assert (
        find(
            evaluate([sampled], {"train": {"label": [0, 1, 2] * 5}}), "CLASSES_UNSEEN"
        ).severity
        == "ERROR"
    )


def test_labels_equal_to_ignore_index_are_neither_in_nor_out_of_range():
    torch_model = model(num_classes=3, loss="torch_cross_entropy")
    assert torch_model.ignore_index == -100
    rows = [0, 1, 2, -100, -100, 2]
    assert evaluate([torch_model], {"train": {"label": rows}}) == []
    keras = model(num_classes=3, loss="softmax", ignore_index=255)
    found = evaluate([keras], {"train": {"label": [0, 1, 2, 255, 256]}})
    assert codes(found) == ["LABEL_ABOVE_RANGE"]
    assert find(found, "LABEL_ABOVE_RANGE").details["max"] == 256
    nce = model(num_classes=3, num_sampled=1)
    assert "LABEL_BELOW_RANGE" in codes(evaluate([nce], {"train": {"label": rows}}))


def test_the_environment_names_the_loss_and_ignore_index(tmp_path):
    m = model(num_classes=10, loss="torch_cross_entropy")
    report, _ = report_file(tmp_path, [m], list(range(10)) * 3)
    env = blessing.check(report).environment()
    assert env["CLASSGATE_LOSS"] == "torch_cross_entropy"
    assert env["CLASSGATE_IGNORE_INDEX"] == "-100"
    assert "CLASSGATE_NUM_SAMPLED" not in env


def test_a_sampled_loss_needs_its_num_sampled():
    with pytest.raises(errors.InputError, match="num_sampled"):
        config.parse({"m.yaml": b"name: m\nlabel_feature: l\nnum_classes: 3\n"
                      b"num_sampled: null\n"})  # fmt: skip
    assert os.environ  # keeps the import honest


# Per-check control: severity overrides and waivers, listed in every report ---------


def test_a_waiver_keeps_the_finding_listed_and_failing_nothing(tmp_path):
    import datetime

    from classgate.checks import anomaly, controls

    waived = model(
        num_classes=10,
        num_sampled=2,
        checks={
            "CLASSES_UNSEEN": {"waive": "the catalog grows", "until": "2027-01-31"},
            "SAMPLER_FREQUENCY_ORDER": {"severity": "ERROR"},
        },
    )
    rising = [9] * 40 + [8] * 20 + [7] * 10 + [0, 1, 2]  # frequency rises with id
    found = evaluate([waived], {"train": {"label": rising}})
    day = datetime.date(2027, 1, 31)
    applied = controls.apply([waived], found, day)
    unseen = find(applied, "CLASSES_UNSEEN")
    assert unseen.severity == "ERROR" and unseen.waived == {
        "reason": "the catalog grows",
        "until": "2027-01-31",
    }
    order = find(applied, "SAMPLER_FREQUENCY_ORDER")
    assert order.severity == "ERROR" and order.details["severity_from"] == "WARNING"
    assert [a.code for a in anomaly.failing(applied, False)] == [
        "SAMPLER_FREQUENCY_ORDER"
    ]
    expired = controls.apply([waived], found, day + datetime.timedelta(days=1))
    assert find(expired, "CLASSES_UNSEEN").waived is None
    assert find(expired, "CLASSES_UNSEEN").details["waiver_expired"] == "2027-01-31"


@pytest.mark.parametrize(
    "checks, needle",
    [
        ({"CLASSES_UNSEN": {"waive": "x"}}, "did you mean CLASSES_UNSEEN"),
        ({"CLASSES_UNSEEN": {"waive": ""}}, "at least 1 character"),
        ({"CLASSES_UNSEEN": {}}, "set severity"),
        (
            {"CLASSES_UNSEEN": {"until": "2027-01-01", "severity": "ERROR"}},
            "needs waive",
        ),
        ({"CLASSES_UNSEEN": {"severity": "FATAL"}}, "ERROR"),
    ],
)
def test_a_control_without_a_reason_or_of_no_check_is_refused(checks, needle):
    with pytest.raises(Exception, match=needle):
        model(num_classes=10, checks=checks)


def test_the_gate_honours_a_waiver_and_the_report_lists_every_check(tmp_path):
    from classgate.checks.anomaly import Status

    waived = model(
        num_classes=20,
        num_sampled=2,
        sampler="uniform",
        checks={"CLASSES_UNSEEN": {"waive": "new classes next month"}},
    )
    rows = list(range(10)) * 3  # half the classes unseen: an ERROR, waived
    path, _ = report_file(tmp_path, [waived], rows)
    report = blessing.Report.load(path)
    assert report.status == Status.PASS
    (unseen,) = [a for a in report.anomalies if a.code == "CLASSES_UNSEEN"]
    assert unseen.waived["reason"] == "new classes next month"
    blessing.check(path)  # opens: the re-derived "too many unseen" is waived
    listed = {(c.code, c.split): c.result for c in report.with_checks().checks}
    assert listed[("CLASSES_UNSEEN", "train")] == "waived"
    assert listed[("LABEL_ABOVE_RANGE", "train")] == "passed"


WAIVABLE = sorted(set(Code) - MUST_HOLD)


@pytest.mark.parametrize("code", sorted(MUST_HOLD))
@pytest.mark.parametrize("control", [{"waive": "known"}, {"severity": "WARNING"}])
def test_a_check_that_breaks_training_takes_no_waiver(code, control):
    with pytest.raises(Exception, match=f"{code} cannot be waived"):
        model(num_classes=10, checks={code: control})
    assert model(num_classes=10, checks={code: {"severity": "ERROR"}}).checks


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.one_of(st.none(), st.lists(st.integers(-3, 14), max_size=3)),
        min_size=1,
        max_size=30,
    ),
    strict=st.booleans(),
)
def test_no_control_passes_a_run_that_would_break_training(rows, strict):
    """Every check that may take a control waived or made a WARNING: whatever the
    labels, each must-hold ERROR of the raw findings still fails the run, and the
    gate's own re-derivation is never excused for one."""
    import datetime

    from classgate.checks import anomaly, controls

    lenient = model(
        num_classes=10,
        num_sampled=2,
        checks={
            code: ({"waive": "everything"} if i % 2 else {"severity": "WARNING"})
            for i, code in enumerate(WAIVABLE)
        },
    )
    found = evaluate([lenient], {"train": {"label": rows}})
    applied = controls.apply([lenient], found, datetime.date(2027, 1, 1))
    breaking = {a.code for a in found if a.severity == "ERROR" and a.code in MUST_HOLD}
    assert breaking <= {a.code for a in anomaly.failing(applied, strict)}
    for code in MUST_HOLD:
        assert not blessing._excused(lenient, code, strict, datetime.date(2027, 1, 1))


def test_a_waiver_is_listed_in_every_report_and_fails_nothing(ws, capsys):
    """--strict with a known warning waived: a pass; the CLI, report.md, report.html
    and report.json all show the finding as waived, with its reason."""
    pattern = ws.labels(list(range(10)) * 3 + [5] * 40)  # frequency rises: order warns
    checks = "{SAMPLER_FREQUENCY_ORDER: {waive: 'hashed ids', until: '2999-12-31'}}"
    config = ws.model(10, num_sampled=2, checks=checks)
    code, report = ws.validate("--data", pattern, "--model-config", config, "--strict")
    shown = capsys.readouterr().out
    assert code == 0, shown
    (order,) = [
        a for a in report["anomalies"] if a["code"] == "SAMPLER_FREQUENCY_ORDER"
    ]
    assert order["waived"] == {"reason": "hashed ids", "until": "2999-12-31"}
    assert "0 error(s), 0 warning(s), 1 waived" in shown
    assert "(waived: hashed ids)" in shown
    out = ws.root / "out"
    assert "(waived: hashed ids)" in (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    assert 'class="waived" data-code="SAMPLER_FREQUENCY_ORDER"' in page
    assert "waived: hashed ids, until 2999-12-31" in page
    listed = {(c["code"], c["split"]): c["result"] for c in report["checks"]}
    assert listed[("SAMPLER_FREQUENCY_ORDER", "train")] == "waived"
    blessing.check(str(out / "report.json"))  # the gate opens
