"""The command line as users expect: help that is quick and says what each command
does with examples, the exit codes, --version; check-config, the pre-commit hook."""

import pathlib
import subprocess
import sys

import pytest
import yaml

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
