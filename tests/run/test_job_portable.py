"""Beam's portable runner: the Fn API harness Dataflow, Flink and Spark run Python in.

A local job service and an SDK worker pool run the seed cases with several
workers and several key ranges; every figure must equal the DirectRunner's. A
worker pool of threads runs several bundles at a time in one process; the job
service sends one bundle at a time to each worker, so that is where Beam lets a
process take more than one.
"""

import json
import os
import pathlib
import socket

import pytest

from tools import portable
from workspace import CLASSIC, Workspace, label_errors

pytestmark = pytest.mark.slow

FORMATS = ["tfrecord", "parquet"]
MODES = {"full": [], "labels-only": ["--labels-only"]}
# Several workers, and key ranges of 3,000 classes: 4 to 7 ranges a run.
PARALLEL = ["--direct_num_workers=2", "--classes-per-range=3000"]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, classic_ids):
    ws = Workspace(tmp_path_factory.mktemp("portable"))
    patterns = {
        fmt: ws.labels(
            classic_ids,
            fmt=fmt,
            name=f"train_{fmt}",
            shards=4,
            context=classic_ids % 997,
        )
        for fmt in FORMATS
    }
    return ws, patterns


def figures(ws: Workspace, output: str, report: dict):
    unigram = (ws.root / output / "unigram-m.txt").read_text()
    return report["labels"], report["anomalies"], report["status"], unigram


def run_cases(ws, patterns, flags, prefix, cases):
    found = {}
    for fmt, mode, num_classes in cases:
        output = f"{prefix}-{fmt}-{mode}-{num_classes}"
        code, report = ws.validate(
            "--data",
            patterns[fmt],
            "--model-config",
            ws.model(num_classes),
            *MODES[mode],
            *flags,
            output=output,
        )
        assert (code, label_errors(report)) == CLASSIC[num_classes], output
        found[(fmt, mode, num_classes)] = figures(ws, output, report)
    return found


SEED_CASES = [(f, m, n) for f in FORMATS for m in MODES for n in CLASSIC]


def test_seed_cases_match_the_direct_runner(seeds):
    ws, patterns = seeds
    direct = run_cases(ws, patterns, ["--classes-per-range=3000"], "direct", SEED_CASES)
    with portable.services() as flags:
        found = run_cases(ws, patterns, [*flags, *PARALLEL], "portable", SEED_CASES)
    for case in SEED_CASES:
        assert found[case] == direct[case], case


def test_several_bundles_at_a_time_in_one_worker_process(seeds):
    ws, patterns = seeds
    cases = [(f, "labels-only", 10_000) for f in FORMATS] + [("parquet", "full", 5_000)]
    direct = run_cases(ws, patterns, ["--classes-per-range=3000"], "d", cases)
    with portable.services(threads=True) as flags:
        found = run_cases(
            ws,
            patterns,
            [*flags, "--direct_num_workers=3", "--classes-per-range=3000"],
            "t",
            cases,
        )
    for case in cases:
        assert found[case] == direct[case], case


def pool_processes(session: int) -> set[int]:
    """The worker pool of `session` and the SDK harnesses it started: only those,
    since tests in other processes of the suite run pools of their own."""
    found = set()
    for entry in pathlib.Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
            if os.getsid(int(entry.name)) != session:
                continue
        except (OSError, ValueError):
            continue
        if b"SdkHarness" in command or b"worker_pool_main" in command:
            found.add(int(entry.name))
    return found


def test_services_are_stopped_with_their_workers(seeds):
    ws, patterns = seeds
    with portable.services() as flags:
        port = int(flags[1].rsplit(":", 1)[1])
        session = portable.session_of(flags)
        code, _ = ws.validate(
            "--data",
            patterns["tfrecord"],
            "--model-config",
            ws.model(10_000),
            "--labels-only",
            *flags,
            output="stopped",
        )
        assert code == 0 and pool_processes(session)  # the pool ran
    with socket.socket() as probe:
        assert probe.connect_ex(("localhost", port)) != 0
    assert not pool_processes(session)


def test_a_job_that_outlives_its_submitter_writes_its_own_verdict(seeds, capsys):
    """`--no-wait` on a runner that returns at submission (as Dataflow does): the
    driver exits 0 with pending.json; the job's last stage writes the verdict;
    `conclude --wait` gives it, and again when asked twice."""
    from classgate import cli, names

    ws, patterns = seeds
    direct = run_cases(ws, patterns, [], "sync", [("parquet", "labels-only", 5_000)])
    out = ws.root / "async"
    with portable.services() as flags:
        argv = ["--data", patterns["parquet"], "--model-config", ws.model(5_000),
                "--labels-only", "--no-wait", *flags]  # fmt: skip
        code, _ = ws.validate(*argv, output="async")
        shown = capsys.readouterr().out
        assert code == 0 and "classgate: submitted; the job writes the verdict" in shown
        concluded = cli.main(["conclude", "--output", str(out), "--wait", "300"])
        assert (concluded, capsys.readouterr().out.count("LABEL_ABOVE_RANGE")) == (1, 1)
    report = json.loads((out / "report.json").read_text())
    assert figures(ws, "async", report) == direct[("parquet", "labels-only", 5_000)]
    assert not (out / names.PENDING).exists()
    assert cli.main(["conclude", "--output", str(out)]) == 1
