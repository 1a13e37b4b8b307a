"""--previous-report: drift against the last run, headroom from them all, what a
missing or foreign history does (end to end), and what history trusts (unit tests
over hand-built reports and class-count files)."""

import datetime
import io
import json
import os

import builders
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import classgate
import classgate.config
from classgate import names
from classgate.outputs import history
from classgate.report import model as report_model

from tools import synthetic


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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("num_classes, warned", [(1_100, True), (1_400, False)])
def test_headroom_from_a_growing_catalog(ws, num_classes, warned):
    """Max id 900, 920, ... 1000 over 5 earlier runs a day apart (20 ids/day): this
    run's 1020 is on the line, so num_classes 1100 breaks in 4 days (warned) and
    1400 in 19 days... of a 10-day horizon (not warned)."""
    config = ws.config(
        synthetic.model_yaml("m", num_classes) + "headroom_days: 10\n", "g.yaml"
    )
    # The earlier runs as their report.json and class counts say (built by hand,
    # as publish writes them: tests/builders.py); this run for real.
    (model,) = classgate.config.load([config])
    for step in range(6):
        rows = list(range(900 + 20 * step + 1))
        folder = ws.root / "runs" / f"run{step}"
        builders.report_file(folder, [model], rows)
        _genuine_counts(folder, model, rows)
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


@pytest.mark.slow
@pytest.mark.parametrize("num_classes", [1_000, 1_021, 1_100, 1_400, 5_000])
def test_one_num_classes_is_advised_per_report(ws, num_classes):
    """Labels past num_classes, labels that stop short of it, and a catalog that
    grows 20 ids a day over a 30-day horizon: every finding that advises a
    num_classes advises the same one, what the labels and the growth need
    together (never 1021 in one line and 1621 in the next)."""
    config = ws.config(
        synthetic.model_yaml("m", num_classes)
        + "headroom_days: 30\nmax_unseen_fraction: 0.01\n",
        f"a{num_classes}.yaml",
    )
    (model,) = classgate.config.load([config])
    for step in range(6):
        rows = list(range(900 + 20 * step + 1))
        folder = ws.root / "runs" / f"run{step}"
        builders.report_file(folder, [model], rows)
        _genuine_counts(folder, model, rows)
    now = datetime.datetime.now(datetime.UTC)
    _date_history(ws, [6, 5, 4, 3, 2, 1], now)
    report = _run(ws, "now", np.arange(1_021), config, previous=str(ws.root / "runs"))
    advised = {
        a.code: a.details["advised_num_classes"]
        for a in report.anomalies
        if a.details.get("advised_num_classes") is not None
    }
    expected = 1_021 + 20 * 30  # what lasts the horizon at the history's pace
    growing = expected
    if num_classes <= 1_000:
        assert "LABEL_ABOVE_RANGE" in advised
    if 1_021 < num_classes < growing:
        assert "NUM_CLASSES_HEADROOM" in advised
    if num_classes > growing:
        assert "CLASSES_UNSEEN" in advised
    assert advised, report.anomalies
    (figure,) = set(advised.values())  # one figure, whichever finding says it
    assert figure == pytest.approx(expected, abs=3), advised
    for anomaly in report.anomalies:
        if anomaly.code in advised:
            said = {f"num_classes {figure}", f"num_classes to {figure}"}
            said.add(f"num_classes to at least {figure}")
            assert any(words in anomaly.message for words in said), anomaly.message


@pytest.mark.slow
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


@pytest.mark.slow
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
        document["schema_version"] = report_model.SCHEMA_VERSION
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


@pytest.mark.slow
def test_a_planted_class_count_file_is_exit_2(ws):
    """The previous run's counts must be the ones its report states, and are never
    unpacked past what those need: no drift against a planted file, no memory
    blown by a small file that unpacks big."""

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


@pytest.mark.slow
def test_an_unreachable_bucket_is_named_within_seconds(monkeypatch):
    """No network here: Beam's client would retry for two minutes, then exit 3;
    the history is one line naming the bucket, within its 10 s bound."""
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    with pytest.raises(classgate.InputError) as raised:
        history.read_past(
            "gs://classgate-no-such-bucket/runs",
            "2026-06-01T00:00:00+00:00",
            [builders.model()],
            ["train"],
            "train",
        )
    message = raised.value.message
    assert "gs://classgate-no-such-bucket" in message and "\n" not in message


# What history trusts: unit tests over hand-built reports and class-count files ----

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
ROWS = list(range(8)) * 4 + [8, 8, 9]  # classes 0-9 seen, 35 label values


