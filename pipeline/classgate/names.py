"""The names of the files a validation writes in its output folder.

One place for them: the writer, the checks' advice, the report and the gate all
name the same files, and the output folder sweeps only names of these shapes
(`is_output_name`): a manifest that names anything else was not written by
classgate.
"""

import re

REPORT = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
SCHEMA = "schema.pbtxt"
ANOMALIES = "anomalies.pbtxt"
PENDING = "pending.json"
# labels-only: one file per data file, its partial label statistics (run.partials).
PARTIALS = "partials"


def unigram(model: str) -> str:
    """Per-class counts, loadable by tf.random.fixed_unigram_candidate_sampler."""
    return f"unigram-{model}.txt"


def remap(model: str) -> str:
    """old_id<TAB>new_id by falling frequency, written when ids are not so sorted."""
    return f"remap-{model}.txt"


def statistics(split: str) -> str:
    """Where a split's TFDV statistics go, laid out as TFX's StatisticsGen does."""
    return f"statistics/Split-{split}/FeatureStats.pb"


def schema_diff(split: str) -> str:
    """Where a split's binary TFDV Anomalies go, laid out as TFX's ExampleValidator.

    `anomalies/` is the ExampleAnomalies artifact's folder, as `statistics/` is the
    statistics'; TFDV's `anomalies_util.load_anomalies_binary` reads the file.
    """
    return f"anomalies/Split-{split}/SchemaDiff.pb"


def partial(split: str, name: str) -> str:
    """A data file's partial label statistics; `name` is a digest of its path."""
    return f"{PARTIALS}/Split-{split}/{name}.npz"


def class_counts(model: str, split: str) -> str:
    """A model's label class counts in a split: what a later run's drift reads."""
    return f"classes/{model}/Split-{split}.npz"


# Every file a validation may leave in its output folder, and what it is:
# docs/reference/outputs.md is generated from this (tools/docs.py), and a test holds
# each entry to is_output_name. <model> and <split> stand for a model's and a
# split's name.
FILES: tuple[tuple[str, str], ...] = (
    (
        REPORT,
        "the verdict and its figures, for machines: `status` (pass or fail), "
        "`anomalies`, `labels` (per split and label feature: examples, missing, min, "
        "max, distinct, ...), `models` (the resolved configs) and their fingerprint, "
        "`data` (per split: patterns, files with size, modification time and local "
        "identity, skipped job markers, the compressions found, fingerprint), the "
        "version, start and end time, and `signature` when CLASSGATE_SIGNING_KEY is "
        "set. Written last: its presence means the run finished",
    ),
    (
        REPORT_MD,
        "the same for people: the verdict first, then a table per model; appended "
        "to $GITHUB_STEP_SUMMARY when that is set",
    ),
    (
        REPORT_HTML,
        "one self-contained page (inline CSS and SVG, no network): the verdict, each "
        "model's config and every check that ran, the rank-frequency curve on "
        "log-log axes beside the log-uniform sampler's, a histogram of label ids "
        "with [0, num_classes) marked and out-of-range bins in red, the unseen-class "
        "share, links to the TFDV files",
    ),
    (
        SCHEMA,
        "the TFDV Schema inferred from the training split, each label typed as the "
        "data stores it, with the domain its model promises in that type and "
        "value_count = num_true: ints INT with int_domain [0, num_classes - 1], "
        "whole-number floats FLOAT with float_domain, strings with a vocabulary "
        "BYTES (the vocabulary as string_domain when it is small). TFDV finds "
        "nothing in correct data of any accepted label type",
    ),
    (
        ANOMALIES,
        "the TFDV Anomalies of every split against that schema (and the baseline "
        "schema), each feature's severity as report.json gives it",
    ),
    (
        schema_diff("<split>"),
        "a split's TFDV Anomalies, binary, as TFX's ExampleValidator writes its "
        "ExampleAnomalies artifact (anomalies_util.load_anomalies_binary reads it)",
    ),
    (
        statistics("<split>"),
        "a split's TFDV DatasetFeatureStatisticsList (tfdv.load_stats_binary, "
        "Facets); the label features only with --labels-only",
    ),
    (
        unigram("<model>"),
        "one count per class id 0..num_classes-1 from the training split, as "
        "tf.random.fixed_unigram_candidate_sampler(vocab_file=..., "
        "range_max=num_classes) loads it; none above 2**30 classes",
    ),
    (
        remap("<model>"),
        "`old_id<TAB>new_id` by falling frequency, when the ids are not so sorted "
        "and remapping would help the log-uniform sampler; none above 2**30 classes",
    ),
    (
        class_counts("<model>", "<split>"),
        "the label's class counts (sparse, compressed): what a later run's "
        "--previous-report reads for drift; none above 2**30 classes",
    ),
    (
        PARTIALS,
        "labels-only: the folder of the partials below, one per data file; "
        "listed in the manifest as one name, swept whole",
    ),
    (
        partial("<split>", "<name>"),
        "labels-only: one data file's partial label statistics (what its reader "
        "found, and per label spec the figures and class counts of that file "
        "alone), so that a later run's --previous-report need not read the file "
        "again while it is unchanged (zlib-compressed .npz). Bounded by the file: "
        "16 bytes per distinct class in it before compression (about 2 after), "
        "its distinct out-of-range values and at most 20 locations per problem; "
        "report.json's `partials` records each one's digest",
    ),
    (
        PENDING,
        "validate --no-wait only: the submitted run (its request, the classgate "
        "version, the runner's job id), until `classgate conclude` gives the verdict",
    ),
    (
        "<name>.xml",
        "the JUnit file, when --junit-xml names a file inside the folder",
    ),
)


# Model and split names are plain (config.ModelConfig, the CLI's split names): no
# '/', so each shape below names files of one kind and no others.
_PLAIN = r"[A-Za-z0-9._-]+"
_SHAPES = re.compile(
    "|".join(
        [
            re.escape(name)
            for name in (REPORT, REPORT_MD, REPORT_HTML, SCHEMA, ANOMALIES, PENDING)
        ]
        + [
            rf"unigram-{_PLAIN}\.txt",
            rf"remap-{_PLAIN}\.txt",
            rf"statistics/Split-{_PLAIN}/FeatureStats\.pb",
            rf"anomalies/Split-{_PLAIN}/SchemaDiff\.pb",
            rf"classes/{_PLAIN}/Split-{_PLAIN}\.npz",
            re.escape(PARTIALS),
            rf"{PARTIALS}/Split-{_PLAIN}/{_PLAIN}\.npz",
            # --junit-xml inside the folder: any plain name of a JUnit file.
            rf"(?:{_PLAIN}/)*{_PLAIN}\.xml",
        ]
    )
)
# Per-class files a trainer loads by name: one left by a run that no manifest
# lists must not lie beside a verdict that never looked at it.
PER_CLASS = re.compile(rf"(?:unigram|remap)-{_PLAIN}\.txt")


def is_output_name(name: str) -> bool:
    """Whether `name`, relative to the folder, is shaped as a file classgate writes."""
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return False
    return _SHAPES.fullmatch(name) is not None
