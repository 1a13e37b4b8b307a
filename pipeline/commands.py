"""What each subcommand does, once the command line has been read.

`validate` lists the data, runs the validation and announces the verdict; `train`
validates (or takes --report), opens the gate and trains; `conclude` gives a
submitted run its verdict; `run` starts any trainer behind the gate. Each takes the
parsed arguments and returns an exit code; errors propagate to cli.main, the one
place they turn into exit codes.
"""

import contextlib
import io
import os
import signal
import sys

from classgate import cli

# Written by `train`; cleared only when a new training starts.
TRAINING_OUTPUTS = ("model", "checkpoints", "logs", "metrics.json")


def validate(args, beam_args) -> int:
    from classgate import config, errors

    patterns = _patterns(args)
    if not patterns:
        raise errors.InputError(
            "no data given: pass --data PATTERN or --split NAME=PATTERN"
        )
    outcome = run_validation(args, beam_args, patterns, config.load(args.model_config))
    if outcome.status == "dry-run":
        print("classgate: dry run: the pipeline was translated; nothing was validated")
        return cli.EXIT_PASS
    if outcome.status == "submitted":
        print(
            "classgate: submitted; when the job has finished, run "
            f"`classgate conclude --output {args.output}` for the verdict"
        )
        return cli.EXIT_PASS
    return cli.EXIT_PASS if outcome.status == "pass" else cli.EXIT_FAIL


def conclude(args) -> int:
    from classgate import validation

    with _quiet_stderr(args.debug):
        outcome = validation.conclude(args.output, args.junit_xml)
    announce(outcome, args.output)
    return cli.EXIT_PASS if outcome.status == "pass" else cli.EXIT_FAIL


def check_config(args) -> int:
    """The checks that need no data: a pre-commit hook's, in under a second.

    Each file is checked on its own, as its own validation would read it: two
    configs that name a model alike do not refuse each other (pre-commit passes
    every changed file at once). A line per file; exit 2 when a file cannot be
    read (each named on stderr), else 1 when a file has an error.

    Imports neither Beam, TensorFlow nor TFDV: a checkpoint's shapes come from its
    index file (classgate.checkpoint_index).
    """
    from classgate import checks, config, errors, validation
    from classgate.checks.anomaly import Severity

    unreadable = failed = 0
    for path in dict.fromkeys(args.configs):
        try:
            models = config.load([path])
            found = []
            for model in models:
                found.extend(checks.sampler.check(model))
                files = validation.read_model_files(model)
                found.extend(checks.artifacts.check(model, files))
        except errors.InputError as e:
            unreadable += 1
            named = e.message if e.message.startswith(path) else f"{path}: {e.message}"
            print(f"classgate: error: {named}", file=sys.stderr)
            continue
        errors_found = [a for a in found if a.severity == Severity.ERROR]
        failed += bool(errors_found)
        names = ", ".join(m.name for m in models)
        print(
            f"classgate: check-config {'FAIL' if errors_found else 'PASS'}: {path}: "
            f"{len(models)} model(s) ({names}), {len(errors_found)} error(s), "
            f"{len(found) - len(errors_found)} warning(s)"
        )
        for anomaly in sorted(found, key=lambda a: a.severity != Severity.ERROR):
            print("  " + anomaly.line())
    if unreadable:
        return cli.EXIT_INPUT
    return cli.EXIT_FAIL if failed else cli.EXIT_PASS


def train(args, beam_args) -> int:
    from classgate import config, errors, gate, names, output

    patterns = _patterns(args) or None
    models = config.load(args.model_config) if args.model_config else None
    if args.no_wait:
        raise errors.InputError(
            "train waits for its validation: --no-wait is for validate"
        )
    if args.report:
        cli.no_leftovers("train --report", beam_args)
        report_path = args.report
    else:
        if patterns is None or models is None:
            raise errors.InputError(
                "train needs --data/--split and --model-config, or --report FILE"
            )
        trainable(models, args.model)  # before any data is read
        outcome = run_validation(args, beam_args, patterns, models)
        if outcome.status != "pass":
            print("classgate: not training: validation failed", file=sys.stderr)
            return cli.EXIT_FAIL
        report_path = output.OutputFolder(args.output).join(names.REPORT)
    blessing = gate.check(report_path, models, patterns)
    model = trainable(blessing.models, args.model)
    return _train_model(args, blessing, model)