def _report(folder, models, rows=ROWS, hours_ago=1.0) -> str:
    """A run's report.json (builders.report_file) that finished `hours_ago`."""
    path, _ = builders.report_file(folder, models, rows)
    document = json.loads(open(path).read())
    finished = NOW - datetime.timedelta(hours=hours_ago)
    document["finished"] = finished.isoformat()
    with open(path, "w") as f:
        json.dump(document, f)
    return path


def _genuine_counts(folder, model_config, rows=ROWS, split="train"):
    """The class counts a run writes for a model: what publish writes."""
    ids, counts = builders.stats(rows, model_config).class_counts.pairs()
    path = folder / names.class_counts(model_config.name, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(history.encode_class_counts(ids, counts))
    return path, (ids, counts)


def _past(root, models, output=None):
    return history.read_past(
        str(root), NOW.isoformat(), models, ["train"], "train", output=output
    )


def test_the_previous_run_is_the_last_to_finish_among_all(tmp_path):
    """Past MAX_REPORTS run folders, names sort against finish times: the previous
    run is still the one that finished last, and the history the latest ones."""
    m = builders.model(num_sampled=2)
    template = open(_report(tmp_path / "template", [m])).read()
    runs = history.MAX_REPORTS + 5
    for index in range(runs):  # run-0000 finished last, and sorts first by name
        folder = tmp_path / "runs" / f"run-{index:04d}"
        folder.mkdir(parents=True)
        document = json.loads(template)
        document["finished"] = (NOW - datetime.timedelta(minutes=index + 1)).isoformat()
        (folder / "report.json").write_text(json.dumps(document))
    found = history.load(str(tmp_path / "runs"), before=NOW, models=["m"])
    assert found.previous.folder.endswith("run-0000")
    assert [run.folder[-4:] for run in found.runs] == [
        f"{i:04d}" for i in reversed(range(history.MAX_REPORTS))
    ]
    assert found.skipped == ()


def test_another_model_set_and_the_run_being_replaced_are_left_out(tmp_path):
    m, other = builders.model(num_sampled=2), builders.model(name="o", num_sampled=2)
    runs = tmp_path / "runs"
    _report(runs / "a", [m], hours_ago=3)
    _genuine_counts(runs / "a", m)
    _report(runs / "b", [other], hours_ago=2)
    _report(runs / "c", [m, other], hours_ago=1)  # this run's --output: rerun
    past = _past(runs, [m], output=str(runs / "c"))
    assert past.previous_path == str(runs / "a" / "report.json")
    assert dict(past.skipped) == {
        str(runs / "b" / "report.json"): "another model set (o)",
        str(runs / "c" / "report.json"): "the run being replaced (this --output)",
    }
    assert [p[3] for p in past.points["m"]] == [str(runs / "a" / "report.json")]
    # The output folder named another way (relative, through a link) is the same.
    (tmp_path / "link").symlink_to(runs)
    relative = os.path.relpath(tmp_path / "link" / "c")
    again = _past(runs, [m], output=relative)
    assert again.previous_path == past.previous_path
    # With no model in common, or only the run being replaced, nothing is left.
    with pytest.raises(classgate.InputError, match="another model set"):
        _past(runs / "b", [m])
    with pytest.raises(classgate.InputError, match="the run being replaced"):
        _past(runs / "c", [m], output=str(runs / "c"))


def _trusted(found, report, model_config, split="train"):
    """What class counts that history accepted must be: the report vouches."""
    ids, counts = found
    summary = report.labels[split][model_config.label_feature]
    values = sum(int(n) * k for n, k in summary.values_per_example.items())
    assert ids.dtype.kind == "i" and counts.dtype.kind == "i"
    assert ids.shape == counts.shape and ids.ndim == 1
    assert np.all(np.diff(ids) > 0) and np.all(counts > 0)
    assert ids.size == 0 or 0 <= ids[0] <= ids[-1] < model_config.num_classes
    assert ids.size == summary.classes_seen  # one model: the figures are its own
    assert int(counts.sum()) <= values


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    rows=st.lists(st.integers(-2, 12) | st.none(), min_size=1, max_size=60),
    num_classes=st.sampled_from([5, 10, 64]),
)
def test_genuine_class_counts_are_read_back(tmp_path_factory, rows, num_classes):
    """Never a false refusal: what a run writes is what history reads, for this
    model and for a second model on the feature whose figures are not the report's."""
    folder = tmp_path_factory.mktemp("run")
    first = builders.model(num_classes=num_classes, num_sampled=1)
    second = builders.model(name="n", num_classes=num_classes + 3, num_sampled=1)
    _report(folder, [first, second], rows)
    expected = {}
    for config in (first, second):
        _, expected[config.name] = _genuine_counts(folder, config, rows)
    past = _past(folder, [first, second])
    for name in ("m", "n"):
        found = past.counts[(name, "train")]
        assert all(
            np.array_equal(a, b) for a, b in zip(found, expected[name], strict=True)
        )


