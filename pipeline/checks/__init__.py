"""Pure checks: (label statistics, model configs) -> anomalies. No Beam, no TFDV.

One module per family of checks; `evaluate` runs them all in a stable order.
`MODEL_CHECKS` and `DATA_CHECKS` name the checks that run whatever the data, so a
report (JUnit) can list what was checked and passed, not only what failed.
"""

from collections.abc import Mapping, Sequence

from classgate.checks import artifacts, diagnoses, files, labels, sampler
from classgate.checks.anomaly import Anomaly, Code
from classgate.config import ModelConfig
from classgate.stats.frequency import FrequencyFit
from classgate.stats.label import LabelSpec, LabelStats

# What every model goes through, whatever the data.
MODEL_CHECKS = (
    Code.LABEL_ABOVE_RANGE,
    Code.LABEL_BELOW_RANGE,
    Code.CLASSES_UNSEEN,
    Code.LABEL_MISSING,
    Code.LABEL_COUNT_MISMATCH,
    Code.LABEL_TYPE_INVALID,
    Code.NUM_SAMPLED_INVALID,
)
# What every split goes through, whatever the models.
DATA_CHECKS = (Code.EMPTY_DATASET,)


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


def specs_of(models: Sequence[ModelConfig]) -> list[LabelSpec]:
    """Label specs first, then the trainer's context ids: one accumulator each."""
    label_specs = [spec_of(m) for m in models]
    contexts = [context_spec_of(m) for m in models]
    return list(dict.fromkeys(label_specs + [c for c in contexts if c]))


def evaluate(
    models: Sequence[ModelConfig],
    stats: Mapping[tuple[str, LabelSpec], LabelStats],
    formats: Mapping[str, str],
    training_split: str,
    model_files: Mapping[str, artifacts.ModelFiles],
    fits: Mapping[str, FrequencyFit],
    file_notes: Mapping[str, Mapping[str, str]],
    hidden: Mapping[str, Sequence[str]] | None = None,
) -> list[Anomaly]:
    """Every label, config and diagnosis anomaly, for every model and split.

    `formats` maps each split to its data format ("tfrecord" or "parquet"),
    `fits` each log-uniform model to its training split's frequency fit, and
    `file_notes` each split to what its readers found per file, and `hidden`
    each split to the Parquet files it skipped for their names.
    """
    found: list[Anomaly] = []
    for split, data_format in formats.items():
        examples = {stats[(split, spec_of(m))].examples for m in models}
        if examples == {0}:
            found.append(labels.empty_dataset(split))
        found.extend(files.check_compression(split, data_format, file_notes[split]))
        found.extend(files.check_left_out(split, file_notes[split]))
        found.extend(files.check_hidden(split, (hidden or {}).get(split, ())))
    for model in models:
        found.extend(sampler.check(model))
        found.extend(artifacts.check(model, model_files[model.name]))
        context = context_spec_of(model)
        training = stats[(training_split, spec_of(model))]
        for split, data_format in formats.items():
            split_stats = stats[(split, spec_of(model))]
            if not split_stats.examples:
                continue
            found.extend(labels.check(model, split, split_stats, data_format))
            found.extend(diagnoses.check_labels(model, split, split_stats))
            if context is not None:
                found.extend(
                    diagnoses.check_context_ids(
                        model, split, stats[(split, context)], data_format
                    )
                )
            if split != training_split and training.examples:
                found.extend(
                    diagnoses.check_splits(
                        model, training_split, training, split, split_stats
                    )
                )
        if training.examples:
            found.extend(labels.check_coverage(model, training_split, training))
            if model.name in fits:
                found.extend(
                    diagnoses.check_frequency_order(
                        model, training_split, fits[model.name]
                    )
                )
    return found
