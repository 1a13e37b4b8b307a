"""Why the config and the data disagree: the failure modes public bug reports repeat.

Off-by-one vocabularies, -1 padding, strings missing from the vocabulary, context ids
past the embedding table, ids not sorted by frequency under the log-uniform sampler,
and splits whose classes differ. Each reads the same single-pass statistics.
"""

import numpy as np

from classgate import names
from classgate.checks import labels
from classgate.checks.anomaly import Anomaly, Code, Severity
from classgate.config import ModelConfig
from classgate.stats import frequency, label, values
from classgate.stats.label import LabelStats
from classgate.stats.values import SHOWN_CHARS

# Spearman's rho of id vs count above this: frequency does not fall with id.
# Zipf-distributed ids sorted by frequency measure about -0.5 (ties in the tail),
# shuffled or uniform ones about 0.
FALLING_SPEARMAN = -0.2
# Total-variation gain from remapping ids by frequency that is worth a remap file.
REMAP_GAIN = 0.1
# Values listed in a message.
EXAMPLES_SHOWN = 5


def _anomaly(code, severity, message, model, split, feature=None, **details):
    return Anomaly(
        code=code,
        severity=severity,
        message=message,
        model=model.name,
        feature=feature or model.label_feature,
        split=split,
        details=details,
    )


def check_labels(model: ModelConfig, split: str, stats: LabelStats) -> list[Anomaly]:
    """Diagnoses of one split's label values."""
    found = []
    n = model.num_classes
    if stats.min == 1 and stats.max == n:  # min 1: 0 never occurs
        found.append(
            _anomaly(
                Code.LABEL_ONE_BASED,
                Severity.ERROR,
                f"labels span 1..{n} and 0 never occurs: labels look 1-based: "
                f"subtract 1, or set num_classes to {n + 1}",
                model,
                split,
                min=1,
                max=n,
            )
        )
    elif len(stats.outside) == 1:
        ((value, count),) = stats.outside.items()
        if count > 1:
            found.append(
                _anomaly(
                    Code.LABEL_SENTINEL,
                    Severity.ERROR,
                    f"every out-of-range label is the value {value} ({count} times): a "
                    "padding or sentinel value; drop those examples or give them a "
                    "real class",
                    model,
                    split,
                    value=value,
                    count=count,
                )
            )
    if stats.not_in_vocabulary:
        missing = sum(stats.not_in_vocabulary.values())
        top = [
            (_shown(w), c)
            for w, c in stats.not_in_vocabulary.most_common(EXAMPLES_SHOWN)
        ]
        absorbed = model.num_oov_buckets > 0
        found.append(
            _anomaly(
                Code.LABEL_NOT_IN_VOCABULARY,
                Severity.WARNING if absorbed else Severity.ERROR,
                f"{missing} labels in {len(stats.not_in_vocabulary)} distinct strings "
                f"are not in {model.vocabulary_file} (most frequent: "
                + ", ".join(f"{w!r} x{c}" for w, c in top)
                + (
                    f"); they fall into the {model.num_oov_buckets} OOV buckets"
                    if absorbed
                    else "): add them to the vocabulary or set num_oov_buckets"
                ),
                model,
                split,
                values=missing,
                distinct=len(stats.not_in_vocabulary),
                most_frequent=[{"value": w, "count": c} for w, c in top],
            )
        )
    return found


def _shown(word: bytes) -> str:
    text = values.shown(word)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def check_frequency_order(
    model: ModelConfig, split: str, fit: frequency.FrequencyFit
) -> list[Anomaly]:
    """Log-uniform sampling assumes ids sorted by falling frequency."""
    if model.sampler != "log_uniform":
        return []
    if fit.spearman <= FALLING_SPEARMAN and fit.gain <= REMAP_GAIN:
        return []
    return [
        _anomaly(
            Code.SAMPLER_FREQUENCY_ORDER,
            Severity.WARNING,
            f"class frequency does not fall with id (Spearman rho {fit.spearman:.2f}); "
            f"the ids are {fit.distance:.2f} from log-uniform in total variation "
            f"({fit.distance_remapped:.2f} if remapped by frequency): use sampler: "
            f"unigram with {names.unigram(model.name)}, or remap the ids",
            model,
            split,
            spearman=fit.spearman,
            distance=fit.distance,
            distance_remapped=fit.distance_remapped,
        )
    ]


