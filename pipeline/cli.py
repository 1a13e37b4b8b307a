"""The `classgate` command line: main(argv) -> exit code.

    classgate validate ...            scan, check, report
    classgate conclude --output DIR   the report of a `validate --no-wait` job
    classgate train ...               validate (or reuse --report), train only on a pass
    classgate run --report R -- CMD   start any trainer, only on a matching pass

classgate's own flags are parsed here; every argument it does not know is a Beam
pipeline option (--runner, --direct_num_workers, Dataflow flags) and is passed
through, after checking that Beam knows it, so a typo is an error, not a no-op.

Exit codes: 0 pass, 1 validation failed or the gate refused, 2 nothing could be
validated (bad input), 130 interrupted; `run` exits with its command's code.
"""

import argparse
import contextlib
import io
import logging
import os
import re
import subprocess
import sys
import traceback
import warnings

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# Written by `train`; cleared when it starts so a failed run leaves none behind.
TRAINING_OUTPUTS = ("model", "checkpoints", "logs", "metrics.json")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors get exit code 2 our way."""

    def error(self, message):
        from pipeline import errors

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


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="classgate",
        allow_abbrev=False,
        description="Check training data against NCE model configs.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser
    )
    validate = commands.add_parser(
        "validate",
        allow_abbrev=False,
        help="scan the data, check it against the model configs, write the report",
        description="Unknown arguments are passed to Beam as pipeline options.",
    )
    _add_validation_args(validate)
    train = commands.add_parser(
        "train",
        allow_abbrev=False,
        help="validate, then train the NCE model only on a pass",
        description="Validates (or checks --report), then trains the built-in model.",
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
    conclude = commands.add_parser(
        "conclude",
        allow_abbrev=False,
        help="the verdict of a `validate --no-wait` run whose job has finished",
    )
    conclude.add_argument("--output", required=True, metavar="DIR")
    conclude.add_argument("--junit-xml", metavar="FILE")
    conclude.add_argument("--debug", action="store_true")
    run = commands.add_parser(
        "run",
        allow_abbrev=False,
        help="run any trainer (after --) only on a pass that still matches the data",
    )
    run.add_argument("--report", required=True, metavar="FILE")
    run.add_argument(
        "--model-config",
        action="append",
        default=[],
        metavar="FILE",
        help="must equal the validated config, when given",
    )
    run.add_argument("--debug", action="store_true")
    return parser


def main(argv=None) -> int:
    """Runs classgate; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = []
    if "--" in argv:  # `run`: everything after -- is the trainer's argv
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    debug = "--debug" in argv
    _quiet_libraries(debug)
    from pipeline import errors, gate

    try:
        args, beam_args = _parser().parse_known_args(argv)
        if args.command == "validate":
            return _validate(args, beam_args)
        if args.command == "train":
            return _train(args, beam_args)
        if args.command == "conclude":
            return _conclude(args, beam_args)
        return _run(args, beam_args, command)
    except gate.GateClosed as closed:
        print(f"classgate: gate closed: {closed}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("classgate: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # the one place every failure turns into an exit code
        found = errors.find_input_error(error)
        if debug:
            traceback.print_exc()
        message = found.message if found else f"internal error: {_first_line(error)}"
        hint = "" if debug or found else " (--debug shows the traceback)"
        print(f"classgate: error: {message}{hint}", file=sys.stderr)
        return EXIT_INPUT


def entry_point() -> None:
    sys.exit(main())


def _validate(args, beam_args) -> int:
    from pipeline import config

    patterns = _patterns(args)
    if not patterns:
        from pipeline import errors

        raise errors.InputError(
            "no data given: pass --data PATTERN or --split NAME=PATTERN"
        )
    outcome = _run_validation(args, beam_args, patterns, config.load(args.model_config))
    if outcome.status == "dry-run":
        print("classgate: dry run: the pipeline was translated; nothing was validated")
        return EXIT_PASS
    if outcome.status == "submitted":
        print(
            "classgate: submitted; when the job has finished, run "
            f"`classgate conclude --output {args.output}` for the verdict"
        )
        return EXIT_PASS
    return EXIT_PASS if outcome.status == "pass" else EXIT_FAIL


def _conclude(args, beam_args) -> int:
    from pipeline import errors, validate

    if beam_args:
        raise errors.InputError(f"conclude: unexpected argument {beam_args[0]!r}")
    outcome = validate.conclude(args.output)
    _publish(outcome, args)
    return EXIT_PASS if outcome.status == "pass" else EXIT_FAIL


def _train(args, beam_args) -> int:
    from pipeline import config, errors, gate, output

    patterns = _patterns(args) or None
    models = config.load(args.model_config) if args.model_config else None
    if args.no_wait:
        raise errors.InputError(
            "train waits for its validation: --no-wait is for validate"
        )
    folder = output.OutputFolder(args.output)
    folder.prepare()
    for name in TRAINING_OUTPUTS:
        folder.remove(folder.join(name))
    if args.report:
        _check_beam_args(beam_args)
        report_path = args.report
    else:
        if patterns is None or models is None:
            raise errors.InputError(
                "train needs --data/--split and --model-config, or --report FILE"
            )
        outcome = _run_validation(args, beam_args, patterns, models)
        if outcome.status != "pass":
            print("classgate: not training: validation failed", file=sys.stderr)
            return EXIT_FAIL
        report_path = folder.join(output.REPORT)
    blessing = gate.check(report_path, models, patterns)
    return _train_model(args, blessing, folder)


def _train_model(args, blessing, folder) -> int:
    from pipeline import errors
    from pipeline.train import trainer

    models = {m.name: m for m in blessing.models}
    if args.model is None and len(models) != 1:
        raise errors.InputError(f"several models {sorted(models)}: pass --model NAME")
    name = args.model or next(iter(models))
    if name not in models:
        raise errors.InputError(
            f"--model {name}: not in the configs ({sorted(models)})"
        )
    model = models[name]
    splits = {s.name: s for s in blessing.splits}
    training = splits.get("train") or blessing.splits[0]
    evaluation = splits.get("eval")
    print(
        f"classgate: training '{name}' with num_classes {model.num_classes} "
        f"on {len(training.files)} file(s)"
    )
    trainer.train(
        model,
        [f.path for f in training.files],
        [f.path for f in evaluation.files] if evaluation else None,
        training.format,
        folder.path,
        epochs=args.epochs or model.epochs,
        batch_size=args.batch_size or model.batch_size,
        learning_rate=args.learning_rate or model.learning_rate,
    )
    print(f"classgate: trained; model and metrics.json in {folder.path}")
    return EXIT_PASS


def _run(args, beam_args, command) -> int:
    from pipeline import config, errors, gate

    if beam_args:
        raise errors.InputError(
            f"run: unexpected argument {beam_args[0]!r} (put the command after --)"
        )
    if not command:
        raise errors.InputError(
            "run: no command given: classgate run --report R -- CMD"
        )
    models = config.load(args.model_config) if args.model_config else None
    blessing = gate.check(args.report, models)
    from pipeline import progress

    # The trainer sees the validated config, not classgate's own worker switches.
    env = {k: v for k, v in os.environ.items() if k != progress.ENABLED}
    env.update(blessing.environment())
    try:
        return subprocess.run(command, env=env, check=False).returncode
    except FileNotFoundError as e:
        raise errors.InputError(f"run: cannot start {command[0]!r}: not found") from e


def _patterns(args) -> dict[str, list[str]]:
    from pipeline import errors

    patterns: dict[str, list[str]] = {}
    for pattern in args.data:
        patterns.setdefault("train", []).append(pattern)
    for item in args.split:
        name, sep, pattern = item.partition("=")
        if not sep or not pattern or not _SPLIT_NAME.match(name):
            raise errors.InputError(
                f"--split {item!r}: expected NAME=PATTERN with NAME of letters, "
                "digits, '_', '-' or '.'"
            )
        patterns.setdefault(name, []).append(pattern)
    return patterns


def _run_validation(args, beam_args, patterns, models):
    from pipeline import progress, validate
    from pipeline.io import files
    from pipeline.stats import tally

    _check_beam_args(beam_args)
    progress.enable_if_terminal(args.quiet)
    splits = tuple(
        files.list_split(name, tuple(globs), args.format)
        for name, globs in patterns.items()
    )
    request = validate.Request(
        splits=splits,
        models=models,
        output=args.output,
        labels_only=args.labels_only,
        baseline_schema=args.baseline_schema,
        strict=args.strict,
        beam_args=tuple(beam_args),
        wait=not args.no_wait,
        class_range_width=args.classes_per_range or tally.RANGE_WIDTH,
    )
    # Beam's SDK worker prints a failing bundle's traceback to stderr; classgate
    # reports the error itself, as one line, unless --debug asks for everything.
    held = io.StringIO()
    with contextlib.nullcontext() if args.debug else contextlib.redirect_stderr(held):
        outcome = validate.run(request)
    if os.environ.get(progress.ENABLED) == "1":
        sys.stderr.write("\n")  # end the status line
    if outcome.status not in ("dry-run", "submitted"):
        _publish(outcome, args)
    return outcome


def _publish(outcome, args) -> None:
    """The verdict on stdout, as JUnit XML, and in a GitHub Actions step summary."""
    from pipeline import output
    from pipeline.report import junit, markdown

    _print_verdict(outcome, args.output)
    if args.junit_xml:
        output.write_atomic(args.junit_xml, junit.render(outcome.report))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(markdown.render(outcome.report) + "\n")


def _print_verdict(outcome, output: str) -> None:
    from pipeline.checks.anomaly import Severity

    counts = {s: sum(a.severity == s for a in outcome.anomalies) for s in Severity}
    print(
        f"classgate: {outcome.status.upper()}: {counts[Severity.ERROR]} error(s), "
        f"{counts[Severity.WARNING]} warning(s); report in {output}/report.md"
    )
    ordered = sorted(outcome.anomalies, key=lambda a: a.severity != Severity.ERROR)
    for anomaly in ordered:
        print("  " + anomaly.line())


def _check_beam_args(beam_args) -> None:
    """Every pass-through argument must be a Beam option: a typo is an error."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline import errors

    options = PipelineOptions(list(beam_args))
    known = options.get_all_options(retain_unknown_options=False)
    every = options.get_all_options(retain_unknown_options=True)
    unknown = sorted(set(every) - set(known))
    if unknown:
        raise errors.InputError(
            f"unknown option --{unknown[0]} (neither a classgate nor a Beam option)"
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


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
