"""Pure checks: (label statistics, model configs) -> anomalies. No Beam, no TFDV.

One module per family of checks; `evaluate` runs them all in a stable order, and
`catalog` says which of them ran for given figures (a property test holds the two
together). What the anomalies mean for the verdict is `anomaly.status_of`.
"""

from collections.abc import Mapping, Sequence

from classgate.checks import advice, artifacts, diagnoses, files, labels, sampler
from classgate.checks.anomaly import Anomaly
from classgate.config import ModelConfig
from classgate.model_files import summary
from classgate.stats import frequency
from classgate.stats.results import Results


def fits(
    models: Sequence[ModelConfig], results: Results, training_split: str
) -> dict[str, frequency.FrequencyFit]:
    """Each log-uniform model's frequency fit on the training split, computed once.

    A check warns about it (SAMPLER_FREQUENCY_ORDER) and a writer uses it (whether
    a remap file helps).
    """
    found = {}
    for model in models:
        stats = results.label(model, training_split)
        if model.sampled and model.sampler == "log_uniform" and stats.classes_seen:
            found[model.name] = frequency.fit(
                model.num_classes, *stats.class_counts.pairs()
            )
    return found


def evaluate(
    models: Sequence[ModelConfig],
    results: Results,
    formats: Mapping[str, str],
    training_split: str,
    model_files: Mapping[str, summary.ModelFiles],
    fitted: Mapping[str, frequency.FrequencyFit],
    hidden: Mapping[str, Sequence[str]] | None = None,
    advised: Mapping[str, int | None] | None = None,
) -> list[Anomaly]:
    """Every label, config and diagnosis anomaly, for every model and split.

    `formats` maps each split to its data format ("tfrecord" or "parquet"),
    `fitted` each log-uniform model to its training split's frequency fit (`fits`),
    `hidden` each split to the Parquet files it skipped for their names, and
    `advised` each model to the num_classes advised (checks.advice; from the
    training labels alone when not given).
    """
    found: list[Anomaly] = []
    for split, data_format in formats.items():
        examples = {results.label(m, split).examples for m in models}
        if examples == {0}:
            found.append(labels.empty_dataset(split))
        notes = results.notes(split)
        found.extend(files.check_compression(split, data_format, notes))
        found.extend(files.check_left_out(split, notes))
        found.extend(files.check_hidden(split, (hidden or {}).get(split, ())))
    for model in models:
        found.extend(sampler.check(model))
        found.extend(artifacts.check(model, model_files[model.name]))
        training = results.label(model, training_split)
        figure = (advised or {}).get(model.name) or advice.num_classes(model, training)
        for split, data_format in formats.items():
            split_stats = results.label(model, split)
            if not split_stats.examples:
                continue
            found.extend(labels.check(model, split, split_stats, data_format, figure))
            found.extend(diagnoses.check_labels(model, split, split_stats))
            context = results.context(model, split)
            if context is not None:
                found.extend(
                    diagnoses.check_context_ids(model, split, context, data_format)
                )
            if split != training_split and training.examples:
                found.extend(
                    diagnoses.check_splits(
                        model, training_split, training, split, split_stats
                    )
                )
        if training.examples:
            found.extend(labels.check_coverage(model, training_split, training, figure))
            if model.name in fitted:
                found.extend(
                    diagnoses.check_frequency_order(
                        model, training_split, fitted[model.name]
                    )
                )
    return found
