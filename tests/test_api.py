"""classgate as a library: validate -> Report, the gate as a function, train.

The API and the command line are two faces of one validation: for the same data
and configs they must give the same report, and the API raises InputError or
GateClosed where the command exits 2 or 1.
"""

import contextlib
import io
import json
import logging
import os
import pathlib
import re
import shlex
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import classgate
from classgate import cli, config

from tools import synthetic

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# The guide page with the Beam example (classgate inside your own pipeline).
PIPELINES_GUIDE = ROOT / "docs" / "guide" / "pipelines-and-ci.md"


def _figures(report):
    """What a verdict rests on: status, anomaly codes by severity, label figures."""
    document = json.loads(report.to_json()) if hasattr(report, "to_json") else report
    codes = sorted((a["severity"], a["code"]) for a in document["anomalies"])
    return document["status"], codes, document["labels"]


@pytest.mark.slow
@pytest.mark.parametrize("num_classes", [100, 80, 400])
def test_validate_is_the_command_line(ws, num_classes):
    ids = synthetic.labels(2_000, 100, seed=num_classes)
    pattern = ws.labels(ids)
    model = ws.model(num_classes)
    report = classgate.validate(pattern, model, str(ws.root / "api"), labels_only=True)
    assert isinstance(report, classgate.Report)
    code, written = ws.validate(
        "--data", pattern, "--model-config", model, "--labels-only", output="cli"
    )
    assert _figures(report) == _figures(written)
    assert (code == 0) == (report.status == "pass")
    again = classgate.Report.load(str(ws.root / "api" / "report.json"))
    assert again == report
    labels = report.labels["train"]["label"]
    assert labels.examples == 2_000 and labels.max == int(ids.max())


@pytest.mark.slow
def test_splits_model_objects_and_beam_options(ws):
    ids = np.arange(300) % 120
    train = ws.labels(ids, name="train")
    evaluation = ws.labels(ids[:50], name="eval", fmt="parquet")
    models = [
        config.ModelConfig(name="a", label_feature="label", num_classes=120),
        config.ModelConfig(name="b", label_feature="label", num_classes=100),
    ]
    report = classgate.validate(
        {"train": train, "eval": [evaluation]},
        models,
        str(ws.root / "out"),
        labels_only=True,
        beam_options={
            "direct_num_workers": 2,
            "direct_running_mode": "multi_threading",
        },
    )
    assert set(report.data) == {"train", "eval"}
    assert report.data["eval"].format == "parquet"
    failing = {
        (a.code, a.model)
        for a in report.anomalies
        if a.severity == classgate.Severity.ERROR
    }
    assert ("LABEL_ABOVE_RANGE", "b") in failing
    assert not [m for _, m in failing if m == "a"]
    assert report.status == "fail"


def out(ws) -> str:
    return str(ws.root / "o")


@pytest.mark.slow
@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda ws, p, m: classgate.validate(str(ws.root / "none-*"), m, out(ws)),
            "no files",
        ),
        (
            lambda ws, p, m: classgate.validate(p, str(ws.root / "x.yaml"), out(ws)),
            "x.yaml",
        ),
        (
            lambda ws, p, m: classgate.validate(
                p, m, out(ws), beam_options=["--nope=1"]
            ),
            "unknown option --nope",
        ),
        (lambda ws, p, m: classgate.validate({"a b": p}, m, out(ws)), "split name"),
        (
            lambda ws, p, m: classgate.validate(p, [m, ws.model(4)], out(ws)),
            "used twice",
        ),
        (lambda ws, p, m: classgate.validate(p, m, ""), "empty path"),
        (
            lambda ws, p, m: classgate.validate({"train": []}, m, out(ws)),
            "without patterns",
        ),
    ],
    ids=[
        "no-files",
        "no-config",
        "beam-option",
        "split-name",
        "twice",
        "output",
        "empty",
    ],
)
def test_bad_input_raises_input_error(ws, call, message):
    pattern = ws.labels([0, 1, 2])
    with pytest.raises(classgate.InputError, match=message) as raised:
        call(ws, pattern, ws.model(3))
    assert "\n" not in raised.value.message
    assert not (ws.root / "o" / "report.json").exists()


