"""What a gate must never do, each case as a careless or hostile user found it.

One test per defect: it failed before its fix. The generalised forms (any argv,
config, vocabulary, schema or corruption) are the properties in test_properties.py.
"""

import decimal
import fcntl
import json
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tfx_bsl.coders import example_coder

from classgate import cli
from classgate.io import tfrecord
from classgate.outputs import folder as output_folder

from workspace import Workspace

CLASSGATE = [sys.executable, "-m", "classgate"]


def run(ws, capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def write_examples(path, columns: dict, compress=False) -> str:
    """A TFRecord file of tf.Examples with the given (list) columns."""
    batch = pa.RecordBatch.from_arrays(list(columns.values()), list(columns))
    records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    tfrecord.write_records(str(path), records, compress=compress)
    return str(path)


# Every word of the command line is accounted for --------------------------------


def test_an_unquoted_glob_is_refused_not_cut_to_its_first_file(ws, capsys):
    pattern = ws.labels([0, 1, 2, 3], shards=2)
    first, second = sorted(pathlib.Path(pattern).parent.glob("*"))
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        str(first),
        str(second),
        "--model-config",
        ws.model(4),
        "--output",
        str(ws.root / "out"),
    )
    assert code == 2
    assert "quote the pattern" in one_line(err) and second.name in err
    assert not (ws.root / "out" / "report.json").exists()


@pytest.mark.parametrize("command", ["validate", "train", "conclude"])
def test_dashes_are_for_run_alone(ws, capsys, command):
    argv = {
        "validate": ["--data", ws.labels([0, 1]), "--model-config", ws.model(2)],
        "train": ["--data", ws.labels([0, 1]), "--model-config", ws.model(2)],
        "conclude": [],
    }[command]
    code, _, err = run(
        ws, capsys, command, *argv, "--output", str(ws.root / "o"), "--", "x"
    )
    assert code == 2 and "'--' is for `classgate run`" in one_line(err)


def test_a_bogus_runner_is_named(ws, capsys):
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        ws.labels([0, 1]),
        "--model-config",
        ws.model(2),
        "--output",
        str(ws.root / "o"),
        "--runner=Bogus",
    )
    assert code == 2 and "--runner Bogus: not a Beam runner" in one_line(err)


# Pass implies the trainer can run -------------------------------------------------


def test_parquet_labels_only_reads_the_context_feature(ws):
    pattern = ws.labels([0, 1, 2, 3], fmt="parquet", context=[0, 1, 2, 99])
    config = ws.model(4, context_feature="context", context_vocab_size=10)
    code, report = ws.validate(
        "--data", pattern, "--model-config", config, "--labels-only"
    )
    assert code == 1
    assert "ID_OUT_OF_RANGE" in Workspace.codes(report, "ERROR")


@pytest.mark.slow
def test_an_absent_context_feature_fails(ws, capsys):
    config = ws.model(4, context_feature="context", context_vocab_size=10)
    code, report = ws.validate(
        "--data", ws.labels([0, 1, 2, 3]), "--model-config", config
    )
    assert code == 1 and "ID_FEATURE_ABSENT" in Workspace.codes(report, "ERROR")
    parquet = ws.labels([0, 1, 2, 3], fmt="parquet", name="pq")
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        parquet,
        "--model-config",
        config,
        "--output",
        str(ws.root / "o2"),
        "--labels-only",
    )
    assert code == 2 and "column 'context'" in one_line(err)


@pytest.mark.slow
def test_context_ids_stored_as_bytes_fail(ws):
    pattern = ws.labels([0, 1, 2, 3], context=["a", "b", "c", "d"])
    config = ws.model(4, context_feature="context", context_vocab_size=10)
    code, report = ws.validate("--data", pattern, "--model-config", config)
    assert code == 1 and "ID_TYPE_INVALID" in Workspace.codes(report, "ERROR")


def test_float_labels_in_tfrecord_fail(ws):
    pattern = ws.labels([0.0, 1.0, 2.0, 3.0])  # tf.Example float_list
    code, report = ws.validate(
        "--data", pattern, "--model-config", ws.model(4), "--labels-only"
    )
    assert code == 1
    invalid = [a for a in report["anomalies"] if a["code"] == "LABEL_TYPE_INVALID"]
    assert invalid and "float_list" in invalid[0]["message"]


