"""The command line's arguments: each command's flags, help text and examples.

Parsing is all this module does, and it imports nothing heavy, so `classgate
--help` answers at once. What the commands do is classgate.commands; turning
errors into exit codes, classgate.cli.
"""

import argparse


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors get exit code 2 our way."""

    def error(self, message):
        from classgate import errors

        raise errors.InputError(message)


def _add_validation_args(parser, config_required=True) -> None:
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="PATTERN",
        help="file glob of the train split (repeatable)",
    )
    parser.add_argument(
        "--split",
        action="append",
        default=[],
        metavar="NAME=PATTERN",
        help="file glob of a named split (repeatable)",
    )
    parser.add_argument(
        "--format",
        type=_typed("data_format"),
        default="auto",
        help="default: .parquet is Parquet, else TFRecord",
    )
    parser.add_argument(
        "--model-config",
        action="append",
        default=[],
        metavar="FILE",
        required=config_required,
        help="YAML model config (repeatable)",
    )
    parser.add_argument(
        "--output",
        required=True,
        metavar="DIR",
        help="folder for the report, schema, anomalies and statistics",
    )
    parser.add_argument(
        "--labels-only",
        action="store_true",
        help="compute only what the label checks need",
    )
    parser.add_argument(
        "--baseline-schema",
        metavar="FILE",
        help="a curated TFDV schema to validate against as well",
    )
    parser.add_argument(
        "--previous-report",
        metavar="PATH",
        help="compare with earlier runs: a report.json, a run's output folder, or a "
        "folder (or bucket prefix) of run folders; drift against the latest, "
        "num_classes headroom from them all",
    )
    parser.add_argument(
        "--strict", action="store_true", help="warnings fail the gate too"
    )
    parser.add_argument(
        "--junit-xml", metavar="FILE", help="also write the checks as JUnit XML"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress line, even on a terminal"
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="submit the job and exit; its last stage writes the verdict, and "
        "`classgate conclude --wait` waits for it",
    )
    parser.add_argument(
        "--verdict-by",
        choices=("job", "conclude"),
        default="job",
        help="with --no-wait, who writes the verdict: the job's last stage "
        "(default), or `classgate conclude` alone (when the workers cannot run "
        "TFDV or write --output)",
    )
    parser.add_argument(
        "--classes-per-range",
        type=_typed("positive_int"),
        metavar="N",
        help="classes per key range of the per-class counts, each range combined "
        "apart (default 1048576: 8 MiB per range)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and logs")


def _typed(reader: str):
    """An argparse type of one of config's readers: its ValueError, argparse's way.

    config is imported when a value is read, not for `--help`.
    """

    def typed(text: str):
        from classgate import config

        try:
            return getattr(config, reader)(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    typed.__name__ = reader
    return typed


EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def flags_of(command: str) -> list[str]:
    """Every flag of a command (`--model-config`, ...): what a typo is close to."""
    (commands,) = [
        a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)
    ]
    sub = commands.choices[command]
    return [flag for action in sub._actions for flag in action.option_strings]


def no_leftovers(command: str, leftovers) -> None:
    from classgate import errors

    if leftovers:
        raise errors.InputError(
            f"{command}: unexpected argument {leftovers[0]!r} (it takes no Beam "
            "options; `run` takes its command after --)"
        )


EXIT_CODES = """exit codes:
  0    pass (validate, train, conclude, check-config)
  1    validation failed, or the gate refused (train, run)
  2    nothing was validated: bad input, named in one line
  3    a defect of classgate itself (please report it; --debug shows the traceback)
  130  interrupted
  run exits with its command's code once the command has started
"""

_EXAMPLES = {
    "validate": """examples:
  classgate validate --data 'data/train-*.tfrecord.gz' --model-config model.yaml \\
      --output out/
  classgate validate --split train='data/train/*.parquet' \\
      --split eval='data/eval/*.parquet' --model-config model.yaml --output out/ \\
      --labels-only --junit-xml out/junit.xml
  classgate validate --data 'gs://bucket/data/*' \\
      --model-config gs://bucket/model.yaml \\
      --output gs://bucket/classgate/run-1 --runner=DataflowRunner \\
      --project=my-project --region=us-central1 --temp_location=gs://bucket/tmp

Quote patterns: classgate matches them itself, every file included. Arguments it
does not know are passed to Beam as pipeline options, and must be ones.
""",
    "train": """examples:
  classgate train --data 'data/train-*.tfrecord.gz' --model-config model.yaml \\
      --output run-1/ --epochs 5
  classgate train --report out/report.json --output run-1/

Trains only on a pass; an earlier model in --output is replaced only once the new
training starts.
""",
    "conclude": """examples:
  classgate validate ... --output gs://bucket/run-1 --runner=DataflowRunner --no-wait
  classgate conclude --output gs://bucket/run-1 --junit-xml junit.xml
""",
    "run": """examples:
  classgate run --report out/report.json -- python train.py --epochs 5
  classgate run --report out/report.json --model-config model.yaml -- ./train.sh

The command starts only if the report passed and its data and configs are unchanged;
it gets CLASSGATE_REPORT (and, for one model, CLASSGATE_NUM_CLASSES and friends) in
its environment. Ctrl-C and SIGTERM are passed on to it.
""",
    "ci": """examples:
  classgate ci github   # action.yml's gate step: INPUT_* in, $GITHUB_OUTPUT out
  classgate ci gitlab   # deploy/gitlab/classgate.yml: CLASSGATE_* in, classgate.env

Inputs are data, never script text: patterns and configs split at whitespace,
beam-options as a shell splits words, nothing expanded; an output folder with a line
break or a pattern character is refused (exit 2) before anything runs.
""",
    "index": """examples:
  classgate index runs/                  # writes runs/index.html
  classgate index gs://bucket/classgate --output index.html

