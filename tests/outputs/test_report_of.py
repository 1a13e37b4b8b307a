"""What report_of adds for report.html to draw from the Report alone: each model's
class counts beside the previous run's (drift), and the other features' TFDV
figures in brief (full mode). Properties over generated class counts; TFDV's
statistics proto built by hand."""

import dataclasses
import math

import builders
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tensorflow_metadata.proto.v0 import statistics_pb2

from classgate.checks import drift
from classgate.io import files as listing
from classgate.outputs import publish
from classgate.run.request import Request
from classgate.stats import profile

_COUNTS = st.dictionaries(st.integers(0, 300), st.integers(1, 2_000), max_size=60)


def _pairs(counts: dict) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array(sorted(counts), dtype=np.int64)
    return ids, np.array([counts[i] for i in ids.tolist()], dtype=np.int64)


def _kth(values, k: int):
    """The k-th largest of values above 0 (the smallest when fewer), or None."""
    ranked = sorted((v for v in values if v > 0), reverse=True)
    return ranked[min(k, len(ranked)) - 1] if ranked else None


@settings(max_examples=150, deadline=None, derandomize=True)
@given(before=_COUNTS, now=_COUNTS)
def test_a_drift_profile_holds_what_moved_and_both_shapes(before, now):
    found = publish.drift_profile(_pairs(before), _pairs(now))
    listed = {i: (b, n) for i, b, n in found.classes}
    # every listed class with both runs' true counts
    assert all((b, n) == (before.get(i, 0), now.get(i, 0)) for i, b, n in found.classes)
    assert len(listed) == len(found.classes)
    assert (found.values_before, found.values_now) == (
        sum(before.values()),
        sum(now.values()),
    )
    assert (found.distinct_before, found.distinct_now) == (len(before), len(now))
    # each run's most frequent classes: none more frequent is left out
    for run, side in ((before, 0), (now, 1)):
        bar = _kth(run.values(), publish.DRIFT_TOP_CLASSES)
        if bar is not None:
            assert all(i in listed for i, c in run.items() if c > bar)
            held = [i for i in listed if listed[i][side] >= bar]
            assert len(held) >= min(publish.DRIFT_TOP_CLASSES, len(run))
    # the class whose share moved most, which the L-infinity distance measures
    totals = (max(found.values_before, 1), max(found.values_now, 1))
    moved = [abs(n / totals[1] - b / totals[0]) for b, n in listed.values()]
    distances = drift.distances(_pairs(before), _pairs(now))
    assert math.isclose(max(moved, default=0.0), distances.linf, abs_tol=1e-12)
    assert (found.js_divergence, found.linf) == (
        distances.js_divergence,
        distances.linf,
    )
    # ordered by the larger share, falling
    larger = [max(b / totals[0], n / totals[1]) for _, b, n in found.classes]
    assert larger == sorted(larger, reverse=True)
    assert len(found.classes) <= 2 * publish.DRIFT_TOP_CLASSES + (
        publish.DRIFT_MOVED_CLASSES
    )
    # both rank-frequency curves, sampled as the label's profile samples its own
    for curve, run in (
        (found.rank_frequency_before, before),
        (found.rank_frequency_now, now),
    ):
        ranked = sorted(run.values(), reverse=True)
        assert all(count == ranked[rank - 1] for rank, count in curve)
        assert len(curve) <= profile.PROFILE_POINTS
        if ranked:
            assert curve[0] == [1, ranked[0]] and curve[-1][0] == len(ranked)


def _feature(dataset, name, kind, **figures):
    feature = dataset.features.add()
    feature.path.step.extend(name.split("."))
    feature.type = statistics_pb2.FeatureNameStatistics.Type.Value(kind)
    which = "string_stats" if kind == "STRING" else "num_stats"
    stats = getattr(feature, which)
    stats.common_stats.num_non_missing = figures.pop("present")
    stats.common_stats.num_missing = figures.pop("missing")
    for key, value in figures.items():
        setattr(stats, key, value)
    return feature


def test_the_other_features_in_brief_from_tfdvs_statistics():
    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = statistics.datasets.add(num_examples=10)
    _feature(dataset, "user.age", "INT", present=9, missing=1, min=3, max=90, mean=41.5)
    _feature(dataset, "city", "STRING", present=10, missing=0, unique=4)
    _feature(dataset, "score", "FLOAT", present=10, missing=0, min=-math.inf, max=2.5)
    table = publish.features_of(statistics)
    assert (table.examples, table.total) == (10, 3)
    rows = {f.name: f.model_dump(exclude_none=True) for f in table.features}
    assert list(rows) == ["city", "score", "user.age"]  # by name
    assert rows["user.age"] == {
        "name": "user.age",
        "type": "INT",
        "present": 9,
        "missing": 1,
        "min": 3.0,
        "max": 90.0,
        "mean": 41.5,
    }
    assert rows["city"]["unique"] == 4 and "min" not in rows["city"]
    # JSON has no infinity: a figure that is not finite is none
    assert "min" not in rows["score"] and rows["score"]["max"] == 2.5


def test_a_wide_table_lists_the_first_features_by_name_and_counts_them_all():
    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = statistics.datasets.add(num_examples=1)
    wide = publish.MAX_FEATURES + 7
    for i in reversed(range(wide)):
        _feature(dataset, f"f{i:04d}", "INT", present=1, missing=0)
    table = publish.features_of(statistics)
    assert table.total == wide and len(table.features) == publish.MAX_FEATURES
    assert [f.name for f in table.features][:2] == ["f0000", "f0001"]


def test_report_of_draws_on_the_previous_runs_counts_and_tfdv_statistics(tmp_path):
    model = builders.model(num_classes=10)
    shard = tmp_path / "a.parquet"
    shard.write_bytes(b"data")
    split = listing.list_split("train", (str(shard),), "parquet")
    rows = {"train": {"label": [0, 1, 1, 2, 3]}}
    found = builders.results([model], rows)
    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    _feature(statistics.datasets.add(num_examples=5), "x", "INT", present=5, missing=0)
    previous = (np.array([0, 5]), np.array([4, 1]))
    verdict = dataclasses.replace(
        builders.verdict(builders.evaluate([model], rows)),
        statistics={"train": statistics},
        previous_counts={("m", "train"): previous},
    )
    times = ("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00")
    for labels_only in (False, True):
        request = Request(
            splits=(split,), models=(model,), output="out", labels_only=labels_only
        )
        report = publish.report_of(request, found, verdict, *times, {})
        drawn = report.drift["m"]["train"]
        assert drawn == publish.drift_profile(
            previous, found.label(model, "train").class_counts.pairs()
        )
        assert drawn.classes[0] == [0, 4, 1]  # 4 of 5 values before: the largest share
        assert report.features == (
            {} if labels_only else {"train": publish.features_of(statistics)}
        )
    # no drift where the previous run wrote no counts
    verdict = dataclasses.replace(verdict, previous_counts={("m", "train"): None})
    assert publish.report_of(request, found, verdict, *times, {}).drift == {}
