"""The training gate end to end: train only on a pass, run any trainer behind it.

What opens and closes the gate is tested on hand-built reports in test_gate_unit.py;
these run the commands on learnable data and TensorFlow.
"""

import json
import sys

import pytest

from classgate import cli
from classgate.training import blessed

from tools import synthetic

CONFIG = (
    "name: recommender\nlabel_feature: label\nnum_classes: {n}\n"
    "context_feature: context\ncontext_vocab_size: 500\nembedding_dim: 32\n"
    "num_sampled: 20\nsampler: uniform\nbatch_size: 256\nlearning_rate: 0.05\n"
)


@pytest.fixture
def learnable(ws):
    """Label = (7 * context) % 200, 10% noise; 200 classes, train and eval splits."""
    splits = []
    for name, examples, seed in (("train", 12_000, 0), ("eval", 2_000, 1)):
        table = synthetic.learnable(examples, seed)
        splits += [
            "--split",
            f"{name}={ws.labels(table['label'], name=name, context=table['context'])}",
        ]
    return splits


@pytest.mark.slow
def test_train_on_a_pass(ws, learnable, capsys):
    out = ws.root / "out"
    config = ws.config(CONFIG.format(n=200))
    argv = [*learnable, "--labels-only", "--model-config", config]
    code = cli.main(["train", *argv, "--output", str(out), "--epochs", "3"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    losses = [epoch["loss"] for epoch in metrics["history"]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert metrics["num_classes"] == 200
    assert metrics["eval"]["recall_at_10"] > 0.5  # chance is 10 / 200 = 0.05
    assert (out / "model").is_dir() and (out / "checkpoints").is_dir()
    assert json.loads((out / "report.json").read_text())["status"] == "pass"
    # Again from the report alone: the gate reopens on the same data and config.
    again = ws.root / "again"
    code = cli.main(
        [
            "train",
            "--report",
            str(out / "report.json"),
            "--model-config",
            config,
            "--output",
            str(again),
            "--epochs",
            "1",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert json.loads((again / "metrics.json").read_text())["history"][0]["epoch"] == 1


@pytest.mark.slow
def test_no_training_on_a_fail(ws, learnable, capsys):
    out = ws.root / "out"
    argv = [
        *learnable,
        "--labels-only",
        "--model-config",
        ws.config(CONFIG.format(n=150)),
    ]
    assert cli.main(["train", *argv, "--output", str(out)]) == 1
    assert "LABEL_ABOVE_RANGE" in capsys.readouterr().out
    assert json.loads((out / "report.json").read_text())["status"] == "fail"
    for name in blessed.TRAINING_OUTPUTS:
        assert not (out / name).exists(), name


@pytest.mark.slow
def test_run_passes_the_validated_config_and_the_exit_code(ws, learnable):
    out = ws.root / "validated"
    config = ws.config(CONFIG.format(n=200))
    argv = [*learnable, "--labels-only", "--model-config", config, "--output", str(out)]
    assert cli.main(["validate", *argv]) == 0
    script = ws.root / "probe.py"
    script.write_text(
        "import json, os, sys\n"
        "keys = [k for k in os.environ if k.startswith('CLASSGATE_')]\n"
        "json.dump({k: os.environ[k] for k in keys}, open(sys.argv[1], 'w'))\n"
        "sys.exit(7)\n"
    )
    record, report = ws.root / "told.json", str(out / "report.json")
    command = [sys.executable, str(script), str(record)]
    assert cli.main(["run", "--report", report, "--", *command]) == 7
    assert json.loads(record.read_text()) == {
        "CLASSGATE_REPORT": report,
        "CLASSGATE_NUM_CLASSES": "200",
        "CLASSGATE_NUM_SAMPLED": "20",
        "CLASSGATE_NUM_TRUE": "1",
        "CLASSGATE_LABEL_FEATURE": "label",
        "CLASSGATE_LOSS": "nce",
    }
    # A shard added since: the gate closes, the command never starts.
    ws.labels([0, 1, 2], name="train", shards=1)
    record.unlink()
    assert cli.main(["run", "--report", report, "--", *command]) == 1
    assert not record.exists()
