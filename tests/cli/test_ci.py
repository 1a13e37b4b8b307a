"""`classgate ci github|gitlab`, the CI templates' gate step: whatever the inputs
hold, validate gets exactly their words and the step's outputs say the verdict.

What is under test here is classgate.cli.ci: how inputs become validate's
arguments and how its exit code becomes the step's outputs. The validation is a
recording stand-in (a ci.Classgate of recording functions: the arguments kept,
workflow commands printed as a hostile file name would, a chosen exit code), so
that a hundred generated inputs run in seconds; the slow tests at the end, and
tests/deploy/test_ci_templates.py through the templates' own steps, run the real
classgate.
"""

import contextlib
import io
import json
import os
import pathlib
import re
import shlex

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from classgate import cli
from classgate.cli import ci

from ci_runner import github_outputs, read_command, workflow_commands
from workspace import Workspace

# Workflow commands a hostile file or feature name could put in classgate's output.
FORGED = "::error::forged\n  ::add-mask::forged\n::set-output name=verdict::pass\n"
VERDICTS = {0: "pass", 1: "fail"}

# Text a careless or hostile user puts into an input: lines that look like outputs
# or commands, quotes, backslashes, GitHub's delimiter syntax, any character.
HOSTILE_TEXT = st.one_of(
    st.text(
        alphabet=st.sampled_from(
            ["\n", "\r", " ", "=", "<", "'", '"', "\\", "a", ":", "*", "!", "~", "["]
        ),
        max_size=12,
    ),
    st.lists(
        st.sampled_from(
            ["verdict=pass", "exit-code=0", "out<<EOF", "EOF", "::error::x", "-", "é"]
        ),
        max_size=4,
    ).map("\n".join),
    st.text(max_size=20).filter(lambda text: "\0" not in text),
)
# Options as the environment hands them to Python: any bytes, decoded as os.environ
# decodes them (surrogate escapes for what is not UTF-8).
OPTIONS = st.one_of(
    HOSTILE_TEXT, st.binary(max_size=12).filter(lambda b: b"\0" not in b)
).map(lambda value: value if isinstance(value, str) else os.fsdecode(value))


def recording(code: int = 0, passed: bool = True):
    """A stand-in classgate: (the ci.Classgate, the argument lists it was given)."""
    calls = []

    def validate(argv):
        calls.append(list(argv))
        print(FORGED, end="")
        return code

    return ci.Classgate(validate=validate, passed=lambda report: passed), calls


def github_step(tmp: pathlib.Path, inputs: dict, code=0, passed=True):
    """`classgate ci github` with the stand-in; (exit, stdout, outputs, calls)."""
    env = {
        "GITHUB_OUTPUT": str(tmp / "output"),
        **{"INPUT_" + k.upper().replace("-", "_"): v for k, v in inputs.items()},
    }
    classgate, calls = recording(code, passed)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exit_code = ci.main("github", env, classgate)
    written = (tmp / "output").read_bytes().decode(errors="surrogateescape")
    return exit_code, out.getvalue(), github_outputs(written), calls


def assert_clean(stdout: str, *, errors: int):
    """GitHub's commands on stdout are the step's own: `errors` error lines and the
    stop/resume pair (the stand-in's output, FORGED included, runs stopped)."""
    commands = workflow_commands(stdout)
    ours = [c for c in commands if c.startswith("::error::classgate: ")]
    stops = [c for c in commands if c.startswith("::stop-commands::")]
    assert sorted(commands) == sorted(ours + stops), commands
    assert all(re.fullmatch(r"::stop-commands::[0-9a-f]{32}", c) for c in stops)
    assert len(ours) == errors, stdout