@pytest.mark.slow
def test_the_gate_as_a_function(ws):
    pattern = ws.labels([0, 1, 2, 3])
    failing = classgate.validate(
        pattern, ws.model(3), str(ws.root / "f"), labels_only=True
    )
    passing = classgate.validate(
        pattern, ws.model(4), str(ws.root / "p"), labels_only=True
    )
    assert (failing.status, passing.status) == ("fail", "pass")
    with pytest.raises(classgate.GateClosed, match="LABEL_ABOVE_RANGE"):
        classgate.open_gate(str(ws.root / "f"))
    blessing = classgate.open_gate(str(ws.root / "p" / "report.json"))
    assert blessing.report == passing
    with pytest.raises(classgate.GateClosed, match="num_classes"):
        classgate.open_gate(str(ws.root / "p"), ws.model(5))
    # A file added to the data closes the gate.
    synthetic.write_tfrecord(
        synthetic.table(np.array([1]), 4),
        str(pathlib.Path(pattern).parent),
        1,
        "train-x",
    )
    with pytest.raises(classgate.GateClosed, match="data changed"):
        classgate.open_gate(str(ws.root / "p"), data=pattern)


@pytest.mark.slow
def test_train_behind_the_gate(ws):
    data = synthetic.learnable(4_000, 0, 50, 100, False)
    folder = ws.root / "data"
    folder.mkdir()
    synthetic.write_tfrecord(data, str(folder), 1)
    yaml = ws.config(synthetic.trainer_yaml("t", 50, 100) + "num_sampled: 10\n")
    small = ws.config(synthetic.trainer_yaml("t", 40, 100), "small.yaml")
    pattern = str(folder / "*")
    classgate.validate(pattern, small, str(ws.root / "f"), labels_only=True)
    with pytest.raises(classgate.GateClosed):
        classgate.train(str(ws.root / "f"), str(ws.root / "run-f"), epochs=1)
    assert not (ws.root / "run-f" / "model").exists()
    classgate.validate(pattern, yaml, str(ws.root / "p"), labels_only=True)
    metrics = classgate.train(str(ws.root / "p"), str(ws.root / "run"), epochs=1)
    assert metrics["num_classes"] == 50 and len(metrics["history"]) == 1
    assert (ws.root / "run" / "model").is_dir()


# Beam 2.68's DirectRunner, given workers but no running mode that runs them.
_NO_PARALLELISM = "direct_num_workers is not equal to 1"


@pytest.mark.slow
def test_the_guides_beam_options_mapping_runs_workers_in_parallel(ws, caplog):
    """The mapping the library guide shows for beam_options gives Beam's workers a
    mode that runs them, so Beam does not warn (as it does for workers alone)."""
    shown = re.search(
        r"\(`(\{\"direct_running_mode\".*?\})`", PIPELINES_GUIDE.read_text()
    )
    mapping = json.loads(shown.group(1))
    assert mapping["direct_num_workers"] > 1
    pattern, model = ws.labels(np.arange(200) % 10), ws.model(10)
    logger = "apache_beam.runners.portability.fn_api_runner.fn_runner"
    for options, warned in ((mapping, False), ({"direct_num_workers": 2}, True)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=logger):
            report = classgate.validate(
                pattern,
                model,
                str(ws.root / f"out-{len(options)}"),
                labels_only=True,
                beam_options=options,
            )
        assert report.status == "pass"
        said = [r.getMessage() for r in caplog.records if r.name == logger]
        assert any(_NO_PARALLELISM in m for m in said) == warned, said


