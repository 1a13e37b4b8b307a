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
import posixpath
import sys

from classgate.cli import arguments


def validate(args, beam_args) -> int:
    from classgate import config, errors
    from classgate.checks.anomaly import Status

    patterns = _patterns(args)
    if not patterns:
        raise errors.InputError(
            "no data given: pass --data PATTERN or --split NAME=PATTERN"
        )
    outcome = run_validation(args, beam_args, patterns, config.load(args.model_config))
    if outcome.status == Status.DRY_RUN:
        print("classgate: dry run: the pipeline was translated; nothing was validated")
        return arguments.EXIT_PASS
    if outcome.status == Status.SUBMITTED:
        submission = outcome.submission
        if submission.job_id:
            url = submission.console_url()
            print(
                f"classgate: submitted job {submission.job_id}"
                + (f": {url}" if url else "")
            )
        writer = (
            "the job writes the verdict in its last stage; "
            if submission.request.verdict_by == "job"
            else ""
        )
        print(
            f"classgate: submitted; {writer}`classgate conclude --output "
            f"{args.output} --wait` waits for the job and gives the verdict"
        )
        return arguments.EXIT_PASS
    return exit_code(outcome.status)


def exit_code(status) -> int:
    """A verdict's exit code (a checks.anomaly.Status): 0 pass, 1 fail."""
    from classgate.checks.anomaly import Status

    return arguments.EXIT_PASS if status == Status.PASS else arguments.EXIT_FAIL


def conclude(args) -> int:
    from classgate.run import validation

    with _quiet_stderr(args.debug):
        outcome = validation.conclude(args.output, args.junit_xml, args.wait or 0.0)
    announce(outcome, args.output)
    return exit_code(outcome.status)


def check_config(args) -> int:
    """The checks that need no data: a pre-commit hook's, in under a second.

    Each file is checked on its own, as its own validation would read it: two
    configs that name a model alike do not refuse each other (pre-commit passes
    every changed file at once). A line per file; exit 2 when a file cannot be
    read (each named on stderr), else 1 when a file has an error.

    Imports neither Beam, TensorFlow nor TFDV: a checkpoint's shapes come from its
    index file (classgate.model_files.checkpoint_index).
    """
    from classgate import checks, config, errors
    from classgate.checks.anomaly import Severity
    from classgate.model_files import summary

    unreadable = failed = 0
    for path in dict.fromkeys(args.configs):
        try:
            models = config.load([path])
            found = []
            for model in models:
                found.extend(checks.sampler.check(model))
                files = summary.read(model)
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
        return arguments.EXIT_INPUT
    return arguments.EXIT_FAIL if failed else arguments.EXIT_PASS


def index(args) -> int:
    """One page listing every run of a history folder (GX Data Docs' index).

    The runs are those --previous-report reads (outputs.history); each links to
    its report.html, relative to the page where both lie on one filesystem.
    """
    from classgate import errors, names
    from classgate.io import storage
    from classgate.outputs import history
    from classgate.report import index as pages

    prefix = args.prefix
    try:
        found = history.load(prefix)
    except errors.InputError as e:
        said = e.message.replace(f"--previous-report {prefix}", f"index {prefix}", 1)
        said = said.replace("no earlier classgate report", "no classgate report", 1)
        raise errors.InputError(said) from e
    output = args.output or _beside(prefix, "index.html")
    runs = [
        (_link(posixpath.join(run.folder, names.REPORT_HTML), output), run.report)
        for run in found.runs
    ]
    storage.write_atomic(output, pages.render(prefix, runs, found.skipped))
    left_out = f"; {len(found.skipped)} report(s) left out, listed there"
    print(
        f"classgate: index of {len(runs)} run(s) in {output}"
        + (left_out if found.skipped else "")
    )
    return arguments.EXIT_PASS


def _beside(prefix: str, name: str) -> str:
    """`name` in the folder `prefix` names (the folder of a report.json)."""
    folder = prefix.rstrip("/") or "/"
    if folder.endswith(".json"):
        folder = posixpath.dirname(folder) or "."
    return posixpath.join(folder, name)


