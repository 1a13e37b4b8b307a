"""classgate.cli.main's own rules, before any command runs: `--` is for `run` alone,
an error is one line (its traceback only with --debug). The commands themselves,
run end to end, are tests/cli/test_contract.py's."""

import subprocess
import sys

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


# Exit without the interpreter's teardown ---------------------------------------------

_EXITS = """
import atexit, sys, threading, time
from classgate import cli
atexit.register(lambda: open(sys.argv[1] + "/atexit", "w").write("ran"))
if sys.argv[3] == "thread":
    def late():
        time.sleep(0.5)
        open(sys.argv[1] + "/thread", "w").write("done")
    threading.Thread(target=late).start()
print("buffered, not flushed", end="")
cli.exit_without_teardown(int(sys.argv[2]))
"""


@pytest.mark.parametrize("code", [0, 1, 2])
@pytest.mark.parametrize("thread", ["thread", "none"])
def test_an_exit_without_teardown_still_finishes_what_exit_does(tmp_path, code, thread):
    """The exit code kept, stdout flushed on a pipe, atexit's functions run, and a
    thread still running waited for, as a normal exit would."""
    done = subprocess.run(
        [sys.executable, "-c", _EXITS, str(tmp_path), str(code), thread],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr
    assert done.stdout == "buffered, not flushed"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").exists() == (thread == "thread")


# The collector and Beam's modules ---------------------------------------------------

_FROZEN = """
import atexit, gc, sys
from classgate import cli
path = sys.argv[1]
def note():
    open(path, "w").write(f"{gc.get_freeze_count()} {gc.isenabled()}")
atexit.register(note)
sys.argv = ["classgate", "validate", "--data", "absent/*", "--model-config",
            "absent.yaml", "--output", sys.argv[2]]
cli.entry_point()
"""


def test_the_console_script_freezes_beams_modules_with_the_collector_back_on(
    tmp_path,
):
    """In a process of its own, Beam's modules end frozen out of the collector's
    way (hundreds of thousands of objects), and the collector runs again."""
    note = tmp_path / "note"
    done = subprocess.run(
        [sys.executable, "-c", _FROZEN, str(note), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr  # absent.yaml: exit 2, after Beam
    frozen, enabled = note.read_text().split()
    assert int(frozen) > 100_000
    assert enabled == "True"


def test_a_callers_process_keeps_its_collector_as_it_was(tmp_path, capsys):
    """main() in a caller's process freezes nothing: what a freeze holds is never
    collected, so cyclic garbage of the caller's would stay."""
    import gc

    before = gc.get_freeze_count()
    argv = ["validate", "--data", str(tmp_path / "d-*"), "--model-config"]
    argv += [str(tmp_path / "absent.yaml"), "--output", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    assert gc.get_freeze_count() == before
    assert gc.isenabled()