def test_train_needs_a_context_feature_before_reading_any_data(ws, capsys):
    code, _, err = run(
        ws,
        capsys,
        "train",
        "--data",
        ws.labels([0, 1]),
        "--model-config",
        ws.model(2),
        "--output",
        str(ws.root / "o"),
    )
    assert code == 2 and "needs context_feature" in one_line(err)
    assert not (ws.root / "o" / "report.json").exists()


# Compression is judged on the whole header --------------------------------------


def test_a_plain_tfrecord_named_gz_gets_a_warning_naming_it(ws):
    path = write_examples(
        ws.root / "plain.tfrecord.gz", {"label": pa.array([[0], [1]])}
    )
    code, report = ws.validate(
        "--data", path, "--model-config", ws.model(2), "--labels-only"
    )
    assert code == 0
    (found,) = [
        a for a in report["anomalies"] if a["code"] == "COMPRESSION_NAME_MISMATCH"
    ]
    assert found["severity"] == "WARNING" and path in found["message"]


def test_a_first_record_of_0x8b1f_bytes_is_not_taken_for_gzip(ws):
    """Its length field opens with 1f 8b, gzip's magic number."""
    target = 0x8B1F
    encoder = example_coder.RecordBatchToExamplesEncoder()
    pad = target
    for _ in range(3):  # the padding's own length prefix changes the total a bit
        batch = pa.RecordBatch.from_arrays(
            [pa.array([[1]]), pa.array([[b"x" * pad]], pa.list_(pa.binary()))],
            ["label", "pad"],
        )
        (record,) = encoder.encode(batch)
        pad += target - len(record)
    assert len(record) == target
    path = ws.root / "odd.tfrecord"
    tfrecord.write_records(str(path), [record] * 3, compress=False)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    code, report = ws.validate(
        "--data", str(path), "--model-config", ws.model(2), "--labels-only", "--strict"
    )
    assert report["labels"]["train"]["label"]["examples"] == 3
    assert "COMPRESSION_NAME_MISMATCH" not in Workspace.codes(report)


# Vocabularies are read as TensorFlow reads them ----------------------------------


def test_a_line_holding_u2028_is_one_class_as_in_tensorflow(ws):
    vocab = ws.root / "vocab.txt"
    vocab.write_text("a\u2028x\nb\nc\n", encoding="utf-8")
    # TensorFlow reads 3 lines; "a" and "x" map to -1 in its table.
    pattern = ws.labels(["a", "x", "b", "c"])
    config = ws.model(4, vocabulary_file=str(vocab))
    code, report = ws.validate(
        "--data", pattern, "--model-config", config, "--labels-only"
    )
    assert code == 1
    errors = Workspace.codes(report, "ERROR")
    assert "VOCABULARY_SIZE_MISMATCH" in errors
    assert "LABEL_NOT_IN_VOCABULARY" in errors


@pytest.mark.slow
def test_labels_that_are_not_utf8_map_through_the_vocabulary(ws):
    vocab = ws.root / "vocab.bin"
    vocab.write_bytes(b"caf\xe9\nok\n")  # latin-1, as some exports are
    path = write_examples(
        ws.root / "data.tfrecord",
        {
            "label": pa.array(
                [[b"caf\xe9"], [b"ok"], [b"\xff\xfe"]], pa.list_(pa.binary())
            )
        },
    )
    config = ws.model(2, vocabulary_file=str(vocab))
    code, report = ws.validate(
        "--data", path, "--model-config", config, "--labels-only"
    )
    assert code == 1  # the third label is in no vocabulary line
    (missing,) = [
        a for a in report["anomalies"] if a["code"] == "LABEL_NOT_IN_VOCABULARY"
    ]
    assert missing["details"]["values"] == 1
    assert report["labels"]["train"]["label"]["classes_seen"] == 2


# The output folder is the only place written --------------------------------------


def test_an_empty_output_is_refused(ws, capsys, monkeypatch):
    monkeypatch.chdir(ws.root)
    before = set(os.listdir("/"))
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        ws.labels([0, 1]),
        "--model-config",
        ws.model(2),
        "--output",
        "",
    )
    assert code == 2 and "--output is empty" in one_line(err)
    assert set(os.listdir("/")) == before
    assert not (ws.root / "report.json").exists()


