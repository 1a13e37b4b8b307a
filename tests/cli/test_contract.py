"""The command line's contract, end to end: classgate.cli.main as users run it.

Each command, each exit code, the outputs written and the one line an error is:
the wiring from argv through the validation to the files and the exit code. What
each piece decides is tested on that piece (tests mirror pipeline/classgate/); a
test here is one whose point is the wiring itself. The installed command and
`python -m classgate` run as subprocesses, as a user runs them.
"""

import fcntl
import json
import os
import pathlib
import string
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import builders
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classgate import cli
from classgate.outputs import folder as output_folder

from workspace import CLASSIC, Workspace, label_errors

BIN = pathlib.Path(sys.executable).parent
CLASSGATE = [sys.executable, "-m", "classgate"]


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# validate: exit 0 on a pass, 1 on a fail, the report and its figures -----------------


@pytest.fixture(scope="module")
def classic(tmp_path_factory, classic_ids):
    """The classic data as TFRecord and Parquet, written once for the module."""
    ws = Workspace(tmp_path_factory.mktemp("classic"))
    patterns = {
        fmt: ws.labels(
            classic_ids, fmt=fmt, name=f"train_{fmt}", context=classic_ids % 997
        )
        for fmt in ("tfrecord", "parquet")
    }
    return ws, patterns


@pytest.mark.parametrize(
    "fmt, num_classes",
    [
        ("tfrecord", 10_000),
        ("tfrecord", 5_000),
        ("tfrecord", 20_000),
        pytest.param("parquet", 5_000, marks=pytest.mark.slow),
    ],
)
def test_classic_cases(classic, capsys, fmt, num_classes):
    """10,000 true classes: num_classes 10,000 passes; 5,000 is too few (exit 1,
    naming the fix and where); 20,000 leaves half the classes unseen."""
    exit_code, errors = CLASSIC[num_classes]
    ws, patterns = classic
    code, report = ws.validate(
        "--data",
        patterns[fmt],
        "--model-config",
        ws.model(num_classes),
        "--labels-only",
        output=f"out-{fmt}-{num_classes}",
    )
    assert code == exit_code
    verdict = "PASS" if exit_code == 0 else "FAIL"
    assert capsys.readouterr().out.startswith(f"classgate: {verdict}: ")
    assert label_errors(report) == errors
    assert report["status"] == ("pass" if exit_code == 0 else "fail")
    labels = report["labels"]["train"]["label"]
    assert (labels["examples"], labels["min"], labels["max"]) == (20_000, 0, 9_999)
    assert labels["distinct"] == 10_000
    if errors == ["LABEL_ABOVE_RANGE"]:
        above = report["anomalies"][0]
        assert above["message"].startswith(
            "labels reach 9999: set num_classes to at least 10000"
        )
        assert len(above["details"]["locations"]) == 20


@pytest.mark.slow
def test_full_mode_writes_tfdv_artifacts(classic):
    """Full mode: TFDV's statistics, schema and anomalies beside the report, each
    split in its own format (TFRecord and Parquet), as TFDV's readers load them."""
    ws, patterns = classic
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

    code, report = ws.validate(
        "--split",
        f"train={patterns['tfrecord']}",
        "--split",
        f"eval={patterns['parquet']}",
        "--model-config",
        ws.model(5_000),
        output="artifacts",
    )
    out = ws.root / "artifacts"
    assert code == 1
    schema = text_format.Parse((out / "schema.pbtxt").read_text(), schema_pb2.Schema())
    label = next(f for f in schema.feature if f.name == "label")
    assert (label.int_domain.min, label.int_domain.max) == (0, 4_999)
    assert label.int_domain.is_categorical
    assert (label.value_count.min, label.value_count.max) == (1, 1)
    assert {f.name for f in schema.feature} == {"label", "context"}
    anomalies = text_format.Parse(
        (out / "anomalies.pbtxt").read_text(), anomalies_pb2.Anomalies()
    )
    assert "label" in anomalies.anomaly_info
    for split in ("train", "eval"):
        stats = tfdv.load_stats_binary(
            str(out / report["outputs"]["statistics"][split])
        )
        assert isinstance(stats, statistics_pb2.DatasetFeatureStatisticsList)
        assert stats.datasets[0].num_examples == 20_000
    assert report["data"]["train"]["fingerprint"].startswith("sha256:")
    assert [f["size"] > 0 for f in report["data"]["eval"]["files"]] == [True, True]
    assert report["models"][0]["num_sampled"] == 64
    assert (out / "report.md").read_text().startswith("# classgate: FAIL")
    assert not (out / ".classgate-staging").exists()
    assert not list(out.rglob("*.tmp-*"))


