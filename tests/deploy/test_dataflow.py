"""deploy/dataflow: the Flex Template names every flag and translates.

The CI files are tests/deploy/test_ci_templates.py's.
"""

import argparse
import importlib.util
import json
import pathlib
import re
import xml.etree.ElementTree as ElementTree

import pytest

from classgate import cli, config
from classgate.cli import arguments

from workspace import DATAFLOW

DEPLOY = pathlib.Path(__file__).resolve().parents[2] / "deploy"
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
        a
        for a in arguments.parser()._actions
        if isinstance(a, argparse._SubParsersAction)
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


@pytest.mark.slow
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


def test_dockerfile_installs_the_runtime_only():
    """The image holds what classgate runs on (the runtime lock, kfp included for
    classgate.kfp's components), as `pip install classgate` lays it out, and none of
    the development lock's test tools."""
    dockerfile = (DEPLOY / "dataflow" / "Dockerfile").read_text()
    steps = "\n".join(re.findall(r"^(?:COPY|RUN) .*$", dockerfile, re.M))
    assert "requirements.lock" not in steps
    assert (
        "pip install --no-cache-dir --only-binary pyarrow -r requirements-runtime.lock"
        in steps
    )
    assert re.search(
        r"^RUN pip install .*--no-deps \. \./packaging/classgate$", steps, re.M
    )
    runtime = (DEPLOY.parent / "requirements-runtime.lock").read_text()
    for tool in ("pytest", "ruff", "hypothesis", "torch"):
        assert not re.search(rf"^{tool}==", runtime, re.M | re.I), tool
    assert re.search(r"^kfp==", runtime, re.M)


# Google's ParameterMetadata.paramType values (Dataflow API v1b3).
PARAM_TYPES = {
    "DEFAULT", "TEXT", "GCS_READ_BUCKET", "GCS_WRITE_BUCKET", "GCS_READ_FILE",
    "GCS_WRITE_FILE", "GCS_READ_FOLDER", "GCS_WRITE_FOLDER", "BOOLEAN", "ENUM",
    "NUMBER",
}  # fmt: skip


def test_metadata_parameter_types_suit_each_flag():
    """Switches are check boxes, choices a list, numbers numbers, folders folders."""
    actions = validate_actions()
    for parameter in metadata()["parameters"]:
        action, kind = actions[parameter["name"]], parameter["paramType"]
        assert kind in PARAM_TYPES, parameter["name"]
        if isinstance(action, argparse._StoreTrueAction):
            assert (kind, parameter["defaultValue"]) == ("BOOLEAN", "false")
        elif action.type is not None and action.type.__name__ == "data_format":
            assert kind == "ENUM"
            options = [o["value"] for o in parameter["enumOptions"]]
            assert options == list(config.DATA_FORMATS)
            assert parameter["defaultValue"] == action.default
        elif action.choices:
            assert kind == "ENUM"
            options = [o["value"] for o in parameter["enumOptions"]]
            assert options == list(action.choices)
            assert parameter["defaultValue"] == action.default
        elif action.type is not None and action.type.__name__ == "positive_int":
            assert kind == "NUMBER"
        else:
            assert kind.startswith(("TEXT", "GCS_")), parameter["name"]
    kinds = {p["name"]: p["paramType"] for p in metadata()["parameters"]}
    assert kinds["output"] == "GCS_WRITE_FOLDER"
    assert kinds["junit_xml"] == "GCS_WRITE_FILE"


# A value of each parameter as a template launch on GCS gives it.
SAMPLES = {
    "data": "gs://my-bucket/data/train-*,gs://my-bucket/more/train-*",
    "split": "train=gs://my-bucket/train/*,eval=gs://my-bucket/eval/*",
    "format": "parquet",
    "model_config": "gs://my-bucket/configs/a.yaml,gs://my-bucket/configs/b.yaml",
    "output": "gs://my-bucket/classgate/run-1",
    "labels_only": "true",
    "verdict_by": "job",
    "baseline_schema": "gs://my-bucket/schemas/schema.pbtxt",
    "previous_report": "gs://my-bucket/classgate",
    "strict": "false",
    "junit_xml": "gs://my-bucket/classgate/run-1/junit.xml",
    "quiet": "true",
    "classes_per_range": "65536",
}


def test_metadata_describes_what_classgate_does():
    """Configs are read through Beam's filesystems (gs:// configs:
    tests/io/test_storage.py), so no description may say otherwise, and every GCS
    value passes the regexes."""
    template = metadata()
    assert set(SAMPLES) == {p["name"] for p in template["parameters"]}
    for parameter in template["parameters"]:
        for regex in parameter.get("regexes", []):
            assert re.fullmatch(regex, SAMPLES[parameter["name"]]), parameter["name"]
    texts = [template["description"]] + [p["helpText"] for p in template["parameters"]]
    for text in texts:
        assert "open()" not in text and "not from GCS" not in text, text
    (model_config,) = [p for p in template["parameters"] if p["name"] == "model_config"]
    assert "gs://" in model_config["helpText"]
    for written in ("pending.json", "SchemaDiff.pb", "classgate conclude"):
        assert written in template["description"]


