"""`classgate ci github|gitlab`: the gate step of the CI templates, one tested program.

The GitHub action (action.yml) and the GitLab include (deploy/gitlab/classgate.yml)
run this instead of shell of their own. It reads the step's inputs from the
environment, runs `classgate validate`, turns its exit code into a verdict only
when the gate opens on the report it wrote (a dry run or a submitted job exits 0
with none), and hands the verdict to the jobs that follow:

- GitHub: step outputs `verdict`, `exit-code` and `output` in $GITHUB_OUTPUT, and
  an annotation per finding (`::error file=CONFIG,title=CODE::...`).
- GitLab: CLASSGATE_VERDICT and CLASSGATE_EXIT_CODE in a dotenv report.

Inputs are data, never script text: the templates pass them as environment
variables, and nothing here hands them to a shell. Patterns and configs are split
at whitespace and never expanded (globs are classgate's to match); further
arguments (`beam-options`) are split as a POSIX shell splits words, with nothing
expanded, and unbalanced quotes are refused. No input adds a line to a step's
outputs: each is written in GitHub's NAME<<DELIMITER form with a random delimiter.
An output folder whose name holds a line break, or that GitHub's upload step would
read as a pattern, is refused before anything runs. On GitHub, what validate prints
(file and feature names from the data among it) runs with workflow commands
stopped, and the annotations escape what they quote.
"""

import dataclasses
import os
import re
import secrets
import shlex
import sys
from collections.abc import Callable, Mapping

from classgate.cli import arguments

VERDICTS = {arguments.EXIT_PASS: "pass", arguments.EXIT_FAIL: "fail"}  # else "error"
DEFAULT_OUTPUT = "classgate-out"
# Where patterns and configs split: a shell's default IFS, and \r, which a file
# checked out with Windows line endings leaves at the end of a line.
_WHITESPACE = re.compile(r"[ \t\r\n]+")
# A folder name the upload step (actions/upload-artifact's `path`, a list of
# patterns, one a line) would read as more than a folder: a line break adds a
# path, `*`, `?` or `[` make a pattern, a leading `!` excludes, `~` is home.
_NOT_A_FOLDER = re.compile(r"[\r\n]")
_A_PATTERN = re.compile(r"[*?\[]|^[!~]")
_TRUE = ("true", "True", "TRUE")
_SEVERITY_AND_CODE = re.compile(r"^\S+\s+\S+\s+")


class Refused(Exception):
    """An input that cannot be used: exit 2, with this one line."""


@dataclasses.dataclass(frozen=True)
class Inputs:
    """The step's inputs, as text, the way the template passes them."""

    data: str = ""
    splits: str = ""
    model_configs: str = ""
    output: str = DEFAULT_OUTPUT
    labels_only: str = "false"
    beam_options: str = ""


def validate_arguments(inputs: Inputs) -> list[str]:
    """`classgate validate`'s arguments for the inputs; Refused for unusable ones."""
    output = inputs.output or DEFAULT_OUTPUT
    if _NOT_A_FOLDER.search(output):
        raise Refused("the input output holds a line break: name a folder without one")
    if _A_PATTERN.search(output):
        raise Refused(
            "the input output reads as a pattern (*, ?, [, or a leading ! or ~): "
            "name a plain folder"
        )
    argv = ["--output", output, "--junit-xml", f"{output}/junit.xml"]
    for flag, text in (
        ("--data", inputs.data),
        ("--split", inputs.splits),
        ("--model-config", inputs.model_configs),
    ):
        for word in _WHITESPACE.split(text):
            if word:
                argv += [flag, word]
    if inputs.labels_only in _TRUE:
        argv.append("--labels-only")
    try:
        extra = shlex.split(inputs.beam_options)
    except ValueError:
        raise Refused(
            "the input beam-options has unbalanced quotes or a trailing backslash "
            "(it is split as a shell splits words)"
        ) from None
    return argv + extra


