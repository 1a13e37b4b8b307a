"""Writing a verdict's outputs: every file before report.json, none of the run's
files outside --output but the JUnit file asked for, no per-class file past its
limit; and Beam's counters in the report. Over hand-built results and verdicts
(tests/builders.py), into real folders.
"""

import json

import builders
import pytest

from classgate import errors, names
from classgate.outputs import folder as output_folder
from classgate.outputs import publish
from classgate.run.request import Request

STARTED = "2026-01-01T00:00:00+00:00"


def published(tmp_path, models, rows, **request):
    """Publishes the verdict of `rows` (the train split's labels) into tmp/out."""
    (tmp_path / "a.parquet").write_bytes(b"x")
    from classgate.io import files

    split = files.list_split("train", (str(tmp_path / "*.parquet"),), "parquet")
    asked = Request(
        splits=(split,), models=tuple(models), output=str(tmp_path / "out"), **request
    )
    splits = {"train": {models[0].label_feature: rows}}
    found = builders.results(models, splits)
    verdict = builders.verdict(builders.evaluate(models, splits))
    out = output_folder.OutputFolder(asked.output)
    with out.open(publish.declared(asked)):
        return publish.publish(out, asked, found, verdict, STARTED, {})


CLEAN = list(range(10)) * 3


def test_every_output_is_written_report_json_last(tmp_path):
    report = published(tmp_path, [builders.model(num_sampled=2)], CLEAN + [12])
    out = tmp_path / "out"
    assert report.status == "fail"
    assert json.loads((out / names.REPORT).read_text())["status"] == "fail"
    for name in (names.REPORT_MD, names.REPORT_HTML, names.SCHEMA, names.ANOMALIES):
        assert (out / name).is_file(), name
    assert (out / names.unigram("m")).read_text().splitlines() == ["3"] * 10
    manifest = json.loads((out / output_folder.MANIFEST).read_text())["files"]
    written = {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and not p.name.startswith(".classgate")
    }
    assert written <= set(manifest)


@pytest.mark.parametrize("blocked", ["a-folder", "a-file/junit.xml"])
def test_a_failed_write_leaves_no_verdict_and_names_the_path(tmp_path, blocked):
    """Every output is written before report.json: a JUnit path that cannot be
    written (a folder, a path through a file) is one line naming it (exit 2),
    and no report.json says the run finished."""
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-folder" / "x").write_text("")
    (tmp_path / "a-file").write_text("")
    junit = str(tmp_path / blocked)
    with pytest.raises(errors.InputError) as raised:
        published(tmp_path, [builders.model(num_sampled=2)], CLEAN, junit_xml=junit)
    assert raised.value.message.startswith(junit) and "\n" not in raised.value.message
    assert (tmp_path / "out" / names.REPORT_HTML).is_file()  # written before it
    assert not (tmp_path / "out" / names.REPORT).exists()


def test_num_classes_past_the_file_limit_writes_no_per_class_file(tmp_path):
    """2**40 classes: one line per class would be a terabyte (CLASS_FILES_SKIPPED
    says so, and the run still passes)."""
    model = builders.model(
        num_classes=1 << 40, max_unseen_fraction=1.0, sampler="uniform"
    )
    report = published(tmp_path, [model], [0, 1, 2])
    assert "CLASS_FILES_SKIPPED" in {a.code for a in report.anomalies}
    out = tmp_path / "out"
    assert not list(out.glob("unigram-*")) and not list(out.glob("remap-*"))
    assert report.status == "pass" and (out / names.REPORT).is_file()


@pytest.mark.slow
def test_counters_agree_with_the_statistics(ws):
    """Beam's counters, as the job's DoFns count them, beside the statistics."""
    data = ws.labels(list(range(10)) * 3 + [None, 12])
    code, report = ws.validate("--data", data, "--model-config", ws.model(10))
    assert (
        report["counters"]["examples"] == report["labels"]["train"]["label"]["examples"]
    )
    assert report["counters"]["files"] == 2
    assert report["counters"]["missing_labels"] == 1
    assert report["counters"]["out_of_range_labels"] == 1