def test_html_junit_and_step_summary(ws, monkeypatch):
    """Every output a failing run writes, a JUnit file outside --output and the
    GitHub step summary included."""
    summary = ws.root / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit = ws.root / "ci" / "junit.xml"
    code, report = ws.validate(
        "--data",
        ws.labels(list(range(10)) * 3 + [None, 12]),
        "--model-config",
        ws.model(10, num_sampled=2),
        "--labels-only",
        "--junit-xml",
        str(junit),
    )
    assert code == 1
    out = ws.root / "out"
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (out / "report.md").read_text().startswith("# classgate: FAIL")
    suites = ElementTree.parse(junit).getroot()
    failures = [
        case.get("name")
        for case in suites.iter("testcase")
        if case.find("failure") is not None
    ]
    assert sorted(failures) == ["LABEL_ABOVE_RANGE", "LABEL_MISSING"]
    assert summary.read_text().startswith("earlier step\n# classgate: FAIL")


def test_submit_then_conclude(ws, capsys):
    """validate --no-wait --verdict-by conclude exits 0 once the job is submitted,
    saying how to conclude; conclude gives the verdict's exit code and writes what
    validate would have (the job's own verdict: tests/run/test_validation.py)."""
    pattern = ws.labels(list(range(10)) * 3 + [12])
    out = ws.root / "out"
    junit = ws.root / "junit.xml"
    argv = ["--data", pattern, "--model-config", ws.model(10), "--output", str(out)]
    no_wait = ["--no-wait", "--verdict-by", "conclude", "--labels-only"]
    assert cli.main(["validate", *argv, *no_wait]) == 0
    assert "classgate conclude --output" in capsys.readouterr().out
    assert (out / "pending.json").exists() and not (out / "report.json").exists()
    assert cli.main(["conclude", "--output", str(out), "--junit-xml", str(junit)]) == 1
    assert capsys.readouterr().out.startswith("classgate: FAIL: ")
    report = json.loads((out / "report.json").read_text())
    assert "LABEL_ABOVE_RANGE" in [a["code"] for a in report["anomalies"]]
    assert report["labels"]["train"]["label"]["examples"] == 31
    assert junit.exists() and (out / "report.html").exists()
    assert not (out / "pending.json").exists()
    assert not (out / output_folder.STAGING).exists()


# run: the command starts only on a matching pass; its exit code is classgate's --


def test_run_starts_the_command_only_on_a_pass_and_exits_with_its_code(
    tmp_path, capsys
):
    """The command sees the validated config in its environment, not classgate's
    own switches; a failing report never starts it (exit 1, gate closed)."""
    from classgate.gate import blessing

    model, clean = builders.model(num_sampled=2), list(range(10)) * 3
    passing, _ = builders.report_file(tmp_path / "p", [model], clean)
    failing, _ = builders.report_file(tmp_path / "f", [model], clean + [12])
    record = tmp_path / "told.json"
    probe = (
        "import json, os, sys\n"
        "keys = [k for k in os.environ if k.startswith('CLASSGATE_')]\n"
        "json.dump({k: os.environ[k] for k in keys}, open(sys.argv[1], 'w'))\n"
        "sys.exit(7)\n"
    )
    command = [sys.executable, "-c", probe, str(record)]
    assert cli.main(["run", "--report", failing, "--", *command]) == 1
    assert "gate closed" in one_line(capsys.readouterr().err)
    assert not record.exists()
    assert cli.main(["run", "--report", passing, "--", *command]) == 7
    told = json.loads(record.read_text())
    # The user's own environment passes through: the suite sets CLASSGATE_SCAN.
    assert told.pop("CLASSGATE_SCAN") == "compiled"
    assert told == blessing.check(passing).environment()
    assert (told["CLASSGATE_REPORT"], told["CLASSGATE_NUM_CLASSES"]) == (passing, "10")


