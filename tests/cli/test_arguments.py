"""The command line as users expect: help that is quick and says what each command
does with examples, the exit codes, --version; flags refused as they are parsed.
What the commands do is test_commands.py's; Beam's options, tests/run/test_job.py's."""

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import classgate
from classgate import cli

COMMANDS = ("validate", "train", "conclude", "run", "check-config")


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


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--format", "csv"], "argument --format: invalid choice: 'csv'"),
        (["--classes-per-range", "0"], "argument --classes-per-range"),
        (["--data"], "argument --data: expected one argument"),
    ],
)
def test_a_bad_flag_is_one_line_naming_it(argv, needle):
    from classgate import errors
    from classgate.cli import arguments

    with pytest.raises(errors.InputError) as raised:
        arguments.parser().parse_known_args(["validate", *argv])
    assert needle in raised.value.message and "\n" not in raised.value.message
