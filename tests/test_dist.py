"""The installable package: what `make dist` builds works outside this repository.

A wheel is built, installed into a fresh virtual environment in a folder of its own
(the lock as constraints, as the README says), and used from another directory as a
user would: the command on TFX's taxi data, and `import classgate` in Python.
"""

import ast
import importlib.metadata
import os
import pathlib
import re
import subprocess
import sys
import tomllib

import pytest

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCE = ROOT / "pipeline" / "classgate"


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
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
            "dependencies"
        ]
    }
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for module in _imported_modules():
        names = {n.lower().replace("_", "-") for n in providers.get(module, [])}
        assert names, f"{module}: no installed distribution provides it"
        if not names & declared:
            missing[module] = sorted(names)
    assert missing == {}, f"imported but not declared in pyproject: {missing}"


def test_every_source_folder_is_a_package():
    """The wheel takes what setuptools finds below pipeline/: a folder of modules
    without __init__.py would be left out of it."""
    folders = {p.parent for p in SOURCE.rglob("*.py") if "__pycache__" not in p.parts}
    assert {f for f in folders if not (f / "__init__.py").exists()} == set()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # As `make dist` builds: the sdist, then the wheel from the sdist (never from a
    # stale build/ folder of the checkout).
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    assert len(list(out.glob("classgate-*.tar.gz"))) == 1
    (found,) = out.glob("classgate-*.whl")
    return found


def test_the_wheel_holds_classgate_not_pipeline(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    modules = {n for n in names if n.endswith(".py")}
    expected = {"classgate/" + str(p.relative_to(SOURCE)) for p in SOURCE.rglob("*.py")}
    assert modules == expected
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "classgate = classgate.cli:entry_point"
        in zipfile.ZipFile(wheel).read(entry).decode()
    )


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh virtual environment outside the repository, the wheel installed."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "--only-binary",
            "pyarrow",
            "-c",
            str(ROOT / "requirements.lock"),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def _user_env(venv) -> dict:
    """A user's shell: the venv's bin first, nothing of this repository's."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


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
