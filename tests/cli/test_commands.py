"""What each command does once its arguments are read, short of a validation:
check-config (the pre-commit hook), what `train` refuses before reading any data,
the verdict announced on stdout and in a GitHub step summary.

Whole runs of each command are tests/cli/test_contract.py's.
"""

import pathlib

import builders
import pytest
import yaml

from classgate import cli
from classgate.checks.anomaly import Status
from classgate.cli import commands
from classgate.report.model import Report
from classgate.run import validation

ROOT = pathlib.Path(__file__).resolve().parents[2]


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


# train: what it refuses before any data is read ---------------------------------


def test_train_needs_a_context_feature_before_reading_any_data(tmp_path, capsys):
    """The data does not exist: a model the trainer cannot take is refused first,
    not after minutes of validation."""
    config = _config(tmp_path, "m.yaml", "name: m\nlabel_feature: l\nnum_classes: 3\n")
    argv = ["train", "--data", str(tmp_path / "none-*"), "--model-config", config]
    assert cli.main([*argv, "--output", str(tmp_path / "o")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "needs context_feature" in line
    assert not (tmp_path / "o").exists()


def test_train_does_not_take_no_wait(tmp_path, capsys):
    config = _config(tmp_path, "m.yaml", "name: m\nlabel_feature: l\nnum_classes: 3\n")
    argv = ["train", "--data", str(tmp_path / "none-*"), "--model-config", config]
    assert cli.main([*argv, "--output", str(tmp_path / "o"), "--no-wait"]) == 2
    assert "--no-wait is for validate" in capsys.readouterr().err


@pytest.mark.parametrize("split", ["train", "train=", "a b=x", "=x"])
def test_a_split_is_name_equals_pattern(tmp_path, capsys, split):
    argv = ["validate", "--split", split, "--model-config", "m.yaml"]
    assert cli.main([*argv, "--output", str(tmp_path / "o")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"--split {split!r}: expected NAME=PATTERN" in line


# The verdict announced: stdout, and a GitHub step summary when there is one ------


@pytest.fixture
def outcome(tmp_path):
    path, _ = builders.report_file(
        tmp_path / "run", [builders.model(num_sampled=2)], [0, 1, 12]
    )
    report = Report.load(path)
    return validation.Outcome(Status.FAIL, report.anomalies, report)


def test_the_verdict_is_announced_and_appended_to_the_step_summary(
    outcome, tmp_path, capsys, monkeypatch
):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    commands.announce(outcome, "out")
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].startswith("classgate: FAIL: ") and "out/report.md" in shown[0]
    assert any("LABEL_ABOVE_RANGE" in line for line in shown[1:])
    assert summary.read_text().startswith("earlier step\n# classgate: FAIL")


@pytest.mark.parametrize("where", ["a folder", "missing/summary.md", "a-file/x.md"])
def test_an_unwritable_step_summary_keeps_the_verdict(
    outcome, tmp_path, capsys, monkeypatch, where
):
    """A $GITHUB_STEP_SUMMARY that cannot be appended to is one warning line naming
    it; the verdict stands (its exit code is the verdict's, never 2 or 3)."""
    (tmp_path / "a-file").write_text("")
    summary = tmp_path if where == "a folder" else tmp_path / where
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    commands.announce(outcome, "out")
    captured = capsys.readouterr()
    assert captured.out.startswith("classgate: FAIL: ")
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("classgate: warning: ") and repr(str(summary)) in line
    assert "the verdict stands" in line
