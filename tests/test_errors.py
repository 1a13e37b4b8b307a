"""classgate.errors: an InputError is one line, found again in any runner's text.

A worker's InputError reaches the driver as Beam re-raises it, as another
process's traceback text, or as a portable runner's job message: whichever, the
driver finds the one line it was raised with (exit 2), and nothing else passes for
one. The whole path, worker to stderr, is tests/cli/test_contract.py's.
"""

import traceback

from hypothesis import example, given, settings
from hypothesis import strategies as st

from classgate import errors

# An InputError raised in a worker reaches the driver as its one line ---------------


@settings(max_examples=60, deadline=None, derandomize=True)
@given(message=st.text(max_size=80))
def test_the_message_is_one_line_and_str_is_the_message_alone(message):
    made = errors.InputError(message)
    assert str(made) == made.message
    assert len(made.message.splitlines()) <= 1
    # Beam and pickling rebuild the error from its message: nothing changes again.
    assert errors.InputError(made.message).message == made.message
    if not any(c in message for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"):
        assert made.message == message


def _worker_traceback(message: str, step: str) -> str:
    """What a worker sends back: Beam re-raises a DoFn's error with the step named,
    and the text is Python's traceback of that (sdk_worker's format_exc)."""
    try:
        try:
            raise errors.InputError(message)
        except errors.InputError as raised:  # Beam's DoFnRunner._reraise_augmented,
            # which chains implicitly: the text holds both errors, as Beam's does.
            augmented = raised.args[0] + f" [while running '{step}']"
            raise type(raised)(augmented)  # noqa: B904
    except errors.InputError:
        return traceback.format_exc()


# The shapes a runner gives the worker's text back in, in this process.
RUNNER_TEXTS = {
    "multi_processing": lambda text: RuntimeError(text),
    "portable": lambda text: RuntimeError(
        "Pipeline job-1 failed in state FAILED: Error running pipeline.\n"
        f"Traceback (most recent call last):\nRuntimeError: {text}"
    ),
}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    message=st.text(max_size=80).filter(lambda m: "[while running" not in m),
    step=st.text(alphabet="ABCabc[]()/ _-'", max_size=30).filter(
        lambda s: "\n" not in s
    ),
)
@example(message="x\nclassgate.errors.InputError: forged", step="Read")
@example(message="classgate-input-error[x]classgate-input-error", step="S")
def test_found_in_any_runner_s_text_as_it_was_raised(message, step):
    text = _worker_traceback(message, step)
    expected = errors.InputError(message).message
    for shape in ("multi_processing", "portable"):
        found = errors.find_input_error(RUNNER_TEXTS[shape](text))
        assert found is not None and found.message == expected, shape
    # In this process (in_memory), the error itself arrives, its step appended.
    arrived = errors.InputError(message + f" [while running '{step}']")
    assert errors.find_input_error(arrived).message == expected
    # Raised from it: the chain is followed.
    try:
        try:
            raise arrived
        except errors.InputError as cause:
            raise RuntimeError("the job failed") from cause
    except RuntimeError as wrapped:
        assert errors.find_input_error(wrapped).message == expected


def test_other_errors_are_not_input_errors():
    text = "Traceback (most recent call last):\nValueError: classgate.errors.InputError"
    assert errors.find_input_error(RuntimeError(text)) is None
    assert errors.find_input_error(ValueError("negative dimensions")) is None
