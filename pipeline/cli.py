"""The `classgate` command line: main(argv) -> exit code.

    classgate validate ...            scan, check, report
    classgate conclude --output DIR   the report of a `validate --no-wait` job
    classgate train ...               validate (or reuse --report), train only on a pass
    classgate run --report R -- CMD   start any trainer, only on a matching pass

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
import contextlib
import io
import logging
import os
import re
import signal
import sys
import traceback
import warnings

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
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
    command, dashes = [], "--" in argv
    if dashes:  # `run`: everything after -- is the trainer's argv
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    debug = "--debug" in argv
    _quiet_libraries(debug)
    from pipeline import errors, gate

    try:
        args, leftovers = _parser().parse_known_args(argv)
        if dashes and args.command != "run":
            raise errors.InputError(
                f"{args.command}: '--' is for `classgate run` (what follows it is "
                "the command to start)"
            )
        if args.command == "validate":
            return _validate(args, _beam_options(leftovers))
        if args.command == "train":
            return _train(args, _beam_options(leftovers))
        _no_leftovers(args.command, leftovers)
        if args.command == "conclude":
            return _conclude(args)
        return _run(args, command)
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
        if found:
            print(f"classgate: error: {found.message}", file=sys.stderr)
            return EXIT_INPUT
        hint = "" if debug else "; --debug shows the traceback"
        print(
            f"classgate: internal error: {_first_line(error)} (a classgate defect: "
            f"please report it{hint})",
            file=sys.stderr,
        )
        return EXIT_BUG


def entry_point() -> None:
    sys.exit(main())


def _validate(args, beam_args) -> int:
    from pipeline import config, errors

    patterns = _patterns(args)
    if not patterns:
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


def _conclude(args) -> int:
    from pipeline import validate

    with _quiet_stderr(args.debug):
        outcome = validate.conclude(args.output, args.junit_xml)
    _announce(outcome, args.output)
    return EXIT_PASS if outcome.status == "pass" else EXIT_FAIL


def _train(args, beam_args) -> int:
    from pipeline import config, errors, gate, names, output

    patterns = _patterns(args) or None
    models = config.load(args.model_config) if args.model_config else None
    if args.no_wait:
        raise errors.InputError(
            "train waits for its validation: --no-wait is for validate"
        )
    if args.report:
        _no_leftovers("train --report", beam_args)
        report_path = args.report
    else:
        if patterns is None or models is None:
            raise errors.InputError(
                "train needs --data/--split and --model-config, or --report FILE"
            )
        _trainable(models, args.model)  # before any data is read
        outcome = _run_validation(args, beam_args, patterns, models)
        if outcome.status != "pass":
            print("classgate: not training: validation failed", file=sys.stderr)
            return EXIT_FAIL
        report_path = output.OutputFolder(args.output).join(names.REPORT)
    blessing = gate.check(report_path, models, patterns)
    model = _trainable(blessing.models, args.model)
    return _train_model(args, blessing, model)


def _trainable(models, wanted: str | None):
    """The model `train` trains: named by --model when several; it needs context ids."""
    from pipeline import errors

    by_name = {m.name: m for m in models}
    if wanted is None and len(by_name) != 1:
        raise errors.InputError(f"several models {sorted(by_name)}: pass --model NAME")
    name = wanted or next(iter(by_name))
    if name not in by_name:
        raise errors.InputError(
            f"--model {name}: not in the configs ({sorted(by_name)})"
        )
    model = by_name[name]
    if model.context_feature is None:
        raise errors.InputError(
            f"model '{name}': classgate train needs context_feature and "
            "context_vocab_size in the model config (the int ids its model reads)"
        )
    return model


def _train_model(args, blessing, model) -> int:
    from pipeline import output
    from pipeline.train import trainer

    splits = {s.name: s for s in blessing.splits}
    training = splits.get("train") or blessing.splits[0]
    evaluation = splits.get("eval")
    folder = output.OutputFolder(args.output)
    with folder.open((), sweep=False):
        print(
            f"classgate: training '{model.name}' with num_classes {model.num_classes} "
            f"on {len(training.files)} file(s)"
        )
        # The gate is open and training starts now: only now do the outputs of an
        # earlier training go, so a refused or failed start never loses a model.
        for name in TRAINING_OUTPUTS:
            folder.remove(name)
        with _terminate_as_interrupt():
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


def _run(args, command) -> int:
    from pipeline import config, errors, gate, progress, supervisor

    if not command:
        raise errors.InputError(
            "run: no command given: classgate run --report R -- CMD"
        )
    models = config.load(args.model_config) if args.model_config else None
    blessing = gate.check(args.report, models)
    # The trainer sees the validated config, not classgate's own worker switches.
    env = {k: v for k, v in os.environ.items() if k != progress.ENABLED}
    env.update(blessing.environment())
    try:
        return supervisor.run(command, env)
    except FileNotFoundError as e:
        raise errors.InputError(f"run: cannot start {command[0]!r}: not found") from e
    except PermissionError as e:
        raise errors.InputError(
            f"run: cannot start {command[0]!r}: not executable"
        ) from e


def _patterns(args) -> dict[str, list[str]]:
    """Split name -> its patterns, local ones made absolute."""
    from pipeline import errors
    from pipeline.io import files

    patterns: dict[str, list[str]] = {}
    for pattern in args.data:
        patterns.setdefault("train", []).append(files.absolute(pattern))
    for item in args.split:
        name, sep, pattern = item.partition("=")
        if not sep or not pattern or not _SPLIT_NAME.match(name):
            raise errors.InputError(
                f"--split {item!r}: expected NAME=PATTERN with NAME of letters, "
                "digits, '_', '-' or '.'"
            )
        patterns.setdefault(name, []).append(files.absolute(pattern))
    return patterns


def _run_validation(args, beam_args, patterns, models):
    from pipeline import errors, output, progress, publish, validate
    from pipeline.io import files
    from pipeline.stats import tally

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
        junit_xml=args.junit_xml,
    )
    folder = output.OutputFolder(args.output)
    written = [folder.join(name) for name in publish.declared(request)]
    written.append(folder.join(output.STAGING, "labels-0-0.npz"))
    for split, globs in patterns.items():
        for pattern in globs:
            hit = next((p for p in written if files.matches(pattern, p)), None)
            if hit:
                raise errors.InputError(
                    f"--output {args.output} lies inside the data: split '{split}' "
                    f"pattern {pattern} would match {hit}; write the outputs "
                    "elsewhere"
                )
    # Beam's SDK workers print a failing bundle's traceback to stderr, worker
    # processes included; classgate reports the error itself, as one line.
    with _quiet_stderr(args.debug):
        outcome = validate.run(request)
    progress.finish()
    if outcome.status not in ("dry-run", "submitted"):
        _announce(outcome, args.output)
    return outcome


def _announce(outcome, output_path: str) -> None:
    """The verdict on stdout, and in a GitHub Actions step summary."""
    from pipeline.checks.anomaly import Severity
    from pipeline.report import markdown

    counts = {s: sum(a.severity == s for a in outcome.anomalies) for s in Severity}
    print(
        f"classgate: {outcome.status.upper()}: {counts[Severity.ERROR]} error(s), "
        f"{counts[Severity.WARNING]} warning(s); report in {output_path}/report.md"
    )
    ordered = sorted(outcome.anomalies, key=lambda a: a.severity != Severity.ERROR)
    for anomaly in ordered:
        print("  " + anomaly.line())
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(markdown.render(outcome.report) + "\n")


def _beam_options(leftovers: list[str]) -> list[str]:
    """The leftovers, checked to be Beam pipeline options, every word of them."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from pipeline import errors

    parsers = []
    options = PipelineOptions(list(leftovers))
    options.get_all_options(add_extra_args_fn=parsers.append)
    _, unknown = parsers[0].parse_known_args(list(leftovers))
    for word in unknown:
        if not word.startswith("-"):
            raise errors.InputError(
                f"unexpected argument {word!r}: if the shell expanded a glob into "
                "many files, quote the pattern (--data 'data/*.tfrecord') so that "
                "classgate matches it, every file included"
            )
        raise errors.InputError(
            f"unknown option {word.split('=')[0]} (neither a classgate nor a Beam "
            "option)"
        )
    runner = options.view_as(StandardOptions).runner
    if runner is not None:
        from apache_beam.runners import runner as runners

        try:
            runners.create_runner(runner)
        except (ValueError, ImportError, AttributeError) as e:
            raise errors.InputError(
                f"--runner {runner}: not a Beam runner ({_first_line(e)[:120]})"
            ) from e
    return list(leftovers)


def _no_leftovers(command: str, leftovers) -> None:
    from pipeline import errors

    if leftovers:
        raise errors.InputError(
            f"{command}: unexpected argument {leftovers[0]!r} (it takes no Beam "
            "options; `run` takes its command after --)"
        )


@contextlib.contextmanager
def _quiet_stderr(debug: bool):
    """Silences stderr, the file descriptor too, unless --debug asks for it all.

    Beam's worker processes (multi_processing) inherit descriptor 2 and print a
    failing bundle's traceback there; classgate reports the error itself, once.
    """
    if debug:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM stops training as Ctrl-C does: after saving a checkpoint and model.

    CI cancelling a job and Kubernetes stopping a pod send SIGTERM.
    """

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
