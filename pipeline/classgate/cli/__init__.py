"""The `classgate` command line: main(argv) -> exit code.

    classgate validate ...            scan, check, report
    classgate conclude --output DIR   the report of a `validate --no-wait` job
    classgate train ...               validate (or reuse --report), train only on a pass
    classgate run --report R -- CMD   start any trainer, only on a matching pass
    classgate check-config FILE...    the checks that need no data (pre-commit)

classgate's own flags are parsed by classgate.arguments; every argument it does not
know must be a Beam pipeline option (--runner, --direct_num_workers, Dataflow flags)
and is passed through. Every word is accounted for: an unknown option is an error,
not a no-op, and so is a stray word (an unquoted glob that the shell expanded into
many files would otherwise have all but its first file dropped). `--` means
something only to `run`: what follows it is the command.

Exit codes: 0 pass, 1 validation failed or the gate refused, 2 nothing could be
validated (bad input, named in one line), 3 a defect of classgate itself (please
report it), 130 interrupted; `run` exits with its command's code.
"""

import logging
import os
import sys
import traceback
import warnings

from classgate.cli import arguments


def main(argv=None) -> int:
    """Runs classgate; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command, dashes = [], "--" in argv
    if dashes:  # `run`: everything after -- is the trainer's argv
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    debug = "--debug" in argv
    _quiet_libraries(debug)
    from classgate import errors
    from classgate.cli import commands

    try:
        args, leftovers = arguments.parser().parse_known_args(argv)
        if dashes and args.command != "run":
            raise errors.InputError(
                f"{args.command}: '--' is for `classgate run` (what follows it is "
                "the command to start)"
            )
        if args.command == "validate":
            return commands.validate(args, _beam_options(leftovers))
        if args.command == "train":
            return commands.train(args, _beam_options(leftovers))
        arguments.no_leftovers(args.command, leftovers)
        if args.command == "conclude":
            return commands.conclude(args)
        if args.command == "check-config":
            return commands.check_config(args)
        return commands.run(args, command)
    except errors.GateClosed as closed:
        print(f"classgate: gate closed: {closed}", file=sys.stderr)
        return arguments.EXIT_FAIL
    except KeyboardInterrupt:
        print("classgate: interrupted", file=sys.stderr)
        return arguments.EXIT_INTERRUPTED
    except Exception as error:  # the one place every failure turns into an exit code
        found = errors.find_input_error(error)
        if debug:
            traceback.print_exc()
        if found:
            print(f"classgate: error: {found.message}", file=sys.stderr)
            return arguments.EXIT_INPUT
        hint = "" if debug else "; --debug shows the traceback"
        print(
            f"classgate: internal error: {_described(error)} (a classgate defect: "
            f"please report it{hint})",
            file=sys.stderr,
        )
        return arguments.EXIT_BUG


def entry_point() -> None:
    sys.exit(main())


def _beam_options(leftovers: list[str]) -> list[str]:
    from classgate.run import job

    return job.beam_arguments(leftovers)


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
