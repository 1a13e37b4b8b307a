"""Checks of label values against a model's num_classes and num_true."""

from classgate.checks.anomaly import Anomaly, Code, Severity
from classgate.config import ModelConfig
from classgate.stats import label
from classgate.stats.label import LabelStats

# Out-of-range values listed in details, most frequent first.
SAMPLE_SIZE = 10
INT64_MAX = (1 << 63) - 1


def empty_dataset(split: str) -> Anomaly:
    return Anomaly(
        code=Code.EMPTY_DATASET,
        severity=Severity.ERROR,
        message=f"split '{split}' has no examples: check the file pattern and files",
        split=split,
    )


# Arrow's names of the float types a tf.Example float_list decodes to.
FLOAT_TYPES = ("halffloat", "float", "double")


def check(
    model: ModelConfig,
    split: str,
    stats: LabelStats,
    data_format: str,
    advised: int | None = None,
) -> list[Anomaly]:
    """Missing, miscounted, mistyped and out-of-range labels in one split."""
    found = []

    def add(code, message, problem, **details):
        details["locations"] = [
            loc._asdict() for loc in stats.locations.get(problem, [])
        ]
        found.append(
            Anomaly(
                code=code,
                severity=Severity.ERROR,
                message=message,
                model=model.name,
                feature=model.label_feature,
                split=split,
                details=details,
            )
        )

    feature, n = model.label_feature, model.num_classes
    if stats.missing:
        add(
            Code.LABEL_MISSING,
            f"{stats.missing} of {stats.examples} examples have no '{feature}' "
            "label: drop or fill them before training",
            label.MISSING,
            examples=stats.examples,
            missing=stats.missing,
        )
    if stats.count_mismatches:
        counts = sorted(c for c in stats.values_per_example if c)
        add(
            Code.LABEL_COUNT_MISMATCH,
            f"{stats.count_mismatches} examples have a label count other than "
            f"num_true={model.num_true} (counts seen: {counts}): set num_true or "
            "give every example the same number of labels",
            label.COUNT_MISMATCH,
            examples=stats.count_mismatches,
            values_per_example=stats.summary()["values_per_example"],
        )
    if stats.non_integer:
        sample = [loc.value for loc in stats.locations.get(label.NON_INTEGER, [])][:5]
        wanted = (
            f"strings of {model.vocabulary_file}"
            if model.vocabulary_file
            else f"int64 ids in [0, {n})"
        )
        add(
            Code.LABEL_TYPE_INVALID,
            f"{stats.non_integer} label values are not "
            f"{'strings' if model.vocabulary_file else 'integer class ids'} "
            f"(types: {', '.join(sorted(stats.value_types))}; e.g. {sample}): "
            f"map them to {wanted}",
            label.NON_INTEGER,
            values=stats.non_integer,
            value_types=sorted(stats.value_types),
        )
    floats = float_types(stats, data_format)
    if floats:
        add(
            Code.LABEL_TYPE_INVALID,
            f"labels are stored as tf.Example float_list ({', '.join(floats)}): "
            "a trainer that parses them as int64 (tf.io.parse_example with "
            "tf.int64, as classgate's does) fails on them; store int64_list",
            label.NON_INTEGER,
            values=stats.integer_values,
            value_types=sorted(stats.value_types),
        )
    above = stats.above_range
    if above:
        top = max(above)
        fits = max(top + 1, advised or 0)
        advice = (
            f"set num_classes to at least {fits}"
            if top < INT64_MAX
            else "beyond any int64 class id: remap them"
        )
        add(
            Code.LABEL_ABOVE_RANGE,
            f"labels reach {top}: {advice} "
            f"({sum(above.values())} values are >= num_classes {n})",
            label.ABOVE_RANGE,
            values=sum(above.values()),
            distinct=len(above),
            max=top,
            num_classes=n,
            advised_num_classes=fits if top < INT64_MAX else None,
            most_frequent=_most_frequent(above),
        )
    below = stats.below_range
    if below:
        add(
            Code.LABEL_BELOW_RANGE,
            f"labels go down to {min(below)}: class ids must be >= 0; remap or drop "
            f"the {sum(below.values())} negative values",
            label.BELOW_RANGE,
            values=sum(below.values()),
            distinct=len(below),
            min=min(below),
            most_frequent=_most_frequent(below),
        )
    return found


def check_coverage(
    model: ModelConfig, split: str, stats: LabelStats, advised: int | None = None
) -> list[Anomaly]:
    """Classes in [0, num_classes) the training data never shows: dead rows."""
    n = model.num_classes
    unseen = n - stats.classes_seen
    if unseen == 0:
        return []
    fraction = unseen / n
    top = stats.max
    if top is not None and 0 <= top < n - 1:
        if advised is None or advised == top + 1:
            advice = f"labels stop at {top}: set num_classes to {top + 1}"
        elif advised < n:
            advice = (
                f"labels stop at {top}: set num_classes to {advised}, what the "
                f"history's growth needs for {model.headroom_days:g} days"
            )
        else:
            advice = (
                f"labels stop at {top}, but the history's growth needs num_classes "
                f"{advised} within {model.headroom_days:g} days"
            )
    else:
        advice = "the ids have gaps: remap them to dense ids"
    too_many = too_many_unseen(model, stats.classes_seen)
    return [
        Anomaly(
            code=Code.CLASSES_UNSEEN,
            severity=Severity.ERROR if too_many else Severity.WARNING,
            message=(
                f"{unseen} of {n} classes ({fraction:.1%}) never occur in split "
                f"'{split}' ({'above' if too_many else 'within'} "
                f"max_unseen_fraction {model.max_unseen_fraction}): {advice}"
            ),
            model=model.name,
            feature=model.label_feature,
            split=split,
            details={
                "unseen": unseen,
                "num_classes": n,
                "unseen_fraction": fraction,
                "max_unseen_fraction": model.max_unseen_fraction,
                "classes_seen": stats.classes_seen,
                "advised_num_classes": advised,
            },
        )
    ]


def too_many_unseen(model: ModelConfig, classes_seen: int) -> bool:
    """Whether more of the classes than max_unseen_fraction never occur: an ERROR.

    The one rule: CLASSES_UNSEEN's severity, the gate's re-derivation of it, and
    the colour of report.html's coverage plot.
    """
    unseen = model.num_classes - classes_seen
    return unseen / model.num_classes > model.max_unseen_fraction


def _most_frequent(counter) -> list[dict]:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return [{"value": v, "count": c} for v, c in ranked[:SAMPLE_SIZE]]


def float_types(stats: LabelStats, data_format: str) -> list[str]:
    """The float types of ids read from tf.Example, where only int64_list parses."""
    if data_format != "tfrecord" or not stats.integer_values:
        return []
    return sorted(t for t in stats.value_types if t in FLOAT_TYPES)
