"""Incremental re-validation: files unchanged since --previous-report are not read.

Whole runs over real TFRecord files: a run on the old files, the files changed, a
run that reuses the previous run's partials, and a run that reads every file with
the same history; the figures must agree and the counters say what was read.
"""

import json
import os
import pathlib
import shutil
import tempfile
import time

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from classgate import cli
from classgate.io import files, tfrecord
from classgate.run import partials
from classgate.stats import label

from tools import synthetic

NUM_CLASSES = 100
# Labels below 128 take one varint byte: a file rewritten with other such labels
# keeps its size exactly (uncompressed records). Those >= NUM_CLASSES are out of
# range: anomalies with locations, which must survive the merge of partials.
LABELS = st.lists(st.integers(0, 127), max_size=2)
FILE = st.lists(LABELS, min_size=1, max_size=12)
ROLES = ("kept", "removed", "rewritten", "rewritten_in_place")


def _write(path: pathlib.Path, examples: list[list[int]]) -> None:
    from tfx_bsl.coders import example_coder

    from classgate.io import arrow

    table = pa.table({"label": pa.array(examples, pa.list_(pa.int64()))})
    encoder = example_coder.RecordBatchToExamplesEncoder()
    records = []
    for batch in table.to_batches():
        records.extend(encoder.encode(arrow.as_lists(batch)))
    tfrecord.write_records(str(path), records, compress=False)


def _flipped(examples: list[list[int]]) -> list[list[int]]:
    """Other labels of the same varint sizes: same file size, other figures."""
    return [[127 - v for v in labels] for labels in examples]


def _validate(root: pathlib.Path, output: str, *extra: str) -> dict:
    model = root / "m.yaml"
    if not model.exists():
        model.write_text(synthetic.model_yaml("m", NUM_CLASSES))
    code = cli.main(
        [
            "validate",
            "--data",
            str(root / "data" / "*.tfrecord"),
            "--model-config",
            str(model),
            "--labels-only",
            "--output",
            str(root / output),
            *extra,
        ]
    )
    assert code in (0, 1), code
    return json.loads((root / output / "report.json").read_text())


def _settle() -> None:
    """Waits until files written now lie RACY_S before the next listing."""
    time.sleep(partials.RACY_S + 0.1)


def _figures(root: pathlib.Path, output: str, report: dict) -> dict:
    """What a verdict says of the labels: figures, findings, class counts."""
    counts = (root / output / "classes" / "m" / "Split-train.npz").read_bytes()
    return {
        "status": report["status"],
        "labels": report["labels"],
        "anomalies": report["anomalies"],
        "checks": report["checks"],
        "data": report["data"],
        "drift": report["drift"],
        "class_counts": counts,
        "unigram": (root / output / "unigram-m.txt").read_text(),
    }


def _full_scan(root: pathlib.Path, previous: str) -> dict:
    """A run that reads every file, with the same history: partials taken away."""
    shutil.rmtree(root / previous / "partials")
    report = _validate(root, "full", "--previous-report", str(root / previous))
    assert report["reuse"]["train"]["files_reused"] == 0
    assert report["reuse"]["train"]["files_read"] == len(
        report["data"]["train"]["files"]
    )
    return report


def _size(paths) -> int:
    return sum(os.path.getsize(p) for p in paths)