@dataclasses.dataclass
class Classgate:
    """What the step runs: `classgate validate`, and the gate on its report.

    The real command by default; the tests of the inputs' and outputs' handling
    give a recording stand-in, as they gave a stand-in executable to the shell
    this module replaced.
    """

    validate: Callable[[list[str]], int]
    passed: Callable[[str], bool]

    @classmethod
    def real(cls) -> "Classgate":
        return cls(validate=_validate, passed=_passed)


def _validate(argv: list[str]) -> int:
    from classgate import cli

    sys.stdout.flush()
    code = cli.main(["validate", *argv])
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _passed(report: str) -> bool:
    """Whether the gate opens on `report` (the output folder's report.json)."""
    from classgate import errors
    from classgate.gate import blessing

    try:
        blessing.check(report)
    except (errors.GateClosed, errors.InputError):
        return False
    return True


def main(platform: str, environ: Mapping[str, str], classgate: Classgate | None = None):
    """Runs the gate step for `platform` ("github" or "gitlab"); the exit code."""
    step = {"github": GitHub, "gitlab": GitLab}[platform](environ)
    classgate = classgate or Classgate.real()
    inputs = step.inputs()
    try:
        argv = validate_arguments(inputs)
    except Refused as refused:
        step.error(str(refused))
        return step.finish(arguments.EXIT_INPUT, None)
    output = inputs.output or DEFAULT_OUTPUT
    with step.quoting():
        code = classgate.validate(argv)
        # Exit 0 is a pass only when the gate opens on the report it wrote: a dry
        # run or a submitted job (--dry_run, --no-wait) exits 0 with no verdict.
        no_verdict = code == arguments.EXIT_PASS and not classgate.passed(
            f"{output}/report.json"
        )
    if no_verdict:
        step.error(
            f"exit 0 but no passing report in {output} (a dry run or --no-wait?): "
            "no verdict"
        )
        code = arguments.EXIT_INPUT
    elif code in (arguments.EXIT_PASS, arguments.EXIT_FAIL):
        step.annotate(output, _configs(inputs))
    return step.finish(code, output)


def _configs(inputs: Inputs) -> list[str]:
    return [w for w in _WHITESPACE.split(inputs.model_configs) if w]


class GitHub:
    """A GitHub Actions step: INPUT_* variables in, $GITHUB_OUTPUT and commands out."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.outputs = environ.get("GITHUB_OUTPUT")
        if not self.outputs:
            from classgate import errors

            raise errors.InputError(
                "ci github: GITHUB_OUTPUT is not set (it runs as a step of a GitHub "
                "Actions job, the action's gate step)"
            )

    def inputs(self) -> Inputs:
        get = self.environ.get
        return Inputs(
            data=get("INPUT_DATA", ""),
            splits=get("INPUT_SPLITS", ""),
            model_configs=get("INPUT_MODEL_CONFIGS", ""),
            output=get("INPUT_OUTPUT", DEFAULT_OUTPUT),
            labels_only=get("INPUT_LABELS_ONLY", "false"),
            beam_options=get("INPUT_BEAM_OPTIONS", ""),
        )

    def error(self, line: str) -> None:
        print(f"::error::classgate: {_escape(line)}", flush=True)

    def quoting(self):
        return _stopped_commands()

    def annotate(self, output: str, configs: list[str]) -> None:
        for line in annotations(output, configs, self.environ.get("GITHUB_WORKSPACE")):
            print(line)
        sys.stdout.flush()

    def finish(self, code: int, output: str | None) -> int:
        with open(self.outputs, "a", encoding="utf-8", errors="surrogateescape") as f:
            f.write(step_output("verdict", VERDICTS.get(code, "error")))
            f.write(step_output("exit-code", str(code)))
            f.write(step_output("output", output or ""))
        return code


class GitLab:
    """A GitLab CI job: CLASSGATE_* variables in, a dotenv report out."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def inputs(self) -> Inputs:
        get = self.environ.get
        return Inputs(
            data=get("CLASSGATE_DATA", ""),
            splits=get("CLASSGATE_SPLITS", ""),
            model_configs=get("CLASSGATE_MODEL_CONFIGS", ""),
            output=get("CLASSGATE_OUTPUT", DEFAULT_OUTPUT),
            labels_only=get("CLASSGATE_LABELS_ONLY", "false"),
            beam_options=get("CLASSGATE_BEAM_OPTIONS", ""),
        )

    def error(self, line: str) -> None:
        print(f"classgate: error: {line}", flush=True)

    def quoting(self):
        import contextlib

        return contextlib.nullcontext()

    def annotate(self, output: str, configs: list[str]) -> None:
        pass  # validate's own lines are the job log's findings

    def finish(self, code: int, output: str | None) -> int:
        # The dotenv report's values are the template's words and digits only.
        path = self.environ.get("CLASSGATE_DOTENV") or "classgate.env"
        with open(path, "w", encoding="utf-8") as f:
            f.write(
                f"CLASSGATE_VERDICT={VERDICTS.get(code, 'error')}\n"
                f"CLASSGATE_EXIT_CODE={code}\n"
            )
        return code


