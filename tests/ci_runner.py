"""How GitHub's runner reads what a step leaves: $GITHUB_OUTPUT and workflow commands.

Shared by tests/cli/test_ci.py (classgate.cli.ci in-process) and
tests/deploy/test_ci_templates.py (the templates' steps run as a runner runs them).
Written from the runner's documented file and command formats, not from classgate's
code, so that a test compares classgate's writing with an independent reading.
"""

import re

# The escapes of a command's message and of its properties' values (the runner's
# ActionCommand unescaping, the reverse of @actions/core's escapeData/Property).
_UNESCAPE = {"%25": "%", "%0D": "\r", "%0A": "\n", "%3A": ":", "%2C": ","}


def github_outputs(text: str) -> list[tuple[str, str]]:
    """$GITHUB_OUTPUT as GitHub's runner reads it (its file commands; a line ends at
    \\n): NAME=VALUE, or NAME<<DELIMITER, the value's lines, then DELIMITER alone."""
    pairs, lines = [], text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    at = 0
    while at < len(lines):
        line = lines[at]
        at += 1
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            pairs.append(tuple(line.split("=", 1)))
            continue
        assert heredoc > 0, f"GitHub refuses the line {line!r}"
        name, delimiter = line.split("<<", 1)
        value = []
        while lines[at] != delimiter:  # IndexError: "Matching delimiter not found"
            value.append(lines[at])
            at += 1
        at += 1
        pairs.append((name, "\n".join(value)))
    return pairs


def workflow_commands(stdout: str) -> list[str]:
    """The lines of a step's output GitHub's runner takes for workflow commands: a
    line is one where it starts with `::` (leading spaces trimmed), except between
    ::stop-commands::TOKEN and ::TOKEN::. The runner reads lines as .NET does."""
    commands, stopped = [], None
    for line in re.split(r"\r\n|\r|\n", stdout):
        line = line.lstrip()
        if stopped is not None:
            if line == f"::{stopped}::":
                stopped = None
            continue
        if line.startswith("::"):
            commands.append(line)
            if line.startswith("::stop-commands::"):
                stopped = line.removeprefix("::stop-commands::")
    return commands


def read_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the runner parses it: (name, properties, message)."""
    found = re.fullmatch(r"::([\w-]+)(?: ([^:]*))?::(.*)", line, re.S)
    assert found, f"not a workflow command: {line!r}"
    name, listed, message = found.groups()
    properties = {}
    for pair in filter(None, (listed or "").split(",")):
        key, _, value = pair.partition("=")
        properties[key] = _unescape(value)
    return name, properties, _unescape(message)


def _unescape(text: str) -> str:
    return re.sub(r"%(25|0D|0A|3A|2C)", lambda m: _UNESCAPE[m[0]], text)
