"""The installable package: what `make dist` builds works outside this repository.

Two distributions share the package: classgate-core (the root: the package and the
light dependencies check-config imports, what the pre-commit hook installs) and
`classgate` (packaging/classgate: the core with Beam, TensorFlow and TFDV). Both
wheels are built and installed into a fresh virtual environment in a folder of its
own (the runtime lock as constraints, as the guide says), and used from another
directory as a user would: the command on TFX's taxi data, and `import classgate`
in Python; the core alone goes into another one and runs check-config, and nothing
more. requirements-runtime.lock is held to requirements.lock and to what the install
takes.
"""

import ast
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import tomllib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCE = ROOT / "pipeline" / "classgate"
THIN = ROOT / "packaging" / "classgate"
CORE = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# The core's extras a user installs (`dev` is this repository's tools).
USER_EXTRAS = ("full", "hydra", "gin", "kfp")
# Imported by no module of check-config's path: what the core must not pull in.
HEAVY = (
    "apache_beam",
    "tensorflow",
    "tensorflow_data_validation",
    "tensorflow_metadata",
    "tfx_bsl",
    "kfp",
)


def _load_runtime_lock():
    """packaging/runtime_lock.py, the runtime lock's generator, as a module (the
    folder is no package: `packaging` is also the library it imports)."""
    spec = importlib.util.spec_from_file_location(
        "classgate_runtime_lock", ROOT / "packaging" / "runtime_lock.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runtime_lock = _load_runtime_lock()


def _imported_modules() -> set[str]:
    """Top-level modules the installed package's code imports."""
    found = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"classgate"}


def _requirement_name(requirement: str) -> str:
    return (
        re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
    )


def test_every_imported_module_is_a_declared_dependency():
    declared = {
        _requirement_name(r)
        for r in CORE["dependencies"]
        + [r for extra in USER_EXTRAS for r in CORE["optional-dependencies"][extra]]
    }
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for module in _imported_modules():
        names = {n.lower().replace("_", "-") for n in providers.get(module, [])}
        assert names, f"{module}: no installed distribution provides it"
        if not names & declared:
            missing[module] = sorted(names)
    assert missing == {}, f"imported but not declared in pyproject: {missing}"