@pytest.mark.slow
@settings(
    max_examples=5,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    old=st.lists(st.tuples(FILE, st.sampled_from(ROLES)), min_size=1, max_size=4),
    new=st.lists(FILE, max_size=2),
)
def test_reused_and_read_files_give_the_figures_of_a_full_scan(old, new):
    assume(any(role != "removed" for _, role in old) or new)
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        (root / "data").mkdir()
        paths = {}
        for index, (examples, _) in enumerate(old):
            paths[index] = root / "data" / f"old-{index}.tfrecord"
            _write(paths[index], examples)
        _settle()
        _validate(root, "runs/1")

        kept, read = [], []
        for index, (examples, role) in enumerate(old):
            path = paths[index]
            if role == "kept":
                kept.append(path)
            elif role == "removed":
                path.unlink()
            elif role == "rewritten":
                before = path.stat().st_size
                _write(path, _flipped(examples))
                assert path.stat().st_size == before
                read.append(path)
            else:  # the same bytes' length written in place, the mtime put back
                found = path.stat()
                scratch = root / "scratch.tfrecord"
                _write(scratch, _flipped(examples))
                with open(path, "r+b") as f:
                    f.write(scratch.read_bytes())
                scratch.unlink()
                os.utime(path, ns=(found.st_atime_ns, found.st_mtime_ns))
                assert path.stat().st_size == found.st_size
                assert path.stat().st_mtime_ns == found.st_mtime_ns
                read.append(path)
        for index, examples in enumerate(new):
            path = root / "data" / f"new-{index}.tfrecord"
            _write(path, examples)
            read.append(path)

        again = _validate(root, "runs/2", "--previous-report", str(root / "runs/1"))
        assert again["reuse"]["train"] == {
            "files_reused": len(kept),
            "bytes_reused": _size(kept),
            "files_read": len(read),
            "bytes_read": _size(read),
            "why_none": None,
        }
        listed = set(again["partials"]["files"]["train"])
        assert listed == {str(p) for p in kept + read}  # the next run's to reuse
        figures = _figures(root, "runs/2", again)
        full = _full_scan(root, "runs/1")
        assert figures == _figures(root, "full", full)


@pytest.fixture
def three_files(tmp_path):
    """Three files of different labels, validated once as runs/1."""
    (tmp_path / "data").mkdir()
    rng = np.random.default_rng(7)
    for name in "abc":
        examples = [[int(v)] for v in rng.integers(0, 128, size=40)]
        _write(tmp_path / "data" / f"{name}.tfrecord", examples)
    _settle()
    _validate(tmp_path, "runs/1")
    return tmp_path


@pytest.mark.slow
def test_the_command_line_says_what_it_reused(three_files, capsys):
    """One file rewritten: the verdict's printout names the files and bytes reused."""
    root = three_files
    rewritten = root / "data" / "c.tfrecord"
    _write(rewritten, [[1]] * 40)
    capsys.readouterr()
    again = _validate(root, "runs/2", "--previous-report", str(root / "runs/1"))
    shown = capsys.readouterr().out
    sizes = [os.path.getsize(root / "data" / f"{n}.tfrecord") for n in "abc"]
    assert again["reuse"]["train"]["bytes_read"] == sizes[2]
    assert (
        f"reused 2 of 3 file(s) ({sizes[0] + sizes[1]} of {sum(sizes)} bytes)" in shown
    )


def _partial_of(root: pathlib.Path, name: str) -> pathlib.Path:
    path = str(root / "data" / f"{name}.tfrecord")
    return root / "runs/1" / partials.name("train", path)


@pytest.mark.slow
@pytest.mark.parametrize("report_too", [False, True], ids=["partial", "and-report"])
def test_a_partial_swapped_for_another_files_is_not_trusted(three_files, report_too):
    """Another file's partial copied over a's: a is read, the figures stay true.

    With report_too, report.json (unsigned) is edited to record the swapped
    bytes' digest as well: the partial still names the file it was made of.
    """
    root = three_files
    stolen = _partial_of(root, "b").read_bytes()
    _partial_of(root, "a").write_bytes(stolen)
    if report_too:
        report_path = root / "runs/1/report.json"
        report = json.loads(report_path.read_text())
        recorded = report["partials"]["files"]["train"]
        a, b = (str(root / "data" / f"{n}.tfrecord") for n in "ab")
        recorded[a] = {**recorded[b], "name": recorded[a]["name"]}
        report_path.write_text(json.dumps(report))

    again = _validate(root, "runs/2", "--previous-report", str(root / "runs/1"))
    a_size = os.path.getsize(root / "data" / "a.tfrecord")
    assert again["reuse"]["train"]["files_read"] == 1
    assert again["reuse"]["train"]["bytes_read"] == a_size
    assert again["reuse"]["train"]["files_reused"] == 2
    figures = _figures(root, "runs/2", again)
    assert figures == _figures(root, "full", _full_scan(root, "runs/1"))


