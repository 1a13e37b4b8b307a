"""The pipeline translates for Dataflow, offline (dry run: nothing is submitted)."""

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from classgate import cli, config
from classgate.io import files
from classgate.run import job
from classgate.run.request import Request

from workspace import DATAFLOW


@pytest.mark.parametrize(
    "mode",
    [pytest.param([], marks=pytest.mark.slow), ["--labels-only"]],
    ids=["full", "labels-only"],
)
@pytest.mark.parametrize(
    "fmt", ["tfrecord", pytest.param("parquet", marks=pytest.mark.slow)]
)
def test_cli_translates_for_dataflow(ws, capsys, fmt, mode):
    pattern = ws.labels([0, 1, 2], fmt=fmt)
    code = cli.main(
        [
            "validate",
            "--data",
            pattern,
            "--model-config",
            ws.model(3),
            "--output",
            str(ws.root / "out"),
            *mode,
            *DATAFLOW,
        ]
    )
    assert code == 0
    assert "dry run" in capsys.readouterr().out
    assert not (ws.root / "out" / "report.json").exists()


@pytest.mark.slow
def test_job_has_the_stable_step_names(ws):
    pattern = ws.labels([0, 1, 2])
    request = Request(
        splits=(files.list_split("train", (pattern,), "auto"),),
        models=config.load([ws.model(3)]),
        output=str(ws.root / "out"),
    )
    root = beam.Pipeline(options=PipelineOptions(DATAFLOW))
    job.build(root, request, "gs://my-bucket/staging", "0" * 32)
    result = root.run()
    steps = {
        t.unique_name for t in result.job.proto_pipeline.components.transforms.values()
    }
    assert {
        "Read[train]",
        "CountLabels[train][label]",
        "CountLabels[train][label]/Tally",
        "CountLabels[train][label]/Stats",
        "CountLabels[train][label]/ClassCounts",  # class counts, by key range
        "TFDVStats[train]",
    } <= steps