The runs are the folders --previous-report reads: PREFIX/<run>/report.json. Each
row links to the run's report.html, relative to the page where it can be.
""",
    "check-config": """examples:
  classgate check-config model.yaml other.yaml
  pre-commit: see .pre-commit-hooks.yaml (id: classgate-check-config)

Checks what needs no data, in under a second: each config's fields, the sampler
settings, the vocabulary's size against num_classes and the checkpoint's shapes.
Each file is checked on its own (model names need be unique within a file only).
""",
}


def _command(commands, name: str, summary: str, description: str):
    return commands.add_parser(
        name,
        allow_abbrev=False,
        help=summary,
        description=description,
        epilog=_EXAMPLES[name] + "\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def parser() -> argparse.ArgumentParser:
    from classgate import __version__

    parser = _Parser(
        prog="classgate",
        allow_abbrev=False,
        description="Check training data against NCE model configs (num_classes, "
        "vocabulary, sampler) before training; train only on a pass.",
        epilog="`classgate COMMAND --help` shows each command's flags and examples."
        "\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"classgate {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )
    validate = _command(
        commands,
        "validate",
        "scan the data, check it against the model configs, write the report",
        "Scans the data with Beam, checks every label against the model configs and "
        "writes report.json, report.md, report.html, a TFDV schema, statistics and "
        "anomalies into --output.",
    )
    _add_validation_args(validate)
    train = _command(
        commands,
        "train",
        "validate, then train the built-in NCE model only on a pass",
        "Validates (or checks --report), then trains the built-in NCE / sampled "
        "softmax model on the validated files.",
    )
    _add_validation_args(train, config_required=False)
    train.add_argument(
        "--report",
        metavar="FILE",
        help="reuse this validation instead of scanning again",
    )
    train.add_argument("--model", metavar="NAME", help="which model, when several")
    train.add_argument(
        "--epochs", type=_typed("positive_int"), help="overrides the config's epochs"
    )
    train.add_argument(
        "--batch-size",
        type=_typed("positive_int"),
        help="overrides the config's batch_size",
    )
    train.add_argument(
        "--learning-rate",
        type=_typed("positive_float"),
        help="overrides the config's learning_rate",
    )
    conclude = _command(
        commands,
        "conclude",
        "the verdict of a `validate --no-wait` run whose job has finished",
        "Gives a submitted run (validate --no-wait, a Flex Template launch) its "
        "verdict once the job has finished: reads what the job left in --output and "
        "writes the report there. Idempotent: a run whose job wrote its verdict "
        "(or that was concluded before) gets that verdict again.",
    )
    conclude.add_argument(
        "--output", required=True, metavar="DIR", help="the submitted run's --output"
    )
    conclude.add_argument(
        "--junit-xml", metavar="FILE", help="also write the checks as JUnit XML"
    )
    conclude.add_argument(
        "--wait",
        type=_typed("positive_float"),
        nargs="?",
        const=6 * 3600.0,
        metavar="SECONDS",
        help="wait for the job to finish, up to SECONDS (default 21600), saying "
        "so every minute; without it, a job still running is exit 2",
    )
    conclude.add_argument("--debug", action="store_true", help="show tracebacks")
    run = _command(
        commands,
        "run",
        "run any trainer (after --) only on a pass that still matches the data",
        "Starts the command after -- only when --report passed and the data and "
        "configs it validated are unchanged.",
    )
    run.add_argument(
        "--report", required=True, metavar="FILE", help="a validation's report.json"
    )
    run.add_argument(
        "--model-config",
        action="append",
        default=[],
        metavar="FILE",
        help="must equal the validated config, when given",
    )
    run.add_argument("--debug", action="store_true", help="show tracebacks")
    check = _command(
        commands,
        "check-config",
        "check model configs without data (a pre-commit hook, under a second)",
        "Checks the model configs alone: fields, sampler settings, vocabulary size "
        "against num_classes, checkpoint shapes. Reads no data.",
    )
    check.add_argument("configs", nargs="+", metavar="CONFIG", help="YAML model config")
    check.add_argument("--debug", action="store_true", help="show tracebacks")
    index = _command(
        commands,
        "index",
        "one page listing every run of a history folder, with links to each report",
        "Writes one HTML page listing every run under PREFIX (the folders "
        "--previous-report reads), newest first: verdict, errors and warnings, and "
        "per model examples, num_classes, max id and distinct classes, each run "
        "linking to its report.html. Exit 0 once written; 2 when PREFIX holds no "
        "classgate report.",
    )
    index.add_argument(
        "prefix",
        metavar="PREFIX",
        help="a folder or bucket prefix of run folders (each with report.json)",
    )
    index.add_argument(
        "--output", metavar="FILE", help="where to write the page (PREFIX/index.html)"
    )
    index.add_argument("--debug", action="store_true", help="show tracebacks")
    ci = _command(
        commands,
        "ci",
        "the gate step of the GitHub action and the GitLab template",
        "Runs validate with the CI step's inputs, read from the environment "
        "(GitHub: INPUT_DATA, INPUT_SPLITS, INPUT_MODEL_CONFIGS, INPUT_OUTPUT, "
        "INPUT_LABELS_ONLY, INPUT_BEAM_OPTIONS; GitLab: the same as CLASSGATE_*), "
        "and hands the verdict on: GitHub step outputs and annotations, or GitLab's "
        "dotenv report. Exit 0 only when the gate opens on the report.",
    )
    ci.add_argument(
        "platform", choices=("github", "gitlab"), help="the CI system the step runs on"
    )
    return parser