def _link(target: str, page: str) -> str:
    """`target` as a link from `page`: relative where it can be, else whole.

    Relative where both are local, or where the page's folder holds the target.
    """
    from classgate.io import storage

    if not storage.is_remote(target) and not storage.is_remote(page):
        here = os.path.dirname(os.path.abspath(page))
        relative = os.path.relpath(os.path.abspath(target), here)
        return relative.replace(os.sep, "/")
    folder = posixpath.dirname(page) + "/"
    return target[len(folder) :] if target.startswith(folder) else target


def train(args, beam_args) -> int:
    from classgate import config, errors, names
    from classgate.checks.anomaly import Status
    from classgate.gate import blessing
    from classgate.outputs import folder
    from classgate.training import blessed

    patterns = _patterns(args) or None
    models = config.load(args.model_config) if args.model_config else None
    if args.no_wait:
        raise errors.InputError(
            "train waits for its validation: --no-wait is for validate"
        )
    if args.report:
        arguments.no_leftovers("train --report", beam_args)
        report_path = args.report
    else:
        if patterns is None or models is None:
            raise errors.InputError(
                "train needs --data/--split and --model-config, or --report FILE"
            )
        blessed.trainable(models, args.model)  # before any data is read
        outcome = run_validation(args, beam_args, patterns, models)
        if outcome.status != Status.PASS:
            print("classgate: not training: validation failed", file=sys.stderr)
            return arguments.EXIT_FAIL
        report_path = folder.OutputFolder(args.output).join(names.REPORT)
    opened = blessing.check(report_path, models, patterns)
    model = blessed.trainable(opened.models, args.model)
    blessed.train(
        opened,
        model,
        args.output,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
    )
    print(f"classgate: trained; model and metrics.json in {args.output}")
    return arguments.EXIT_PASS


def run(args, command) -> int:
    from classgate import config, errors
    from classgate.gate import blessing
    from classgate.io import progress
    from classgate.training import supervisor

    if not command:
        raise errors.InputError(
            "run: no command given: classgate run --report R -- CMD"
        )
    models = config.load(args.model_config) if args.model_config else None
    opened = blessing.check(args.report, models)
    # The trainer sees the validated config, not classgate's own worker switches.
    env = {k: v for k, v in os.environ.items() if k != progress.ENABLED}
    env.update(opened.environment())
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
    from classgate.checks.anomaly import Status
    from classgate.io import progress
    from classgate.run import request as requests
    from classgate.run import validation

    request = requests.request(
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
        verdict_by=args.verdict_by,
        junit_xml=args.junit_xml,
    )
    progress.start(
        sum(len(split.files) for split in request.splits),
        sum(split.bytes for split in request.splits),
        args.quiet,
    )
    # Beam's SDK workers print a failing bundle's traceback to stderr, worker
    # processes included; classgate reports the error itself, as one line.
    try:
        with _quiet_stderr(args.debug):
            outcome = validation.run(request)
    finally:
        progress.stop()
    if outcome.status in (Status.PASS, Status.FAIL):
        announce(outcome, args.output)
    return outcome


def announce(outcome, output_path: str) -> None:
    """The verdict on stdout, and in a GitHub Actions step summary."""
    from classgate.checks.anomaly import Severity
    from classgate.report import markdown

    standing = [a for a in outcome.anomalies if a.waived is None]
    counts = {s: sum(a.severity == s for a in standing) for s in Severity}
    waived = len(outcome.anomalies) - len(standing)
    print(
        f"classgate: {outcome.status.upper()}: {counts[Severity.ERROR]} error(s), "
        f"{counts[Severity.WARNING]} warning(s)"
        + (f", {waived} waived" if waived else "")
        + f"; report in {output_path}/report.md"
    )
    ordered = sorted(outcome.anomalies, key=lambda a: a.severity != Severity.ERROR)
    for anomaly in ordered:
        print("  " + anomaly.line())
    reuse = list(outcome.report.reuse.values())
    if any(r.files_reused for r in reuse):
        reused = sum(r.files_reused for r in reuse)
        files = reused + sum(r.files_read for r in reuse)
        taken = sum(r.bytes_reused for r in reuse)
        size = taken + sum(r.bytes_read for r in reuse)
        print(
            f"  reused {reused} of {files} file(s) ({taken} of {size} bytes) "
            "from the previous run: unchanged since it read them"
        )
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
    from classgate.io import progress

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
        with contextlib.redirect_stderr(io.StringIO()), progress.keep_console(saved):
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