def test_template_junit_xml_reaches_conclude(ws, launch, capsys, monkeypatch):
    """A launch records junit_xml (made absolute: the launcher's working folder is
    not conclude's); the job's last stage writes it with the verdict, or with
    verdict_by=conclude, conclude run elsewhere does."""
    monkeypatch.chdir(ws.root)
    data = ws.labels(list(range(10)) * 3 + [12])
    for verdict_by in ("job", "conclude"):
        monkeypatch.chdir(ws.root)
        parameters = [
            f"--data={data}",
            f"--model_config={ws.model(10)}",
            f"--output=out-{verdict_by}",
            f"--junit_xml=out-{verdict_by}/junit.xml",
            "--labels_only=true",
            f"--verdict_by={verdict_by}",
        ]
        out = ws.root / f"out-{verdict_by}"
        # The DirectRunner runs the job inside run(): the launch has the verdict
        # when the job wrote it.
        code = cli.main(launch.to_cli(parameters))
        if verdict_by == "conclude":
            assert code == 0
            assert (out / "pending.json").exists() and not (out / "junit.xml").exists()
            elsewhere = ws.root / "ci"
            elsewhere.mkdir()
            monkeypatch.chdir(elsewhere)
            assert cli.main(["conclude", "--output", str(out)]) == 1
            assert not (elsewhere / f"out-{verdict_by}").exists()
        else:
            assert code == 1 and not (out / "pending.json").exists()
        suites = ElementTree.parse(out / "junit.xml").getroot()
        failed = [
            case.get("name")
            for case in suites.iter("testcase")
            if case.find("failure") is not None
        ]
        assert failed == ["LABEL_ABOVE_RANGE"], verdict_by


def dockerfile_images() -> list[str]:
    """Every image the Dockerfile pulls: FROM and COPY --from, not its stages."""
    dockerfile = (DEPLOY / "dataflow" / "Dockerfile").read_text()
    stages, images = set(), []
    for line in dockerfile.splitlines():
        found = re.match(r"FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if found:
            if found[1] not in stages:
                images.append(found[1])
            stages.add(found[2])
        images += [
            image
            for image in re.findall(r"^COPY\s+.*--from=(\S+)", line, re.I)
            if image not in stages
        ]
    return images


def test_every_image_the_dockerfile_pulls_is_pinned():
    images = dockerfile_images()
    assert any("python311-template-launcher-base" in i for i in images)
    for image in images:
        name, _, digest = image.partition("@")
        tag = name.rpartition("/")[2].partition(":")[2]
        pinned = re.fullmatch(r"sha256:[0-9a-f]{64}", digest) or (
            tag and tag != "latest"
        )
        assert pinned, f"{image}: pin a tag or a digest, never latest"


def dockerignored(path: str) -> bool:
    """Whether `docker build .` leaves `path` out of the context.

    .dockerignore's rules as Docker applies them (moby/patternmatcher): a pattern
    that matches a folder above the path counts, the last matching pattern
    decides, `**` spans folders, `*` and `?` do not.
    """
    rules = []
    for line in (DEPLOY.parent / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        regex = ""
        for piece in re.split(r"(\*\*/|\*\*|\*|\?|\[[^]]*\])", pattern):
            if piece.startswith("[") and piece.endswith("]"):  # [abc], [^abc]
                inner = piece[1:-1]
                regex += "[" + ("^" + inner[1:] if inner[:1] == "!" else inner) + "]"
                continue
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                piece, re.escape(piece)
            )
        rules.append((exclusion, re.compile(regex)))
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for exclusion, regex in rules:
        if exclusion != ignored:
            continue
        if any(regex.fullmatch(c) for c in candidates):
            ignored = not exclusion
    return ignored


def test_dockerignore_sends_what_the_dockerfile_copies_and_nothing_big():
    dockerfile = (DEPLOY / "dataflow" / "Dockerfile").read_text()
    root = DEPLOY.parent
    copied = []
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for path in source.split():
            here = root / path
            files = [here] if here.is_file() else here.rglob("*")
            copied += [
                f.relative_to(root).as_posix()
                for f in files
                if f.is_file() and "__pycache__" not in f.parts
            ]
    assert (
        "pipeline/classgate/cli/__init__.py" in copied
        and "deploy/dataflow/launch.py" in copied
    )
    for path in copied:
        assert not dockerignored(path), f"{path}: COPY needs it, .dockerignore drops it"
    for path in (
        ".venv",
        ".venv/lib/python3.11/site-packages/numpy/__init__.py",
        ".git/HEAD",
        "data/train-00000.tfrecord",
        "demo-out/report.json",
        "bench-out/x",
        "out/report.json",
        "tests/deploy/test_dataflow.py",
        ".pytest_cache/README.md",
        ".hypothesis/examples/x",
        "pipeline/__pycache__/cli.cpython-311.pyc",
        "pipeline/stray.pyc",
        "deploy/dataflow/README.md",
    ):
        assert dockerignored(path), f"{path} would be sent to the Docker build"
