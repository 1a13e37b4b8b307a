"""A run submitted without waiting (a Flex Template launch) and its later verdict."""

import json
import xml.etree.ElementTree as ElementTree

import pytest

import classgate
from classgate import cli
from classgate.outputs import folder as output_folder
from classgate.run import staging
from classgate.stats import class_counts


def staged_folder(out):
    """The staging folder of a submitted run: derived from --output alone."""
    return out / output_folder.STAGING


@pytest.mark.slow
def test_submit_then_conclude(ws, capsys):
    pattern = ws.labels(list(range(10)) * 3 + [12])
    out = ws.root / "out"
    junit = ws.root / "junit.xml"
    code = cli.main(
        [
            "validate",
            "--data",
            pattern,
            "--model-config",
            ws.model(10),
            "--output",
            str(out),
            "--no-wait",
        ]
    )
    assert code == 0
    assert "classgate conclude --output" in capsys.readouterr().out
    assert (out / "pending.json").exists() and not (out / "report.json").exists()
    assert cli.main(["conclude", "--output", str(out), "--junit-xml", str(junit)]) == 1
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "fail"
    assert "LABEL_ABOVE_RANGE" in [a["code"] for a in report["anomalies"]]
    assert report["labels"]["train"]["label"]["examples"] == 31
    assert junit.exists() and (out / "report.html").exists()
    assert not (out / "pending.json").exists()
    assert not staged_folder(out).exists()


def test_conclude_without_a_submitted_run(ws, capsys):
    code = cli.main(["conclude", "--output", str(ws.root / "nothing")])
    err = capsys.readouterr().err
    assert code == 2 and "no submitted run to conclude" in err
    assert err.count("\n") == 1


def test_conclude_before_the_job_finished(ws, capsys):
    pattern = ws.labels([0, 1, 2])
    out = ws.root / "out"
    assert (
        cli.main(
            [
                "validate",
                "--data",
                pattern,
                "--model-config",
                ws.model(3),
                "--output",
                str(out),
                "--no-wait",
                "--labels-only",
            ]
        )
        == 0
    )
    for result in staged_folder(out).iterdir():
        result.unlink()  # as if the job were still running
    capsys.readouterr()
    assert cli.main(["conclude", "--output", str(out)]) == 2
    assert "has not finished, or failed" in capsys.readouterr().err


def test_train_does_not_take_no_wait(ws, capsys):
    code = cli.main(
        [
            "train",
            "--data",
            ws.labels([0, 1]),
            "--model-config",
            ws.model(2),
            "--output",
            str(ws.root / "o"),
            "--no-wait",
        ]
    )
    assert code == 2 and "--no-wait is for validate" in capsys.readouterr().err


