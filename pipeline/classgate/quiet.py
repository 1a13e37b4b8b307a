"""The libraries' chatter, kept off a terminal and a notebook cell.

Google's client libraries (reached through Beam and TFDV) raise FutureWarnings
about Python and grpcio versions as they are imported, TensorFlow logs its start-up
in C++ and through absl, and Beam, when it builds a pipeline inside IPython, sets up
Interactive Beam and warns that its visualisation packages are missing. None of it
is about the data. The command line silences it for its whole process
(`command_line`); the library's entry points (classgate.validate, classgate.train)
apply the same warning filters for the length of the call (`library`), and put the
caller's filters and log levels back afterwards. A leaf module: the library and
the command line both reach it, and neither imports the other.
"""

import contextlib
import logging
import os
import warnings

# The libraries whose loggers speak of themselves at WARNING and below.
_LIBRARY_LOGGERS = ("tensorflow", "absl", "tensorflow_data_validation")
# Where Beam's Interactive Beam environment warns, once per process, when a pipeline
# is built inside IPython; classgate uses none of Interactive Beam.
INTERACTIVE_BEAM_LOGGER = "apache_beam.runners.interactive.interactive_environment"


def filter_warnings() -> None:
    """The warning filters the command line and the library share."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def command_line(debug: bool) -> None:
    """Keeps TensorFlow's, TFDV's and Google's start-up chatter off the terminal.

    For the whole process: the command line owns it. `--debug` keeps it all.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if debug:
        return
    # Inherited by Beam's worker processes (multi_processing mode) as well.
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
    filter_warnings()
    logging.getLogger().setLevel(logging.ERROR)
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Beam's workers log a failing bundle's traceback at ERROR; classgate reports
    # the error itself, as one line.
    logging.getLogger("apache_beam").setLevel(logging.CRITICAL)


@contextlib.contextmanager
def library():
    """The command line's warning filters, for the length of a library call.

    The libraries' own loggers and Interactive Beam's are held at ERROR meanwhile;
    the caller's warning filters and log levels are as they were afterwards, and
    Beam's other warnings (advice about its options, say) still reach the caller.
    TensorFlow's C++ start-up log is off unless TF_CPP_MIN_LOG_LEVEL says otherwise.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    names = (*_LIBRARY_LOGGERS, INTERACTIVE_BEAM_LOGGER)
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        filter_warnings()
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
