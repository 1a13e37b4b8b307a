"""classgate.cli.main's own rules, before any command runs: `--` is for `run` alone,
an error is one line (its traceback only with --debug). The commands themselves,
run end to end, are tests/cli/test_contract.py's."""

import pytest

from classgate import cli


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", ["validate", "train", "conclude"])
def test_dashes_are_for_run_alone(tmp_path, capsys, command):
    """What follows `--` would otherwise be dropped, or taken for Beam options."""
    argv = {
        "validate": ["--data", "d/*", "--model-config", "m.yaml"],
        "train": ["--data", "d/*", "--model-config", "m.yaml"],
        "conclude": [],
    }[command]
    code = cli.main([command, *argv, "--output", str(tmp_path / "o"), "--", "x"])
    assert code == 2
    assert "'--' is for `classgate run`" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def test_an_error_is_one_line_and_debug_shows_its_traceback(tmp_path, capsys):
    argv = ["validate", "--data", str(tmp_path / "d-*"), "--model-config"]
    argv += [str(tmp_path / "absent.yaml"), "--output", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("classgate: error: ") and "absent.yaml" in line
    assert cli.main([*argv, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "absent.yaml: cannot read" in err
