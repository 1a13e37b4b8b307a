"""Exit code 2: one line on stderr naming the file, feature or field; no traceback."""

import gzip
import pathlib
import traceback

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from classgate import cli, errors
from classgate.io import tfrecord


@pytest.fixture
def good(ws):
    """A small valid data set and config."""
    return ws.labels([0, 1, 2, 3], shards=1), ws.model(4)


def run(ws, capsys, *args):
    code = cli.main(["validate", *args, "--output", str(ws.root / "out")])
    err = capsys.readouterr().err
    return code, err


def assert_one_line(code, err, *needles):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("classgate: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in err


def damage(ws, name, content: bytes) -> str:
    path = ws.root / "bad" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    return str(path)


def valid_records(ws) -> bytes:
    path = ws.root / "plain.tfrecord"
    import pyarrow as pa
    from tfx_bsl.coders import example_coder

    batch = pa.RecordBatch.from_arrays([pa.array([[1], [2]])], ["label"])
    records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    tfrecord.write_records(str(path), records, compress=False)
    return path.read_bytes()


@pytest.mark.slow
def test_bad_crc(ws, capsys, good):
    data = bytearray(valid_records(ws))
    data[14] ^= 0xFF  # inside the first record's payload
    bad = damage(ws, "crc.tfrecord", bytes(data))
    assert_one_line(
        *run(ws, capsys, "--data", bad, "--model-config", good[1]),
        bad,
        "record 0",
        "checksum",
    )


@pytest.mark.slow
def test_truncated_record(ws, capsys, good):
    bad = damage(ws, "cut.tfrecord", valid_records(ws)[:-5])
    assert_one_line(
        *run(ws, capsys, "--data", bad, "--model-config", good[1]),
        bad,
        "record 1",
        "truncated",
    )


@pytest.mark.slow
def test_truncated_gzip(ws, capsys, good):
    bad = damage(ws, "cut.tfrecord.gz", gzip.compress(valid_records(ws))[:-12])
    assert_one_line(*run(ws, capsys, "--data", bad, "--model-config", good[1]), bad)


@pytest.mark.slow
def test_not_gzip_and_not_tfrecord(ws, capsys, good):
    bad = damage(ws, "text.tfrecord.gz", b"this is not a tfrecord file at all\n" * 3)
    assert_one_line(
        *run(ws, capsys, "--data", bad, "--model-config", good[1]),
        bad,
        "not a TFRecord",
    )


def test_uncompressed_file_named_gz_is_read_by_content(ws, capsys, good):
    plain = damage(ws, "plain.tfrecord.gz", valid_records(ws))
    code = cli.main(
        [
            "validate",
            "--data",
            plain,
            "--model-config",
            good[1],
            "--output",
            str(ws.root / "o"),
            "--labels-only",
        ]
    )
    assert code == 1  # read fine: 2 examples, classes 0 and 3 unseen


@pytest.mark.slow
def test_records_that_are_not_examples(ws, capsys, good):
    path = ws.root / "junk.tfrecord"
    tfrecord.write_records(str(path), [b"\xff\xff\xff junk"], compress=False)
    assert_one_line(
        *run(ws, capsys, "--data", str(path), "--model-config", good[1]),
        str(path),
        "not tf.Examples",
    )


@pytest.mark.slow
def test_truncated_parquet(ws, capsys):
    pattern = ws.labels([0, 1, 2, 3], fmt="parquet", shards=1)
    path = next(pathlib.Path(pattern).parent.glob("*.parquet"))
    path.write_bytes(path.read_bytes()[:-20])
    assert_one_line(
        *run(ws, capsys, "--data", pattern, "--model-config", ws.model(4)),
        str(path),
        "Parquet",
    )


@pytest.mark.slow
def test_label_column_absent_from_parquet(ws, capsys):
    pattern = ws.labels([0, 1], fmt="parquet", shards=1)
    config = ws.config("name: m\nlabel_feature: target\nnum_classes: 2\n")
    assert_one_line(
        *run(ws, capsys, "--data", pattern, "--model-config", config),
        "column 'target'",
        ".parquet",
    )


def test_no_files_match(ws, capsys, good):
    assert_one_line(
        *run(
            ws,
            capsys,
            "--data",
            str(ws.root / "nothing-*.gz"),
            "--model-config",
            good[1],
        ),
        "no files match",
        "nothing-*.gz",
    )


def test_bad_config(ws, capsys, good):
    """One line naming the file and key; every case is in test_config.py."""
    config = ws.config("name: m\nlabel_feature: label\nnum_clases: 4\n", "bad.yaml")
    assert_one_line(
        *run(ws, capsys, "--data", good[0], "--model-config", config),
        "bad.yaml",
        "num_clases",
        "unknown key",
    )


def test_missing_config_file(ws, capsys, good):
    assert_one_line(
        *run(ws, capsys, "--data", good[0], "--model-config", str(ws.root / "no.yaml")),
        "no.yaml",
        "cannot read",
    )


def test_output_not_writable(ws, capsys, good):
    blocker = ws.root / "a-file"
    blocker.write_text("")
    code = cli.main(
        [
            "validate",
            "--data",
            good[0],
            "--model-config",
            good[1],
            "--output",
            str(blocker / "out"),
        ]
    )
    assert_one_line(code, capsys.readouterr().err, "--output", "not writable")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--lables-only"], "--lables-only"),
        (["--format", "csv"], "--format"),
        (["--split", "train"], "NAME=PATTERN"),
    ],
)
def test_bad_arguments(ws, capsys, good, args, needle):
    assert_one_line(
        *run(ws, capsys, "--data", good[0], "--model-config", good[1], *args), needle
    )