def test_check_config_imports_nothing_of_the_full_install(tmp_path):
    """The pre-commit hook installs the core alone: check-config, on a config with a
    vocabulary and a trainer's file, loads no module of the `full` extra or kfp
    (test_the_core_alone_checks_configs... runs it where they are absent)."""
    (tmp_path / "vocab.txt").write_text("".join(f"w{i}\n" for i in range(10)))
    (tmp_path / "trainer.yaml").write_text("head:\n  classes: 10\n")
    (tmp_path / "model.yaml").write_text(
        "name: m\nlabel_feature: word\nvocabulary_file: vocab.txt\n"
        "num_classes: {from: trainer.yaml, key: head.classes}\n"
    )
    probe = (
        "import sys\n"
        "from classgate import cli\n"
        "code = cli.main(['check-config', 'model.yaml'])\n"
        "print(code, sorted(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    code, loaded = done.stdout.splitlines()[-1].split(" ", 1)
    assert code == "0", done.stdout + done.stderr
    loaded = set(ast.literal_eval(loaded))
    assert not set(HEAVY) & {name.split(".")[0] for name in loaded}
    assert "google.protobuf" not in loaded


def test_the_two_distributions_agree():
    """`classgate` is classgate-core[full] at the same version, under the same
    license (an SPDX expression: setuptools>=77 builds both)."""
    thin = tomllib.loads((THIN / "pyproject.toml").read_text())
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert (CORE["name"], thin["project"]["name"]) == ("classgate-core", "classgate")
    assert thin["project"]["version"] == CORE["version"]
    assert thin["project"]["dependencies"] == [
        f"classgate-core[full]=={CORE['version']}"
    ]
    for extra, requirements in thin["project"]["optional-dependencies"].items():
        assert extra in CORE["optional-dependencies"]
        assert requirements == [f"classgate-core[{extra}]=={CORE['version']}"]
    for project, build in ((CORE, root), (thin["project"], thin)):
        assert project["license"] == "Apache-2.0"
        assert project["requires-python"] == CORE["requires-python"]
        assert build["build-system"]["requires"] == ["setuptools>=77"]


def test_every_runtime_pin_is_the_locks():
    runtime = runtime_lock.lock_pins((ROOT / "requirements-runtime.lock").read_text())
    lock = runtime_lock.lock_pins((ROOT / "requirements.lock").read_text())
    assert runtime, "requirements-runtime.lock pins nothing"
    for name, (_, version) in runtime.items():
        assert name in lock, f"{name}: in the runtime lock, not in requirements.lock"
        assert version == lock[name][1], (
            f"{name}: {version} != the lock's {lock[name][1]}"
        )
    # Not the development set: none of its tools, nor what only they need.
    for tool in ("pytest", "ruff", "hypothesis", "import-linter", "torch", "duckdb"):
        assert tool not in runtime, tool


def test_the_runtime_lock_is_fresh():
    """The file is what `make lock-runtime` writes from requirements.lock now."""
    lock = runtime_lock.lock_pins((ROOT / "requirements.lock").read_text())
    expected = runtime_lock.render(lock, runtime_lock.closure(lock))
    assert (ROOT / "requirements-runtime.lock").read_text() == expected, (
        "requirements-runtime.lock is stale: make lock-runtime"
    )


# Paths of a user's repository, and whether the hook's default `files` takes them.
HOOK_PATHS = {
    "model.yaml": True,
    "configs/model.yaml": True,
    "configs/model-large.yml": True,
    "models/model_v2.yaml": True,
    "classgate.yaml": True,
    "ml/classgate-prod.yml": True,
    ".github/workflows/ci.yml": False,
    ".github/workflows/model.yml": False,
    ".gitlab-ci.yml": False,
    "docker-compose.yml": False,
    "conf/model/resnet.yaml": False,  # a Hydra config group
    "mkdocs.yml": False,
    "model.yaml.bak": False,
    "my-model.yaml": False,
}


def test_the_hook_takes_model_configs_only():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    # pre-commit: re.search of `files`, then not of `exclude`; `types` checked too.
    taken = {
        path: bool(re.search(hook["files"], path))
        and not re.search(hook.get("exclude", "^$"), path)
        for path in HOOK_PATHS
    }
    assert taken == HOOK_PATHS
    assert hook["types"] == ["yaml"] and hook["language"] == "python"


def test_every_source_folder_is_a_package():
    """The wheel takes what setuptools finds below pipeline/: a folder of modules
    without __init__.py would be left out of it."""
    folders = {p.parent for p in SOURCE.rglob("*.py") if "__pycache__" not in p.parts}
    assert {f for f in folders if not (f / "__init__.py").exists()} == set()


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, pathlib.Path]:
    """{"core": classgate-core's wheel, "thin": classgate's}, as `make dist` builds."""
    out = tmp_path_factory.mktemp("dist")
    # As `make dist` builds: the sdist, then the wheel from the sdist (never from a
    # stale build/ folder of the checkout).
    for folder in (ROOT, THIN):
        subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(out), str(folder)],
            check=True,
            capture_output=True,
            timeout=600,
        )
    assert len(list(out.glob("classgate_core-*.tar.gz"))) == 1
    assert len(list(out.glob("classgate-*.tar.gz"))) == 1
    (core,) = out.glob("classgate_core-*.whl")
    (thin,) = out.glob("classgate-*.whl")
    return {"core": core, "thin": thin}


@pytest.mark.slow
def test_the_wheels_hold_classgate_not_pipeline(wheels):
    import zipfile

    thin = zipfile.ZipFile(wheels["thin"]).namelist()
    assert [n for n in thin if not n.startswith("classgate-0")] == []  # no code
    metadata = zipfile.ZipFile(wheels["thin"]).read(
        next(n for n in thin if n.endswith("/METADATA"))
    )
    assert f"Requires-Dist: classgate-core[full]=={CORE['version']}" in (
        metadata.decode()
    )
    assert "License-Expression: Apache-2.0" in metadata.decode()
    wheel = wheels["core"]
    names = zipfile.ZipFile(wheel).namelist()
    modules = {n for n in names if n.endswith(".py")}
    expected = {"classgate/" + str(p.relative_to(SOURCE)) for p in SOURCE.rglob("*.py")}
    assert modules == expected
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "classgate = classgate.cli:entry_point"
        in zipfile.ZipFile(wheel).read(entry).decode()
    )


