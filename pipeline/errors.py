"""InputError: "nothing could be validated" (exit 2); GateClosed: a refusal (exit 1).

Raised for bad arguments, configs, missing or corrupt files and unwritable outputs.
Its message is a single line that names the file, feature or config field. When it
is raised inside a Beam worker the runner wraps it in its own exception, possibly in
another process, so the message also carries a marker that the driver finds again in
whatever text the runner hands back.
"""

import re

_MARKER = "classgate-input-error"
_MARKED = re.compile(_MARKER + r"\[(.*?)\]" + _MARKER, re.DOTALL)
# What Beam appends when it re-raises a DoFn's exception of the same type.
_BEAM_STEP = re.compile(r"\s*\[while running '[^\n]*'\]$")


class InputError(Exception):
    """Input that classgate cannot validate; the message is the one line to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{_MARKER}[{self.message}]{_MARKER}"


class GateClosed(Exception):
    """The report does not bless this training; the message says why."""


def find_input_error(error: BaseException) -> InputError | None:
    """Returns the InputError behind a runner's exception, or None if there is none."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, InputError):
            return InputError(_BEAM_STEP.sub("", error.message))
        found = _MARKED.search(str(error))
        if found:
            return InputError(found.group(1))
        error = error.__cause__ or error.__context__
    return None


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
