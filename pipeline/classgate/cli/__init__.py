"""The `classgate` command line: main(argv) -> exit code.

    classgate validate ...            scan, check, report
    classgate conclude --output DIR   the report of a `validate --no-wait` job
    classgate train ...               validate (or reuse --report), train only on a pass
    classgate run --report R -- CMD   start any trainer, only on a matching pass
    classgate check-config FILE...    the checks that need no data (pre-commit)
    classgate index PREFIX            one page listing the runs of a history folder
    classgate ci github|gitlab        the CI templates' gate step (classgate.cli.ci)

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

import atexit
import gc
import logging
import os
import sys
import threading
import traceback

from classgate import quiet
from classgate.cli import arguments


def main(argv=None) -> int:
    """Runs classgate; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command, dashes = [], "--" in argv
    if dashes:  # `run`: everything after -- is the trainer's argv
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    debug = "--debug" in argv
    quiet.command_line(debug)
    _log_to_stdout()
    from classgate import errors
    from classgate.cli import commands

    try:
        args, leftovers = arguments.parser().parse_known_args(argv)
        global _command
        _command = args.command
        if dashes and args.command != "run":
            raise errors.InputError(
                f"{args.command}: '--' is for `classgate run` (what follows it is "
                "the command to start)"
            )
        if args.command == "validate":
            return commands.validate(args, _beam_options(leftovers, "validate"))
        if args.command == "train":
            return commands.train(args, _beam_options(leftovers, "train"))
        arguments.no_leftovers(args.command, leftovers)
        if args.command == "conclude":
            return commands.conclude(args)
        if args.command == "check-config":
            return commands.check_config(args)
        if args.command == "index":
            return commands.index(args)
        if args.command == "ci":
            from classgate.cli import ci

            return ci.main(args.platform, os.environ)
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
        if _needs_full_install(error):
            print(
                "classgate: error: this command needs Apache Beam, TensorFlow and "
                f"TFDV ({error}): classgate-core alone runs check-config; "
                "`pip install classgate` installs the rest",
                file=sys.stderr,
            )
            return arguments.EXIT_INPUT
        hint = "" if debug else "; --debug shows the traceback"
        print(
            f"classgate: internal error: {_described(error)} (a classgate defect: "
            f"please report it{hint})",
            file=sys.stderr,
        )
        return arguments.EXIT_BUG


# The command `main` ran last (None before one is parsed), for entry_point.
_command: str | None = None
# Commands whose process has nothing left to finish once main returns: the
# interpreter's own teardown is skipped for them (`exit_without_teardown`). Not
# `train`, whose TensorFlow may hold writers its teardown closes, nor `run`.
_NOTHING_AFTER = frozenset({"validate", "conclude", "check-config", "index", "ci"})


# Whether main runs in a process of its own (the console script, `python -m
# classgate`), not in a caller's that may run it many times. There, importing
# Beam (about 300,000 objects that live as long as the process) runs without the
# cyclic garbage collector, and those objects are then frozen out of its sight:
# it went through all of them while they loaded and on each full collection
# after, about 0.3 s of a 2 s validation. A caller's process keeps its
# collector as it was: what a freeze holds is never collected, and cyclic
# garbage of its earlier calls would be frozen too.
_process_of_its_own = False


def entry_point() -> None:
    global _process_of_its_own
    _process_of_its_own = True
    code = main()
    if _command in _NOTHING_AFTER:
        exit_without_teardown(code)
    sys.exit(code)


def exit_without_teardown(code: int) -> None:
    """Exits with `code` after what exit would run, skipping the interpreter's teardown.

    Freeing the modules Beam, TFDV and numba load takes about 0.45 s of a 3 s
    validation, for nothing: the outputs are written and closed by then. What
    exit runs before that teardown still runs: streams and log handlers flushed,
    atexit's functions (weakref finalizers: temporary folders) called. A thread
    still running (not a daemon) is waited for by a normal exit instead, and so is
    a process under a profiler or tracer (`python -m cProfile`, a debugger),
    whose output is written after main returns.
    """
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    if any(
        not t.daemon for t in threading.enumerate() if t is not threading.main_thread()
    ):
        sys.exit(code)
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone (a closed pipe), or closed
            code = code or 120  # what Python's exit gives a failed flush
    os._exit(code)


def _beam_options(leftovers: list[str], command: str) -> list[str]:
    if not _process_of_its_own:
        from classgate.run import job
    else:  # Beam's modules, as long-lived as the process: out of the collector's way
        gc.disable()
        try:
            from classgate.run import job
        finally:
            gc.freeze()
            gc.enable()
    return job.beam_arguments(leftovers, arguments.flags_of(command))


class _Stdout(logging.Handler):
    """Log lines on whatever sys.stdout is when each is written, message only."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), flush=True)


def _log_to_stdout() -> None:
    """The library's progress lines on stdout, as plain lines, as ever shown.

    Logger "classgate" (a training's start and epochs): a library logs them, the
    command line shows them.
    """
    logger = logging.getLogger("classgate")
    if not any(isinstance(h, _Stdout) for h in logger.handlers):
        logger.addHandler(_Stdout())
    logger.setLevel(logging.INFO)
    logger.propagate = False  # not again through a handler a library put on root


# What the `full` extra brings (pyproject.toml): classgate-core runs without them.
_FULL_INSTALL = (
    "apache_beam",
    "google.protobuf",
    "tensorflow",
    "tensorflow_data_validation",
    "tensorflow_metadata",
    "tfx_bsl",
)


def _needs_full_install(error: BaseException) -> bool:
    """A module of the full install missing (a classgate-core install)."""
    name = getattr(error, "name", None) or ""
    return isinstance(error, ModuleNotFoundError) and any(
        name == m or name.startswith(m + ".") or m.startswith(name + ".")
        for m in _FULL_INSTALL
    )


def _described(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