def step_output(name: str, value: str) -> str:
    """One GitHub step output, in its NAME<<DELIMITER form.

    Whatever `value` holds (a line of its own such as `verdict=pass` included), it
    stays the value of `name`.
    """
    delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    if delimiter in value:  # 128 random bits: never, but never silently
        raise RuntimeError(f"the value of output {name} holds its delimiter")
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


class _stopped_commands:
    """GitHub's ::stop-commands::TOKEN ... ::TOKEN:: around what classgate prints.

    A file or feature name in it that reads as a workflow command stays text.
    """

    def __enter__(self):
        self.token = secrets.token_hex(16)
        sys.stdout.flush()
        print(f"::stop-commands::{self.token}", flush=True)

    def __exit__(self, *exc):
        sys.stdout.flush()
        sys.stderr.flush()
        print(f"::{self.token}::", flush=True)


def annotations(output: str, configs: list[str], workspace: str | None) -> list[str]:
    """An annotation (a workflow command) per finding of `output`'s report.

    `::error` for an error, `::warning` for a warning, `::notice` when waived;
    titled with the code, on the config file of the finding's model where the step
    was given that file as a path in the repository.
    """
    from classgate import config, errors
    from classgate.report.model import Report

    try:
        report = Report.load(f"{output}/report.json")
    except errors.InputError:
        return []  # no report (validate said why): nothing to annotate
    files = {}
    for path in configs:
        try:
            for model in config.load([path]):
                files.setdefault(model.name, path)
        except errors.InputError:
            continue
    lines = []
    for anomaly in report.anomalies:
        level = "notice" if anomaly.waived else anomaly.severity.value.lower()
        level = level if level in ("error", "warning") else "notice"
        properties = {"title": anomaly.code}
        path = files.get(anomaly.model) if anomaly.model else None
        if path and (file := _repository_path(path, workspace)):
            properties = {"file": file, **properties}
        listed = ",".join(f"{k}={_escape(v, True)}" for k, v in properties.items())
        # The finding's line without its severity and code (the level and title).
        message = _SEVERITY_AND_CODE.sub("", anomaly.line(), count=1)
        lines.append(f"::{level} {listed}::{_escape(message)}")
    return lines


def _repository_path(path: str, workspace: str | None) -> str | None:
    """`path` as GitHub places an annotation: relative to the repository.

    None for a path elsewhere (gs://, outside the checkout).
    """
    if "://" in path:
        return None
    if not os.path.isabs(path):
        return os.path.normpath(path)
    if workspace:
        relative = os.path.relpath(path, workspace)
        if not relative.startswith(".."):
            return relative
    return None


def _escape(text: str, property: bool = False) -> str:
    """Text as GitHub's runner reads a command's message (or a property's value).

    One line, whatever it holds (@actions/core's escapeData and escapeProperty).
    """
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text