@pytest.mark.slow
def test_a_partial_whose_counts_were_changed_is_not_trusted(three_files):
    """a's own partial re-made with other counts: well formed, of a, but its
    bytes are not those report.json recorded."""
    root = three_files
    path = str(root / "data" / "a.tfrecord")
    report = json.loads((root / "runs/1/report.json").read_text())
    key = report["partials"]["key"]
    data_file = files.DataFile(
        **next(f for f in report["data"]["train"]["files"] if f["path"] == path)
    )
    spec = label.LabelSpec("label", NUM_CLASSES, 1)
    note, (stats,) = partials.decode(
        _partial_of(root, "a").read_bytes(), key, data_file, [spec], "a"
    )
    stats.class_counts.add(np.array([3] * 50))
    stats.in_range += 50
    stats.examples += 50
    stats.values_per_example[1] += 50
    forged = partials.encode(data_file, note, [stats], key)
    _partial_of(root, "a").write_bytes(forged)

    again = _validate(root, "runs/2", "--previous-report", str(root / "runs/1"))
    assert again["reuse"]["train"]["files_read"] == 1
    assert again["reuse"]["train"]["files_reused"] == 2
    figures = _figures(root, "runs/2", again)
    assert figures == _figures(root, "full", _full_scan(root, "runs/1"))


@pytest.mark.slow
def test_a_damaged_or_missing_partial_means_the_file_is_read(three_files):
    root = three_files
    damaged = _partial_of(root, "a")
    damaged.write_bytes(damaged.read_bytes()[:-7])
    _partial_of(root, "b").unlink()
    again = _validate(root, "runs/2", "--previous-report", str(root / "runs/1"))
    assert again["reuse"]["train"]["files_read"] == 2
    assert again["reuse"]["train"]["files_reused"] == 1
    figures = _figures(root, "runs/2", again)
    assert figures == _figures(root, "full", _full_scan(root, "runs/1"))


@pytest.mark.slow
def test_an_edited_signed_report_lends_nothing(three_files, monkeypatch):
    root = three_files
    monkeypatch.setenv("CLASSGATE_SIGNING_KEY", "secret")
    shutil.rmtree(root / "runs/1")
    _validate(root, "runs/1")  # signed
    report_path = root / "runs/1/report.json"
    report = json.loads(report_path.read_text())
    report["labels"]["train"]["label"]["examples"] += 1
    report_path.write_text(json.dumps(report))
    again = _validate(root, "runs/2", "--previous-report", str(report_path))
    assert again["reuse"]["train"]["files_reused"] == 0
    assert "not trusted" in again["reuse"]["train"]["why_none"]


@pytest.mark.slow
def test_a_planted_link_for_the_partials_carries_no_write_outside(tmp_path, capsys):
    """--output/partials planted as a link to another folder, before classgate's
    first run there: the workers' partials are not written through it (exit 2,
    one line naming the path), and the folder it points at stays empty."""
    (tmp_path / "data").mkdir()
    _write(tmp_path / "data" / "a.tfrecord", [[1], [2]])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "partials").symlink_to(elsewhere)
    (tmp_path / "m.yaml").write_text(synthetic.model_yaml("m", NUM_CLASSES))
    argv = ["validate", "--data", str(tmp_path / "data" / "*.tfrecord")]
    argv += ["--model-config", str(tmp_path / "m.yaml"), "--labels-only"]
    assert cli.main([*argv, "--output", str(tmp_path / "out")]) == 2
    assert "leads outside" in capsys.readouterr().err
    assert list(elsewhere.rglob("*")) == []
    assert not (tmp_path / "out" / "report.json").exists()


