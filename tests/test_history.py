"""--previous-report end to end: drift against the last run, headroom from them all,
and what a missing or foreign history does."""

import datetime
import json

import numpy as np
import pytest

import classgate

from tools import synthetic

pytestmark = pytest.mark.slow


def _zipf(seed: int, n=20_000, classes=1_000, shift=0):
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, classes + 1) ** 1.1
    return (rng.choice(classes, size=n, p=weights / weights.sum()) + shift) % classes


def _run(ws, name, ids, config, previous=None, num_classes=None):
    pattern = ws.labels(ids, name=name, shards=1)
    return classgate.validate(
        {"train": pattern},
        config,
        str(ws.root / "runs" / name),
        labels_only=True,
        previous_report=previous,
    )


def _codes(report):
    return sorted(
        a.code
        for a in report.anomalies
        if a.code.startswith(
            ("LABEL_D", "CLASSES_A", "CLASSES_V", "NUM_CLASSES_H", "HISTORY")
        )
    )


def test_drift_against_the_previous_run(ws):
    config = ws.model(1_000)
    first = _run(ws, "a", _zipf(0), config)
    assert first.outputs.class_counts == {"m": {"train": "classes/m/Split-train.npz"}}
    same = _run(ws, "b", _zipf(1), config, previous=str(ws.root / "runs" / "a"))
    assert _codes(same) == [] and same.status == "pass"
    assert same.previous_report == str(ws.root / "runs" / "a" / "report.json")
    moved = _run(ws, "c", _zipf(2, shift=300), config, previous=str(ws.root / "runs"))
    # The latest run (b) is the previous one; the popular classes moved by 300.
    drift = next(a for a in moved.anomalies if a.code == "LABEL_DRIFT")
    assert drift.severity == "WARNING" and drift.details["js_divergence_bits"] > 0.3
    assert "runs/b/report.json" in drift.message
    assert moved.status == "pass"  # a warning; --strict or an error threshold fails
    strict = ws.config(
        synthetic.model_yaml("m", 1_000) + "drift_error_js_divergence: 0.3\n", "s.yaml"
    )
    failing = _run(
        ws, "d", _zipf(3, shift=300), strict, previous=str(ws.root / "runs" / "b")
    )
    assert failing.status == "fail"
    assert {a.severity for a in failing.anomalies if a.code == "LABEL_DRIFT"} == {
        "ERROR"
    }


def test_new_and_gone_classes(ws):
    config = ws.model(1_000)
    ids = _zipf(4, n=10_000, classes=500)
    _run(ws, "a", ids, config)
    later = np.concatenate([ids[ids != 3], np.full(400, 700)])  # 3 gone, 700 new
    report = _run(ws, "b", later, config, previous=str(ws.root / "runs" / "a"))
    found = {
        a.code: a.details["ids"]
        for a in report.anomalies
        if a.code in ("CLASSES_APPEARED", "CLASSES_VANISHED")
    }
    assert found["CLASSES_APPEARED"] == [700] and found["CLASSES_VANISHED"] == [3]


def _date_history(ws, days: list[int], now: datetime.datetime):
    """Rewrites each earlier run's `finished` to `days` before now."""
    for day, folder in zip(days, sorted((ws.root / "runs").iterdir()), strict=True):
        path = folder / "report.json"
        report = json.loads(path.read_text())
        report["finished"] = (now - datetime.timedelta(days=day)).isoformat()
        path.write_text(json.dumps(report))


