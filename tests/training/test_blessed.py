"""Training behind the gate: train only on a pass, never losing a model.

What opens and closes the gate is tested on hand-built reports in
tests/gate/test_blessing.py; the trainer's process in test_supervisor.py. These
train with TensorFlow on learnable data, through the command line.
"""

import json

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
def test_train_keeps_the_model_and_the_report_it_was_given(ws, capsys):
    """A refused start (a failed report) clears nothing; a training that starts
    replaces the earlier model, never the report it was asked to reuse."""
    out = ws.root / "out"
    config = ws.model(4, context_feature="context", context_vocab_size=4)
    pattern = ws.labels([0, 1, 2, 3], context=[0, 1, 2, 3])
    assert (
        ws.validate(
            "--data", pattern, "--model-config", config, "--labels-only", output="out"
        )[0]
        == 0
    )
    (out / "model").mkdir()
    (out / "model" / "saved.pb").write_text("an earlier model")
    (out / "metrics.json").write_text("{}")
    report = json.loads((out / "report.json").read_text())
    report["status"] = "fail"
    (ws.root / "failed.json").write_text(json.dumps(report))
    argv = ["train", "--report", str(ws.root / "failed.json"), "--output", str(out)]
    assert cli.main(argv) == 1
    assert (out / "model" / "saved.pb").exists() and (out / "metrics.json").exists()
    argv = ["train", "--report", str(out / "report.json"), "--output", str(out)]
    code = cli.main([*argv, "--epochs", "1"])
    assert code == 0, capsys.readouterr().err
    assert (out / "report.json").exists()  # the report it was asked to reuse
    assert not (out / "model" / "saved.pb").exists()  # replaced by the new model


def test_training_refuses_what_no_config_holds(tmp_path):
    """The library and the command line both reach training.blessed.train: it
    refuses a setting no config could hold before it opens or clears anything."""
    from classgate import config, errors

    model = config.ModelConfig(name="m", label_feature="l", num_classes=3)
    for setting in ({"epochs": 0}, {"batch_size": -2}, {"learning_rate": 0.0}):
        with pytest.raises(errors.InputError, match=f"^{next(iter(setting))}: "):
            blessed.train(None, model, str(tmp_path / "out"), **setting)
    assert not (tmp_path / "out").exists()


def test_a_model_without_context_ids_is_not_trainable():
    """The built-in trainer embeds context ids: `train` refuses such a model before
    it reads any data (tests/cli/test_commands.py holds the order)."""
    from classgate import config, errors

    model = config.ModelConfig(name="m", label_feature="l", num_classes=3)
    with pytest.raises(errors.InputError, match="needs context_feature"):
        blessed.trainable([model], None)
