"""The report: one typed, frozen model of a validation's verdict and figures.

Built once from the verdict (classgate.publish), written as report.json, and read
back with `Report.load` by the gate, the renderers (markdown, html, junit) and the
bench. report.json's keys are a contract other tools read; `schema_version` says
which contract, and a report of another version is refused rather than guessed at.
"""

import os
from typing import Literal

import pydantic

from classgate import errors
from classgate.checks import catalog
from classgate.checks.anomaly import TFDV_PREFIX, Anomaly, Severity, Status
from classgate.config import ModelConfig
from classgate.io.files import DataFile

# 2: skipped markers listed as files and fingerprinted, local file identities,
# the compression found per split, an optional signature.
SCHEMA_VERSION = 2
# A report.json past this size was not written by classgate.
MAX_BYTES = 256 << 20


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")


class IdHistogram(_Frozen):
    """Counts of label values in bins whose edges fall on 0 and num_classes."""

    edges: list[float]
    counts: list[int]
    num_classes: int
    beyond_low: int
    beyond_high: int


class Profile(_Frozen):
    """The label distribution's shape, for plots."""

    rank_frequency: list[list[int]]  # [rank, count], rank 1 the most frequent
    id_histogram: IdHistogram


class LabelSummary(_Frozen):
    """One label feature's figures in one split."""

    examples: int
    missing: int
    values_per_example: dict[str, int]
    min: int | None
    max: int | None
    distinct: int
    num_classes: int  # what the figures were counted against
    classes_seen: int
    above_range: int
    below_range: int
    non_integer: int
    ignored: int = 0  # ids equal to the model's ignore_index
    value_types: list[str]
    profile: Profile


class SplitData(_Frozen):
    """What a split was: its patterns, the files they matched, their fingerprint."""

    patterns: list[str]
    format: Literal["tfrecord", "parquet"]
    files: list[DataFile]
    # Job markers (_SUCCESS, .crc, ...) the patterns matched; fingerprinted too.
    skipped: list[DataFile] = []
    bytes: int
    fingerprint: str
    # What the readers found the files to be: {"gzip": 3, "none": 1, ...}.
    compression: dict[str, int] = {}

    @classmethod
    def of(cls, split, compression: dict[str, int] | None = None) -> "SplitData":
        """A listed split (classgate.io.files.Split) as the report holds it."""
        return cls(
            patterns=list(split.patterns),
            format=split.format,
            files=list(split.files),
            skipped=list(split.skipped),
            bytes=split.bytes,
            fingerprint=split.fingerprint,
            compression=compression or {},
        )


class Outputs(_Frozen):
    """The files beside report.json, by role."""

    schema_: str = pydantic.Field(alias="schema")
    anomalies: str
    statistics: dict[str, str]
    unigram: dict[str, str]
    # model -> split -> its label's class counts (history.encode_class_counts)
    class_counts: dict[str, dict[str, str]] = {}

    model_config = pydantic.ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True
    )


# The format of the per-file partials (run.partials): a change reads every file again.
PARTIALS_VERSION = 1


class PartialFile(_Frozen):
    """One data file's partial label statistics, kept for a later run to reuse."""

    name: str  # its name in the output folder: partials/Split-<split>/<digest>.npz
    sha256: str  # the digest of its bytes: a later run trusts only these bytes
    bytes: int  # its size


class Partials(_Frozen):
    """labels-only: the per-file partials this run left beside its report.

    A later run's --previous-report reuses a file's partial only when the file is
    listed exactly as here, the key matches its own, and the partial's bytes have
    the digest recorded here (run.partials).
    """

    version: int  # the partial format's version
    # sha256 of what the partials were computed with: the partial format, the
    # classgate version, every label spec (vocabulary bytes included) and the
    # class range width
    key: str
    # When the files were listed (seconds since the epoch, taken before): a file
    # changed within RACY_S before it may share its change time with a rewrite
    # (run.partials.RACY_S), and is read again rather than reused.
    listed: float | None = None
    files: dict[str, dict[str, PartialFile]] = {}  # split -> data file path -> it