@pytest.mark.slow
def test_a_previous_run_of_other_label_specs_lends_nothing(three_files):
    root = three_files
    (root / "m.yaml").write_text(synthetic.model_yaml("m", NUM_CLASSES + 1))
    again = _validate(root, "runs/2", "--previous-report", str(root / "runs/1"))
    assert again["reuse"]["train"]["files_reused"] == 0
    assert again["reuse"]["train"]["files_read"] == 3
    assert "other label specs" in again["reuse"]["train"]["why_none"]


@pytest.mark.slow
def test_a_vocabulary_of_other_bytes_lends_nothing(tmp_path):
    """The same model config, its vocabulary's lines reordered: every id moves."""
    from tfx_bsl.coders import example_coder

    from classgate.io import arrow

    (tmp_path / "data").mkdir()
    words = [f"w{i}".encode() for i in range(5)]
    table = pa.table(
        {
            "label": pa.array(
                [[w] for i, w in enumerate(words) for _ in range(i + 1)],
                pa.list_(pa.binary()),
            )
        }
    )
    encoder = example_coder.RecordBatchToExamplesEncoder()
    records = [r for b in table.to_batches() for r in encoder.encode(arrow.as_lists(b))]
    tfrecord.write_records(
        str(tmp_path / "data" / "a.tfrecord"), records, compress=False
    )
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_bytes(b"".join(w + b"\n" for w in words))
    (tmp_path / "m.yaml").write_text(
        synthetic.model_yaml("m", 6) + f"vocabulary_file: {vocabulary}\n"
    )
    _settle()
    _validate(tmp_path, "runs/1")
    vocabulary.write_bytes(b"".join(w + b"\n" for w in reversed(words)))
    again = _validate(tmp_path, "runs/2", "--previous-report", str(tmp_path / "runs/1"))
    assert again["reuse"]["train"]["files_reused"] == 0
    assert "vocabularies" in again["reuse"]["train"]["why_none"]
    figures = _figures(tmp_path, "runs/2", again)
    assert figures == _figures(tmp_path, "full", _full_scan(tmp_path, "runs/1"))


# Without a whole run: what proves a file unchanged, and what a partial must name.


def _data_file(**fields) -> files.DataFile:
    found = {"path": "/d/a.tfrecord", "size": 10, "modified": 100.0}
    return files.DataFile(**{**found, **fields})


@pytest.mark.parametrize(
    ("fields", "listed", "established"),
    [
        ({"identity": "1:2:98000000000"}, 100.0, True),
        ({"identity": "1:2:99500000000"}, 100.0, False),  # changed just before
        ({"identity": "1:2:98000000000", "modified": 99.5}, 100.0, False),
        ({"identity": "1:2:98000000000"}, None, False),  # no listing time
        ({"identity": "1:2:x"}, 100.0, False),
        ({"path": "gs://b/a", "modified": 50.0}, 100.0, True),
        ({"path": "s3://b/a", "modified": 50.0}, 100.0, False),  # 1-second times
        ({"path": "/d/a", "modified": 50.0}, 100.0, False),  # local, no identity
    ],
)
def test_only_a_listing_that_proves_the_bytes_unchanged_lends(
    fields, listed, established
):
    fields.setdefault("modified", 50.0)
    assert partials.established(_data_file(**fields), listed) is established


def test_a_partial_names_its_file_and_specs():
    spec = label.LabelSpec("label", NUM_CLASSES, 1)
    stats = label.LabelStats(spec)
    stats.class_counts.add(np.array([1, 2, 2]))
    stats.in_range = 3
    one = _data_file(identity="1:2:3")
    data = partials.encode(one, {"compression": "none"}, [stats], "k")
    note, (back,) = partials.decode(data, "k", one, [spec], "p")
    assert note == {"compression": "none"}
    assert back.class_counts.pairs()[1].tolist() == [1, 2]
    for other, key, specs in [
        (_data_file(identity="1:2:4"), "k", [spec]),
        (one, "other key", [spec]),
        (one, "k", [label.LabelSpec("label", NUM_CLASSES + 1, 1)]),
        (one, "k", [spec, spec]),
    ]:
        with pytest.raises(Exception):  # noqa: B017 - any refusal means "read it"
            partials.decode(data, key, other, specs, "p")