@pytest.mark.slow
def test_import_classgate_is_light():
    """`import classgate` (and its names) without Beam, TensorFlow or TFDV."""
    probe = (
        "import sys, classgate\n"
        "classgate.Report, classgate.InputError, classgate.GateClosed\n"
        "heavy = {'apache_beam', 'tensorflow', 'tensorflow_data_validation'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stderr
    assert set(classgate.__all__) <= set(dir(classgate))
    for name in classgate.__all__:
        assert getattr(classgate, name) is not None


def _block(document: pathlib.Path, language: str, start: str) -> str:
    """The fenced `language` block of `document` that begins with `start`."""
    found = re.search(
        f"```{language}\n(" + re.escape(start) + ".*?)```",
        document.read_text(),
        re.DOTALL,
    )
    assert found, f"{document.name} has no {language} block starting {start!r}"
    return textwrap.dedent(found.group(1))


def _write_labels(folder, examples: int, num_classes: int) -> None:
    """`examples` labels over `num_classes` classes, every one present, as
    TFRecord shards in `folder`/data (train-*.tfrecord.gz)."""
    (folder / "data").mkdir()
    ids = synthetic.labels(examples, num_classes)
    synthetic.write_tfrecord(synthetic.table(ids, num_classes), str(folder / "data"), 2)


def _readme_folder(folder) -> None:
    """`folder` as the README's examples expect it: the README's own model.yaml,
    and data/ with two labels per class of its num_classes."""
    text = _block(README, "yaml", "name: ")
    (folder / "model.yaml").write_text(text)
    num_classes = yaml.safe_load(text)["num_classes"]
    _write_labels(folder, 2 * num_classes, num_classes)


def _run_python_block(document, start: str, folder) -> subprocess.CompletedProcess:
    """Runs `document`'s python block that begins with `start`, as written, in
    `folder`."""
    script = folder / "example.py"
    script.write_text(_block(document, "python", start))
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.mark.slow
def test_the_readme_command_runs(tmp_path, monkeypatch):
    """The README's command, as written, on the README's model.yaml and data that
    fits it: exit 0, and a passing report where the command said to write it."""
    _readme_folder(tmp_path)
    command = _block(README, "shell", "classgate validate")
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[0] == "classgate", command
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv[1:]) == 0
    output = argv[argv.index("--output") + 1]
    report = json.loads((tmp_path / output / "report.json").read_text())
    assert report["status"] == "pass"
    assert report["labels"]["train"]["label"]["examples"] > 0


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path):
    """The README's notebook example, run as written, in a folder with its files."""
    _readme_folder(tmp_path)
    done = _run_python_block(README, "# The notebook example", tmp_path)
    assert "pass" in done.stdout


@pytest.mark.slow
def test_the_guides_beam_example_runs(tmp_path):
    """The guide's Beam example, run as written: TFDV's statistics and classgate's
    findings from one read."""
    import tensorflow_data_validation as tfdv

    _write_labels(tmp_path, 1_000, 100)
    _run_python_block(
        PIPELINES_GUIDE, "import apache_beam as beam\nimport classgate\n", tmp_path
    )
    stats = tfdv.load_stats_binary(str(tmp_path / "out" / "stats.pb"))
    assert stats.datasets[0].num_examples == 1_000
    lines = (tmp_path / "out" / "classgate").read_text().splitlines()
    # 100 classes seen of num_classes 100,000: nearly every row dead.
    assert any(line.startswith("ERROR   CLASSES_UNSEEN") for line in lines), lines


# Arguments: checked as the command line checks them, before anything is read -----


def _missing_data_call(tmp_path) -> dict:
    """validate()'s arguments: a readable config, data that does not exist."""
    config_path = tmp_path / "m.yaml"
    config_path.write_text(synthetic.model_yaml("m", 4))
    return {
        "data": str(tmp_path / "nowhere" / "*"),
        "model_configs": str(config_path),
        "output": str(tmp_path / "out"),
    }


