"""The gate over hand-built reports and real files: what opens it, what closes it."""

import json
import os
import pathlib

import pytest
from builders import model, report_file
from hypothesis import given, settings
from hypothesis import strategies as st

from classgate import errors
from classgate.gate import blessing
from classgate.report import signing

CLEAN = list(range(10)) * 3


@pytest.fixture
def passing(tmp_path):
    return report_file(tmp_path / "data", [model(num_sampled=2)], CLEAN)


def test_a_pass_that_matches_opens_the_gate(passing):
    path, pattern = passing
    opened = blessing.check(path, [model(num_sampled=2)], {"train": (pattern,)})
    assert [len(s.files) for s in opened.splits] == [2]
    assert opened.environment() == {
        "CLASSGATE_REPORT": path,
        "CLASSGATE_NUM_CLASSES": "10",
        "CLASSGATE_NUM_SAMPLED": "2",
        "CLASSGATE_NUM_TRUE": "1",
        "CLASSGATE_LABEL_FEATURE": "label",
        "CLASSGATE_LOSS": "nce",
    }


def test_a_failed_report_names_its_errors(tmp_path):
    path, _ = report_file(tmp_path, [model(num_sampled=2)], CLEAN + [12])
    with pytest.raises(blessing.GateClosed, match="not pass.*LABEL_ABOVE_RANGE"):
        blessing.check(path)


@pytest.mark.parametrize(
    "edit, why",
    [
        (lambda r: r.update(status="pass"), "LABEL_ABOVE_RANGE"),
        (lambda r: r.update(status="pass", anomalies=[]), "labels reach 12"),
        (
            lambda r: (
                r.update(status="pass", anomalies=[]),
                r["models"][0].update(num_classes=13),
            ),
            "fingerprint",
        ),
        (
            lambda r: (
                r.update(status="pass", anomalies=[]),
                r["labels"]["train"]["label"].update(max=9),
            ),
            "labels lie past 9",
        ),
    ],
)
def test_a_report_edited_to_pass_stays_closed(tmp_path, edit, why):
    path, _ = report_file(tmp_path, [model(num_sampled=2)], CLEAN + [12])
    report = json.loads(open(path).read())
    edit(report)
    open(path, "w").write(json.dumps(report))
    with pytest.raises(blessing.GateClosed, match="edited or damaged") as closed:
        blessing.check(path)
    assert __import__("re").search(why, str(closed.value)), str(closed.value)


@pytest.mark.parametrize("change", ["added", "removed", "changed"])
def test_a_change_to_the_files_closes_the_gate(passing, change):
    path, pattern = passing
    folder = pattern.rsplit("/", 1)[0]
    if change == "added":
        open(f"{folder}/c.parquet", "wb").write(b"new")
    elif change == "removed":
        __import__("os").remove(f"{folder}/b.parquet")
    else:
        open(f"{folder}/b.parquet", "ab").write(b"more")
    with pytest.raises(blessing.GateClosed, match=f"1 file\\(s\\) {change}"):
        blessing.check(path)


def test_another_config_or_pattern_closes_the_gate(passing):
    path, pattern = passing
    with pytest.raises(
        blessing.GateClosed, match="num_sampled is 3, but 2 was validated"
    ):
        blessing.check(path, [model(num_sampled=3)])
    with pytest.raises(blessing.GateClosed, match="validated as"):
        blessing.check(path, None, {"train": (pattern + "x",)})
    with pytest.raises(blessing.GateClosed, match="'eval' was not validated"):
        blessing.check(path, None, {"train": (pattern,), "eval": ("x",)})


def test_a_report_of_another_schema_version_is_refused(passing):
    path, _ = passing
    report = json.loads(open(path).read())
    report["schema_version"] = 1
    open(path, "w").write(json.dumps(report))
    with pytest.raises(errors.InputError, match="schema version 1"):
        blessing.check(path)


def _edited(path, edit):
    report = json.loads(open(path).read())
    edit(report)
    open(path, "w").write(json.dumps(report))


@pytest.mark.parametrize(
    "edit, why",
    [
        (lambda r: r.update(labels={}, data={}), "names no split"),
        (lambda r: r["data"]["train"].update(patterns=[]), "has no pattern"),
        (lambda r: r["data"]["train"].update(files=[]), "has no file"),
        (lambda r: r.update(labels={}), "no figures of 'label'"),
        (lambda r: r.update(training_split="eval"), "training split 'eval'"),
    ],
)
def test_a_pass_on_too_little_stays_closed(passing, edit, why):
    path, _ = passing
    _edited(path, edit)
    with pytest.raises(blessing.GateClosed, match=why):
        blessing.check(path)


