"""Exit code 2: one line on stderr naming the file, feature or field; no traceback."""

import gzip
import pathlib

import pytest

from classgate import cli
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
