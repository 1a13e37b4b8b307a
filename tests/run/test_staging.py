"""Staged results: .npz archives of plain arrays and a versioned JSON header.

Staged by hand here as the job stages them (one file per result, the class counts
one file per key range): read back whole, or refused as one line naming the file,
and never loaded with pickle. A runner that lost a worker's counts gives no
verdict.
"""

import io
import pathlib
import zipfile

import builders
import numpy as np
import pytest

from classgate import errors
from classgate.io import files
from classgate.run import staging
from classgate.run.request import Request
from classgate.stats import class_counts
from classgate.stats.results import Results

RUN = "0123456789abcdef" * 2
ROWS = list(range(12)) * 2 + [None, 15]  # 12 classes seen, one missing, one above


@pytest.fixture
def asked(tmp_path) -> Request:
    """A labels-only request of one model of 12 classes, in key ranges of 5."""
    (tmp_path / "a.parquet").write_bytes(b"x")
    split = files.list_split("train", (str(tmp_path / "*.parquet"),), "parquet")
    return Request(
        splits=(split,),
        models=(builders.model(num_classes=12, num_sampled=2),),
        output=str(tmp_path / "out"),
        labels_only=True,
        class_range_width=5,
    )


def stage(folder: pathlib.Path, asked: Request, rows=ROWS, run=RUN) -> dict:
    """Writes what the job stages for `rows` in every split; {spec: its stats}."""
    folder.mkdir(exist_ok=True)
    written = {}
    for split_index, _ in enumerate(asked.splits):
        path = staging.file_notes_path(str(folder), split_index)
        pathlib.Path(path).write_bytes(staging.encode_file_notes([], run))
        path = staging.partials_path(str(folder), split_index)
        pathlib.Path(path).write_bytes(staging.encode_partials([], run))
        for spec_index, spec in enumerate(asked.specs):
            stats = builders.stats(rows, spec)
            written[spec] = builders.stats(rows, spec)
            for index, piece in stats.take_class_counts(asked.class_range_width):
                path = staging.class_counts_path(
                    str(folder), split_index, spec_index, index
                )
                pathlib.Path(path).write_bytes(staging.encode_class_counts(piece, run))
            path = staging.label_stats_path(str(folder), split_index, spec_index)
            pathlib.Path(path).write_bytes(staging.encode_label_stats(stats, run))
    return written


def test_staged_results_read_back_whole(tmp_path, asked):
    written = stage(tmp_path / "s", asked)
    found = staging.read_results(asked, str(tmp_path / "s"), RUN)
    (model,) = asked.models
    stats = found.label(model, "train")
    assert stats.summary() == written[asked.specs[0]].summary()
    assert stats.class_counts.pairs()[1].tolist() == [2] * 12
    assert sorted(p.name for p in (tmp_path / "s").glob("classes-*")) == [
        "classes-0-0-0.npz",
        "classes-0-0-1.npz",
        "classes-0-0-2.npz",
    ]


def test_each_key_range_of_class_counts_is_its_own_result(tmp_path, asked):
    """12 classes in ranges of 5: three staged range files, each one required."""
    stage(tmp_path / "s", asked)
    missing = tmp_path / "s" / "classes-0-0-1.npz"
    missing.unlink()  # one worker's range never arrived
    with pytest.raises(errors.InputError, match="incomplete") as raised:
        staging.read_results(asked, str(tmp_path / "s"), RUN)
    assert str(missing) in raised.value.message


def test_a_range_that_lost_counts_is_no_verdict(tmp_path, asked):
    """Counts lost between workers (seen with the DirectRunner's multi_threading
    mode) must end in exit 2, never in a report built on part of the data."""
    stage(tmp_path / "s", asked)
    path = tmp_path / "s" / "classes-0-0-1.npz"
    counts = staging.decode_class_counts(path.read_bytes(), RUN, str(path))
    half = class_counts.ClassCounts(counts.num_classes)
    half.add(counts.seen_ids())  # each id once: one of two accumulators lost
    path.write_bytes(staging.encode_class_counts(half, RUN))
    with pytest.raises(errors.InputError) as raised:
        staging.read_results(asked, str(tmp_path / "s"), RUN)
    message = raised.value.message
    assert "train/label: the runner lost results" in message and "19 ids" in message


def test_the_counts_of_another_range_are_refused(tmp_path, asked):
    stage(tmp_path / "s", asked)
    other = class_counts.ClassCounts(7)  # a range of 7 classes where 5 belong
    other.add(np.arange(5))
    other.add(np.arange(5))
    path = tmp_path / "s" / "classes-0-0-0.npz"
    path.write_bytes(staging.encode_class_counts(other, RUN))
    with pytest.raises(errors.InputError, match="another key range"):
        staging.read_results(asked, str(tmp_path / "s"), RUN)


def test_a_result_left_by_another_run_is_refused(tmp_path, asked):
    stage(tmp_path / "s", asked, run="f" * 32)
    with pytest.raises(errors.InputError, match="left by another run"):
        staging.read_results(asked, str(tmp_path / "s"), RUN)


def test_a_staged_result_holding_objects_is_refused(tmp_path):
    """np.load with pickles allowed would run this archive's code."""
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    buffer = io.BytesIO()
    np.savez(buffer, header=np.array([Payload()], dtype=object))
    path = str(tmp_path / "labels-0-0.npz")
    with pytest.raises(errors.InputError, match="not a result classgate staged"):
        staging.unpack(buffer.getvalue(), "label_stats", RUN, path)
    assert not marker.exists()


def test_a_staged_archive_may_not_unpack_past_its_own_size(tmp_path):
    """A planted archive that inflates (a deflated member) is refused before the
    driver allocates what it claims."""
    genuine = staging.pack("class_counts", RUN, {}, {"ids": np.zeros(10, np.int64)})
    assert staging.unpack(genuine, "class_counts", RUN, "x")[1]["ids"].size == 10
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with zipfile.ZipFile(io.BytesIO(genuine)) as source:
            archive.writestr("header.npy", source.read("header.npy"))
        big = io.BytesIO()
        np.save(big, np.zeros(1 << 20, np.int64))
        archive.writestr("ids.npy", big.getvalue())
    with pytest.raises(errors.InputError, match="not a result classgate staged"):
        staging.unpack(buffer.getvalue(), "class_counts", RUN, "x")


def test_counters_inflated_by_retries_refuse_the_run(asked):
    """On a runner that reports only attempted counters, a retried bundle counts
    its examples twice: the cross-check then refuses (exit 2), never passes."""
    spec = asked.specs[0]
    found = Results({("train", spec): builders.stats([0, 1] * 20, spec)})
    staging.check_examples(found, asked, {"examples": 40})
    staging.check_examples(found, asked, {})  # a runner without metrics
    with pytest.raises(errors.InputError, match="the runner lost results"):
        staging.check_examples(found, asked, {"examples": 80})
