"""deploy/kfp: the gate as a Kubeflow Pipelines component, run and compiled.

The runs use kfp.local's SubprocessRunner without a venv: each task's executor
runs under sys.executable (kfp swaps it in for `python3`), this interpreter, so
the tasks import the classgate under test. No Kubernetes, no Docker.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from kfp import compiler, local

from tools import synthetic
from workspace import DATAFLOW

KFP = pathlib.Path(__file__).resolve().parents[1] / "deploy" / "kfp"
CLASSES = 50
# One worker: the tests share two cores, and a task's Beam job is tiny.
BEAM = ["--direct_num_workers=1"]

# The local runner warns that the placeholder image has no "python" in its name.
pytestmark = pytest.mark.filterwarnings("ignore:You may be attemping:RuntimeWarning")


@pytest.fixture(scope="module")
def kfp_files():
    """component.py and pipeline.py as modules; pipeline.py imports its sibling."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(KFP))
        component = _load("component")
        patch.setitem(sys.modules, "component", component)
        yield component, _load("pipeline")


def _load(name):
    spec = importlib.util.spec_from_file_location(
        f"classgate_kfp_{name}", KFP / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def case(ws):
    """Data with CLASSES true classes; a passing and a failing trainer config."""
    ids = synthetic.labels(2_000, CLASSES, seed=1)
    folder = ws.root / "data"
    folder.mkdir()
    synthetic.write_tfrecord(synthetic.table(ids, CLASSES), str(folder), 2)
    return {
        "data": str(folder / "train-*"),
        "pass": ws.config(synthetic.trainer_yaml("m", CLASSES, CLASSES), "pass.yaml"),
        # Half the true classes: LABEL_ABOVE_RANGE.
        "fail": ws.config(synthetic.trainer_yaml("m", CLASSES // 2, CLASSES), "f.yaml"),
    }


@pytest.fixture
def kfp_root(tmp_path):
    root = tmp_path / "kfp"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    return root


def _task_folders(root: pathlib.Path) -> set[str]:
    """The tasks that ran in the single pipeline run under `root`."""
    (run,) = root.iterdir()
    return {p.name for p in run.iterdir()}


@pytest.mark.slow
def test_pipeline_trains_after_a_passing_gate(kfp_files, case, kfp_root):
    _, pipeline = kfp_files
    run = pipeline.classgate_pipeline(
        data=case["data"], model_config=case["pass"], beam_options=BEAM
    )
    assert run.outputs["verdict"] == "pass"
    assert run.outputs["num_classes"] == CLASSES
    model = run.outputs["model"]
    metrics = json.loads((pathlib.Path(model.path) / "metrics.json").read_text())
    assert metrics["num_classes"] == CLASSES
    assert model.metadata["num_classes"] == CLASSES
    assert _task_folders(kfp_root) == {"classgate-validate", "train"}
    (report,) = kfp_root.glob("*/classgate-validate/report/report.json")
    assert json.loads(report.read_text())["status"] == "pass"
    (html,) = kfp_root.glob("*/classgate-validate/report_html")
    assert html.read_text().lstrip().lower().startswith("<!doctype html")


@pytest.mark.slow
def test_pipeline_stops_before_training_on_a_failing_gate(kfp_files, case, kfp_root):
    _, pipeline = kfp_files
    with pytest.raises(RuntimeError, match="Inner task failed: .*classgate-validate"):
        pipeline.classgate_pipeline(
            data=case["data"], model_config=case["fail"], beam_options=BEAM
        )
    assert _task_folders(kfp_root) == {"classgate-validate"}  # train never started
    assert not list(kfp_root.glob("**/metrics.json"))
    (report,) = kfp_root.glob("*/classgate-validate/report/report.json")
    found = json.loads(report.read_text())
    assert found["status"] == "fail"
    assert "LABEL_ABOVE_RANGE" in {a["code"] for a in found["anomalies"]}


@pytest.mark.slow
def test_gate_can_report_a_failing_verdict_without_failing(kfp_files, case, kfp_root):
    component, _ = kfp_files
    task = component.classgate_validate(
        data=case["data"],
        model_config=case["fail"],
        beam_options=BEAM,
        labels_only=True,
        fail_on_fail=False,
    )
    assert task.outputs["verdict"] == "fail"
    assert task.outputs["num_classes"] == CLASSES // 2
    html = pathlib.Path(task.outputs["report_html"].path).read_text()
    assert "LABEL_ABOVE_RANGE" in html
    report = pathlib.Path(task.outputs["report"].path) / "report.json"
    assert json.loads(report.read_text())["status"] == "fail"


@pytest.mark.slow
def test_gate_passes_dataflow_options_through(kfp_files, case, kfp_root, capsys):
    component, _ = kfp_files
    # Offline Dataflow flags with --dry_run: the job is only translated for
    # Dataflow, so no verdict; without them this data and config pass.
    with pytest.raises(RuntimeError, match="classgate-validate"):
        component.classgate_validate(
            data=case["data"],
            model_config=case["pass"],
            beam_options=DATAFLOW,
            labels_only=True,
        )
    captured = capsys.readouterr()
    assert "no verdict: a dry run (--dry_run)" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.slow
def test_container_component_runs_classgate_validate(kfp_files, case, tmp_path):
    component, _ = kfp_files
    spec = _compiled(component.classgate_validate_container, tmp_path)
    (executor,) = spec["deploymentSpec"]["executors"].values()
    container = executor["container"]
    assert container["image"] == component.CLASSGATE_IMAGE
    out = tmp_path / "report"
    html = tmp_path / "html" / "report.html"
    # What the KFP driver substitutes: values, paths, and lists as JSON.
    values = {
        "{{$.inputs.parameters['data']}}": case["data"],
        "{{$.inputs.parameters['model_config']}}": case["fail"],
        "{{$.inputs.parameters['beam_options']}}": json.dumps([*BEAM, "--quiet"]),
        "{{$.outputs.artifacts['report'].path}}": str(out),
        "{{$.outputs.artifacts['report'].uri}}": str(out),
        "{{$.outputs.artifacts['report_html'].path}}": str(html),
    }
    argv = [values.get(a, a) for a in container["command"] + container["args"]]
    assert not [a for a in argv if "{{$" in a]
    # "python" in the image; this interpreter here.
    path = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    done = subprocess.run(
        argv,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr[-2000:]  # a failing verdict
    assert json.loads((out / "report.json").read_text())["status"] == "fail"
    assert "LABEL_ABOVE_RANGE" in html.read_text()


def test_compiled_pipeline_gates_training(kfp_files, tmp_path):
    component, pipeline = kfp_files
    spec = _compiled(pipeline.classgate_pipeline, tmp_path)
    assert set(spec["components"]) == {"comp-classgate-validate", "comp-train"}
    executors = spec["deploymentSpec"]["executors"]
    for executor in executors.values():
        assert executor["container"]["image"] == component.CLASSGATE_IMAGE
        # kfp comes with the image (requirements.lock): nothing pip-installed.
        assert "pip install" not in " ".join(executor["container"]["command"])

    gate = spec["components"]["comp-classgate-validate"]
    outputs = gate["outputDefinitions"]
    assert outputs["parameters"] == {
        "verdict": {"parameterType": "STRING"},
        "num_classes": {"parameterType": "NUMBER_INTEGER"},
    }
    assert {
        name: artifact["artifactType"]["schemaTitle"]
        for name, artifact in outputs["artifacts"].items()
    } == {"report": "system.Artifact", "report_html": "system.HTML"}
    beam_options = gate["inputDefinitions"]["parameters"]["beam_options"]
    assert beam_options["parameterType"] == "LIST"
    assert beam_options["defaultValue"] == []

    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"classgate-validate", "train"}
    train = tasks["train"]
    assert train["dependentTasks"] == ["classgate-validate"]
    consumed = {
        name: value["taskOutputParameter"]
        for name, value in train["inputs"]["parameters"].items()
        if "taskOutputParameter" in value
    }
    assert consumed == {
        "verdict": {
            "producerTask": "classgate-validate",
            "outputParameterKey": "verdict",
        },
        "num_classes": {
            "producerTask": "classgate-validate",
            "outputParameterKey": "num_classes",
        },
    }
    assert train["inputs"]["artifacts"]["report"]["taskOutputArtifact"] == {
        "producerTask": "classgate-validate",
        "outputArtifactKey": "report",
    }
    gate_inputs = tasks["classgate-validate"]["inputs"]["parameters"]
    for name in ("data", "model_config", "beam_options", "labels_only"):
        assert gate_inputs[name] == {"componentInputParameter": name}

    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert {k: v["parameterType"] for k, v in parameters.items()} == {
        "data": "STRING",
        "model_config": "STRING",
        "beam_options": "LIST",
        "labels_only": "BOOLEAN",
        "epochs": "NUMBER_INTEGER",
    }


def test_pipeline_compiles_from_the_command_line(tmp_path):
    target = tmp_path / "pipeline.yaml"
    subprocess.run(
        [sys.executable, str(KFP / "pipeline.py"), str(target)],
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    spec = yaml.safe_load(target.read_text())
    assert spec["pipelineInfo"]["name"] == "classgate-gated-training"


def _compiled(function, folder) -> dict:
    path = folder / "spec.yaml"
    compiler.Compiler().compile(function, str(path))
    return yaml.safe_load(path.read_text())


# The container program and the component body, run as they are, with hostile input


def _program(component, beam_options: str, tmp_path, data="d", config="c"):
    """The container component's program, as its container runs it."""
    html = tmp_path / "html" / "report.html"
    out = tmp_path / "report"
    return subprocess.run(
        [
            sys.executable,
            "-c",
            component.VALIDATE_PROGRAM,
            data,
            config,
            str(out),
            str(out),
            str(html),
            beam_options,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


# JSON that is not a list of strings, and text that is not JSON at all.
_NOT_FLAGS = st.one_of(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=4), inner, max_size=2)
        ),
        max_leaves=6,
    )
    .filter(lambda v: not (isinstance(v, list) and all(isinstance(f, str) for f in v)))
    .map(json.dumps),
    st.text(max_size=20).filter(lambda t: "\0" not in t and not _is_flags(t)),
)


def _is_flags(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, list) and all(isinstance(f, str) for f in value)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(beam_options=_NOT_FLAGS)
@example(beam_options='"--runner=DataflowRunner"')
@example(beam_options="--runner=DataflowRunner")
@example(beam_options="[" * 100_000)
@example(beam_options='["--runner=X", 3]')
def test_program_refuses_beam_options_that_are_not_a_list_of_flags(
    kfp_files, tmp_path_factory, beam_options
):
    """A string, a number, a list holding anything but strings, text that is not
    JSON or JSON nested past Python's recursion limit: exit 2, one line."""
    component, _ = kfp_files
    done = _program(component, beam_options, tmp_path_factory.mktemp("p"))
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("classgate: error: beam_options: expected a JSON list")
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.slow  # Beam translates (or runs) the job: seconds
@pytest.mark.parametrize("option", ["--dry_run=True", "--no-wait"])
def test_program_without_a_verdict_exits_2_saying_so(kfp_files, case, tmp_path, option):
    """A dry run or a submitted job exits 0 from classgate with no report: the
    task fails with its own line, not a traceback, and no report.html is made."""
    component, _ = kfp_files
    flags = json.dumps([*BEAM, "--labels-only", option])
    done = _program(component, flags, tmp_path, case["data"], case["pass"])
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert lines[-1].startswith("classgate: no verdict: exit 0 but no passing report")
    assert not (tmp_path / "html" / "report.html").exists()


@pytest.mark.parametrize(
    "beam_options", ["--runner=DataflowRunner", ["--runner=X", 3], None]
)
def test_component_refuses_beam_options_that_are_not_a_list_of_flags(
    kfp_files, capsys, beam_options
):
    """The lightweight component's body, as it runs in its container: exit 2 and
    one line before anything is read (never a string read a letter at a time)."""
    component, _ = kfp_files
    with pytest.raises(SystemExit) as stopped:
        component.classgate_validate.python_func(
            data="d",
            model_config="c",
            report=None,
            report_html=None,
            beam_options=beam_options,
        )
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("classgate: error: beam_options: expected a list of flags")


def test_component_takes_no_wait_for_no_verdict(kfp_files, capsys):
    """`--no-wait` (the command's flag) would leave the gate nothing to open on."""
    component, _ = kfp_files
    with pytest.raises(SystemExit) as stopped:
        component.classgate_validate.python_func(
            data="d",
            model_config="c",
            report=None,
            report_html=None,
            beam_options=["--runner=DirectRunner", "--no-wait"],
        )
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("classgate: no verdict: --no-wait")
