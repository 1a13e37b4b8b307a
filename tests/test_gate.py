"""The training gate: train only on a pass that still matches the data and config."""

import json
import sys

import numpy as np
import pytest

from pipeline import cli, commands
from pipeline.io import tfrecord

CONFIG = (
    "name: recommender\nlabel_feature: label\nnum_classes: {n}\n"
    "context_feature: context\ncontext_vocab_size: 500\nembedding_dim: 32\n"
    "num_sampled: 20\nsampler: uniform\nbatch_size: 256\nlearning_rate: 0.05\n"
)


@pytest.fixture
def learnable(ws):
    """Label = (7 * context) % 200, 10% noise; 200 classes, train and eval splits."""
    rng = np.random.default_rng(0)

    def split(name, n):
        context = rng.integers(0, 500, n)
        label = (context * 7) % 200
        noisy = rng.random(n) < 0.1
        label[noisy] = rng.integers(0, 200, noisy.sum())
        return ws.labels(label, name=name, context=context)

    return split("train", 12_000), split("eval", 2_000)


def split_args(learnable):
    train, evaluation = learnable
    return ["--split", f"train={train}", "--split", f"eval={evaluation}"]


def test_train_on_a_pass(ws, learnable, capsys):
    out = ws.root / "out"
    code = cli.main(
        [
            "train",
            *split_args(learnable),
            "--labels-only",
            "--model-config",
            ws.config(CONFIG.format(n=200)),
            "--output",
            str(out),
            "--epochs",
            "3",
        ]
    )
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    losses = [epoch["loss"] for epoch in metrics["history"]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert metrics["num_classes"] == 200
    assert metrics["eval"]["recall_at_10"] > 0.5  # chance is 10 / 200 = 0.05
    assert (out / "model").is_dir() and (out / "checkpoints").is_dir()
    assert json.loads((out / "report.json").read_text())["status"] == "pass"


def test_no_training_on_a_fail(ws, learnable, capsys):
    out = ws.root / "out"
    code = cli.main(
        [
            "train",
            *split_args(learnable),
            "--labels-only",
            "--model-config",
            ws.config(CONFIG.format(n=150)),
            "--output",
            str(out),
        ]
    )
    assert code == 1
    assert "LABEL_ABOVE_RANGE" in capsys.readouterr().out
    assert json.loads((out / "report.json").read_text())["status"] == "fail"
    for name in commands.TRAINING_OUTPUTS:
        assert not (out / name).exists(), name


def validated(ws, learnable, n=200):
    config = ws.config(CONFIG.format(n=n))
    out = ws.root / "validated"
    code = cli.main(
        [
            "validate",
            *split_args(learnable),
            "--labels-only",
            "--model-config",
            config,
            "--output",
            str(out),
        ]
    )
    assert code == (0 if n == 200 else 1)
    return config, str(out / "report.json")


def env_probe(ws):
    """A command that records what it was told, and exits 7."""
    script = ws.root / "probe.py"
    script.write_text(
        "import json, os, sys\n"
        "keys = [k for k in os.environ if k.startswith('CLASSGATE_')]\n"
        "json.dump({k: os.environ[k] for k in keys}, open(sys.argv[1], 'w'))\n"
        "sys.exit(7)\n"
    )
    record = ws.root / "told.json"
    return [sys.executable, str(script), str(record)], record


def test_run_passes_the_validated_config_and_the_exit_code(ws, learnable):
    _, report = validated(ws, learnable)
    command, record = env_probe(ws)
    assert cli.main(["run", "--report", report, "--", *command]) == 7
    told = json.loads(record.read_text())
    assert told == {
        "CLASSGATE_REPORT": report,
        "CLASSGATE_NUM_CLASSES": "200",
        "CLASSGATE_NUM_SAMPLED": "20",
        "CLASSGATE_NUM_TRUE": "1",
        "CLASSGATE_LABEL_FEATURE": "label",
    }


def test_run_refuses_a_failed_report(ws, learnable, capsys):
    _, report = validated(ws, learnable, n=150)
    command, record = env_probe(ws)
    assert cli.main(["run", "--report", report, "--", *command]) == 1
    assert "LABEL_ABOVE_RANGE" in capsys.readouterr().err
    assert not record.exists()


def test_a_new_shard_closes_the_gate(ws, learnable, capsys):
    config, report = validated(ws, learnable)
    ws.labels([0, 1, 2], name="train", shards=1)  # train-00000-of-00001: a new file
    command, record = env_probe(ws)
    assert cli.main(["run", "--report", report, "--", *command]) == 1
    err = capsys.readouterr().err
    assert "data changed" in err and "1 file(s) added" in err
    assert not record.exists()
    out = ws.root / "trained"
    code = cli.main(
        ["train", "--report", report, "--model-config", config, "--output", str(out)]
    )
    assert code == 1 and "1 file(s) added" in capsys.readouterr().err
    assert not (out / "model").exists() and not (out / "metrics.json").exists()


def test_a_rewritten_shard_or_another_config_closes_the_gate(ws, learnable, capsys):
    config, report = validated(ws, learnable)
    train, _ = learnable
    shard = sorted((ws.root / "data" / "train").glob("*.gz"))[0]
    records = list(tfrecord.read_records(str(shard)))
    tfrecord.write_records(str(shard), records[:-1])  # a valid rewrite, one fewer
    command, record = env_probe(ws)
    assert cli.main(["run", "--report", report, "--", *command]) == 1
    assert "1 file(s) changed" in capsys.readouterr().err
    config, report = validated(ws, learnable)  # validated again as it is now
    other = ws.config(
        CONFIG.format(n=200).replace("num_sampled: 20", "num_sampled: 30"),
        name="other.yaml",
    )
    assert (
        cli.main(["run", "--report", report, "--model-config", other, "--", *command])
        == 1
    )
    assert "num_sampled is 30, but 20 was validated" in capsys.readouterr().err
    assert not record.exists()


def test_train_reuses_a_matching_report(ws, learnable, capsys):
    config, report = validated(ws, learnable)
    out = ws.root / "trained"
    code = cli.main(
        [
            "train",
            "--report",
            report,
            "--model-config",
            config,
            "--output",
            str(out),
            "--epochs",
            "1",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert json.loads((out / "metrics.json").read_text())["history"][0]["epoch"] == 1
