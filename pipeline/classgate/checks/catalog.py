"""Which checks ran: the (code, split) pairs `checks.evaluate` works through.

A report lists findings, not the checks that found nothing; report.html ticks
those, so it asks here which ran, from figures a report carries (each split's
examples, the training split's classes seen, each split's format, the mode). The
rules follow `evaluate` beside this module, and a property test holds them to it:
every anomaly `evaluate` returns is a check this catalog says ran.
"""

from collections.abc import Mapping

from classgate.checks.anomaly import Code
from classgate.config import ModelConfig

# The row of TFDV's schema validation of a split (full mode): its findings are the
# split's TFDV_* anomalies, whatever their type.
TFDV_SCHEMA = "TFDV schema"
# Checks of a model's config and files, which need no data.
CONFIG_CHECKS = (Code.CLASS_FILES_SKIPPED,)
# The sampler's checks, of a sampled loss only (nce, sampled_softmax).
SAMPLER_CHECKS = (
    Code.NUM_SAMPLED_INVALID,
    Code.NUM_SAMPLED_HIGH,
    Code.ACCIDENTAL_HITS_WITH_NCE,
)
# Checks of a model's label values in each split that has examples.
SPLIT_CHECKS = (
    Code.LABEL_MISSING,
    Code.LABEL_COUNT_MISMATCH,
    Code.LABEL_TYPE_INVALID,
    Code.LABEL_ABOVE_RANGE,
    Code.LABEL_BELOW_RANGE,
    Code.LABEL_ONE_BASED,
    Code.LABEL_SENTINEL,
)
CONTEXT_CHECKS = (Code.ID_FEATURE_ABSENT, Code.ID_TYPE_INVALID, Code.ID_OUT_OF_RANGE)
# Checks of another split against the training split.
PAIR_CHECKS = (Code.SPLIT_LABEL_UNSEEN_IN_TRAIN, Code.SPLIT_CLASSES_MISSING)

Ran = list[tuple[str, str | None]]


def model_checks(
    model: ModelConfig,
    examples: Mapping[str, int],
    training_split: str,
    training_classes_seen: int,
) -> Ran:
    """(code, split) of every check `evaluate` runs for this model.

    `examples` maps each split to the examples of the model's label feature there.
    Config checks always run (split None); the label checks on each split with
    examples; the split-against-training checks on every other split once the
    training split has examples; coverage and frequency order on the training split.
    """
    ran: Ran = [(code, None) for code in CONFIG_CHECKS]
    if model.sampled:
        ran += [(code, None) for code in SAMPLER_CHECKS]
    if any(len(sources) > 1 for sources in model.sources.values()):
        ran.append((Code.SOURCES_DISAGREE, None))
    if model.vocabulary_file:
        ran.append((Code.VOCABULARY_SIZE_MISMATCH, None))
    if model.checkpoint:
        ran.append((Code.WEIGHTS_SHAPE_MISMATCH, None))
    trained = examples.get(training_split, 0) > 0
    for split, count in examples.items():
        if not count:
            continue
        codes = list(SPLIT_CHECKS)
        if model.vocabulary_file:
            codes.append(Code.LABEL_NOT_IN_VOCABULARY)
        if model.context_feature:
            codes += CONTEXT_CHECKS
        if split != training_split and trained:
            codes += PAIR_CHECKS
        ran += [(code, split) for code in codes]
    if trained:
        ran.append((Code.CLASSES_UNSEEN, training_split))
        if model.sampled and model.sampler == "log_uniform" and training_classes_seen:
            ran.append((Code.SAMPLER_FREQUENCY_ORDER, training_split))
    return ran


def data_checks(formats: Mapping[str, str], full: bool) -> Ran:
    """(code, split) of every check of the data as a whole, per split.

    Every split is checked for emptiness and for columns TFDV cannot take;
    TFRecord splits for gzip names; in full mode TFDV validates every split
    against the schema inferred from the training split.
    """
    ran: Ran = []
    for split, data_format in formats.items():
        ran += [(Code.EMPTY_DATASET, split), (Code.COLUMNS_NOT_IN_STATISTICS, split)]
        if data_format == "tfrecord":
            ran.append((Code.COMPRESSION_NAME_MISMATCH, split))
        else:
            ran.append((Code.HIDDEN_FILES_SKIPPED, split))
        if full:
            ran.append((TFDV_SCHEMA, split))
    return ran
