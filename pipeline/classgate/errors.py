"""InputError: "nothing could be validated" (exit 2); GateClosed: a refusal (exit 1).

Raised for bad arguments, configs, missing or corrupt files and unwritable outputs.
Its message is a single line that names the file, feature or config field, and
`str()` of it is that line alone. When it is raised inside a Beam worker the runner
re-raises it, in this process, as its own exception whose text is the worker's
traceback (DirectRunner's multi_threading and multi_processing modes, the portable
runner, Dataflow): the driver finds it again by the line Python's traceback gives
every exception, `classgate.errors.InputError: <message>`, which is why a message
never holds a line break.
"""

import re

# Every character str.splitlines() breaks a line at, as repr() writes it.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


class InputError(Exception):
    """Input that classgate cannot validate; the message is the one line to show.

    A line break in the message (a file name may hold one) is written as repr()
    writes it, so the message stays one line on the terminal and in a worker's
    traceback text.
    """

    def __init__(self, message: str):
        message = str(message).translate(_LINE_BREAKS)
        super().__init__(message)
        self.message = message


class FolderBusy(InputError):
    """The output folder's lock is held by another run (or a concluding job)."""


class NotFinished(InputError):
    """A submitted run's job has not staged all its results (yet)."""


class GateClosed(Exception):
    """The report does not bless this training; the message says why."""


# The line a traceback ends with for an InputError: what follows ": " is the
# message (Python writes no ": " for an empty one).
_TRACEBACK_LINE = re.compile(
    "^"
    + re.escape(f"{InputError.__module__}.{InputError.__qualname__}")
    + r"(?:: (?P<message>[^\n]*))?$",
    re.MULTILINE,
)
# What Beam appends when it re-raises a DoFn's exception of the same type.
_BEAM_STEP = re.compile(r"(?: \[while running '[^\n]*?'\])+$")


def find_input_error(error: BaseException) -> InputError | None:
    """Returns the InputError behind a runner's exception, or None if there is none."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, InputError):
            return InputError(_BEAM_STEP.sub("", error.message))
        found = list(_TRACEBACK_LINE.finditer(str(error)))
        if found:  # the last: the one the worker's traceback ends with
            return InputError(_BEAM_STEP.sub("", found[-1]["message"] or ""))
        error = error.__cause__ or error.__context__
    return None


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
