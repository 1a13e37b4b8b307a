"""The `classgate` command line: main(argv) -> exit code.

    classgate validate ...            scan, check, report
    classgate conclude --output DIR   the report of a `validate --no-wait` job
    classgate train ...               validate (or reuse --report), train only on a pass
    classgate run --report R -- CMD   start any trainer, only on a matching pass
    classgate check-config FILE...    the checks that need no data (pre-commit)

classgate's own flags are parsed here; every argument it does not know must be a
Beam pipeline option (--runner, --direct_num_workers, Dataflow flags) and is passed
through. Every word is accounted for: an unknown option is an error, not a no-op,
and so is a stray word (an unquoted glob that the shell expanded into many files
would otherwise have all but its first file dropped). `--` means something only to
`run`: what follows it is the command.

Exit codes: 0 pass, 1 validation failed or the gate refused, 2 nothing could be
validated (bad input, named in one line), 3 a defect of classgate itself (please
report it), 130 interrupted; `run` exits with its command's code.
"""

import argparse
import logging
import os
import sys
import traceback
import warnings

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


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
        choices=("auto", "tfrecord", "parquet"),
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
        help="submit the job and exit; `classgate conclude` gives the verdict later",
    )
    parser.add_argument(
        "--classes-per-range",
        type=_positive_int,
        metavar="N",
        help="classes per key range of the per-class counts, each range combined "
        "apart (default 1048576: 8 MiB per range)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and logs")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


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
    "check-config": """examples:
  classgate check-config model.yaml other.yaml
  pre-commit: see .pre-commit-hooks.yaml (id: classgate-check-config)

Checks what needs no data, in under a second: each config's fields, the sampler
settings, the vocabulary's size against num_classes and the checkpoint's shapes.
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


def _parser() -> argparse.ArgumentParser:
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
    train.add_argument("--epochs", type=int, help="overrides the config's epochs")
    train.add_argument(
        "--batch-size", type=int, help="overrides the config's batch_size"
    )
    train.add_argument(
        "--learning-rate", type=float, help="overrides the config's learning_rate"
    )
    conclude = _command(
        commands,
        "conclude",
        "the verdict of a `validate --no-wait` run whose job has finished",
        "Gives a submitted run (validate --no-wait, a Flex Template launch) its "
        "verdict once the job has finished: reads what the job left in --output and "
        "writes the report there.",
    )
    conclude.add_argument(
        "--output", required=True, metavar="DIR", help="the submitted run's --output"
    )
    conclude.add_argument(
        "--junit-xml", metavar="FILE", help="also write the checks as JUnit XML"
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
    return parser


def main(argv=None) -> int:
    """Runs classgate; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command, dashes = [], "--" in argv
    if dashes:  # `run`: everything after -- is the trainer's argv
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    debug = "--debug" in argv
    _quiet_libraries(debug)
    from classgate import commands, errors

    try:
        args, leftovers = _parser().parse_known_args(argv)
        if dashes and args.command != "run":
            raise errors.InputError(
                f"{args.command}: '--' is for `classgate run` (what follows it is "
                "the command to start)"
            )
        if args.command == "validate":
            return commands.validate(args, _beam_options(leftovers))
        if args.command == "train":
            return commands.train(args, _beam_options(leftovers))
        no_leftovers(args.command, leftovers)
        if args.command == "conclude":
            return commands.conclude(args)
        if args.command == "check-config":
            return commands.check_config(args)
        return commands.run(args, command)
    except errors.GateClosed as closed:
        print(f"classgate: gate closed: {closed}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("classgate: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # the one place every failure turns into an exit code
        found = errors.find_input_error(error)
        if debug:
            traceback.print_exc()
        if found:
            print(f"classgate: error: {found.message}", file=sys.stderr)
            return EXIT_INPUT
        hint = "" if debug else "; --debug shows the traceback"
        print(
            f"classgate: internal error: {_described(error)} (a classgate defect: "
            f"please report it{hint})",
            file=sys.stderr,
        )
        return EXIT_BUG


def entry_point() -> None:
    sys.exit(main())


def _beam_options(leftovers: list[str]) -> list[str]:
    from classgate import job

    return job.beam_arguments(leftovers)


def no_leftovers(command: str, leftovers) -> None:
    from classgate import errors

    if leftovers:
        raise errors.InputError(
            f"{command}: unexpected argument {leftovers[0]!r} (it takes no Beam "
            "options; `run` takes its command after --)"
        )


def _quiet_libraries(debug: bool) -> None:
    """Keeps TensorFlow's, TFDV's and Google's start-up chatter off the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if debug:
        return
    # Inherited by Beam's worker processes (multi_processing mode) as well.
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.getLogger().setLevel(logging.ERROR)
    for name in ("tensorflow", "absl", "tensorflow_data_validation"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Beam's workers log a failing bundle's traceback at ERROR; classgate reports
    # the error itself, as one line.
    logging.getLogger("apache_beam").setLevel(logging.CRITICAL)


def _described(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
