"""The command line as users expect: help that is quick and says what each command
does with examples, the exit codes, --version; check-config, the pre-commit hook."""

import pathlib
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import classgate
from classgate import cli

COMMANDS = ("validate", "train", "conclude", "run", "check-config")
ROOT = pathlib.Path(__file__).resolve().parents[1]


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as done:
        cli.main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_examples_and_exit_codes(capsys, command):
    text = _help(capsys, command)
    assert "examples:" in text and f"classgate {command}" in text.split("examples:")[1]
    for code in ("0 ", "1 ", "2 ", "3 ", "130"):
        assert f"\n  {code}" in text.split("exit codes:")[1]
    assert len(text.split("options:")[0].strip().splitlines()) >= 3  # a description


def test_top_level_help_lists_every_command(capsys):
    text = _help(capsys)
    for command in COMMANDS:
        assert f"\n    {command}" in text
    assert "exit codes:" in text


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"classgate {classgate.__version__}"


def test_help_imports_nothing_heavy():
    """--help is quick because it imports neither Beam, TF, TFDV nor pydantic
    (timed in `make bench`, not here)."""
    probe = (
        "import sys\n"
        "from classgate import cli\n"
        "try:\n"
        "    cli.main(['validate', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'apache_beam', 'tensorflow', 'tensorflow_data_validation',\n"
        "         'pydantic', 'numpy', 'pyarrow'}\n"
        "print(sorted(heavy & set(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert done.stderr.strip() == "[]"


def _config(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_check_config_codes(tmp_path, capsys):
    good = _config(
        tmp_path, "good.yaml", "name: g\nlabel_feature: label\nnum_classes: 1000\n"
    )
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("".join(f"w{i}\n" for i in range(90)))
    bad = _config(
        tmp_path,
        "bad.yaml",
        "name: b\nlabel_feature: word\nnum_classes: 100\n"
        f"vocabulary_file: {vocabulary}\n",
    )
    assert cli.main(["check-config", good]) == 0
    assert "PASS" in capsys.readouterr().out
    assert cli.main(["check-config", good, bad]) == 1
    out = capsys.readouterr().out
    assert "VOCABULARY_SIZE_MISMATCH" in out and "[model=b]" in out
    typo = _config(tmp_path, "typo.yaml", "name: t\nlabel_feature: l\nnum_clases: 5\n")
    assert cli.main(["check-config", typo]) == 2
    assert "num_clases" in capsys.readouterr().err
    assert cli.main(["check-config", str(tmp_path / "missing.yaml")]) == 2


def test_the_pre_commit_hook_runs_check_config():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "classgate-check-config"
    assert hook["entry"] == "classgate check-config"
    assert hook["language"] == "python"


def test_check_config_checks_each_file_on_its_own(tmp_path, capsys):
    """pre-commit passes every changed config at once: two independent configs that
    both name a model `m` pass; a name twice within one file does not."""
    one = _config(tmp_path, "one.yaml", "name: m\nlabel_feature: a\nnum_classes: 10\n")
    two = _config(tmp_path, "two.yaml", "name: m\nlabel_feature: b\nnum_classes: 20\n")
    assert cli.main(["check-config", one, two]) == 0
    lines = capsys.readouterr().out.splitlines()
    verdicts = [line.split(": ")[1:3] for line in lines if line.startswith("class")]
    assert verdicts == [
        ["check-config PASS", one],
        ["check-config PASS", two],
    ]
    both = _config(
        tmp_path,
        "both.yaml",
        "models:\n  - {name: m, label_feature: a, num_classes: 10}\n"
        "  - {name: m, label_feature: b, num_classes: 20}\n",
    )
    assert cli.main(["check-config", one, both]) == 2
    captured = capsys.readouterr()
    assert f"PASS: {one}" in captured.out
    (line,) = captured.err.splitlines()
    assert both in line and "'m' is used twice" in line


def test_check_config_exit_codes_over_many_files(tmp_path, capsys):
    """2 when any file cannot be read (each named on stderr, the others still
    checked and reported), else 1 when any has an error, else 0."""
    good = _config(tmp_path, "good.yaml", "name: g\nlabel_feature: l\nnum_classes: 9\n")
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("".join(f"w{i}\n" for i in range(5)))
    failing = _config(
        tmp_path,
        "failing.yaml",
        f"name: f\nlabel_feature: w\nnum_classes: 9\nvocabulary_file: {vocabulary}\n",
    )
    octal = _config(
        tmp_path, "octal.yaml", "name: o\nlabel_feature: l\nnum_classes: 010\n"
    )
    absent = str(tmp_path / "absent.yaml")
    assert cli.main(["check-config", good, failing]) == 1
    captured = capsys.readouterr()
    assert f"PASS: {good}" in captured.out and f"FAIL: {failing}" in captured.out
    assert cli.main(["check-config", failing, octal, good, absent]) == 2
    captured = capsys.readouterr()
    assert f"FAIL: {failing}" in captured.out and f"PASS: {good}" in captured.out
    unreadable = captured.err.splitlines()
    assert len(unreadable) == 2
    assert unreadable[0].startswith(f"classgate: error: {octal}: line 3: num_classes")
    assert unreadable[1].startswith(f"classgate: error: {absent}")


_TRAIN = ["train", "--report", "r.json", "--output", "o"]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    flag=st.sampled_from(["--epochs", "--batch-size", "--learning-rate"]),
    value=st.integers(-(10**6), 10**6).map(str)
    | st.floats(allow_nan=True, allow_infinity=True).map(repr)
    | st.sampled_from(["0", "-0", "0.0", "nan", "inf", "-inf", "1e400", "x", ""]),
)
def test_training_flags_are_positive_or_exit_2_at_parsing(flag, value):
    """0 is refused, never read as "the config's value"; nothing else is read."""
    from classgate import errors
    from classgate.cli import arguments

    try:
        number = int(value) if flag != "--learning-rate" else float(value)
    except ValueError:
        number = None
    fits = number is not None and 0 < number < float("inf")
    argv = [*_TRAIN, f"{flag}={value}"]
    if fits:
        args, _ = arguments.parser().parse_known_args(argv)
        assert getattr(args, flag[2:].replace("-", "_")) == number
        return
    with pytest.raises(errors.InputError) as raised:
        arguments.parser().parse_known_args(argv)
    assert raised.value.message.startswith(f"argument {flag}: ")


def test_training_flags_exit_2_in_one_line(capsys):
    for flag, value in (
        ("--epochs", "0"),
        ("--learning-rate", "0"),
        ("--batch-size", "-1"),
    ):
        assert cli.main([*_TRAIN, flag, value]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert flag in line and repr(value) in line


def test_training_refuses_what_no_config_holds(tmp_path):
    """The library and the command line both reach training.blessed.train: it
    refuses a setting no config could hold before it opens or clears anything."""
    from classgate import config, errors
    from classgate.training import blessed

    model = config.ModelConfig(name="m", label_feature="l", num_classes=3)
    for setting in ({"epochs": 0}, {"batch_size": -2}, {"learning_rate": 0.0}):
        with pytest.raises(errors.InputError, match=f"^{next(iter(setting))}: "):
            blessed.train(None, model, str(tmp_path / "out"), **setting)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "option, shown",
    [
        ("--direct_num_workers=abc", "--direct_num_workers: invalid int value: 'abc'"),
        (
            "--direct_running_mode=bogus",
            "--direct_running_mode: invalid choice: 'bogus'",
        ),
        ("--direct_num_workers", "--direct_num_workers: expected one argument"),
    ],
)
def test_a_bad_beam_option_value_is_one_line(tmp_path, capsys, option, shown):
    """Not Beam's 112-line usage: one line naming the option and the value."""
    config = _config(tmp_path, "m.yaml", "name: m\nlabel_feature: l\nnum_classes: 3\n")
    argv = ["validate", "--data", str(tmp_path / "*.tfrecord"), "--model-config"]
    assert cli.main([*argv, config, "--output", str(tmp_path / "o"), option]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"classgate: error: Beam option {shown}")
