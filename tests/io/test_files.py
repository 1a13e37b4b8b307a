"""Listing a split: what is read, what is skipped, what the fingerprint binds."""

import os

import pytest

from classgate import errors
from classgate.io import files


def names(entries):
    return sorted(os.path.basename(f.path) for f in entries)


def write(folder, *names_written):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names_written:
        (folder / name).write_bytes(b"x" * len(name))


def test_hidden_tfrecord_files_are_read_as_tensorflows_glob_returns_them(tmp_path):
    write(tmp_path, "part-0.tfrecord", "_part-1.tfrecord", ".part-2.tfrecord")
    write(tmp_path, "_SUCCESS", ".part-0.tfrecord.crc", "_committed_123")
    split = files.list_split("train", (str(tmp_path / "*"),), "tfrecord")
    assert names(split.files) == [
        ".part-2.tfrecord",
        "_part-1.tfrecord",
        "part-0.tfrecord",
    ]
    assert names(split.skipped) == [
        ".part-0.tfrecord.crc",
        "_SUCCESS",
        "_committed_123",
    ]
    assert files.hidden_parquet(split) == []


def test_hidden_parquet_files_are_skipped_and_named(tmp_path):
    write(tmp_path, "part-0.parquet", "_part-1.parquet", "_metadata", "_SUCCESS")
    split = files.list_split("train", (str(tmp_path / "*"),), "auto")
    assert split.format == "parquet"
    assert names(split.files) == ["part-0.parquet"]
    assert names(split.skipped) == ["_SUCCESS", "_metadata", "_part-1.parquet"]
    assert [os.path.basename(p) for p in files.hidden_parquet(split)] == [
        "_part-1.parquet"
    ]


def test_a_path_named_exactly_is_always_read(tmp_path):
    write(tmp_path, "_part-1.parquet")
    split = files.list_split("train", (str(tmp_path / "_part-1.parquet"),), "auto")
    assert names(split.files) == ["_part-1.parquet"] and not split.skipped


@pytest.mark.parametrize(
    "written, why",
    [(["_SUCCESS"], "only job markers"), (["_a.parquet"], "which Arrow datasets")],
)
def test_a_pattern_of_skipped_files_only_matches_nothing(tmp_path, written, why):
    write(tmp_path, *written)
    with pytest.raises(errors.InputError, match=f"no files match.*{why}"):
        files.list_split("train", (str(tmp_path / "*"),), "auto")


def test_every_listed_and_skipped_file_is_in_the_fingerprint(tmp_path):
    write(tmp_path, "part-0.tfrecord", "_SUCCESS")
    pattern = (str(tmp_path / "*"),)
    before = files.list_split("train", pattern, "tfrecord").fingerprint
    assert files.list_split("train", pattern, "tfrecord").fingerprint == before
    for change in (
        lambda: (tmp_path / "_SUCCESS").write_bytes(b"done"),
        lambda: write(tmp_path, "_evil.tfrecord"),
        lambda: (tmp_path / "part-0.tfrecord").chmod(0o600),  # the change time moves
    ):
        change()
        after = files.list_split("train", pattern, "tfrecord").fingerprint
        assert after != before
        before = after


def test_an_unknown_format_is_one_line(tmp_path):
    write(tmp_path, "a.tfrecord")
    with pytest.raises(errors.InputError, match="data format 'TFRecord'"):
        files.list_split("train", (str(tmp_path / "*"),), "TFRecord")


def test_a_fifo_matched_by_the_pattern_is_refused(tmp_path):
    """Reading it would wait forever for a writer: one line naming it, at once."""
    write(tmp_path, "train-0.tfrecord")
    os.mkfifo(tmp_path / "train-fifo")
    with pytest.raises(errors.InputError) as raised:
        files.list_split("train", (str(tmp_path / "*"),), "tfrecord")
    message = raised.value.message
    assert message.startswith(f"{tmp_path / 'train-fifo'}: not a regular file")
    assert "\n" not in message
