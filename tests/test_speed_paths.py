"""The paths issue 5 made fast stay so: no TensorFlow on labels-only, every core."""

import subprocess
import sys

from apache_beam.options.pipeline_options import DirectOptions

from pipeline import validate


def test_labels_only_never_imports_tensorflow(ws):
    pattern = ws.labels([0, 1, 2, 3])
    script = (
        "import sys\n"
        "from pipeline import cli\n"
        f"code = cli.main(['validate', '--data', {pattern!r}, '--model-config', "
        f"{ws.model(4)!r}, '--output', {str(ws.root / 'out')!r}, '--labels-only'])\n"
        "heavy = [m for m in ('tensorflow', 'tensorflow_data_validation') "
        "if m in sys.modules]\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr


def test_direct_runner_uses_every_core_unless_told_otherwise():
    default = validate.pipeline_options([]).view_as(DirectOptions)
    assert default.direct_running_mode == "multi_threading"
    assert default.direct_num_workers >= 1
    chosen = validate.pipeline_options(["--direct_running_mode=in_memory"])
    assert chosen.view_as(DirectOptions).direct_running_mode == "in_memory"
    dataflow = validate.pipeline_options(["--runner=DataflowRunner"])
    assert dataflow.view_as(DirectOptions).direct_running_mode != "multi_threading"
