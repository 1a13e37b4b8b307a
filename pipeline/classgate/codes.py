"""The vocabulary of findings and verdicts: codes, severities, a run's status.

`Code` names every finding classgate's own checks make; TFDV's findings keep TFDV's
names behind a `TFDV_` prefix. Codes are a contract: CI rules, dashboards, waivers
in model configs (`checks:`) and the report's readers match on them, and
`DESCRIPTIONS` says when each fires (docs/reference/anomaly-codes.md is made from
it). A leaf module: the config validates its waivers against these codes.
"""

import enum


class Severity(enum.StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"


class Status(enum.StrEnum):
    """How a run ended: a verdict, or none yet."""

    PASS = "pass"
    FAIL = "fail"
    # The runner only translated the job (--dry_run): nothing was validated.
    DRY_RUN = "dry-run"
    # The job was submitted; `classgate conclude` gives the verdict later.
    SUBMITTED = "submitted"


class Code(enum.StrEnum):
    """classgate's anomaly codes (DESCRIPTIONS says when each fires, and how badly)."""

    # Labels against num_classes and num_true.
    LABEL_ABOVE_RANGE = "LABEL_ABOVE_RANGE"
    LABEL_BELOW_RANGE = "LABEL_BELOW_RANGE"
    CLASSES_UNSEEN = "CLASSES_UNSEEN"
    LABEL_MISSING = "LABEL_MISSING"
    LABEL_COUNT_MISMATCH = "LABEL_COUNT_MISMATCH"
    LABEL_TYPE_INVALID = "LABEL_TYPE_INVALID"
    EMPTY_DATASET = "EMPTY_DATASET"
    # The sampler's settings, which need no data.
    NUM_SAMPLED_INVALID = "NUM_SAMPLED_INVALID"
    NUM_SAMPLED_HIGH = "NUM_SAMPLED_HIGH"
    ACCIDENTAL_HITS_WITH_NCE = "ACCIDENTAL_HITS_WITH_NCE"
    CLASS_FILES_SKIPPED = "CLASS_FILES_SKIPPED"
    # Diagnoses: why the config and the data disagree.
    LABEL_ONE_BASED = "LABEL_ONE_BASED"
    LABEL_SENTINEL = "LABEL_SENTINEL"
    LABEL_NOT_IN_VOCABULARY = "LABEL_NOT_IN_VOCABULARY"
    VOCABULARY_SIZE_MISMATCH = "VOCABULARY_SIZE_MISMATCH"
    WEIGHTS_SHAPE_MISMATCH = "WEIGHTS_SHAPE_MISMATCH"
    SOURCES_DISAGREE = "SOURCES_DISAGREE"
    ID_OUT_OF_RANGE = "ID_OUT_OF_RANGE"
    ID_FEATURE_ABSENT = "ID_FEATURE_ABSENT"
    ID_TYPE_INVALID = "ID_TYPE_INVALID"
    SAMPLER_FREQUENCY_ORDER = "SAMPLER_FREQUENCY_ORDER"
    SPLIT_LABEL_UNSEEN_IN_TRAIN = "SPLIT_LABEL_UNSEEN_IN_TRAIN"
    SPLIT_CLASSES_MISSING = "SPLIT_CLASSES_MISSING"
    # Against earlier runs (--previous-report).
    LABEL_DRIFT = "LABEL_DRIFT"
    CLASSES_APPEARED = "CLASSES_APPEARED"
    CLASSES_VANISHED = "CLASSES_VANISHED"
    NUM_CLASSES_HEADROOM = "NUM_CLASSES_HEADROOM"
    HISTORY_SKIPPED = "HISTORY_SKIPPED"
    # The data files themselves.
    COMPRESSION_NAME_MISMATCH = "COMPRESSION_NAME_MISMATCH"
    COLUMNS_NOT_IN_STATISTICS = "COLUMNS_NOT_IN_STATISTICS"
    HIDDEN_FILES_SKIPPED = "HIDDEN_FILES_SKIPPED"


# TFDV's anomaly types, as codes: TFDV_<AnomalyInfo.Type name>.
TFDV_PREFIX = "TFDV_"

# The checks whose ERROR means training breaks (a crash, a CUDA assert, silent
# zeros, labels read wrong) or the verdict's own ground is unsure: a model config
# may not waive them or make them WARNINGs (config.CheckControl), and the gate
# never excuses them, so no control can turn a run that would break into a pass.
MUST_HOLD = frozenset(
    {
        Code.LABEL_ABOVE_RANGE,
        Code.LABEL_BELOW_RANGE,
        Code.LABEL_MISSING,
        Code.LABEL_COUNT_MISMATCH,
        Code.LABEL_TYPE_INVALID,
        Code.LABEL_ONE_BASED,
        Code.LABEL_SENTINEL,
        Code.LABEL_NOT_IN_VOCABULARY,
        Code.VOCABULARY_SIZE_MISMATCH,
        Code.WEIGHTS_SHAPE_MISMATCH,
        Code.SOURCES_DISAGREE,
        Code.EMPTY_DATASET,
        Code.NUM_SAMPLED_INVALID,
        Code.ID_OUT_OF_RANGE,
        Code.ID_TYPE_INVALID,
        Code.ID_FEATURE_ABSENT,
    }
)

_WARN_OR_FAIL = "ERROR above `max_unseen_fraction`, else WARNING"
# Each code's default severity and when it fires: docs/reference/anomaly-codes.md
# is generated from these (tools/docs.py), and a test fails on a Code without one.
DESCRIPTIONS: dict[Code, tuple[str, str]] = {
    Code.LABEL_ABOVE_RANGE: (
        "ERROR",
        'some label >= num_classes ("labels reach 9999: set num_classes to at '
        'least 10000")',
    ),
    Code.LABEL_BELOW_RANGE: ("ERROR", "some label < 0"),
    Code.CLASSES_UNSEEN: (
        _WARN_OR_FAIL,
        "classes in [0, num_classes) that never occur in the training split: dead rows",
    ),
    Code.LABEL_MISSING: (
        "ERROR",
        "examples without the label (absent feature, empty list, Parquet null, "
        "or a null inside a list)",
    ),
    Code.LABEL_COUNT_MISMATCH: (
        "ERROR",
        "an example's label count differs from num_true",
    ),
    Code.LABEL_TYPE_INVALID: (
        "ERROR",
        "labels that are not integer ids: strings without a vocabulary (or "
        "non-strings with one), fractional floats, booleans, decimals, times, "
        "structs; and any float stored in a tf.Example (`float_list`), which an "
        "int64 parse fails on",
    ),
    Code.EMPTY_DATASET: ("ERROR", "a split with no examples"),
    Code.NUM_SAMPLED_INVALID: (
        "ERROR",
        "num_sampled <= 0, or >= num_classes with a unique sampler",
    ),
    Code.NUM_SAMPLED_HIGH: (
        "WARNING",
        "num_sampled >= 50% of num_classes: a full softmax would cost about the "
        "same, exactly",
    ),
    Code.ACCIDENTAL_HITS_WITH_NCE: (
        "WARNING",
        "remove_accidental_hits with loss nce",
    ),
    Code.CLASS_FILES_SKIPPED: (
        "WARNING",
        "num_classes above 2**30: no unigram, remap or class-counts file (one "
        "line or entry per class) is written",
    ),
    Code.LABEL_ONE_BASED: (
        "ERROR",
        'labels span 1..num_classes and 0 never occurs: "subtract 1, or set '
        'num_classes to N+1"',
    ),
    Code.LABEL_SENTINEL: (
        "ERROR",
        "every out-of-range label is one repeated value (-1 padding, max-int): "
        "names it and its count",
    ),
    Code.LABEL_NOT_IN_VOCABULARY: (
        "ERROR (WARNING when OOV buckets absorb them)",
        "string labels absent from `vocabulary_file`: count and the most frequent",
    ),
    Code.VOCABULARY_SIZE_MISMATCH: (
        "ERROR",
        "vocabulary lines + num_oov_buckets != num_classes, or duplicate lines",
    ),
    Code.WEIGHTS_SHAPE_MISMATCH: (
        "ERROR",
        "checkpoint weight rows or bias length != num_classes (read from the "
        "checkpoint index, no values loaded)",
    ),
    Code.SOURCES_DISAGREE: (
        "ERROR",
        "a config value given by several references (`- {from: ..., key: ...}`) "
        "that read different values: both sources and both values named",
    ),
    Code.ID_OUT_OF_RANGE: (
        "ERROR",
        "`context_feature` ids outside [0, context_vocab_size): the same "
        "silent-zeros bug on the input side",
    ),
    Code.ID_FEATURE_ABSENT: (
        "ERROR",
        "no example of a split has `context_feature` (a Parquet file without "
        "the column is exit 2)",
    ),
    Code.ID_TYPE_INVALID: (
        "ERROR",
        "`context_feature` values that are not integer ids (strings, fractions, "
        "tf.Example floats)",
    ),
    Code.SAMPLER_FREQUENCY_ORDER: (
        "WARNING",
        "log_uniform sampler, but frequency does not fall with id (Spearman rho "
        "> -0.2) or a remapping by frequency would bring the ids > 0.1 closer "
        "to log-uniform in total variation",
    ),
    Code.SPLIT_LABEL_UNSEEN_IN_TRAIN: (
        "WARNING",
        "labels in another split that never occur in the training split",
    ),
    Code.SPLIT_CLASSES_MISSING: (
        "WARNING",
        "classes of the training split absent from another split",
    ),
    Code.LABEL_DRIFT: (
        "WARNING; ERROR at `drift_error_js_divergence` / `drift_error_linf` when set",
        "the class frequencies' Jensen-Shannon divergence (bits) reaches "
        "`drift_js_divergence` or their L-infinity distance `drift_linf`, per "
        "split, against the previous run (`--previous-report`)",
    ),
    Code.CLASSES_APPEARED: (
        "WARNING",
        "classes absent from the previous run that occur now too often for chance",
    ),
    Code.CLASSES_VANISHED: (
        "WARNING",
        "classes of the previous run absent now, too frequent then for chance",
    ),
    Code.NUM_CLASSES_HEADROOM: (
        "WARNING",
        "at the pace of the history, max id + 1 or the distinct classes pass "
        "num_classes within `headroom_days`: the date, and the num_classes that "
        "would last",
    ),
    Code.HISTORY_SKIPPED: (
        "WARNING",
        "an earlier report left out, each named with why: unreadable, another "
        "schema version, finished after this run started, another model set (no "
        "model in common with this run), the run being replaced (the report in "
        "this run's own `--output`); or a previous run without class counts",
    ),
    Code.COMPRESSION_NAME_MISMATCH: (
        "WARNING",
        "TFRecord files named `.gz` but not gzip-compressed (uncompressed or "
        "zlib), or gzip-compressed but not so named; never an empty file, nor "
        "zlib not named `.gz`",
    ),
    Code.COLUMNS_NOT_IN_STATISTICS: (
        "WARNING",
        "Parquet columns of types TFDV's statistics cannot take, left out of them",
    ),
    Code.HIDDEN_FILES_SKIPPED: (
        "WARNING",
        "Parquet files matched by a glob whose names start with `_` or `.` (not "
        "job markers): skipped as Arrow datasets and Spark skip them, but "
        "`tf.io.gfile.glob` returns them",
    ),
}
# What TFDV's own findings (TFDV_<type>) weigh, and when they come.
TFDV_DESCRIPTION = (
    "WARNING against the inferred schema; TFDV's severity against `--baseline-schema`",
    "whatever TFDV reports, validating each split's statistics against the schema",
)
