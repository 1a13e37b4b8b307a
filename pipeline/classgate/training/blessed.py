"""Training behind the gate: which model a blessing trains, and the training itself.

`trainable` picks the model (named when a report has several; it needs context ids)
and `train` trains it on the blessed files. The command line's `train` and the
library's `classgate.train` both come here once the gate has opened: only then are
an earlier training's outputs cleared, so a refused or failed start never loses a
model.
"""

import contextlib
import logging
import signal
import threading

from classgate import config, errors
from classgate.outputs import folder

# Written by a training; cleared only when a new training starts.
TRAINING_OUTPUTS = ("model", "checkpoints", "logs", "metrics.json")
# Progress is logged, not printed: a library's caller chooses where it goes (the
# command line shows it on stdout).
_LOG = logging.getLogger(__name__)


def trainable(models, wanted: str | None) -> config.ModelConfig:
    """The model to train: named by `wanted` when several; it needs context ids."""
    by_name = {m.name: m for m in models}
    if wanted is None and len(by_name) != 1:
        raise errors.InputError(f"several models {sorted(by_name)}: pass --model NAME")
    name = wanted or next(iter(by_name))
    if name not in by_name:
        raise errors.InputError(
            f"--model {name}: not in the configs ({sorted(by_name)})"
        )
    model = by_name[name]
    if model.context_feature is None:
        raise errors.InputError(
            f"model '{name}': classgate train needs context_feature and "
            "context_vocab_size in the model config (the int ids its model reads)"
        )
    if model.loss == "torch_cross_entropy":
        raise errors.InputError(
            f"model '{name}': the built-in trainer is TensorFlow's; start your "
            "PyTorch trainer behind the gate with `classgate run --report R -- CMD`"
        )
    if model.loss == "softmax" and model.num_true != 1:
        raise errors.InputError(
            f"model '{name}': a softmax takes one label per example; num_true is "
            f"{model.num_true}"
        )
    return model


def train(
    blessed, model, output_path: str, epochs=None, batch_size=None, learning_rate=None
) -> dict:
    """Trains `model` on the blessed files (a gate Blessing); returns metrics.json.

    epochs, batch_size and learning_rate override the config's when not None, and
    are checked as its keys are (CLI and library alike), before anything is touched.
    """
    from classgate.training import trainer

    settings = config.overridden(
        model, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate
    )
    splits = {s.name: s for s in blessed.splits}
    training = splits.get("train") or blessed.splits[0]
    evaluation = splits.get("eval")
    out = folder.OutputFolder(output_path)
    with out.open((), sweep=False):
        _LOG.info(
            "classgate: training '%s' with num_classes %d on %d file(s)",
            model.name,
            model.num_classes,
            len(training.files),
        )
        # The gate is open and training starts now: only now do the outputs of an
        # earlier training go, so a refused or failed start never loses a model.
        for name in TRAINING_OUTPUTS:
            out.remove(name)
        with _terminate_as_interrupt():
            return trainer.train(
                model,
                [f.path for f in training.files],
                [f.path for f in evaluation.files] if evaluation else None,
                training.format,
                out.path,
                epochs=settings.epochs,
                batch_size=settings.batch_size,
                learning_rate=settings.learning_rate,
            )


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM stops training as Ctrl-C does: after saving a checkpoint and model.

    CI cancelling a job and Kubernetes stopping a pod send SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only (a library call in a thread)
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
