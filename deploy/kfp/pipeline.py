"""An example Kubeflow pipeline: the classgate gate, then training only on a pass.

Two steps. `classgate_validate` (component.py) fails its task on a failing
verdict, so the training task, which consumes its outputs, never starts. The
trainer here is classgate's built-in NCE trainer (`classgate.train`), which opens
the gate once more on the report it is given: a report that did not pass, or data
changed since, is refused even if the gate task was told not to fail. Replace
`train` with your own trainer; give it `num_classes` and the report, and keep the
edge.

No `dsl.If` on the verdict: failing the gate task already stops the run, and
kfp.local (the tests' runner) does not run `dsl.If`. With `fail_on_fail=False`,
wrap the training task in `with dsl.If(gate.outputs["verdict"] == "pass"):`.

Compile it (from this folder, after setting component.CLASSGATE_IMAGE):

    python pipeline.py classgate_pipeline.yaml
"""

import sys
from typing import NamedTuple

import component
from kfp import compiler, dsl


@dsl.component(base_image=component.CLASSGATE_IMAGE, install_kfp_package=False)
def train(
    report: dsl.Input[dsl.Artifact],
    verdict: str,
    num_classes: int,
    model: dsl.Output[dsl.Model],
    epochs: int = 1,
):
    """Trains the built-in NCE model on the data the gate passed.

    Args:
        report: the gate's report folder.
        verdict: the gate's verdict output; only "pass" trains.
        num_classes: the gate's num_classes output (the validated config's).
        model: out: the trained model, checkpoints and metrics.json.
        epochs: training epochs.
    """
    import classgate

    if verdict != "pass":
        raise RuntimeError(f"the gate's verdict is {verdict!r}: no training")
    metrics = classgate.train(report.path, model.path, epochs=epochs)
    if metrics["num_classes"] != num_classes:
        raise RuntimeError(
            f"trained num_classes {metrics['num_classes']}, the gate passed "
            f"{num_classes}: the report is not the one validated"
        )
    model.metadata["num_classes"] = num_classes


class GatedTraining(NamedTuple):
    """The pipeline's outputs: the gate's verdict and num_classes, the model."""

    verdict: str
    num_classes: int
    model: dsl.Model


@dsl.pipeline(
    name="classgate-gated-training",
    description="classgate validates the labels; the model trains only on a pass.",
)
def classgate_pipeline(
    data: str,
    model_config: str,
    beam_options: list = [],  # noqa: B006 (a KFP default: compiled, never mutated)
    labels_only: bool = True,
    epochs: int = 1,
) -> GatedTraining:
    gate = component.classgate_validate(
        data=data,
        model_config=model_config,
        beam_options=beam_options,
        labels_only=labels_only,
    ).set_display_name("classgate validate")
    trained = train(
        report=gate.outputs["report"],
        verdict=gate.outputs["verdict"],
        num_classes=gate.outputs["num_classes"],
        epochs=epochs,
    ).set_display_name("train")
    return GatedTraining(
        gate.outputs["verdict"], gate.outputs["num_classes"], trained.outputs["model"]
    )


if __name__ == "__main__":
    compiler.Compiler().compile(
        classgate_pipeline, sys.argv[1] if len(sys.argv) > 1 else "pipeline.yaml"
    )