def _fresh_venv(tmp_path_factory, name, *requirements) -> pathlib.Path:
    """A fresh virtual environment outside the repository, `requirements` installed
    with pip as a user installs them."""
    venv = tmp_path_factory.mktemp(name) / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install"]
        + ["--disable-pip-version-check", "--quiet", "--only-binary", "pyarrow"]
        + [str(r) for r in requirements],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def _pip(venv, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        + list(args),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def installed(wheels, tmp_path_factory):
    """`pip install classgate` from the two wheels, pinned by the runtime lock."""
    lock = ROOT / "requirements-runtime.lock"
    return _fresh_venv(
        tmp_path_factory, "user", "-c", lock, wheels["thin"], wheels["core"]
    )


@pytest.mark.slow
def test_the_runtime_lock_pins_all_the_install_takes(installed):
    """Every distribution the install took is pinned by the runtime lock (none was
    resolved on its own), and they agree with each other (pip check)."""
    pins = runtime_lock.lock_pins((ROOT / "requirements-runtime.lock").read_text())
    frozen = _pip(installed, "list", "--format=json", "--exclude-editable")
    took = {
        runtime_lock.canonicalize_name(d["name"]): d["version"]
        for d in json.loads(frozen.stdout)
    }
    ours = {"classgate", "classgate-core", *runtime_lock.NOT_LOCKED}
    unpinned = {n: v for n, v in took.items() if n not in ours and n not in pins}
    assert unpinned == {}
    assert {n: v for n, v in took.items() if n in pins and v != pins[n][1]} == {}
    check = _pip(installed, "check")
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.fixture(scope="module")
def core_only(wheels, tmp_path_factory):
    """The core alone, as the pre-commit hook installs it (from the lock's pins)."""
    lock = ROOT / "requirements.lock"
    return _fresh_venv(tmp_path_factory, "hook", "-c", lock, wheels["core"])


@pytest.mark.slow
def test_the_core_alone_checks_configs_and_says_what_validate_needs(
    core_only, tmp_path
):
    listed = _pip(core_only, "list", "--format=json")
    names = {
        runtime_lock.canonicalize_name(d["name"]) for d in json.loads(listed.stdout)
    }
    assert not names & {"tensorflow", "apache-beam", "tensorflow-data-validation"}
    (tmp_path / "model.yaml").write_text(
        "name: hours\nlabel_feature: trip_start_hour\nnum_classes: 24\n"
    )
    command = str(core_only / "bin" / "classgate")
    env = _user_env(core_only)
    done = subprocess.run(
        [command, "check-config", "model.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("classgate: check-config PASS: model.yaml")
    refused = subprocess.run(
        [command, "validate", "--data", "x", "--model-config", "model.yaml"]
        + ["--output", "out"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert line.startswith("classgate: error: this command needs Apache Beam")
    assert "pip install classgate" in line


def _user_env(venv) -> dict:
    """A user's shell: the venv's bin first, nothing of this repository's."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.slow
def test_the_installed_command_validates_taxi_data(installed, shared_data, tmp_path):
    taxi = shared_data / "tfx-chicago-taxi" / "tfrecord"
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "model.yaml").write_text(
        "name: hours\nlabel_feature: trip_start_hour\nnum_classes: 24\n"
    )
    done = subprocess.run(
        [
            str(installed / "bin" / "classgate"),
            "validate",
            "--split",
            f"train={taxi}/Split-train/*",
            "--split",
            f"eval={taxi}/Split-eval/*",
            "--model-config",
            "model.yaml",
            "--output",
            "out",
        ],
        cwd=work,
        env=_user_env(installed),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("classgate: PASS")
    for name in ("report.json", "report.html", "schema.pbtxt", "anomalies.pbtxt"):
        assert (work / "out" / name).is_file(), name
    # The code that ran is the wheel's, not this checkout's.
    where = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "import classgate; print(classgate.__file__)",
        ],
        cwd=work,
        env=_user_env(installed),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert str(installed) in where.stdout and str(ROOT) not in where.stdout


@pytest.mark.slow
def test_import_classgate_in_the_installed_package(installed, shared_data, tmp_path):
    taxi = shared_data / "tfx-chicago-taxi" / "tfrecord"
    script = (
        "import classgate\n"
        f"report = classgate.validate({{'train': '{taxi}/Split-train/*'}},\n"
        "    classgate.ModelConfig(name='h', label_feature='trip_start_hour',\n"
        "                          num_classes=20), 'out', labels_only=True)\n"
        "print(report.status, report.labels['train']['trip_start_hour'].max)\n"
        "try:\n"
        "    classgate.open_gate('out')\n"
        "except classgate.GateClosed:\n"
        "    print('closed')\n"
    )
    done = subprocess.run(
        [str(installed / "bin" / "python"), "-c", script],
        cwd=tmp_path,
        env=_user_env(installed),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["fail", "23", "closed"]
