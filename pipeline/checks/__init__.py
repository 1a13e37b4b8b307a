"""Pure checks: (label statistics, model configs) -> anomalies. No Beam, no TFDV.

One module per family of checks; `evaluate` runs them all in a stable order.
"""

from collections.abc import Mapping, Sequence

from pipeline.checks import artifacts, diagnoses, labels, sampler
from pipeline.checks.anomaly import Anomaly
from pipeline.config import ModelConfig
from pipeline.stats.label import LabelSpec, LabelStats


def spec_of(model: ModelConfig) -> LabelSpec:
    """What the pipeline must compute for a model's label feature."""
    return LabelSpec(
        model.label_feature,
        model.num_classes,
        model.num_true,
        model.vocabulary_file,
        model.num_oov_buckets,
    )


def context_spec_of(model: ModelConfig) -> LabelSpec | None:
    """The trainer's input ids, checked against the embedding table's rows."""
    if model.context_feature is None:
        return None
    return LabelSpec(model.context_feature, model.context_vocab_size, num_true=1)


def evaluate(
    models: Sequence[ModelConfig],
    stats: Mapping[tuple[str, LabelSpec], LabelStats],
    splits: Sequence[str],
    training_split: str,
    model_files: Mapping[str, artifacts.ModelFiles],
    unigram_files: Mapping[str, str],
) -> list[Anomaly]:
    """Every label, config and diagnosis anomaly, for every model and split."""
    found: list[Anomaly] = []
    for split in splits:
        examples = {stats[(split, spec_of(m))].examples for m in models}
        if examples == {0}:
            found.append(labels.empty_dataset(split))
    for model in models:
        found.extend(sampler.check(model))
        found.extend(artifacts.check(model, model_files[model.name]))
        context = context_spec_of(model)
        training = stats[(training_split, spec_of(model))]
        for split in splits:
            split_stats = stats[(split, spec_of(model))]
            if not split_stats.examples:
                continue
            found.extend(labels.check(model, split, split_stats))
            found.extend(diagnoses.check_labels(model, split, split_stats))
            if context is not None:
                found.extend(
                    diagnoses.check_context_ids(model, split, stats[(split, context)])
                )
            if split != training_split and training.examples:
                found.extend(
                    diagnoses.check_splits(
                        model, training_split, training, split, split_stats
                    )
                )
        if training.examples:
            found.extend(labels.check_coverage(model, training_split, training))
            found.extend(
                diagnoses.check_frequency_order(
                    model, training_split, training, unigram_files[model.name]
                )
            )
    return found
