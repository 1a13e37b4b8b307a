"""deploy/kfp: the example pipeline of classgate.kfp's components, run and compiled.

The runs use kfp.local's SubprocessRunner without a venv: each task's executor
runs under sys.executable (kfp swaps it in for `python3`), this interpreter, so
the tasks import the classgate under test. No Kubernetes, no Docker. The
components themselves are tests/test_kfp.py's.
"""

import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest
import yaml
from kfp import compiler
from kfp_local import BEAM, CLASSES, IMAGE

KFP = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "kfp"


@pytest.fixture(scope="module")
def example():
    """deploy/kfp/pipeline.py as a module (a file, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "classgate_kfp_example", KFP / "pipeline.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _task_folders(root: pathlib.Path) -> set[str]:
    """The tasks that ran in the single pipeline run under `root`."""
    (run,) = root.iterdir()
    return {p.name for p in run.iterdir()}


@pytest.mark.slow
def test_pipeline_trains_after_a_passing_gate(example, case, kfp_root):
    run = example.gated_training(IMAGE)(
        data=case["data"], model_config=case["pass"], beam_options=BEAM
    )
    assert run.outputs["verdict"] == "pass"
    assert run.outputs["num_classes"] == CLASSES
    model = run.outputs["model"]
    metrics = json.loads((pathlib.Path(model.path) / "metrics.json").read_text())
    assert metrics["num_classes"] == CLASSES
    assert model.metadata["num_classes"] == CLASSES
    assert _task_folders(kfp_root) == {"classgate-validate", "classgate-gate", "train"}
    (html,) = kfp_root.glob("*/classgate-validate/report_html")
    assert html.read_text().lstrip().lower().startswith("<!doctype html")


@pytest.mark.slow
def test_pipeline_stops_before_training_on_a_fail_with_the_page_shown(
    example, case, kfp_root
):
    with pytest.raises(RuntimeError, match="Inner task failed: .*classgate-gate"):
        example.gated_training(IMAGE)(
            data=case["data"], model_config=case["fail"], beam_options=BEAM
        )
    # train never started; validate succeeded, so its page is a run output.
    assert "train" not in _task_folders(kfp_root)
    assert not list(kfp_root.glob("**/metrics.json"))
    (report,) = kfp_root.glob("*/classgate-validate/report/report.json")
    found = json.loads(report.read_text())
    assert found["status"] == "fail"
    assert "LABEL_ABOVE_RANGE" in {a["code"] for a in found["anomalies"]}
    (html,) = kfp_root.glob("*/classgate-validate/report_html")
    assert "LABEL_ABOVE_RANGE" in html.read_text()


def _compiled(function, folder) -> dict:
    path = folder / "spec.yaml"
    compiler.Compiler().compile(function, str(path))
    return yaml.safe_load(path.read_text())


def test_compiled_pipeline_gates_training(example, tmp_path):
    spec = _compiled(example.gated_training(IMAGE), tmp_path)
    assert set(spec["components"]) == {
        "comp-classgate-validate",
        "comp-classgate-gate",
        "comp-train",
    }
    for executor in spec["deploymentSpec"]["executors"].values():
        assert executor["container"]["image"] == IMAGE
        # kfp comes with the image: nothing pip-installed.
        assert "pip install" not in " ".join(executor["container"]["command"])

    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"classgate-validate", "classgate-gate", "train"}
    validate = tasks["classgate-validate"]["inputs"]["parameters"]
    assert validate["fail_on_fail"] == {"runtimeValue": {"constant": False}}
    for name in ("data", "model_config", "beam_options", "labels_only"):
        assert validate[name] == {"componentInputParameter": name}
    assert tasks["classgate-gate"]["inputs"]["artifacts"]["report"] == {
        "taskOutputArtifact": {
            "producerTask": "classgate-validate",
            "outputArtifactKey": "report",
        }
    }
    train = tasks["train"]
    # After the gate: a closed gate fails the run before training.
    assert set(train["dependentTasks"]) == {"classgate-validate", "classgate-gate"}
    consumed = {
        name: value["taskOutputParameter"]
        for name, value in train["inputs"]["parameters"].items()
        if "taskOutputParameter" in value
    }
    assert consumed == {
        name: {"producerTask": "classgate-validate", "outputParameterKey": name}
        for name in ("verdict", "num_classes")
    }
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert {k: v["parameterType"] for k, v in parameters.items()} == {
        "data": "STRING",
        "model_config": "STRING",
        "beam_options": "LIST",
        "labels_only": "BOOLEAN",
        "epochs": "NUMBER_INTEGER",
    }


def test_pipeline_compiles_from_the_command_line_for_an_image(tmp_path):
    target = tmp_path / "pipeline.yaml"
    subprocess.run(
        [sys.executable, str(KFP / "pipeline.py"), IMAGE, str(target)],
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    spec = yaml.safe_load(target.read_text())
    assert spec["pipelineInfo"]["name"] == "classgate-gated-training"
    images = {
        e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()
    }
    assert images == {IMAGE}