@settings(max_examples=40, deadline=None, derandomize=True)
@given(output=HOSTILE_TEXT, code=st.sampled_from([0, 1, 2, 3, 130]))
@example(output="classgate-out\nverdict=pass", code=1)
@example(output="out\r\nverdict=pass", code=1)
@example(output="!out", code=0)
@example(output="../*", code=0)
def test_outputs_take_no_line_from_an_input(tmp_path_factory, output, code):
    """Whatever `output` holds, $GITHUB_OUTPUT has verdict, exit-code and output once
    each, the verdict that of the exit code; an output with a line break, or one the
    upload step would read as a pattern, is refused (exit 2, one ::error:: line, an
    empty output `output`: nothing uploaded) before classgate starts."""
    tmp = tmp_path_factory.mktemp("gate")
    exit_code, stdout, pairs, calls = github_step(tmp, {"output": output}, code)
    folder = output or "classgate-out"
    refused = bool(re.search(r"[\n\r*?\[]|^[!~]", folder))
    expected = 2 if refused else code
    assert exit_code == expected
    assert pairs == [
        ("verdict", VERDICTS.get(expected, "error")),
        ("exit-code", str(expected)),
        ("output", "" if refused else folder),
    ]
    assert_clean(stdout, errors=1 if refused else 0)
    assert bool(calls) != refused
    if calls:
        (argv,) = calls
        assert argv[:4] == ["--output", folder, "--junit-xml", f"{folder}/junit.xml"]


def _shell_words(options: str) -> list[str] | None:
    """The words POSIX shell splitting gives (None: unbalanced quotes)."""
    try:
        return shlex.split(options)
    except ValueError:
        return None


@settings(max_examples=40, deadline=None, derandomize=True)
@given(options=OPTIONS)
@example(options="--job_name='unfinished")
@example(options="--format 'tfrecord' --environment_config='{\"a\": 1}' trailing\\")
@example(options="$HOME `id` $(id) *.yaml ~")
def test_beam_options_split_as_a_shell_splits_or_are_refused(tmp_path_factory, options):
    """classgate gets exactly the words a POSIX shell would split beam-options into,
    byte for byte (text that is not UTF-8 too), and nothing expanded; or, for
    unbalanced quotes, exit 2 with one ::error:: line and no run."""
    tmp = tmp_path_factory.mktemp("gate")
    exit_code, stdout, pairs, calls = github_step(tmp, {"beam-options": options})
    words = _shell_words(options)
    assert_clean(stdout, errors=0 if words is not None else 1)
    if words is None:
        assert exit_code == 2 and not calls
        assert dict(pairs)["verdict"] == "error"
        return
    assert exit_code == 0 and dict(pairs)["verdict"] == "pass"
    (argv,) = calls
    assert argv[len(argv) - len(words) :] == words


WORD = st.text(
    alphabet=st.sampled_from(["a", "*", "?", "[", "]", "$", "`", "~", "'", '"', "é"]),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    data=st.lists(WORD, max_size=3),
    configs=st.lists(WORD, min_size=1, max_size=3),
    gaps=st.lists(st.sampled_from([" ", "\n", "\t", "\r\n", "  \n "]), min_size=4),
)
def test_patterns_and_configs_split_at_whitespace_never_expanded(
    tmp_path_factory, data, configs, gaps
):
    """Each word of data and model-configs is one --data / --model-config, as
    written: globs are classgate's to match, and nothing else expands."""
    tmp = tmp_path_factory.mktemp("gate")

    def joined(words):
        return "".join(w + gaps[i % len(gaps)] for i, w in enumerate(words))

    inputs = {"data": joined(data), "model-configs": gaps[0] + joined(configs)}
    _, _, _, calls = github_step(tmp, inputs)
    (argv,) = calls
    pairs = list(zip(argv[4::2], argv[5::2], strict=True))
    assert pairs == [("--data", w) for w in data] + [
        ("--model-config", w) for w in configs
    ]


@pytest.mark.parametrize("labels_only", ["true", "True", "TRUE", "false", "", "yes"])
def test_labels_only_is_a_switch(tmp_path, labels_only):
    _, _, _, calls = github_step(tmp_path, {"labels-only": labels_only})
    (argv,) = calls
    assert ("--labels-only" in argv) == (labels_only.lower() == "true")


