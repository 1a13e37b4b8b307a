"""Flex Template entry: template parameters -> `classgate validate` flags, no logic.

The launcher runs `python launch.py --name=value ...` with the parameters of
metadata.json and the Dataflow options it adds (--project, --region,
--temp_location, ...). classgate's parameters become its flags (list parameters
are comma-separated, switches are "true"/"false"); everything else passes through
to Beam unchanged.
"""

import sys

REPEATED = ("data", "split", "model_config")  # comma-separated -> repeated flag
VALUES = (
    "format",
    "output",
    "baseline_schema",
    "previous_report",
    "junit_xml",
    "classes_per_range",
    "verdict_by",
)
SWITCHES = (
    "labels_only",
    "strict",
    "quiet",
)  # "true" -> the flag, anything else -> none


def to_cli(args: list[str]) -> list[str]:
    """The `classgate` argv for the launcher's arguments."""
    # The launcher does not wait for the job: its last stage writes the verdict.
    argv = ["validate", "--no-wait"]
    for arg in args:
        name, _, value = arg.removeprefix("--").partition("=")
        flag = "--" + name.replace("_", "-")
        if name in REPEATED:
            argv += [x for item in value.split(",") if item for x in (flag, item)]
        elif name in VALUES:
            argv += [flag, value] if value else []
        elif name in SWITCHES:
            argv += [flag] if value.lower() == "true" else []
        else:
            argv.append(arg)
    return argv


if __name__ == "__main__":
    from classgate import cli

    sys.exit(cli.main(to_cli(sys.argv[1:])))