@pytest.mark.parametrize("num_classes, warned", [(1_100, True), (1_400, False)])
def test_headroom_from_a_growing_catalog(ws, num_classes, warned):
    """Max id 900, 920, ... 1000 over 5 earlier runs a day apart (20 ids/day): this
    run's 1020 is on the line, so num_classes 1100 breaks in 4 days (warned) and
    1400 in 19 days... of a 10-day horizon (not warned)."""
    config = ws.config(
        synthetic.model_yaml("m", num_classes) + "headroom_days: 10\n", "g.yaml"
    )
    for step in range(6):
        top = 900 + 20 * step
        _run(ws, f"run{step}", np.arange(top + 1), config)
    now = datetime.datetime.now(datetime.UTC)
    _date_history(ws, [6, 5, 4, 3, 2, 1], now)
    report = _run(ws, "run9", np.arange(1_021), config, previous=str(ws.root / "runs"))
    points = report.history["m"]
    assert [p.max for p in points] == [900, 920, 940, 960, 980, 1000, 1020]
    page = (ws.root / "runs" / "run9" / "report.html").read_text()
    assert "Classes needed, run by run" in page
    for top in (901, 1021):  # a tooltip per run and line: max id + 1 here
        assert f"max label id + 1 {top}</title>" in page
    assert page.count("max label id + 1 ") >= 7
    found = [a for a in report.anomalies if a.code == "NUM_CLASSES_HEADROOM"]
    if not warned:
        assert found == []
        return
    (headroom,) = found
    breaks = datetime.datetime.fromisoformat(headroom.details["breaks"])
    assert headroom.details["per_day"] == pytest.approx(20, rel=0.05)
    # 1021 classes needed now, 20 more a day: 1100 is passed in about 4 days.
    assert abs((breaks - now).total_seconds() / 86_400 - (1_100 - 1_021) / 20) < 0.2
    assert headroom.details["lasting_num_classes"] == pytest.approx(1_221, abs=3)


def test_a_missing_history_is_exit_2(ws, capsys):
    from classgate import cli

    code = cli.main(
        [
            "validate",
            "--data",
            ws.labels([0, 1, 2]),
            "--model-config",
            ws.model(3),
            "--output",
            str(ws.root / "out"),
            "--labels-only",
            "--previous-report",
            str(ws.root / "nothing-here"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--previous-report" in err
    assert not (ws.root / "out" / "report.json").exists()


def test_reports_of_another_schema_version_are_left_out(ws):
    config = ws.model(1_000)
    _run(ws, "a", _zipf(5), config)
    _run(ws, "b", _zipf(6), config)
    old = ws.root / "runs" / "a" / "report.json"
    document = json.loads(old.read_text())
    document["schema_version"] = 0
    old.write_text(json.dumps(document))
    report = _run(ws, "c", _zipf(7), config, previous=str(ws.root / "runs"))
    (skipped,) = [a for a in report.anomalies if a.code == "HISTORY_SKIPPED"]
    assert (
        "runs/a/report.json" in skipped.message
        and "schema version 0" in skipped.message
    )
    assert report.previous_report.endswith("runs/b/report.json")
    # An edited `finished` (no time, or no zone to compare with) is left out too.
    for finished in ("yesterday", "2026-11-30T10:00:00"):
        document["schema_version"] = 1
        document["finished"] = finished
        old.write_text(json.dumps(document))
        again = _run(ws, "e", _zipf(7), config, previous=str(ws.root / "runs"))
        (skipped,) = [a for a in again.anomalies if a.code == "HISTORY_SKIPPED"]
        assert "runs/a/report.json" in skipped.message and finished in skipped.message
    document["schema_version"] = 0
    old.write_text(json.dumps(document))
    # Named alone, a report of another version is not history at all: exit 2.
    with pytest.raises(classgate.InputError, match="schema version 0"):
        _run(ws, "d", _zipf(8), config, previous=str(old))


def test_a_planted_class_count_file_is_exit_2(ws):
    """The previous run's counts must be the ones its report states, and are never
    unpacked past what those need: no drift against a planted file, no memory
    blown by a small file that unpacks big."""
    from classgate import history

    config = ws.model(1_000)
    first = _run(ws, "a", _zipf(9), config)
    seen = first.labels["train"]["label"].classes_seen
    planted = ws.root / "runs" / "a" / "classes" / "m" / "Split-train.npz"
    fewer = np.arange(5)
    planted.write_bytes(history.encode_class_counts(fewer, np.ones(5, np.int64)))
    with pytest.raises(classgate.InputError, match=f"holds 5 classes.*says {seen}"):
        _run(ws, "b", _zipf(10), config, previous=str(ws.root / "runs" / "a"))
    many = np.arange(300_000)  # compresses to kilobytes, unpacks to 2.4 MB an array
    planted.write_bytes(history.encode_class_counts(many, np.ones_like(many)))
    assert planted.stat().st_size < 20_000
    with pytest.raises(classgate.InputError, match="unpacks to"):
        _run(ws, "c", _zipf(11), config, previous=str(ws.root / "runs" / "a"))
