"""An example Kubeflow pipeline: classgate validates, its gate opens, training runs.

Three steps, two of them classgate.kfp's components. `validate` ends normally
whatever the verdict (`fail_on_fail=False`), so its report.html shows in the KFP UI
on a fail too; `gate` fails the run unless the report passed and still matches its
data and config, so the training task, which runs after it, never starts on a fail.
The trainer here is classgate's built-in NCE trainer (`classgate.train`), which
opens the gate once more on the report it is given. Replace `train` with your own
trainer; give it `num_classes` and the report, and keep the edge.

No `dsl.If` on the verdict: the failing gate task already stops the run, and
kfp.local (the tests' runner) does not run `dsl.If`.

Compile it for the image you pushed (deploy/dataflow/Dockerfile's):

    python pipeline.py IMAGE pipeline.yaml
"""

import sys
from typing import NamedTuple

from kfp import compiler, dsl

from classgate import kfp as classgate_kfp


def train(
    report: dsl.Input[dsl.Artifact],
    verdict: str,
    num_classes: int,
    model: dsl.Output[dsl.Model],
    epochs: int = 1,
):
    """Trains the built-in NCE model on the data the gate passed.

    Args:
        report: the validate task's report folder.
        verdict: the validate task's verdict output; only "pass" trains.
        num_classes: the validate task's num_classes output (the config's).
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


def gated_training(image: str):
    """The pipeline, its tasks on `image` (classgate, its pins and kfp)."""
    validate = classgate_kfp.validate_component(image=image)
    gate = classgate_kfp.gate_component(image=image)
    trainer = dsl.component(base_image=image, install_kfp_package=False)(train)

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
        checked = validate(
            data=data,
            model_config=model_config,
            beam_options=beam_options,
            labels_only=labels_only,
            fail_on_fail=False,  # its report.html shows on a fail; the gate fails
        ).set_display_name("classgate validate")
        opened = gate(report=checked.outputs["report"]).set_display_name(
            "classgate gate"
        )
        trained = (
            trainer(
                report=checked.outputs["report"],
                verdict=checked.outputs["verdict"],
                num_classes=checked.outputs["num_classes"],
                epochs=epochs,
            )
            .set_display_name("train")
            .after(opened)
        )
        return GatedTraining(
            checked.outputs["verdict"],
            checked.outputs["num_classes"],
            trained.outputs["model"],
        )

    return classgate_pipeline


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python pipeline.py IMAGE pipeline.yaml")
    compiler.Compiler().compile(gated_training(sys.argv[1]), sys.argv[2])