class Reuse(_Frozen):
    """How much of a split this run read, and how much it took from the last run."""

    files_reused: int  # files whose partial statistics came from the previous run
    bytes_reused: int  # their size
    files_read: int  # files this run's job read
    bytes_read: int  # their size
    # Why no file could be reused (full mode, no --previous-report, other label
    # specs, ...); null when the previous run's partials were consulted file by file.
    why_none: str | None = None


class HistoryPoint(_Frozen):
    """One run in a model's history: its training label's figures when it ended."""

    finished: str
    max: int | None
    distinct: int
    report: str  # the report's path; "" for this run


class DriftProfile(_Frozen):
    """A model's label in one split: this run's class counts beside the previous run's.

    As compact as the label's profile, whatever num_classes is: the classes that
    say most about the comparison, and both rank-frequency curves at log-spaced
    ranks; report.html overlays them.
    """

    js_divergence: float  # of the class frequencies, in bits, as LABEL_DRIFT's
    linf: float  # the largest change of one class's share, as LABEL_DRIFT's
    values_before: int  # label values the previous run counted, in [0, num_classes)
    values_now: int  # label values this run counted, in [0, num_classes)
    distinct_before: int  # classes the previous run saw
    distinct_now: int  # classes this run saw
    # [id, count before, count now]: each run's most frequent classes and those
    # whose share moved most, by falling larger share
    classes: list[list[int]]
    rank_frequency_before: list[list[int]]  # the previous run's [rank, count]
    rank_frequency_now: list[list[int]]  # this run's [rank, count], as Profile's


class FeatureSummary(_Frozen):
    """One feature of TFDV's statistics of a split, in brief."""

    name: str  # its path, steps joined by "."
    type: str  # TFDV's: INT, FLOAT, STRING, BYTES or STRUCT
    present: int  # examples that have it
    missing: int  # examples that do not
    # numeric features' figures; null where there is none, or it is not finite
    min: float | None = None  # the smallest value (numeric features)
    max: float | None = None  # the largest value (numeric features)
    mean: float | None = None  # the mean value (numeric features)
    unique: int | None = None  # string features: distinct values


class FeatureTable(_Frozen):
    """TFDV's statistics of a split in brief (full mode): a row per feature."""

    examples: int  # examples in the split's statistics
    total: int  # features in the statistics; `features` holds the first by name
    features: list[FeatureSummary]  # at most MAX_FEATURES (publish), by name


class CheckResult(_Frozen):
    """A check that ran, and what it found: passed, ERROR, WARNING or waived."""

    code: str
    model: str | None
    split: str | None
    result: Literal["passed", "ERROR", "WARNING", "waived"]


def _result(found) -> str:
    """The worst of a check's findings that is not waived; `waived` if all are."""
    if not found:
        return "passed"
    standing = [a.severity for a in found if a.waived is None]
    if not standing:
        return "waived"
    return "ERROR" if Severity.ERROR in standing else "WARNING"