def test_each_key_range_of_class_counts_is_its_own_result(ws, capsys):
    """12 classes in ranges of 5: three staged range files, each one required."""
    pattern = ws.labels(list(range(12)))
    out = ws.root / "out"
    argv = ["--data", pattern, "--model-config", ws.model(12), "--output", str(out)]
    flags = ["--no-wait", "--labels-only", "--classes-per-range", "5"]
    assert cli.main(["validate", *argv, *flags]) == 0
    staged = staged_folder(out)
    ranges = sorted(p.name for p in staged.glob("classes-*"))
    assert ranges == ["classes-0-0-0.npz", "classes-0-0-1.npz", "classes-0-0-2.npz"]
    (staged / ranges[1]).unlink()  # one worker's range never arrived
    capsys.readouterr()
    assert cli.main(["conclude", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "incomplete" in err and ranges[1] in err and err.count("\n") == 1
    assert not (out / "report.json").exists()


def test_a_range_that_lost_counts_is_no_verdict(ws, capsys):
    """Counts lost between workers (seen with the DirectRunner's multi_threading
    mode) must end in exit 2, never in a report built on part of the data."""
    pattern = ws.labels(list(range(12)) * 2)
    out = ws.root / "out"
    argv = ["--data", pattern, "--model-config", ws.model(12), "--output", str(out)]
    flags = ["--no-wait", "--labels-only", "--classes-per-range", "5"]
    assert cli.main(["validate", *argv, *flags]) == 0
    staged = staged_folder(out) / "classes-0-0-1.npz"
    run = json.loads((out / "pending.json").read_text())["run"]
    counts = staging.decode_class_counts(staged.read_bytes(), run, str(staged))
    half = class_counts.ClassCounts(counts.num_classes)
    half.add(counts.seen_ids())  # each id once: one of two accumulators lost
    staged.write_bytes(staging.encode_class_counts(half, run))
    capsys.readouterr()
    assert cli.main(["conclude", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "train/label: the runner lost results" in err and "19 ids" in err
    assert not (out / "report.json").exists()


def submit(ws, out, *flags):
    """`validate --no-wait` of a failing dataset (label 12 of 10 classes)."""
    pattern = ws.labels(list(range(10)) * 3 + [12])
    argv = ["--data", pattern, "--model-config", ws.model(10), "--output", str(out)]
    assert cli.main(["validate", *argv, "--no-wait", "--labels-only", *flags]) == 0


def junit_failures(path) -> list[str]:
    suites = ElementTree.parse(path).getroot()
    return sorted(
        case.get("name")
        for case in suites.iter("testcase")
        if case.find("failure") is not None
    )


def test_conclude_writes_the_junit_xml_the_submitter_asked_for(ws, capsys):
    out = ws.root / "out"
    junit = out / "ci" / "junit.xml"
    submit(ws, out, "--junit-xml", str(junit))
    submitted = json.loads((out / "pending.json").read_text())
    assert submitted["request"]["junit_xml"] == str(junit)
    assert submitted["classgate"] == classgate.__version__
    assert submitted["job_id"] is None  # the DirectRunner's result has none
    assert not junit.exists()
    assert cli.main(["conclude", "--output", str(out)]) == 1
    assert junit_failures(junit) == ["LABEL_ABOVE_RANGE"]


def test_conclude_junit_xml_overrides_the_recorded_one(ws, capsys):
    out = ws.root / "out"
    recorded, given = out / "junit.xml", ws.root / "ci" / "mine.xml"
    submit(ws, out, "--junit-xml", str(recorded))
    assert cli.main(["conclude", "--output", str(out), "--junit-xml", str(given)]) == 1
    assert junit_failures(given) == ["LABEL_ABOVE_RANGE"]
    assert not recorded.exists()


@pytest.mark.parametrize(
    "planted",
    [
        "{root}/elsewhere.xml",  # outside --output
        "{out}/../elsewhere.xml",
        "{out}/report.json",  # over classgate's own outputs and bookkeeping
        "{out}/statistics/Split-train/FeatureStats.pb",
        "{out}/.classgate-manifest.json",
        "{out}/.classgate-staging/junit.xml",
    ],
)
def test_a_junit_path_read_from_pending_json_stays_in_its_own_file(ws, capsys, planted):
    """pending.json can be planted by anyone who can write the folder: the path it
    names is written only as a file of its own inside --output."""
    out = ws.root / "out"
    submit(ws, out)
    pending_path = out / "pending.json"
    submitted = json.loads(pending_path.read_text())
    submitted["request"]["junit_xml"] = planted.format(root=ws.root, out=out)
    pending_path.write_text(json.dumps(submitted))
    before = {p: p.read_bytes() for p in ws.root.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert cli.main(["conclude", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "conclude writes a path read from a file only there" in err
    assert "--junit-xml" in err and err.count("\n") == 1
    after = {p: p.read_bytes() for p in ws.root.rglob("*") if p.is_file()}
    assert after == before  # nothing written, nothing removed
    # Given on conclude's own command line, the same path is the caller's choice.
    elsewhere = ws.root / "elsewhere.xml"
    assert cli.main(["conclude", "--output", str(out), "--junit-xml", str(elsewhere)])
    assert junit_failures(elsewhere) == ["LABEL_ABOVE_RANGE"]


def test_a_submitters_junit_outside_the_output_needs_conclude_to_name_it(ws, capsys):
    out, junit = ws.root / "out", ws.root / "junit.xml"
    submit(ws, out, "--junit-xml", str(junit))
    capsys.readouterr()
    assert cli.main(["conclude", "--output", str(out)]) == 2
    assert f"--junit-xml {junit}`" in capsys.readouterr().err
    assert cli.main(["conclude", "--output", str(out), "--junit-xml", str(junit)]) == 1
    assert junit_failures(junit) == ["LABEL_ABOVE_RANGE"]


class DataflowResult:
    """What a DataflowPipelineResult adds to the DirectRunner's: a job id."""

    def __init__(self, result):
        self.result = result

    def job_id(self):
        return "2024-05-01_12_34_56-1234567890123456789"

    def __getattr__(self, name):
        return getattr(self.result, name)


def test_a_submitted_run_records_the_runners_job_id(ws, capsys, monkeypatch):
    import apache_beam as beam

    run = beam.Pipeline.run
    monkeypatch.setattr(beam.Pipeline, "run", lambda p, *a: DataflowResult(run(p)))
    out = ws.root / "out"
    submit(ws, out)
    submitted = json.loads((out / "pending.json").read_text())
    assert submitted["job_id"] == "2024-05-01_12_34_56-1234567890123456789"
    for result in staged_folder(out).iterdir():
        result.unlink()  # as if the job were still running
    capsys.readouterr()
    assert cli.main(["conclude", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "job 2024-05-01_12_34_56-1234567890123456789 has not finished" in err


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("job_id", "$(rm -rf /)"),
        ("job_id", "x" * 200),
        ("version", 1),
        ("request.junit_xml", ""),
        ("surprise", 1),
        ("started", "yesterday"),
        ("request.splits", []),
        ("request.class_range_width", 0),
    ],
)
def test_pending_json_is_checked_field_by_field(ws, capsys, field, value):
    out = ws.root / "out"
    submit(ws, out)
    pending_path = out / "pending.json"
    submitted = json.loads(pending_path.read_text())
    *inside, key = field.split(".")
    holder = submitted
    for step in inside:
        holder = holder[step]
    holder[key] = value
    pending_path.write_text(json.dumps(submitted))
    capsys.readouterr()
    assert cli.main(["conclude", "--output", str(out)]) == 2
    assert "no submitted run to conclude" in capsys.readouterr().err
    assert pending_path.exists() and not (out / "report.json").exists()


@pytest.mark.slow
def test_conclude_opens_no_path_a_planted_pending_json_names(ws, capsys):
    """Vocabulary, checkpoint, baseline schema and history come from what the
    submitting run staged; pending.json's paths are never opened, nor echoed."""
    secret = ws.root / "secret.txt"
    secret.write_text("SECRET-1\nSECRET-1\nSECRET-2\n")  # duplicate lines get echoed
    pattern = ws.labels(list(range(10)) * 3)
    out = ws.root / "out"
    assert (
        cli.main(
            ["validate", "--data", pattern, "--model-config", ws.model(10)]
            + ["--output", str(out), "--no-wait", "--labels-only"]
        )
        == 0
    )
    pending = json.loads((out / "pending.json").read_text())
    pending["request"]["models"][0].update(
        vocabulary_file=str(secret),
        checkpoint=str(ws.root / "no-such-checkpoint"),
        weights_variable="w",
    )
    pending["request"]["baseline_schema"] = str(secret)
    pending["request"]["previous_report"] = str(secret)
    (out / "pending.json").write_text(json.dumps(pending))
    capsys.readouterr()
    code = cli.main(["conclude", "--output", str(out)])
    shown = capsys.readouterr()
    assert code in (0, 1, 2), shown.err
    assert "SECRET" not in shown.out + shown.err
    written = [p.read_bytes() for p in out.rglob("*") if p.is_file()]
    assert not any(b"SECRET" in data for data in written)
    assert "no-such-checkpoint" not in shown.err
