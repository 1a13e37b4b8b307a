"""Pure checks: (label statistics, model configs) -> anomalies. No Beam, no TFDV.

One module per family of checks; `evaluate` runs them all in a stable order.
"""

from collections.abc import Mapping, Sequence

from pipeline.checks import labels, sampler
from pipeline.checks.anomaly import Anomaly
from pipeline.config import ModelConfig
from pipeline.stats.label import LabelSpec, LabelStats


def spec_of(model: ModelConfig) -> LabelSpec:
    """What the pipeline must compute for a model's label feature."""
    return LabelSpec(model.label_feature, model.num_classes, model.num_true)


def evaluate(
    models: Sequence[ModelConfig],
    stats: Mapping[tuple[str, LabelSpec], LabelStats],
    splits: Sequence[str],
    training_split: str,
) -> list[Anomaly]:
    """Every label and config anomaly, for every model and split."""
    found: list[Anomaly] = []
    for split in splits:
        examples = {stats[(split, spec_of(m))].examples for m in models}
        if examples == {0}:
            found.append(labels.empty_dataset(split))
    for model in models:
        found.extend(sampler.check(model))
        for split in splits:
            split_stats = stats[(split, spec_of(model))]
            if split_stats.examples:
                found.extend(labels.check(model, split, split_stats))
        training = stats[(training_split, spec_of(model))]
        if training.examples:
            found.extend(labels.check_coverage(model, training_split, training))
    return found