def worth_remapping(fit: frequency.FrequencyFit) -> bool:
    """Whether remapping ids by frequency brings them enough closer to log-uniform."""
    return fit.gain > REMAP_GAIN


def check_splits(
    model: ModelConfig, training: str, train: LabelStats, split: str, other: LabelStats
) -> list[Anomaly]:
    """Classes that one split has and the training split has not, and back."""
    found = []
    train_ids, other_ids = train.class_counts.seen_ids(), other.class_counts.seen_ids()
    new_ids = np.setdiff1d(other_ids, train_ids, assume_unique=True)
    new_outside = sorted(set(other.outside) - set(train.outside))
    if new_ids.size or new_outside:
        ids, counts = other.class_counts.pairs()
        inside = np.isin(ids, new_ids, assume_unique=True)
        examples = int(counts[inside].sum()) + sum(
            other.outside[v] for v in new_outside
        )
        new = sorted(new_ids.tolist() + new_outside)
        found.append(
            _anomaly(
                Code.SPLIT_LABEL_UNSEEN_IN_TRAIN,
                Severity.WARNING,
                f"{len(new)} labels in '{split}' never occur in '{training}' "
                f"({examples} examples, e.g. {new[:EXAMPLES_SHOWN]}): the model "
                "cannot learn them",
                model,
                split,
                labels=len(new),
                examples=examples,
                sample=new[: EXAMPLES_SHOWN * 2],
            )
        )
    gone = np.setdiff1d(train_ids, other_ids, assume_unique=True).tolist()
    if gone:
        found.append(
            _anomaly(
                Code.SPLIT_CLASSES_MISSING,
                Severity.WARNING,
                f"{len(gone)} classes in '{training}' never occur in '{split}' "
                f"(e.g. {gone[:EXAMPLES_SHOWN]}): '{split}' cannot measure them",
                model,
                split,
                classes=len(gone),
                sample=gone[: EXAMPLES_SHOWN * 2],
            )
        )
    return found


def check_context_ids(
    model: ModelConfig, split: str, stats: LabelStats, data_format: str
) -> list[Anomaly]:
    """The trainer's input ids: present, integers, and inside the embedding table.

    Ids past the table give zeros on GPU and a crash on CPU; a feature no example
    has, or one of strings or fractions, is data the trainer cannot read.
    """
    feature, vocab = model.context_feature, model.context_vocab_size
    if not any(count for count, n in stats.values_per_example.items() if n):
        return [
            _anomaly(
                Code.ID_FEATURE_ABSENT,
                Severity.ERROR,
                f"no example of split '{split}' has '{feature}', the model's "
                "context_feature: the trainer would have no input; fix "
                "context_feature or the data",
                model,
                split,
                feature=feature,
                examples=stats.examples,
            )
        ]
    found = []
    floats = labels.float_types(stats, data_format)
    if stats.non_integer or floats:
        sample = [loc.value for loc in stats.locations.get(label.NON_INTEGER, [])][:5]
        why = (
            f"{stats.non_integer} values are not integer ids (e.g. {sample})"
            if stats.non_integer
            else f"ids are stored as tf.Example float_list ({', '.join(floats)}), "
            "which a parse as int64 fails on"
        )
        found.append(
            _anomaly(
                Code.ID_TYPE_INVALID,
                Severity.ERROR,
                f"'{feature}': {why}: the trainer reads int64 ids in [0, {vocab})",
                model,
                split,
                feature=feature,
                values=stats.non_integer,
                value_types=sorted(stats.value_types),
                locations=[
                    loc._asdict() for loc in stats.locations.get(label.NON_INTEGER, [])
                ],
            )
        )
    above, below = stats.above_range, stats.below_range
    if above or below:
        bad = sum(above.values()) + sum(below.values())
        found.append(
            _anomaly(
                Code.ID_OUT_OF_RANGE,
                Severity.ERROR,
                f"{bad} '{feature}' ids are outside [0, {vocab}) (min "
                f"{stats.min}, max {stats.max}): set context_vocab_size to at least "
                f"{max(stats.max + 1, vocab)} or remap the ids; on GPU the lookup "
                "silently returns zeros",
                model,
                split,
                feature=feature,
                values=bad,
                min=stats.min,
                max=stats.max,
                context_vocab_size=vocab,
            )
        )
    return found
