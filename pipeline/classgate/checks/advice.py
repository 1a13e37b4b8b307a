"""The num_classes classgate advises: one figure, weighing everything it knows.

Labels past num_classes need max id + 1; labels that stop short of it leave rows
dead, so the same max id + 1 fits them; a history that grows needs what will last
the model's headroom_days at its pace. LABEL_ABOVE_RANGE, CLASSES_UNSEEN and
NUM_CLASSES_HEADROOM all cite this one figure (details: `advised_num_classes`),
so no two findings of a report advise different numbers.
"""

from collections.abc import Sequence

from classgate.config import INT64_MAX, ModelConfig
from classgate.stats.label import LabelStats


def num_classes(
    model: ModelConfig, training: LabelStats | None, lasting: Sequence[int] = ()
) -> int | None:
    """The advised num_classes, or None when the training labels give no figure.

    `lasting` are the num_classes that would last the headroom horizon, one per
    growing figure of the history (checks.headroom.forecasts).
    """
    top = training.max if training is not None else None
    needed = top + 1 if top is not None and 0 <= top < INT64_MAX else None
    candidates = [c for c in (needed, *lasting) if c is not None]
    return max(candidates) if candidates else None


def phrase(model: ModelConfig, advised: int | None) -> str:
    """The advice as words, or "" when there is none."""
    if advised is None or advised == model.num_classes:
        return ""
    return f"set num_classes to {advised}"