def test_a_file_rewritten_in_place_with_its_size_and_time_closes_the_gate(passing):
    path, pattern = passing
    shard = pathlib.Path(pattern).parent / "a.parquet"
    before = shard.stat()
    shard.write_bytes(b"DATA of a.parquet")  # the same size
    os.utime(shard, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same time
    assert shard.stat().st_size == before.st_size
    with pytest.raises(blessing.GateClosed, match="1 file.s. changed"):
        blessing.check(path)


def test_a_swapped_link_closes_the_gate(tmp_path):
    shards = tmp_path / "data" / "shards"
    shards.mkdir(parents=True)
    (tmp_path / "one").write_bytes(b"data of a.parquet")
    (tmp_path / "two").write_bytes(b"DATA of a.parquet")
    os.utime(tmp_path / "two", ns=(0, (tmp_path / "one").stat().st_mtime_ns))
    (shards / "a.parquet").symlink_to(tmp_path / "one")
    path, _ = report_file(tmp_path / "data", [model(num_sampled=2)], CLEAN, files=())
    (shards / "a.parquet").unlink()
    (shards / "a.parquet").symlink_to(tmp_path / "two")
    with pytest.raises(blessing.GateClosed, match="changed"):
        blessing.check(path)


@pytest.mark.parametrize("name", ["_SUCCESS", ".a.parquet.crc", "_evil.parquet"])
def test_a_file_added_beside_the_data_closes_the_gate(passing, name):
    """Job markers are skipped, but fingerprinted; any other file is data."""
    path, pattern = passing
    (pathlib.Path(pattern).parent / name).write_bytes(b"")
    with pytest.raises(blessing.GateClosed, match="added"):
        blessing.check(path)


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv(signing.KEY_VARIABLE, "a CI secret")


def test_a_signed_report_opens_the_gate_with_the_key(tmp_path, key):
    path, _ = report_file(tmp_path / "data", [model(num_sampled=2)], CLEAN)
    assert json.loads(open(path).read())["signature"].startswith("hmac-sha256:")
    blessing.check(path)


def test_with_the_key_an_unsigned_report_stays_closed(passing, key):
    path, _ = passing
    with pytest.raises(blessing.GateClosed, match="not signed"):
        blessing.check(path)


def test_without_the_key_a_signature_is_not_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv(signing.KEY_VARIABLE, "a CI secret")
    path, _ = report_file(tmp_path / "data", [model(num_sampled=2)], CLEAN)
    monkeypatch.delenv(signing.KEY_VARIABLE)
    blessing.check(path)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.data())
def test_any_edit_of_a_signed_report_closes_the_gate(tmp_path_factory, data):
    """Re-pointed at other data, fingerprint recomputed: the signature still holds
    the run's bytes, and any change to them is refused."""
    folder = tmp_path_factory.mktemp("signed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(signing.KEY_VARIABLE, "a CI secret")
        path, _ = report_file(folder / "data", [model(num_sampled=2)], CLEAN)
        report = json.loads(open(path).read())
        leaves = list(_leaves(report))
        where, value = data.draw(st.sampled_from(leaves))
        replacement = data.draw(
            st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none())
        )
        if replacement == value or where[-1] == "signature":
            return
        _set(report, where, replacement)
        open(path, "w").write(json.dumps(report))
        with pytest.raises((blessing.GateClosed, errors.InputError)):
            blessing.check(path)
        patch.setenv(signing.KEY_VARIABLE, "another key")
        _set(report, where, value)
        open(path, "w").write(json.dumps(report))
        with pytest.raises(blessing.GateClosed, match="signature does not match"):
            blessing.check(path)


def _leaves(document, where=()):
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _leaves(value, (*where, key))
    elif isinstance(document, list) and document:
        for index, value in enumerate(document):
            yield from _leaves(value, (*where, index))
    else:
        yield where, document


def _set(document, where, value):
    for step in where[:-1]:
        document = document[step]
    document[where[-1]] = value


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_a_report_nested_past_recursion_is_one_line_naming_it(tmp_path, depth):
    path = tmp_path / "report.json"
    path.write_text("[" * depth + "]" * depth)
    with pytest.raises(errors.InputError) as raised:
        blessing.check(str(path))
    message = raised.value.message
    assert f"{path}: not valid JSON: nested too deeply" in message
    assert "\n" not in message
