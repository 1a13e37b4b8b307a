"""The names of the files a validation writes in its output folder.

One place for them: the writer, the checks' advice, the report and the gate all
name the same files.
"""

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