BAD_ARGUMENTS = {
    "no-splits": ({"data": {}}, "no data given"),
    "data-number": ({"data": 3}, "data: expected a pattern"),
    "split-mapping": ({"data": {"train": {"a": "b"}}}, "data['train']: expected"),
    "negative-range": (
        {"classes_per_range": -5},
        "classes_per_range: '-5' is not a positive whole number",
    ),
    "zero-range": (
        {"classes_per_range": 0},
        "classes_per_range: '0' is not a positive whole number",
    ),
    "boolean-range": (
        {"classes_per_range": True},
        "classes_per_range: 'True' is not a positive whole number",
    ),
    "format-case": (
        {"data_format": "TFRecord"},
        "data_format: invalid choice: 'TFRecord' (choose from",
    ),
    "configs-mapping": ({"model_configs": {"name": "m"}}, "model_configs: a mapping"),
    "configs-number": ({"model_configs": 3}, "model_configs: expected YAML paths"),
    "switch-text": ({"labels_only": "no"}, "labels_only: expected True or False"),
    "beam-string": ({"beam_options": "--runner=X"}, "beam_options: a list of flags"),
    "junit-number": ({"junit_xml": 7}, "junit_xml: expected a path"),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_a_bad_argument_is_its_one_line_before_any_data_is_read(tmp_path, case):
    given, needle = case
    arguments = {**_missing_data_call(tmp_path), **given}
    with pytest.raises(classgate.InputError) as raised:
        classgate.validate(
            arguments.pop("data"),
            arguments.pop("model_configs"),
            arguments.pop("output"),
            **arguments,
        )
    message = raised.value.message
    assert needle in message and "\n" not in message
    assert str(raised.value) == message
    assert not (tmp_path / "out").exists()


def _cli_error(argv) -> str:
    """The one line `classgate ARGV` prints on exit 2, without its prefix."""
    from classgate import cli

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    assert code == 2, stderr.getvalue()
    (line,) = stderr.getvalue().splitlines()
    return line.removeprefix("classgate: error: ")


def _api_error(call) -> str:
    with pytest.raises(classgate.InputError) as raised:
        call()
    return raised.value.message


# Values a careless caller passes for a number or a choice.
_ANY_VALUE = st.one_of(
    st.integers(-3, 3),
    st.integers(),
    st.booleans(),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["auto", "tfrecord", "parquet", "TFRecord", "7", "1e3", "inf"]),
)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(value=_ANY_VALUE)
@pytest.mark.parametrize(
    "name, flag",
    [("classes_per_range", "--classes-per-range"), ("data_format", "--format")],
)
def test_validate_refuses_what_the_command_refuses_in_its_words(
    tmp_path_factory, name, flag, value
):
    """Whatever the value, the library's error is the command's, the flag renamed
    (the data does not exist: a value both take ends in the same listing error)."""
    call = _missing_data_call(tmp_path_factory.mktemp("v"))
    expected = _cli_error(
        [
            "validate",
            "--data",
            call["data"],
            "--model-config",
            call["model_configs"],
            "--output",
            call["output"],
            f"{flag}={value}",
        ]
    )
    got = _api_error(lambda: classgate.validate(**call, **{name: value}))
    assert got == expected.replace(f"argument {flag}: ", f"{name}: ", 1)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(value=_ANY_VALUE)
@pytest.mark.parametrize(
    "name, flag",
    [
        ("epochs", "--epochs"),
        ("batch_size", "--batch-size"),
        ("learning_rate", "--learning-rate"),
    ],
)
def test_train_refuses_what_the_command_refuses_in_its_words(
    tmp_path_factory, name, flag, value
):
    """A training setting no config could hold (0, -1, nan, True) is refused before
    the gate opens, as `classgate train` refuses it (the report does not exist)."""
    root = tmp_path_factory.mktemp("t")
    report, output = str(root / "none" / "report.json"), str(root / "run")
    expected = _cli_error(
        ["train", "--report", report, "--output", output, f"{flag}={value}"]
    )
    got = _api_error(lambda: classgate.train(report, output, **{name: value}))
    assert got == expected.replace(f"argument {flag}: ", f"{name}: ", 1)
    assert not pathlib.Path(output).exists()


@pytest.mark.slow
def test_every_path_may_be_a_path_object(ws):
    """data, output, model configs, baseline schema, previous report, junit_xml,
    Report.load and the gate all take os.PathLike, as the strings they stand for."""
    pattern = pathlib.Path(ws.labels([0, 1, 2, 3]))
    model = pathlib.Path(ws.model(4))
    first = classgate.validate(
        {"train": pattern, "eval": [pattern]}, model, ws.root / "first"
    )
    assert first.status == "pass"
    schema = ws.root / "first" / "schema.pbtxt"
    again = classgate.validate(
        pattern,
        [model],
        ws.root / "again",
        baseline_schema=schema,
        previous_report=ws.root / "first",
        junit_xml=ws.root / "junit.xml",
    )
    assert again.status == "pass" and again.previous_report
    assert (ws.root / "junit.xml").is_file()
    assert classgate.Report.load(ws.root / "again" / "report.json") == again
    blessing = classgate.open_gate(ws.root / "again", model, pattern)
    assert blessing.report == again
