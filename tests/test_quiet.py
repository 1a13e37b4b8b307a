"""The libraries' chatter stays out of a notebook cell, as it stays off the terminal.

classgate.validate and classgate.train filter Google's FutureWarnings and hold
Interactive Beam's warnings back for the length of the call, as the command line
does for its whole process; afterwards the caller's warning filters and log levels
are as they were. Run in fresh interpreters: what a library warns once per process
is only seen there.
"""

import logging
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pyarrow as pa
import pytest

from classgate import quiet

from tools import synthetic


def test_the_filters_hold_for_the_call_and_are_put_back():
    logger = logging.getLogger(quiet.INTERACTIVE_BEAM_LOGGER)
    before_filters, before_level = list(warnings.filters), logger.level
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with quiet.library():
            warnings.warn("a library's future", FutureWarning, stacklevel=1)
            warnings.warn("a library's deprecation", DeprecationWarning, stacklevel=1)
            assert logger.getEffectiveLevel() == logging.ERROR
        assert shown == []
        warnings.warn("the caller's own", FutureWarning, stacklevel=1)
        assert [str(w.message) for w in shown] == ["the caller's own"]
    assert warnings.filters == before_filters and logger.level == before_level


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_interactive_beams_warnings_are_held_back_during_a_call():
    """Beam sets up Interactive Beam when a pipeline is built inside IPython, and
    warns that its visualisation packages are missing: in the call, nothing."""
    done = _python(
        """
        import logging, sys
        from apache_beam.runners.interactive import interactive_environment as ie
        from classgate import quiet

        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        with quiet.library():
            ie.new_env()
        print("OUTSIDE", file=sys.stderr)
        ie.new_env()
        """
    )
    assert done.returncode == 0, done.stderr
    inside, outside = done.stderr.split("OUTSIDE\n")
    assert "Interactive Beam" not in inside
    assert "Interactive Beam" in outside  # the same call, outside, warns


@pytest.mark.slow
def test_validate_in_a_notebook_like_interpreter_shows_no_library_warnings(tmp_path):
    table = {"label": np.arange(40) % 4}
    synthetic.write_tfrecord(pa.table(table), str(tmp_path / "d"), 1, prefix="t")
    (tmp_path / "m.yaml").write_text(synthetic.model_yaml("m", 4))
    done = _python(
        f"""
        import sys, warnings
        warnings.simplefilter("default")  # what a notebook shows: every warning once
        import classgate

        report = classgate.validate(
            {str(tmp_path / "d" / "t-*")!r}, {str(tmp_path / "m.yaml")!r},
            {str(tmp_path / "out")!r}, labels_only=True,
        )
        print("STATUS", report.status, file=sys.stderr)
        warnings.warn("the caller's own", FutureWarning)
        """
    )
    assert done.returncode == 0, done.stderr
    before, after = done.stderr.split("STATUS pass\n")
    assert "Warning" not in before, before[:2000]
    assert "FutureWarning: the caller's own" in after  # the caller's filters back
