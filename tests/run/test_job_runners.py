"""The same figures whichever way the DirectRunner splits the work.

Splitting the class counts into key ranges of 7 classes (15 ranges over 100
classes, each combined apart) is one more way of splitting it.
"""

import numpy as np
import pytest

from workspace import CLASSIC, Workspace, label_errors

MULTI_PROCESSING = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
MODES = {
    "in_memory": ["--direct_running_mode=in_memory"],
    "multi_threading": [
        "--direct_num_workers=2",
        "--direct_running_mode=multi_threading",
    ],
    "multi_processing": MULTI_PROCESSING,
    "key_ranges": ["--classes-per-range=7"],
    "key_ranges_multi_processing": [*MULTI_PROCESSING, "--classes-per-range=7"],
}


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """Six shards with out-of-range, negative, missing and doubled labels."""
    ws = Workspace(tmp_path_factory.mktemp("messy"))
    rows = [[i % 120] for i in range(9000)]
    for i in range(0, 9000, 37):
        rows[i] = None
    for i in range(3, 9000, 101):
        rows[i] = [-1]
    for i in range(5, 9000, 503):
        rows[i] = [1, 2]
    pattern = ws.labels(rows, shards=6)
    return ws, pattern, ws.model(100)


@pytest.mark.slow
def test_figures_identical_across_direct_runner_modes(messy):
    ws, pattern, config = messy
    results = {}
    for name, flags in MODES.items():
        code, report = ws.validate(
            "--data",
            pattern,
            "--model-config",
            config,
            "--labels-only",
            *flags,
            output=f"out-{name}",
        )
        assert code == 1
        unigram = (ws.root / f"out-{name}" / "unigram-m.txt").read_text()
        results[name] = (report["labels"], report["anomalies"], unigram)
    for name in MODES:
        assert results[name] == results["in_memory"], name
    labels = results["in_memory"][0]["train"]["label"]
    assert (labels["min"], labels["max"], labels["examples"]) == (-1, 119, 9000)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tfrecord", "parquet"])
def test_classic_cases_with_multi_processing(tmp_path, classic_ids, fmt):
    """Labels-only on every case; full mode (TFDV in worker processes) on one."""
    ws = Workspace(tmp_path)
    pattern = ws.labels(classic_ids, fmt=fmt, shards=4)
    runs = [(n, ["--labels-only"]) for n in CLASSIC] + [(10_000, [])]
    for num_classes, mode in runs:
        code, report = ws.validate(
            "--data",
            pattern,
            "--model-config",
            ws.model(num_classes),
            *mode,
            *MULTI_PROCESSING,
            output=f"out-{num_classes}-{len(mode)}",
        )
        assert (code, label_errors(report)) == CLASSIC[num_classes]


@pytest.mark.slow
def test_many_key_ranges_over_a_wide_vocabulary(ws):
    """30M classes, 20k labels: 29 default-width ranges, figures exact, and the
    driver's unigram file built from the seen classes alone."""
    rng = np.random.default_rng(4)
    ids = rng.integers(0, 30_000_000, 20_000)
    pattern = ws.labels(ids, fmt="parquet", shards=3)
    config = ws.model(30_000_000, max_unseen_fraction=1.0, sampler="uniform")
    code, report = ws.validate(
        "--data", pattern, "--model-config", config, "--labels-only"
    )
    assert code == 0
    labels = report["labels"]["train"]["label"]
    unique, counts = np.unique(ids, return_counts=True)
    assert (labels["distinct"], labels["min"], labels["max"]) == (
        len(unique),
        int(unique[0]),
        int(unique[-1]),
    )
    unigram = np.loadtxt(ws.root / "out" / "unigram-m.txt", dtype=np.int64)
    assert len(unigram) == 30_000_000
    assert np.array_equal(np.flatnonzero(unigram), unique)
    assert np.array_equal(unigram[unique], counts)
