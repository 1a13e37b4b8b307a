"""Why the config and the data disagree: the failure modes public bug reports repeat.

Off-by-one vocabularies, -1 padding, strings missing from the vocabulary, context ids
past the embedding table, ids not sorted by frequency under the log-uniform sampler,
and splits whose classes differ. Each reads the same single-pass statistics.
"""

import numpy as np

from pipeline.checks.anomaly import Anomaly, Severity
from pipeline.config import ModelConfig
from pipeline.stats import frequency
from pipeline.stats.label import LabelStats

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
                "LABEL_ONE_BASED",
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
                    "LABEL_SENTINEL",
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
        top = stats.not_in_vocabulary.most_common(EXAMPLES_SHOWN)
        absorbed = model.num_oov_buckets > 0
        found.append(
            _anomaly(
                "LABEL_NOT_IN_VOCABULARY",
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


def check_frequency_order(
    model: ModelConfig, split: str, stats: LabelStats, unigram_file: str
) -> list[Anomaly]:
    """Log-uniform sampling assumes ids sorted by falling frequency."""
    if model.sampler != "log_uniform" or not stats.classes_seen:
        return []
    fit = frequency.fit(stats.spec.num_classes, *stats.class_counts.pairs())
    if fit.spearman <= FALLING_SPEARMAN and fit.gain <= REMAP_GAIN:
        return []
    return [
        _anomaly(
            "SAMPLER_FREQUENCY_ORDER",
            Severity.WARNING,
            f"class frequency does not fall with id (Spearman rho {fit.spearman:.2f}); "
            f"the ids are {fit.distance:.2f} from log-uniform in total variation "
            f"({fit.distance_remapped:.2f} if remapped by frequency): use sampler: "
            f"unigram with {unigram_file}, or remap the ids",
            model,
            split,
            spearman=fit.spearman,
            distance=fit.distance,
            distance_remapped=fit.distance_remapped,
        )
    ]


def check_splits(
    model: ModelConfig, training: str, train: LabelStats, split: str, other: LabelStats
) -> list[Anomaly]:
    """Classes that one split has and the training split has not, and back."""
    found = []
    train_seen, other_seen = _seen_values(train), _seen_values(other)
    new = np.setdiff1d(other_seen, train_seen, assume_unique=True)
    if new.size:
        ids, counts = other.class_counts.pairs()
        inside = np.isin(ids, new, assume_unique=True)
        examples = int(counts[inside].sum()) + sum(
            n for v, n in other.outside.items() if v not in train.outside
        )
        new = new.tolist()
        found.append(
            _anomaly(
                "SPLIT_LABEL_UNSEEN_IN_TRAIN",
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
    gone = np.setdiff1d(train_seen, other_seen, assume_unique=True)
    gone = gone[(gone >= 0) & (gone < model.num_classes)].tolist()
    if gone:
        found.append(
            _anomaly(
                "SPLIT_CLASSES_MISSING",
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


def _seen_values(stats: LabelStats) -> np.ndarray:
    """Every integer label value seen, sorted: in-range ids and the rest."""
    outside = np.fromiter(stats.outside, dtype=np.int64, count=len(stats.outside))
    return np.union1d(stats.class_counts.seen_ids(), outside)


def check_context_ids(
    model: ModelConfig, split: str, stats: LabelStats
) -> list[Anomaly]:
    """Input ids past the embedding table: zeros on GPU, a crash on CPU."""
    above, below = stats.above_range, stats.below_range
    if not above and not below:
        return []
    bad = sum(above.values()) + sum(below.values())
    vocab = model.context_vocab_size
    return [
        _anomaly(
            "ID_OUT_OF_RANGE",
            Severity.ERROR,
            f"{bad} '{model.context_feature}' ids are outside [0, {vocab}) (min "
            f"{stats.min}, max {stats.max}): set context_vocab_size to at least "
            f"{max(stats.max + 1, vocab)} or remap the ids; on GPU the lookup "
            "silently returns zeros",
            model,
            split,
            feature=model.context_feature,
            values=bad,
            min=stats.min,
            max=stats.max,
            context_vocab_size=vocab,
        )
    ]
