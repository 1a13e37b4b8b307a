"""Training's progress is logged (logger "classgate"), never printed by the library:
a notebook or a service decides where it goes, and the command line shows it on
stdout as it always has."""

import logging

import pytest

import classgate
from classgate import cli


@pytest.fixture
def classgate_logger():
    """The "classgate" logger as a fresh process has it, and as it was afterwards.

    Another test's in-process command line leaves its stdout handler there.
    """
    logger = logging.getLogger("classgate")
    saved = logger.handlers[:], logger.propagate, logger.level
    logger.handlers, logger.propagate = [], True
    logger.setLevel(logging.NOTSET)
    yield logger
    logger.handlers, logger.propagate = saved[0], saved[1]
    logger.setLevel(saved[2])


@pytest.mark.slow
def test_the_library_logs_training_and_the_command_line_shows_it(
    ws, classgate_logger, caplog, capsys
):
    config = ws.model(4, context_feature="context", context_vocab_size=4)
    pattern = ws.labels([0, 1, 2, 3] * 8, context=[0, 1, 2, 3] * 8, shards=1)
    code, _ = ws.validate("--data", pattern, "--model-config", config, "--labels-only")
    assert code == 0
    report = str(ws.root / "out" / "report.json")
    classgate_logger.handlers = []  # what the command line just put there
    classgate_logger.propagate = True
    capsys.readouterr()

    with caplog.at_level(logging.INFO, logger="classgate"):
        classgate.train(report, str(ws.root / "library"), epochs=1)
    said = [r.getMessage() for r in caplog.records if r.name.startswith("classgate")]
    assert said[0] == "classgate: training 'm' with num_classes 4 on 1 file(s)"
    assert said[1].startswith("epoch 1/1: loss ")
    assert capsys.readouterr().out == ""  # nothing printed by the library

    code = cli.main(["train", "--report", report, "--output", str(ws.root / "cli")])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "classgate: training 'm' with num_classes 4 on 1 file(s)"
    assert [line.split(":")[0] for line in lines[1:6]] == [
        f"epoch {n}/5" for n in range(1, 6)
    ]
    assert (
        lines[-1] == f"classgate: trained; model and metrics.json in {ws.root / 'cli'}"
    )