def trainable(models, wanted: str | None):
    """The model `train` trains: named by --model when several; it needs context ids."""
    from classgate import errors

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
    train_blessed(
        blessing,
        model,
        args.output,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
    )
    print(f"classgate: trained; model and metrics.json in {args.output}")
    return cli.EXIT_PASS


def train_blessed(
    blessing, model, output_path: str, epochs=None, batch_size=None, learning_rate=None
) -> dict:
    """Trains `model` on the blessed files; returns metrics.json's content.

    epochs, batch_size and learning_rate override the config's when not None, and
    are checked as its keys are (CLI and library alike), before anything is touched.
    """
    from classgate import config, output
    from classgate.training import trainer

    settings = config.overridden(
        model, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate
    )
    splits = {s.name: s for s in blessing.splits}
    training = splits.get("train") or blessing.splits[0]
    evaluation = splits.get("eval")
    folder = output.OutputFolder(output_path)
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
            return trainer.train(
                model,
                [f.path for f in training.files],
                [f.path for f in evaluation.files] if evaluation else None,
                training.format,
                folder.path,
                epochs=settings.epochs,
                batch_size=settings.batch_size,
                learning_rate=settings.learning_rate,
            )


def run(args, command) -> int:
    from classgate import config, errors, gate, progress, supervisor

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
    """Split name -> its patterns."""
    from classgate import errors
    from classgate.io import files

    patterns: dict[str, list[str]] = {}
    if args.data:
        patterns["train"] = list(args.data)
    for item in args.split:
        name, sep, pattern = item.partition("=")
        if not sep or not pattern or not files.SPLIT_NAME.match(name):
            raise errors.InputError(
                f"--split {item!r}: expected NAME=PATTERN with NAME of letters, "
                "digits, '_', '-' or '.'"
            )
        patterns.setdefault(name, []).append(pattern)
    return patterns


def run_validation(args, beam_args, patterns, models):
    from classgate import progress, validation

    progress.enable_if_terminal(args.quiet)
    request = validation.request(
        patterns,
        models,
        args.output,
        data_format=args.format,
        class_range_width=args.classes_per_range,
        labels_only=args.labels_only,
        baseline_schema=args.baseline_schema,
        previous_report=args.previous_report,
        strict=args.strict,
        beam_args=tuple(beam_args),
        wait=not args.no_wait,
        junit_xml=args.junit_xml,
    )
    # Beam's SDK workers print a failing bundle's traceback to stderr, worker
    # processes included; classgate reports the error itself, as one line.
    with _quiet_stderr(args.debug):
        outcome = validation.run(request)
    progress.finish()
    if outcome.status not in ("dry-run", "submitted"):
        announce(outcome, args.output)
    return outcome


def announce(outcome, output_path: str) -> None:
    """The verdict on stdout, and in a GitHub Actions step summary."""
    from classgate.checks.anomaly import Severity
    from classgate.report import markdown

    counts = {s: sum(a.severity == s for a in outcome.anomalies) for s in Severity}
    print(
        f"classgate: {outcome.status.upper()}: {counts[Severity.ERROR]} error(s), "
        f"{counts[Severity.WARNING]} warning(s); report in {output_path}/report.md"
    )
    ordered = sorted(outcome.anomalies, key=lambda a: a.severity != Severity.ERROR)
    for anomaly in ordered:
        print("  " + anomaly.line())
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    # A courtesy: the verdict is written and stands whether or not the summary can
    # be (a folder, a read-only or missing one), so a failure here is a warning.
    try:
        with open(summary, "a", encoding="utf-8", errors="backslashreplace") as f:
            f.write(markdown.render(outcome.report) + "\n")
    except OSError as e:
        print(
            f"classgate: warning: GITHUB_STEP_SUMMARY={summary!r}: cannot append "
            f"the step summary: {e.strerror or e}; the verdict stands",
            file=sys.stderr,
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
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only (a library call in a thread)
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