def test_exit_0_without_a_passing_report_is_no_verdict(tmp_path):
    """A dry run or a submitted job (--dry_run, --no-wait) exits 0 and leaves no
    report the gate opens on: that must not read as a pass."""
    exit_code, stdout, pairs, _ = github_step(
        tmp_path, {"beam-options": "--dry_run=True"}, code=0, passed=False
    )
    assert exit_code == 2
    assert dict(pairs) == {
        "verdict": "error",
        "exit-code": "2",
        "output": "classgate-out",
    }
    assert_clean(stdout, errors=1)
    assert "no verdict" in stdout


@settings(max_examples=40, deadline=None, derandomize=True)
@given(options=OPTIONS, code=st.sampled_from([0, 1, 2, 3]))
@example(options="--job_name='unfinished", code=0)
def test_gitlab_splits_beam_options_and_writes_the_dotenv(
    tmp_path_factory, options, code
):
    """The GitLab job as the action: the same words, or one line and exit 2; the
    dotenv report holds the verdict of the exit code, and nothing else."""
    tmp = tmp_path_factory.mktemp("gitlab")
    dotenv = tmp / "classgate.env"
    env = {"CLASSGATE_BEAM_OPTIONS": options, "CLASSGATE_DOTENV": str(dotenv)}
    classgate, calls = recording(code)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exit_code = ci.main("gitlab", env, classgate)
    words = _shell_words(options)
    expected = code if words is not None else 2
    assert exit_code == expected
    assert dotenv.read_text() == (
        f"CLASSGATE_VERDICT={VERDICTS.get(expected, 'error')}\n"
        f"CLASSGATE_EXIT_CODE={expected}\n"
    )
    if words is None:
        assert not calls
        (line,) = out.getvalue().splitlines()
        assert line.startswith("classgate: error: the input beam-options")
        return
    (argv,) = calls
    assert argv[len(argv) - len(words) :] == words


@settings(max_examples=60, deadline=None, derandomize=True)
@given(text=st.text(max_size=30), value=st.text(max_size=30))
@example(text="a\n::error::forged", value="x,title=PASS::y")
@example(text="100%0A", value="%3A")
def test_an_annotation_is_one_command_that_reads_back_whole(text, value):
    """A message or a property (a file name, a code) that holds line breaks,
    percent signs, `::` or commas stays one command, read back as written."""
    line = f"::error file={ci._escape(value, True)},title=CODE::{ci._escape(text)}"
    assert len(re.split(r"\r\n|\r|\n", line)) == 1
    assert workflow_commands(line) == [line]
    assert read_command(line) == ("error", {"file": value, "title": "CODE"}, text)


def test_github_step_needs_its_output_file(capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert cli.main(["ci", "github"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("classgate: error: ci github: GITHUB_OUTPUT is not set")


# --- the real classgate, in-process ------------------------------------------------


@pytest.mark.slow  # classgate end to end: seconds
def test_a_failing_run_annotates_each_finding_on_its_config(
    tmp_path, capsys, monkeypatch
):
    ws = Workspace(tmp_path)
    ws.labels([0, 1, 2, 1, 0, 2], shards=1)
    ws.model(2)  # m-2.yaml: too small for labels 0..2
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_WORKSPACE": str(tmp_path),
        "INPUT_DATA": "data/train/train-*",
        "INPUT_MODEL_CONFIGS": str(tmp_path / "m-2.yaml"),  # absolute: made relative
        "INPUT_LABELS_ONLY": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert cli.main(["ci", "github"]) == 1
    stdout = capsys.readouterr().out
    annotations = [
        read_command(c)
        for c in workflow_commands(stdout)
        if not c.startswith("::stop-commands::")
    ]
    report = json.loads((tmp_path / "classgate-out" / "report.json").read_text())
    assert annotations and len(annotations) == len(report["anomalies"])
    errors = [a for a in annotations if a[0] == "error"]
    assert {(p["file"], p["title"]) for _, p, _ in errors} >= {
        ("m-2.yaml", "LABEL_ABOVE_RANGE")
    }
    (above,) = [m for _, p, m in errors if p["title"] == "LABEL_ABOVE_RANGE"]
    assert above.startswith("[model=m, split=train, feature=label] ")
    outputs = dict(github_outputs((tmp_path / "output").read_text()))
    assert outputs == {"verdict": "fail", "exit-code": "1", "output": "classgate-out"}
