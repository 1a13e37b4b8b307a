"""A run submitted without waiting (a Flex Template launch) and its later verdict."""

import json

from classgate import cli, output, staging
from classgate.stats import class_counts


def staged_folder(out):
    """The staging folder of a submitted run: derived from --output alone."""
    return out / output.STAGING


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
