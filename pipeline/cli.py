"""The `classgate` command line: main(argv) -> exit code.

classgate's own flags are parsed here; every argument it does not know is a Beam
pipeline option (--runner, --direct_num_workers, Dataflow flags) and is passed
through, after checking that Beam knows it, so a typo is an error, not a no-op.

Exit codes: 0 pass, 1 validation failed, 2 nothing could be validated.
"""

import argparse
import logging
import os
import re
import sys
import traceback
import warnings

EXIT_PASS, EXIT_FAIL, EXIT_INPUT = 0, 1, 2
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors get exit code 2 our way."""

    def error(self, message):
        from pipeline import errors

        raise errors.InputError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="classgate",
        description="Check training data against NCE model configs before training.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    validate = commands.add_parser(
        "validate",
        help="scan the data, check it against the model configs, write the report",
        description="Unknown arguments are passed to Beam as pipeline options.",
        allow_abbrev=False,
    )
    validate.add_argument(
        "--data", action="append", default=[], metavar="PATTERN",
        help="file glob of the train split (repeatable)",
    )
    validate.add_argument(
        "--split", action="append", default=[], metavar="NAME=PATTERN",
        help="file glob of a named split (repeatable)",
    )
    validate.add_argument("--format", choices=("auto", "tfrecord", "parquet"),
                          default="auto", help="default: .parquet -> Parquet, else TFRecord")
    validate.add_argument("--model-config", action="append", default=[], metavar="FILE",
                          required=True, help="YAML model config (repeatable)")
    validate.add_argument("--output", required=True, metavar="DIR",
                          help="folder for the report, schema, anomalies and statistics")
    validate.add_argument("--labels-only", action="store_true",
                          help="compute only what the label checks need")
    validate.add_argument("--baseline-schema", metavar="FILE",
                          help="a curated TFDV schema to validate against as well")
    validate.add_argument("--strict", action="store_true",
                          help="warnings fail the gate too")
    validate.add_argument("--debug", action="store_true",
                          help="show tracebacks and Beam's logs")
    return parser


def main(argv=None) -> int:
    """Runs classgate; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _quiet_libraries(debug="--debug" in argv)
    from pipeline import errors

    try:
        args, beam_args = _parser().parse_known_args(argv)
        return _validate(args, beam_args)
    except Exception as error:  # the one place every failure turns into an exit code
        found = errors.find_input_error(error)
        if "--debug" in argv:
            traceback.print_exc()
        message = found.message if found else f"internal error: {_first_line(error)}"
        hint = "" if "--debug" in argv else " (--debug shows the traceback)"
        print(f"classgate: error: {message}{hint if not found else ''}", file=sys.stderr)
        return EXIT_INPUT


def entry_point() -> None:
    sys.exit(main())


def _validate(args, beam_args) -> int:
    from pipeline import config, errors, validate
    from pipeline.io import files

    _check_beam_args(beam_args)
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
    if not patterns:
        raise errors.InputError("no data given: pass --data PATTERN or --split NAME=PATTERN")

    models = config.load(args.model_config)
    splits = tuple(
        files.list_split(name, tuple(globs), args.format) for name, globs in patterns.items()
    )
    request = validate.Request(
        splits=splits,
        models=models,
        output=args.output,
        labels_only=args.labels_only,
        baseline_schema=args.baseline_schema,
        strict=args.strict,
        beam_args=tuple(beam_args),
    )
    outcome = validate.run(request)
    if outcome.status == "dry-run":
        print("classgate: dry run: the pipeline was translated; nothing was validated")
        return EXIT_PASS
    _print_verdict(outcome, args.output)
    return EXIT_PASS if outcome.status == "pass" else EXIT_FAIL


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
    for name in ("apache_beam", "tensorflow", "absl", "tensorflow_data_validation"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