class Report(_Frozen):
    """report.json."""

    schema_version: Literal[2] = SCHEMA_VERSION
    status: Literal[Status.PASS, Status.FAIL]
    strict: bool
    mode: Literal["full", "labels-only"]
    version: str
    started: str
    finished: str
    training_split: str
    anomalies: tuple[Anomaly, ...]
    # split -> label feature -> figures
    labels: dict[str, dict[str, LabelSummary]]
    models: tuple[ModelConfig, ...]
    config_fingerprint: str
    data: dict[str, SplitData]
    outputs: Outputs
    counters: dict[str, int]
    # --previous-report: the run compared with, and each model's history, oldest
    # first, this run last (NUM_CLASSES_HEADROOM's input, plotted in report.html).
    previous_report: str | None = None
    history: dict[str, list[HistoryPoint]] = {}
    # --previous-report: model -> split -> its class counts beside the previous
    # run's (what LABEL_DRIFT compares, drawn overlaid in report.html).
    drift: dict[str, dict[str, DriftProfile]] = {}
    # Full mode: split -> every feature's TFDV statistics in brief.
    features: dict[str, FeatureTable] = {}
    # labels-only: each file's partial label statistics, for a later run's reuse.
    partials: Partials | None = None
    # split -> how many files and bytes were read, and reused from --previous-report.
    reuse: dict[str, Reuse] = {}
    # Every check that ran (checks.catalog), each with its result: what passed is
    # listed as well as what found something (Great Expectations' statistics).
    checks: list["CheckResult"] = []
    # "hmac-sha256:<hex>" over the rest of the report, when the run had a key
    # (classgate.signing); None otherwise.
    signature: str | None = None

    def with_checks(self) -> "Report":
        """This report with `checks` listing every check that ran and its result."""
        results = []
        for model in [*self.models, None]:
            owner = model.name if model else None
            for code, split in self.checks_ran(model):
                found = [
                    a
                    for a in self.anomalies
                    if a.split == split
                    and (a.model == owner or model is None and a.model is None)
                    and (
                        a.code == code
                        or code == catalog.TFDV_SCHEMA
                        and a.code.startswith(TFDV_PREFIX)
                    )
                ]
                results.append(
                    CheckResult(
                        code=code, model=owner, split=split, result=_result(found)
                    )
                )
        return self.model_copy(update={"checks": results})

    def checks_ran(self, model: ModelConfig | None) -> "catalog.Ran":
        """(code, split) of every check that ran, from this report's own figures.

        Of `model`'s checks, or with None of the data's (checks.catalog): the one
        list that report.html ticks and JUnit counts as testcases.
        """
        if model is None:
            formats = {split: data.format for split, data in self.data.items()}
            return catalog.data_checks(formats, self.mode == "full")
        labels = {
            split: by_feature[model.label_feature]
            for split, by_feature in self.labels.items()
            if model.label_feature in by_feature
        }
        training = labels.get(self.training_split)
        seen = training.classes_seen if training else 0
        examples = {split: stats.examples for split, stats in labels.items()}
        return catalog.model_checks(model, examples, self.training_split, seen)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, by_alias=True) + "\n"

    def _repr_html_(self) -> str:
        """The report page inline, as a notebook shows a value (Jupyter, Colab)."""
        from classgate.report import html

        return html.inline(self)

    @classmethod
    def parse(cls, data: bytes | str, path: str) -> "Report":
        """A report from report.json's content; InputError naming what is wrong."""
        from classgate.io import storage

        try:
            document = storage.parse_json(data, path)
        except errors.InputError as e:
            raise errors.InputError(f"not a classgate report: {e.message}") from e
        if not isinstance(document, dict):
            raise errors.InputError(f"{path}: not a classgate report")
        version = document.get("schema_version")
        if version != SCHEMA_VERSION:
            raise errors.InputError(
                f"{path}: a report of schema version {str(version)[:20]}; this "
                f"classgate reads version {SCHEMA_VERSION}: validate again"
            )
        try:
            return cls.model_validate(document)
        except pydantic.ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(part) for part in first["loc"])[:200]
            raise errors.InputError(
                f"{path}: not a whole classgate report ({where}: {first['msg']})"
            ) from e

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Report":
        """Reads report.json (local or remote); InputError if it is not one."""
        from classgate.io import storage

        path = os.fspath(path)
        try:
            data = storage.read(path, MAX_BYTES)
        except errors.InputError:
            raise
        except Exception as e:  # missing file, permissions, remote errors
            first = errors.first_line(e)
            raise errors.InputError(
                f"{path}: not a readable classgate report: {first}"
            ) from e
        return cls.parse(data, path)