def test_debug_shows_the_traceback(ws, capsys, good):
    code = cli.main(
        [
            "validate",
            "--data",
            str(ws.root / "none-*"),
            "--model-config",
            good[1],
            "--output",
            str(ws.root / "out"),
            "--debug",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" in err and "no files match" in err


@pytest.mark.slow
def test_a_crash_leaves_no_report(ws, capsys, good):
    out = ws.root / "out"
    assert (
        cli.main(
            [
                "validate",
                "--data",
                good[0],
                "--model-config",
                good[1],
                "--output",
                str(out),
                "--labels-only",
            ]
        )
        == 0
    )
    bad = damage(ws, "crc.tfrecord", b"garbage" * 10)
    code, _ = run(ws, capsys, "--data", bad, "--model-config", good[1])
    assert code == 2
    assert not (out / "report.json").exists() and not (out / "report.md").exists()
    assert not (out / ".classgate-staging").exists()


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


@pytest.fixture
def newline_file(ws, good):
    """A damaged TFRecord whose name holds a line break: the worker's message does."""
    bad = ws.root / "bad\nname.tfrecord"
    bad.write_bytes(b"garbage" * 50)
    return str(bad)


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode",
    [
        ["--direct_running_mode=in_memory"],
        ["--direct_num_workers=2", "--direct_running_mode=multi_threading"],
        ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
    ],
    ids=["in_memory", "multi_threading", "multi_processing"],
)
def test_a_worker_s_input_error_is_one_line_in_every_direct_mode(
    ws, capsys, good, newline_file, mode
):
    code, err = run(
        ws, capsys, "--data", newline_file, "--model-config", good[1], *mode
    )
    assert_one_line(code, err, "bad\\nname.tfrecord: record 0: bad length checksum")
    assert "[while running" not in err and "input-error" not in err


@pytest.mark.slow
def test_a_worker_s_input_error_is_one_line_on_the_portable_runner(
    ws, capsys, good, newline_file
):
    from tools import portable

    with portable.services() as flags:
        code, err = run(
            ws, capsys, "--data", newline_file, "--model-config", good[1], *flags
        )
    assert_one_line(code, err, "bad\\nname.tfrecord: record 0: bad length checksum")
    assert "[while running" not in err
