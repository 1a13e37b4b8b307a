"""deploy/: the Flex Template names every flag and translates; CI files are sound."""

import argparse
import importlib.util
import json
import pathlib
import re

import pytest
import yaml

from classgate import cli

from workspace import DATAFLOW

DEPLOY = pathlib.Path(__file__).resolve().parents[1] / "deploy"
# Flags a template cannot use: help, and tracebacks on the launcher's console;
# no_wait, which the launcher always passes.
NOT_PARAMETERS = {"help", "debug", "no_wait"}


@pytest.fixture(scope="module")
def launch():
    """deploy/dataflow/launch.py as a module (it is a file, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "launch", DEPLOY / "dataflow" / "launch.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def validate_actions() -> dict[str, argparse.Action]:
    """`classgate validate`'s flags by dest, straight from the CLI's parser."""
    (commands,) = [
        a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction)
    ]
    return {
        a.dest: a
        for a in commands.choices["validate"]._actions
        if a.option_strings and a.dest not in NOT_PARAMETERS
    }


def metadata() -> dict:
    return json.loads((DEPLOY / "dataflow" / "metadata.json").read_text())


def test_metadata_has_a_parameter_for_every_validate_flag():
    names = [p["name"] for p in metadata()["parameters"]]
    assert len(names) == len(set(names))
    assert set(names) == set(validate_actions()), (
        "every `classgate validate` flag needs a parameter in "
        "deploy/dataflow/metadata.json and a mapping in deploy/dataflow/launch.py"
    )
    for parameter in metadata()["parameters"]:
        assert parameter["label"] and parameter["helpText"]
        assert parameter["isOptional"] == (
            not validate_actions()[parameter["name"]].required
        )
        for regex in parameter.get("regexes", []):
            re.compile(regex)


def test_launch_maps_each_flag_by_its_kind(launch):
    for dest, action in validate_actions().items():
        if isinstance(action, argparse._StoreTrueAction):
            assert dest in launch.SWITCHES
        elif isinstance(action, argparse._AppendAction):
            assert dest in launch.REPEATED
        else:
            assert dest in launch.VALUES


def test_launch_turns_parameters_into_classgate_flags(launch):
    argv = launch.to_cli(
        [
            "--data=gs://my-bucket/a-*,gs://my-bucket/b-*",
            "--split=eval=gs://my-bucket/eval-*",
            "--model_config=/template/m.yaml",
            "--output=gs://my-bucket/out",
            "--format=tfrecord",
            "--labels_only=true",
            "--strict=false",
            "--baseline_schema=",
            "--project=my-project",
            "--temp_location=gs://my-bucket/tmp",
        ]
    )
    assert argv == [
        *("validate", "--no-wait"),  # the launcher does not wait for the job
        *("--data", "gs://my-bucket/a-*", "--data", "gs://my-bucket/b-*"),
        *("--split", "eval=gs://my-bucket/eval-*"),
        *("--model-config", "/template/m.yaml"),
        *("--output", "gs://my-bucket/out"),
        *("--format", "tfrecord"),
        "--labels-only",
        "--project=my-project",
        "--temp_location=gs://my-bucket/tmp",
    ]


def test_template_arguments_translate_for_dataflow(ws, launch, capsys):
    train, evaluation = ws.labels([0, 1, 2]), ws.labels([2, 1], name="eval")
    parameters = [
        f"--data={train}",
        f"--split=eval={evaluation}",
        f"--model_config={ws.model(3)}",
        f"--output={ws.root / 'out'}",
        "--format=auto",
        "--labels_only=true",
        "--strict=true",
    ]
    assert cli.main(launch.to_cli(parameters) + DATAFLOW) == 0
    assert "dry run" in capsys.readouterr().out


def test_dockerfile_matches_the_lock_and_the_entry():
    dockerfile = (DEPLOY / "dataflow" / "Dockerfile").read_text()
    lock = (DEPLOY.parent / "requirements.lock").read_text()
    (beam,) = re.findall(r"^apache-beam==(\S+)$", lock, re.M)
    assert f"FROM apache/beam_python3.11_sdk:{beam}\n" in dockerfile
    (entry,) = re.findall(
        r'FLEX_TEMPLATE_PYTHON_PY_FILE="\$\{WORKDIR\}/(\S+)"', dockerfile
    )
    assert (DEPLOY.parent / entry).is_file()
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert (DEPLOY.parent / path).exists(), path


def test_github_workflow_gates_training_and_keeps_the_reports():
    workflow = yaml.safe_load((DEPLOY / "ci" / "github-actions.yml").read_text())
    jobs = workflow["jobs"]
    assert jobs["train"]["needs"] == "validate"
    steps = jobs["validate"]["steps"]
    gate = [s for s in steps if "classgate validate" in s.get("run", "")]
    assert len(gate) == 1 and "--junit-xml" in gate[0]["run"]
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-")]
    assert any(
        "report.html" in s["with"]["path"] and "junit.xml" in s["with"]["path"]
        for s in uploads
    )
    assert all(s.get("if") == "always()" for s in uploads)
    training = " ".join(s.get("run", "") for s in jobs["train"]["steps"])
    assert "classgate train --report" in training.replace("\n", " ")


def test_gitlab_pipeline_reports_junit():
    pipeline = yaml.safe_load((DEPLOY / "ci" / "gitlab-ci.yml").read_text())
    artifacts = pipeline["validate"]["artifacts"]
    assert artifacts["reports"]["junit"] == "out/junit.xml"
    assert "out/report.html" in artifacts["paths"] and artifacts["when"] == "always"
    assert pipeline["train"]["needs"] == ["validate"]
