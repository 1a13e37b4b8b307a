"""classgate.kfp: the Kubeflow Pipelines components, run, compiled and refused.

The runs use kfp.local's SubprocessRunner without a venv: each task's executor
runs under sys.executable (kfp swaps it in for `python3`), this interpreter, so
the tasks import the classgate under test. No Kubernetes, no Docker. The example
pipeline of deploy/kfp is tests/deploy/test_kfp.py's.
"""

import json
import pathlib
import subprocess
import sys

import pytest
import yaml
from kfp import components, dsl
from kfp_local import BEAM, CLASSES, IMAGE

from classgate import errors
from classgate import kfp as classgate_kfp

from workspace import DATAFLOW


@pytest.fixture(scope="module")
def validate():
    return classgate_kfp.validate_component(image=IMAGE)


@pytest.mark.slow
def test_a_pass_gives_the_verdict_num_classes_and_the_page(validate, case, kfp_root):
    task = validate(
        data=case["data"],
        model_config=case["pass"],
        beam_options=BEAM,
        labels_only=True,
    )
    assert (task.outputs["verdict"], task.outputs["num_classes"]) == ("pass", CLASSES)
    html = pathlib.Path(task.outputs["report_html"].path).read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    report = pathlib.Path(task.outputs["report"].path) / "report.json"
    assert json.loads(report.read_text())["status"] == "pass"


@pytest.mark.slow
def test_a_fail_fails_the_task_after_writing_the_page(validate, case, kfp_root, capfd):
    """The default: the task fails on a failing verdict, its report.html already in
    the HTML output and the report itself in the task's log (KFP shows no output
    of a failed task)."""
    with pytest.raises(RuntimeError, match="classgate-validate"):
        validate(
            data=case["data"],
            model_config=case["fail"],
            beam_options=BEAM,
            labels_only=True,
        )
    (html,) = kfp_root.glob("*/classgate-validate/report_html")
    assert "LABEL_ABOVE_RANGE" in html.read_text()
    log = "".join(capfd.readouterr())
    assert "Traceback" not in log
    assert "classgate: gate closed: " in log and str(html) in log
    (markdown,) = kfp_root.glob("*/classgate-validate/report/report.md")
    logged = {line.strip() for line in log.splitlines()}  # kfp.local indents them
    assert {line.strip() for line in markdown.read_text().splitlines()} <= logged


def _validated_then_gated(validate):
    """A pipeline: validate without failing on a fail, then the gate component (kfp
    runs a component with an input artifact only inside a pipeline)."""
    gate = classgate_kfp.gate_component(image=IMAGE)

    @dsl.pipeline(name="validated-then-gated")
    def checked(data: str, model_config: str) -> str:
        found = validate(
            data=data,
            model_config=model_config,
            beam_options=BEAM,
            labels_only=True,
            fail_on_fail=False,
        )
        gate(report=found.outputs["report"])
        return found.outputs["verdict"]

    return checked


@pytest.mark.slow
def test_without_fail_on_fail_the_page_shows_and_the_gate_stops_the_run(
    validate, case, kfp_root
):
    pipeline = _validated_then_gated(validate)
    with pytest.raises(RuntimeError, match="Inner task failed: .*classgate-gate"):
        pipeline(data=case["data"], model_config=case["fail"])
    # The validate task succeeded: its outputs, the page among them, are the run's.
    (html,) = kfp_root.glob("*/classgate-validate/report_html")
    assert "LABEL_ABOVE_RANGE" in html.read_text()
    (report,) = kfp_root.glob("*/classgate-validate/report/report.json")
    assert json.loads(report.read_text())["status"] == "fail"
    assert pipeline(data=case["data"], model_config=case["pass"]).output == "pass"


@pytest.mark.slow
def test_dataflow_options_pass_through_to_a_dry_run(validate, case, kfp_root, capfd):
    # Offline Dataflow flags with --dry_run: the job is only translated for
    # Dataflow, so no verdict; without them this data and config pass.
    with pytest.raises(RuntimeError, match="classgate-validate"):
        validate(
            data=case["data"],
            model_config=case["pass"],
            beam_options=DATAFLOW,
            labels_only=True,
        )
    log = "".join(capfd.readouterr())
    assert "no verdict: a dry run (--dry_run)" in log
    assert "Traceback" not in log


def test_the_compiled_component_loads_with_its_image_inputs_and_outputs(tmp_path):
    """`python -m classgate.kfp IMAGE FILE` (what `make dist` runs) writes a
    component.yaml that kfp loads back as the same component."""
    path = tmp_path / "component.yaml"
    subprocess.run(
        [sys.executable, "-m", "classgate.kfp", IMAGE, str(path)],
        check=True,
        cwd=tmp_path,
        capture_output=True,
        timeout=300,
    )
    spec = yaml.safe_load(path.read_text())
    (executor,) = spec["deploymentSpec"]["executors"].values()
    assert executor["container"]["image"] == IMAGE
    # kfp comes with the image: nothing pip-installed at run time.
    assert "pip install" not in " ".join(executor["container"]["command"])
    (component,) = spec["components"].values()
    outputs = component["outputDefinitions"]
    assert outputs["parameters"] == {
        "verdict": {"parameterType": "STRING"},
        "num_classes": {"parameterType": "NUMBER_INTEGER"},
    }
    assert {
        name: artifact["artifactType"]["schemaTitle"]
        for name, artifact in outputs["artifacts"].items()
    } == {"report": "system.Artifact", "report_html": "system.HTML"}
    parameters = component["inputDefinitions"]["parameters"]
    assert parameters["beam_options"]["parameterType"] == "LIST"
    assert parameters["fail_on_fail"]["defaultValue"] is True
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == "classgate-validate"


@pytest.mark.parametrize("image", ["", "  ", " image:1", None, 3])
def test_a_component_needs_an_image(image):
    """No placeholder image: the factory refuses what cannot name one."""
    with pytest.raises(errors.InputError, match="image: expected the name"):
        classgate_kfp.validate_component(image=image)
    with pytest.raises(errors.InputError, match="image: expected the name"):
        classgate_kfp.gate_component(image=image)


@pytest.mark.parametrize(
    "beam_options", ["--runner=DataflowRunner", ["--runner=X", 3], None]
)
def test_component_refuses_beam_options_that_are_not_a_list_of_flags(
    validate, capsys, beam_options
):
    """The component's body, as it runs in its container: exit 2 and one line
    before anything is read (never a string read a letter at a time)."""
    with pytest.raises(SystemExit) as stopped:
        validate.python_func(
            data="d",
            model_config="c",
            report=None,
            report_html=None,
            beam_options=beam_options,
        )
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("classgate: error: beam_options: expected a list of flags")


def test_component_takes_no_wait_for_no_verdict(validate, capsys):
    """`--no-wait` (the command's flag) would leave the gate nothing to open on."""
    with pytest.raises(SystemExit) as stopped:
        validate.python_func(
            data="d",
            model_config="c",
            report=None,
            report_html=None,
            beam_options=["--runner=DirectRunner", "--no-wait"],
        )
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("classgate: no verdict: --no-wait")


def test_importing_classgate_kfp_imports_no_kfp():
    """kfp comes with the `kfp` extra: the module loads without it until a
    component is made."""
    probe = "import sys; import classgate.kfp; print('kfp' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "False", done.stderr