DTYPES = ["int64", "int32", "uint64", "int8", "float64", "bool"]
arrays = st.tuples(
    st.sampled_from(DTYPES),
    st.lists(
        st.integers(-(2**63), 2**63 - 1)
        | st.sampled_from([0, 1, 2, 3, -1, 2**62, 2**63 - 1])
        | st.floats(allow_nan=True, allow_infinity=True),
        max_size=12,
    ),
)


def _array(dtype, values):
    with np.errstate(all="ignore"):
        try:
            return np.array(values, dtype=np.float64).astype(dtype)
        except (OverflowError, ValueError):
            return np.zeros(len(values), dtype=dtype)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    gaps=arrays,
    counts=arrays,
    shape=st.sampled_from(["row", "column", "scalar"]),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=3),
    cut=st.none() | st.integers(0, 2_000),
)
def test_damaged_class_counts_are_refused_or_trusted(
    tmp_path_factory, gaps, counts, shape, flips, cut
):
    """Generated damage to a previous run's class counts (dtypes, NaN, negative,
    zero or fractional counts, ids out of range or order, totals past the report's
    figures, shapes, flipped or cut bytes): exit 2 naming the file, or counts
    that its report vouches for; never another exception, never a drift measured
    against classes that cannot exist."""
    folder = tmp_path_factory.mktemp("run")
    config = builders.model(num_sampled=2)
    report = history.Report.load(_report(folder, [config]))
    path, _ = _genuine_counts(folder, config)
    one, other = _array(*gaps), _array(*counts)
    if shape == "column":
        one, other = one[:, None], other[:, None]
    elif shape == "scalar":
        one, other = np.asarray(one[:1].sum()), np.asarray(other[:1].sum())
    buffer = io.BytesIO()
    np.savez_compressed(buffer, gaps=one, counts=other)
    data = bytearray(buffer.getvalue())
    for at, xor in flips:
        data[at % len(data)] ^= xor
    path.write_bytes(bytes(data[:cut] if cut is not None else data))
    try:
        past = _past(folder, [config])
    except classgate.InputError as e:
        assert str(path) in e.message and "\n" not in e.message
        return
    _trusted(past.counts[("m", "train")], report, config)


STEPS = [0] + [1] * 9  # ids 0 to 9


@pytest.mark.parametrize(
    "gaps, counts, why",
    [  # ten classes each, as many as the report saw: every one was read before
        (STEPS, [1.0] * 9 + [np.nan], "float64"),  # NaN counts: no drift, silently
        (STEPS, [5] * 9 + [-3], "counted -3 times"),  # negative: exit 3
        ([0.5] + [1] * 9, [1] * 10, "float64"),  # fractional ids
        ([-2] + [1] * 9, [1] * 10, "out of order"),  # a negative id
        (STEPS, [1] * 9 + [10**6], "more than the 35 label values"),
        ([0] + [1] * 8 + [5], [1] * 10, "id 13 is past num_classes 10"),
    ],
)
def test_counts_a_report_cannot_vouch_for_are_exit_2(tmp_path, gaps, counts, why):
    config = builders.model(num_sampled=2)
    _report(tmp_path, [config])
    path, _ = _genuine_counts(tmp_path, config)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, gaps=np.array(gaps), counts=np.array(counts))
    path.write_bytes(buffer.getvalue())
    with pytest.raises(classgate.InputError, match=why) as raised:
        _past(tmp_path, [config])
    assert raised.value.message.startswith(str(path))


@pytest.mark.slow
def test_a_rerun_into_the_history_is_not_compared_with_itself(ws):
    """Rerunning run b into its own folder, with the folder of runs as history:
    the previous run is a, and b's old report is named, not compared with."""
    config = ws.model(1_000)
    _run(ws, "a", _zipf(12), config)
    _run(ws, "b", _zipf(13), config)
    again = _run(ws, "b", _zipf(14, shift=300), config, previous=str(ws.root / "runs"))
    assert again.previous_report == str(ws.root / "runs" / "a" / "report.json")
    (skipped,) = [a for a in again.anomalies if a.code == "HISTORY_SKIPPED"]
    assert "runs/b/report.json: the run being replaced" in skipped.message
    assert any(a.code == "LABEL_DRIFT" for a in again.anomalies)