@pytest.mark.slow
def test_output_is_a_path_never_a_pattern(ws, capsys):
    pattern = ws.labels([0, 1])
    runs = ws.root / "runs"
    for sibling in ("exp1", "exp2"):
        (runs / sibling).mkdir(parents=True)
        for name in ("report.json", "report.md", "unigram-m.txt"):
            (runs / sibling / name).write_text("keep me")
    for _ in range(2):  # the rerun deletes what the first run wrote, only that
        code, _, err = run(
            ws,
            capsys,
            "validate",
            "--data",
            pattern,
            "--model-config",
            ws.model(2),
            "--output",
            str(runs / "exp?"),
            "--labels-only",
        )
        assert code == 0, err
    assert json.loads((runs / "exp?" / "report.json").read_text())["status"] == "pass"
    for sibling in ("exp1", "exp2"):
        for name in ("report.json", "report.md", "unigram-m.txt"):
            assert (runs / sibling / name).read_text() == "keep me"


@pytest.mark.slow
def test_stale_outputs_of_an_earlier_run_are_swept(ws, capsys):
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
    code, _, _ = run(
        ws, capsys, "validate", "--data", first, *base, "--junit-xml", str(junit_inside)
    )
    assert code == 0 and (out / "remap-a.txt").exists() and junit_inside.exists()
    second = ws.labels(list(range(4)) * 3, name="sorted")
    code, _, _ = run(
        ws,
        capsys,
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
    )
    assert code == 0 and junit_outside.exists()
    assert sorted(p.name for p in out.glob("*-*.txt")) == ["unigram-b.txt"]
    assert not junit_inside.exists()
    bad = ws.root / "bad.tfrecord"
    bad.write_bytes(b"garbage" * 10)
    code, _, _ = run(
        ws,
        capsys,
        "validate",
        "--data",
        str(bad),
        "--model-config",
        ws.model(4, name="b"),
        "--output",
        str(out),
        "--junit-xml",
        str(junit_outside),
    )
    assert code == 2
    assert not junit_outside.exists()  # no passing JUnit beside a failed run
    assert not (out / "report.json").exists() and not (out / "unigram-b.txt").exists()


def test_a_second_run_on_the_same_folder_is_refused(ws, capsys):
    out = ws.root / "out"
    out.mkdir()
    with open(out / output_folder.LOCK, "w") as held:  # as a run in progress holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        code, _, err = run(
            ws,
            capsys,
            "validate",
            "--data",
            ws.labels([0, 1]),
            "--model-config",
            ws.model(2),
            "--output",
            str(out),
        )
    assert code == 2 and "another classgate run" in one_line(err)


def test_an_output_inside_the_data_is_refused(ws, capsys):
    ws.labels([0, 1, 2, 3])
    data = ws.root / "data"
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        f"{data}/**",
        "--model-config",
        ws.model(4),
        "--output",
        str(data / "out"),
    )
    assert code == 2 and "lies inside the data" in one_line(err)


def test_outputs_before_the_verdict_a_failed_write_leaves_none(ws, capsys):
    blocked = ws.root / "junit-is-a-folder"
    blocked.mkdir()
    (blocked / "x").write_text("")
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        ws.labels([0, 1]),
        "--model-config",
        ws.model(2),
        "--output",
        str(ws.root / "out"),
        "--junit-xml",
        str(blocked),
    )
    assert code in (2, 3), err
    assert not (ws.root / "out" / "report.json").exists()


def test_conclude_reads_no_path_and_runs_no_code_from_the_folder(ws, capsys):
    victim = ws.root / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep")
    marker = ws.root / "code-ran"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    (victim / "labels-0-0.pkl").write_bytes(pickle.dumps(Payload()))
    out = ws.root / "out"
    out.mkdir()
    pending = {
        "staging": str(victim),
        "started": "2026-01-01T00:00:00+00:00",
        "splits": [],
        "models": [],
        "labels_only": True,
        "baseline_schema": None,
        "strict": False,
        "class_range_width": 10,
    }
    (out / "pending.json").write_text(json.dumps(pending))
    code, _, err = run(ws, capsys, "conclude", "--output", str(out))
    assert code == 2 and "no submitted run" in one_line(err)
    assert (victim / "precious.txt").exists() and not marker.exists()