# Exit 2 is one line naming what to fix, from a worker too; exit 3 is ours ---------


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode",
    [
        ["--direct_running_mode=in_memory"],
        ["--direct_num_workers=2", "--direct_running_mode=multi_threading"],
    ],
    ids=["in_memory", "multi_threading"],
)
def test_a_worker_s_input_error_is_one_line_in_every_direct_mode(ws, capsys, mode):
    """A damaged TFRecord whose name holds a line break: the worker's message does.
    (multi_processing: test_worker_processes_print_no_traceback.)"""
    bad = ws.root / "bad\nname.tfrecord"
    bad.write_bytes(b"garbage" * 50)
    code = cli.main(
        ["validate", "--data", str(bad), "--model-config", ws.model(4)]
        + ["--output", str(ws.root / "out"), *mode]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert one_line(err).startswith("classgate: error: ")
    assert "bad\\nname.tfrecord: record 0: bad length checksum" in err
    assert "[while running" not in err and "input-error" not in err
    assert not (ws.root / "out" / "report.json").exists()


@pytest.mark.slow
def test_a_worker_s_input_error_is_one_line_on_the_portable_runner(ws, capsys):
    from tools import portable

    bad = ws.root / "bad\nname.tfrecord"
    bad.write_bytes(b"garbage" * 50)
    with portable.services() as flags:
        code = cli.main(
            ["validate", "--data", str(bad), "--model-config", ws.model(4)]
            + ["--output", str(ws.root / "out"), *flags]
        )
    err = capsys.readouterr().err
    assert code == 2
    assert "bad\\nname.tfrecord: record 0: bad length checksum" in one_line(err)
    assert "[while running" not in err


@pytest.mark.slow
def test_worker_processes_print_no_traceback(ws):
    """multi_processing's worker processes write to the terminal's stderr
    themselves: nothing of theirs reaches it, only classgate's one line, which
    names the damaged file (a line break in its name escaped). --quiet: a run
    slowed past 30 s on a loaded machine would print a progress line first."""
    bad = ws.root / "bad\nname.tfrecord"
    bad.write_bytes(b"garbage" * 100)
    done = subprocess.run(
        [
            *CLASSGATE,
            "validate",
            "--data",
            str(bad),
            "--model-config",
            ws.model(2),
            "--output",
            str(ws.root / "out"),
            "--quiet",
            "--direct_num_workers=2",
            "--direct_running_mode=multi_processing",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "bad\\nname.tfrecord: record 0: bad length checksum" in line
    assert "[while running" not in line and "input-error" not in line
    assert not (ws.root / "out" / "report.json").exists()


def test_a_defect_of_ours_is_exit_3(ws, capsys, monkeypatch):
    """Any other exception, raised anywhere in a run: exit 3, one line asking for
    a report (the traceback with --debug), never exit 2 or a traceback."""
    from classgate.verdict import decide

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(decide, "decide", broken)
    argv = ["validate", "--data", ws.labels([0, 1]), "--model-config", ws.model(2)]
    code = cli.main([*argv, "--output", str(ws.root / "o"), "--labels-only"])
    assert code == 3
    line = one_line(capsys.readouterr().err)
    assert "internal error" in line and "please report" in line
    assert "ZeroDivisionError" in line
    assert not (ws.root / "o" / "report.json").exists()


def test_a_scan_that_misreads_a_label_in_full_mode_is_exit_3(ws, capsys, monkeypatch):
    """Full mode reads the label twice, by the compiled scan and by tfx_bsl's
    decode: a scan that misread it (here, every label one more) stops the run as
    a defect of ours, naming the file, records and feature, with no verdict."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from classgate.io import tfrecord

    monkeypatch.setenv(tfrecord.SCAN_ENV, tfrecord.SCAN_COMPILED)
    read = tfrecord.record_batch

    def misread(scanned):
        batch = read(scanned)
        arrays, names = batch.columns, batch.schema.names
        at = names.index("label")
        arrays[at] = pa.LargeListArray.from_arrays(
            arrays[at].offsets, pc.add(arrays[at].values, 1)
        )
        return pa.RecordBatch.from_arrays(arrays, names)

    monkeypatch.setattr(tfrecord, "record_batch", misread)
    data = ws.labels([0, 1, 1], shards=1)
    argv = ["validate", "--data", data, "--model-config", ws.model(3)]
    code = cli.main([*argv, "--output", str(ws.root / "o")])
    assert code == 3
    line = one_line(capsys.readouterr().err)
    assert "internal error" in line and "please report" in line
    assert "records 0..2: the compiled scan and tfx_bsl read feature 'label'" in line
    assert not (ws.root / "o" / "report.json").exists()


# The output folder: what a rerun and a failed run leave ----------------------------


def test_a_second_run_on_the_same_folder_is_exit_2(ws, capsys):
    out = ws.root / "out"
    out.mkdir()
    with open(out / output_folder.LOCK, "w") as held:  # as a run in progress holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        argv = ["validate", "--data", ws.labels([0, 1]), "--model-config"]
        code = cli.main([*argv, ws.model(2), "--output", str(out)])
    assert code == 2 and "another classgate run" in one_line(capsys.readouterr().err)


@pytest.mark.slow
def test_stale_outputs_of_an_earlier_run_are_swept(ws, capsys):
    """A rerun replaces the verdict and removes what the earlier run wrote, a JUnit
    file inside --output included; a run that fails leaves no verdict, no JUnit
    file (a stale pass beside a failure) and no staging folder."""
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(
        np.repeat(rng.permutation(200), 1 + rng.zipf(1.5, 200).clip(max=50))
    )
    first = ws.labels(shuffled, name="shuffled")
    out = ws.root / "out"
    junit_inside, junit_outside = out / "junit.xml", ws.root / "junit.xml"
    base = [
        "--model-config",
        ws.model(200, name="a"),
        "--output",
        str(out),
        "--labels-only",
    ]
    code = cli.main(
        ["validate", "--data", first, *base, "--junit-xml", str(junit_inside)]
    )
    assert code == 0 and (out / "remap-a.txt").exists() and junit_inside.exists()
    second = ws.labels(list(range(4)) * 3, name="sorted")
    code = cli.main(
        [
            "validate",
            "--data",
            second,
            "--model-config",
            ws.model(4, name="b"),
            "--output",
            str(out),
            "--labels-only",
            "--junit-xml",
            str(junit_outside),
        ]
    )
    assert code == 0 and junit_outside.exists()
    assert sorted(p.name for p in out.glob("*-*.txt")) == ["unigram-b.txt"]
    assert not junit_inside.exists()
    report = json.loads((out / "report.json").read_text())
    assert [m["name"] for m in report["models"]] == ["b"]
    bad = ws.root / "bad.tfrecord"
    bad.write_bytes(b"garbage" * 10)
    code = cli.main(
        [
            "validate",
            "--data",
            str(bad),
            "--model-config",
            ws.model(4, name="b"),
            "--output",
            str(out),
            "--junit-xml",
            str(junit_outside),
        ]
    )
    assert code == 2
    assert not junit_outside.exists()  # no passing JUnit beside a failed run
    assert not (out / "report.json").exists() and not (out / "unigram-b.txt").exists()
    assert not (out / output_folder.STAGING).exists()


# Every word of the command line is accounted for, whatever the argv --------------

WORDS = st.sampled_from(
    [
        "validate",
        "train",
        "conclude",
        "run",
        "--data",
        "--split",
        "--output",
        "--model-config",
        "--labels-only",
        "--strict",
        "--format",
        "parquet",
        "tfrecord",
        "--",
        "--runner=Bogus",
        "--runner",
        "DirectRunner",
        "--direct_num_workers=2",
        "--classes-per-range",
        "0",
        "3",
        "--no-wait",
        "--report",
        "--junit-xml",
        "",
        "-",
        "*",
        "train=",
        "=x",
        "--quiet",
        "--baseline-schema",
        "--epochs",
        "-1",
        "--model",
        "--lables-only",
        "stray",
        "--data=",
        "--output=",
        "--split=a=b",
        "DATA",
        "CONFIG",
        "OUT",
    ]
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("argv"))
    ws.labels([0, 1, 2, 3] * 5, name="train")
    return ws


def _tree(root: pathlib.Path, output: pathlib.Path) -> dict:
    """Every file under root but the output folder: path -> (size, mtime)."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and output not in path.parents:
            stat = path.lstat()
            found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.mark.slow
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(words=st.lists(WORDS | st.text(string.printable, max_size=8), max_size=10))
def test_any_argv(scratch, capsys, words):
    """Exit 0, 1 or 2 (never 3), exit 2 as one line, and nothing written outside
    --output, whatever words follow `validate --data D --model-config C`."""
    root = scratch.root
    output = root / "argv-out"
    data = str(root / "data" / "train" / "*")
    config = scratch.model(4, name="argv", max_unseen_fraction=1.0)
    # Names for paths, so that many runs get as far as the job.
    swap = {"DATA": data, "CONFIG": config, "OUT": str(output)}
    argv = ["validate", "--data", data, "--model-config", config]
    argv += [swap.get(w, w) for w in words]
    if "--output" not in argv:
        argv += ["--output", str(output)]
    before = _tree(root, output)
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err
    if code == 2:
        assert one_line(err).startswith("classgate: error: ") and len(err) < 2000
    assert _tree(root, output) == before, "a file outside --output changed"


# The installed command and `python -m classgate` ------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [[str(BIN / "classgate")], [sys.executable, "-m", "classgate"]],
    ids=["classgate", "python -m classgate"],
)
def test_exit_codes_and_quiet_stderr(ws, command):
    """Also: nothing written in the user's home (Beam's DirectRunner would fetch
    Prism into ~/.apache_beam), and the verdict line whole on a pipe when the
    process exits without the interpreter's teardown (cli.exit_without_teardown)."""
    pattern = ws.labels([0, 1, 2, 3])
    home = ws.root / "home"
    home.mkdir()
    for num_classes, expected in ((4, 0), (3, 1)):
        done = subprocess.run(
            [
                *command,
                "validate",
                "--data",
                pattern,
                "--model-config",
                ws.model(num_classes),
                "--output",
                str(ws.root / f"out{num_classes}"),
                "--labels-only",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, HOME=str(home)),
        )
        assert done.returncode == expected, done.stderr
        assert list(home.iterdir()) == []
        assert done.stdout.startswith(
            f"classgate: {'PASS' if expected == 0 else 'FAIL'}"
        )
        assert done.stderr == ""  # no library chatter, no traceback
    missing = subprocess.run(
        [
            *command,
            "validate",
            "--data",
            str(ws.root / "nope-*"),
            "--model-config",
            ws.model(4),
            "--output",
            str(ws.root / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "no files match" in missing.stderr


@pytest.mark.slow
def test_a_project_with_its_own_pipeline_package(ws):
    """`pipeline/` is every ML repository's own folder: run from such a project,
    classgate is still classgate (its import package is `classgate`)."""
    project = ws.root / "project"
    (project / "pipeline").mkdir(parents=True)
    (project / "pipeline" / "__init__.py").write_text("raise SystemExit(97)\n")
    (project / "pipeline" / "__main__.py").write_text("raise SystemExit(98)\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "classgate",
            "validate",
            "--data",
            ws.labels([0, 1, 2]),
            "--model-config",
            ws.model(3),
            "--output",
            str(ws.root / "out"),
            "--labels-only",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
