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


def class_counts(model: str, split: str) -> str:
    """A model's label class counts in a split: what a later run's drift reads."""
    return f"classes/{model}/Split-{split}.npz"


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