def test_a_staged_result_holding_objects_is_refused(ws, capsys):
    pattern = ws.labels([0, 1, 2])
    out = ws.root / "out"
    code, _, _ = run(
        ws,
        capsys,
        "validate",
        "--data",
        pattern,
        "--model-config",
        ws.model(3),
        "--output",
        str(out),
        "--no-wait",
        "--labels-only",
    )
    assert code == 0
    staged = out / output_folder.STAGING / "labels-0-0.npz"
    marker = ws.root / "code-ran"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    np.savez(staged.open("wb"), header=np.array([Payload()], dtype=object))
    code, _, err = run(ws, capsys, "conclude", "--output", str(out))
    assert code == 2 and "not a result classgate staged" in one_line(err)
    assert not marker.exists()


# Bounded everything --------------------------------------------------------------


@pytest.mark.slow
def test_num_classes_past_the_file_limit_writes_no_per_class_file(ws):
    done = subprocess.run(
        [
            *CLASSGATE,
            "validate",
            "--data",
            ws.labels([0, 1, 2]),
            "--model-config",
            ws.model(1 << 40, max_unseen_fraction=1.0, sampler="uniform"),
            "--output",
            str(ws.root / "out"),
            "--labels-only",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((ws.root / "out" / "report.json").read_text())
    assert "CLASS_FILES_SKIPPED" in Workspace.codes(report, "WARNING")
    assert not list((ws.root / "out").glob("unigram-*"))


def test_num_classes_beyond_int64_is_a_config_error(ws, capsys):
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        ws.labels([0, 1]),
        "--model-config",
        ws.model(1 << 63),
        "--output",
        str(ws.root / "o"),
    )
    assert code == 2 and "num_classes" in one_line(err)


@pytest.mark.slow
def test_a_fifo_matched_by_the_glob_is_refused(ws):
    folder = ws.root / "data" / "train"
    ws.labels([0, 1])
    os.mkfifo(folder / "train-fifo")
    done = subprocess.run(
        [
            *CLASSGATE,
            "validate",
            "--data",
            str(folder / "*"),
            "--model-config",
            ws.model(2),
            "--output",
            str(ws.root / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "not a regular file" in one_line(done.stderr)


@pytest.mark.parametrize(
    "config, needle",
    [
        ("/dev/zero", "not a regular file"),
        ("bomb", "aliases expand"),
        ("long-name", "name"),
    ],
)
def test_configs_are_bounded(ws, capsys, config, needle):
    if config == "bomb":  # 9 levels of 9 aliases: 9**9 values, in 380 bytes
        levels = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
        for i in range(1, 10):
            refs = ",".join(f"*a{i - 1}" for _ in range(9))
            levels.append(f"a{i}: &a{i} [{refs}]")
        config = ws.config("\n".join(levels) + "\n", "bomb.yaml")
    elif config == "long-name":
        config = ws.config(
            f"name: {'n' * 300}\nlabel_feature: label\nnum_classes: 2\n", "long.yaml"
        )
    start = time.monotonic()
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        ws.labels([0, 1]),
        "--model-config",
        config,
        "--output",
        str(ws.root / "o"),
    )
    assert code == 2 and needle in one_line(err)
    assert len(err) < 400 and time.monotonic() - start < 30


@pytest.mark.slow
def test_worker_processes_print_no_traceback(ws):
    bad = ws.root / "bad.tfrecord"
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
            "--direct_num_workers=2",
            "--direct_running_mode=multi_processing",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "bad length checksum" in one_line(done.stderr)


# run and train never lose a model nor orphan a trainer --------------------------

TRAINER = """
import os, signal, sys, time
record = sys.argv[1]
received = []
def stop(signum, frame):
    received.append(signum)
    if len(received) == 1:
        time.sleep(1.0)  # a checkpoint being saved
        with open(record, "a") as f:
            f.write(f"saved after {[signal.Signals(s).name for s in received]}\\n")
        sys.exit(40 + signum)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
with open(record, "a") as f:
    f.write(f"started {os.getpid()}\\n")
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def blessed(ws):
    """A passing report and a trainer script that records what it was sent."""
    out = ws.root / "validated"
    assert (
        ws.validate(
            "--data",
            ws.labels([0, 1, 2, 3]),
            "--model-config",
            ws.model(4),
            "--labels-only",
            output="validated",
        )[0]
        == 0
    )
    script = ws.root / "trainer.py"
    script.write_text(TRAINER)
    return str(out / "report.json"), script


def start_run(report, script, record):
    process = subprocess.Popen(
        [
            *CLASSGATE,
            "run",
            "--report",
            report,
            "--",
            sys.executable,
            str(script),
            str(record),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (record.exists() and "started" in record.read_text()):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    child = int(record.read_text().split()[1])
    return process, child


@pytest.mark.slow
@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_run_forwards_a_signal_once_and_waits_for_the_trainer(ws, blessed, sent):
    report, script = blessed
    record = ws.root / f"record-{sent.name}"
    process, _ = start_run(report, script, record)
    process.send_signal(sent)
    assert process.wait(timeout=30) == 40 + sent
    assert f"saved after ['{sent.name}']" in record.read_text()


@pytest.mark.slow
def test_the_trainer_dies_with_classgate(ws, blessed):
    report, script = blessed
    record = ws.root / "record-kill"
    process, child = start_run(report, script, record)
    process.kill()  # SIGKILL: classgate can do nothing itself
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while "saved after ['SIGTERM'" not in record.read_text():
        assert time.monotonic() < deadline, record.read_text()
        time.sleep(0.05)
    while alive(child):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Running, not a zombie nobody has reaped yet (PID 1 of a container may not)."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return state[0] != "Z"


@pytest.mark.slow
def test_train_keeps_the_model_and_the_report_it_was_given(ws, capsys):
    out = ws.root / "out"
    config = ws.model(4, context_feature="context", context_vocab_size=4)
    pattern = ws.labels([0, 1, 2, 3], context=[0, 1, 2, 3])
    assert (
        ws.validate(
            "--data", pattern, "--model-config", config, "--labels-only", output="out"
        )[0]
        == 0
    )
    (out / "model").mkdir()
    (out / "model" / "saved.pb").write_text("an earlier model")
    (out / "metrics.json").write_text("{}")
    report = json.loads((out / "report.json").read_text())
    report["status"] = "fail"
    (ws.root / "failed.json").write_text(json.dumps(report))
    code, _, _ = run(
        ws,
        capsys,
        "train",
        "--report",
        str(ws.root / "failed.json"),
        "--output",
        str(out),
    )
    assert code == 1
    assert (out / "model" / "saved.pb").exists() and (out / "metrics.json").exists()
    code, _, err = run(
        ws,
        capsys,
        "train",
        "--report",
        str(out / "report.json"),
        "--output",
        str(out),
        "--epochs",
        "1",
    )
    assert code == 0, err
    assert (out / "report.json").exists()  # the report it was asked to reuse
    assert not (out / "model" / "saved.pb").exists()  # replaced by the new model


# The gate re-derives the verdict ---------------------------------------------------


def test_a_failing_report_edited_to_pass_stays_closed(ws, capsys):
    pattern = ws.labels([0, 1, 2, 3, 9])
    ws.validate("--data", pattern, "--model-config", ws.model(4), "--labels-only")
    path = ws.root / "out" / "report.json"
    original = json.loads(path.read_text())
    assert original["status"] == "fail"
    edits = {
        "status only": lambda r: r.update(status="pass"),
        "status and anomalies": lambda r: r.update(status="pass", anomalies=[]),
        "and the config": lambda r: (
            r.update(status="pass", anomalies=[]),
            r["models"][0].update(num_classes=10),
        ),
    }
    for name, edit in edits.items():
        report = json.loads(json.dumps(original))
        edit(report)
        path.write_text(json.dumps(report))
        code, _, err = run(
            ws, capsys, "run", "--report", str(path), "--", sys.executable, "-c", "pass"
        )
        assert code == 1, name
        assert "gate closed" in err and "edited" in err, (name, err)


def test_a_report_names_its_files_from_any_working_directory(ws, capsys, monkeypatch):
    ws.labels([0, 1, 2, 3])
    monkeypatch.chdir(ws.root)
    assert (
        cli.main(
            [
                "validate",
                "--data",
                "data/train/*",
                "--model-config",
                ws.model(4),
                "--output",
                "out",
                "--labels-only",
            ]
        )
        == 0
    )
    elsewhere = ws.root / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = run(
        ws,
        capsys,
        "run",
        "--report",
        str(ws.root / "out" / "report.json"),
        "--",
        sys.executable,
        "-c",
        "pass",
    )
    assert code == 0, err


# Exit 3 is ours, exit 2 the input's ---------------------------------------------


@pytest.mark.slow
def test_a_defect_of_ours_is_exit_3(ws, capsys, monkeypatch):
    from classgate.verdict import decide

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(decide, "decide", broken)
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        ws.labels([0, 1]),
        "--model-config",
        ws.model(2),
        "--output",
        str(ws.root / "o"),
    )
    assert code == 3
    line = one_line(err)
    assert "internal error" in line and "please report" in line


@pytest.mark.parametrize(
    "column",
    [
        pa.array([decimal.Decimal("1"), decimal.Decimal("2")]),
        pa.array([1, 2], pa.timestamp("s")),
        pa.array([[(1, 2)], [(2, 3)]], pa.map_(pa.int64(), pa.int64())),
        pa.array([[[1]], [[2]]]),
        pa.array([{"x": 1}, {"x": 2}]),
        pa.array([True, False]),
    ],
    ids=["decimal", "timestamp", "map", "list-of-list", "struct", "bool"],
)
def test_labels_of_any_arrow_type_are_judged_not_crashed_on(ws, column):
    folder = ws.root / "data"
    folder.mkdir()
    pq.write_table(pa.table({"label": column}), folder / "odd.parquet")
    code, report = ws.validate(
        "--data",
        str(folder / "*.parquet"),
        "--model-config",
        ws.model(3),
        "--labels-only",
    )
    assert code == 1
    assert "LABEL_TYPE_INVALID" in Workspace.codes(report, "ERROR")


def test_uint64_labels_past_int64_do_not_wrap(ws):
    big = (1 << 64) - 1
    pattern = ws.labels(pa.array([0, 1, big], pa.uint64()), fmt="parquet")
    code, report = ws.validate(
        "--data", pattern, "--model-config", ws.model(2), "--labels-only"
    )
    labels = report["labels"]["train"]["label"]
    assert code == 1 and (labels["min"], labels["max"]) == (0, big)
    assert "LABEL_ABOVE_RANGE" in Workspace.codes(report, "ERROR")
    assert "LABEL_BELOW_RANGE" not in Workspace.codes(report)


def test_a_null_inside_a_list_label_is_a_missing_label(ws):
    column = pa.array([[0], [1, None], [None], [1]], pa.list_(pa.int64()))
    pattern = ws.labels(column, fmt="parquet")
    code, report = ws.validate(
        "--data", pattern, "--model-config", ws.model(2), "--labels-only"
    )
    labels = report["labels"]["train"]["label"]
    assert (labels["min"], labels["distinct"], labels["missing"]) == (0, 2, 2)
    assert code == 1 and "LABEL_MISSING" in Workspace.codes(report, "ERROR")


def test_duplicate_parquet_columns_are_named(ws, capsys):
    folder = ws.root / "dup"
    folder.mkdir()
    table = pa.Table.from_arrays(
        [pa.array([0, 1]), pa.array([1, 0])], names=["label", "label"]
    )
    pq.write_table(table, folder / "d.parquet")
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        str(folder / "*"),
        "--model-config",
        ws.model(2),
        "--output",
        str(ws.root / "o"),
        "--labels-only",
    )
    assert code == 2 and "column 'label' appears 2 times" in one_line(err)


@pytest.mark.slow
def test_types_that_differ_across_shards_are_named(ws, capsys):
    folder = ws.root / "mixed"
    folder.mkdir()
    write_examples(
        folder / "a.tfrecord",
        {"label": pa.array([[0], [1]]), "x": pa.array([[1], [2]])},
    )
    write_examples(
        folder / "b.tfrecord",
        {
            "label": pa.array([[0], [1]]),
            "x": pa.array([[1.5], [2.5]], pa.list_(pa.float32())),
        },
    )
    code, _, err = run(
        ws,
        capsys,
        "validate",
        "--data",
        str(folder / "*"),
        "--model-config",
        ws.model(2),
        "--output",
        str(ws.root / "o"),
    )
    line = one_line(err)
    assert code == 2 and "feature 'x' is int in" in line and "but float in" in line
    assert "b.tfrecord" in line
