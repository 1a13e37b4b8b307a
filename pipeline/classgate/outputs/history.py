"""Past runs: where they live, which is the previous one, what each holds.

`--previous-report PATH` names a report.json, a run's output folder, or a folder
(or bucket prefix) of runs' output folders, each `<run>/report.json`. Every report
found there is a candidate; the one that finished last is the previous run, which
LABEL_DRIFT compares with, and the MAX_REPORTS that finished last are the history
of NUM_CLASSES_HEADROOM. A candidate is left out and named (HISTORY_SKIPPED) when
its report cannot be read or has another schema version, when it finished after
this run started, when none of its models is one of this run's (another model
set), and when it is the report in this run's own output folder (the run being
replaced); when nothing usable is left the run stops with exit 2: a comparison was
asked for and cannot be made. Class frequencies come from the file each run writes
beside its report (`names.class_counts`); a run without it (num_classes above
2**30) gives history figures but no drift. That file is read only as far as its
report vouches for it (integer counts above 0, ids in [0, num_classes), totals its
report's figures hold); anything else is exit 2 naming it: the previous run was
asked for, and drift measured against a damaged or planted file would be false.
"""

import dataclasses
import datetime
import heapq
import io
import os
import posixpath
from collections.abc import Sequence

import numpy as np

from classgate import errors, names
from classgate.io import storage
from classgate.report.model import Report
from classgate.stats.label import LabelSpec

# A history of more reports than this is read from its most recent ones.
MAX_REPORTS = 1_000
# An .npy array's header and padding, beside its 8 bytes per class.
_ARRAY_SLACK = 4_096


@dataclasses.dataclass(frozen=True)
class Run:
    report_path: str
    report: Report
    finished: datetime.datetime

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.report_path)

    def describe(self) -> str:
        return f"{self.report_path} (finished {self.report.finished})"


@dataclasses.dataclass(frozen=True)
class History:
    runs: tuple[Run, ...]  # oldest first
    skipped: tuple[tuple[str, str], ...]  # (path, why)

    @property
    def previous(self) -> Run:
        return self.runs[-1]


def load(
    path: str,
    before: datetime.datetime | None = None,
    models: Sequence[str] | None = None,
    replacing: str | None = None,
) -> History:
    """The runs at `path` that finished before `before`; InputError if none.

    Every candidate is read; the MAX_REPORTS that finished last are kept, the
    previous run the last of them. Left out and named: unreadable reports, runs
    that finished after `before`, runs none of whose models is in `models` (when
    given), and the report in the folder `replacing` (this run's --output).
    """
    kept, skipped = [], []  # kept: a heap of (finished, path, run), latest kept
    for report_path in _report_paths(path):
        if replacing is not None and _same_folder(
            posixpath.dirname(report_path), replacing
        ):
            skipped.append((report_path, "the run being replaced (this --output)"))
            continue
        try:
            report = Report.load(report_path)
            run = Run(report_path, report, _finished(report, report_path))
        except errors.InputError as e:
            skipped.append((report_path, e.message))
            continue
        if before is not None and run.finished > before:
            skipped.append((report_path, "finished after this run started"))
            continue
        theirs = [m.name for m in report.models]
        if models is not None and not set(theirs) & set(models):
            skipped.append(
                (report_path, f"another model set ({', '.join(theirs)[:200]})")
            )
            continue
        heapq.heappush(kept, (run.finished, report_path, run))
        if len(kept) > MAX_REPORTS:
            heapq.heappop(kept)
    if not kept:
        why = ""
        if skipped:
            where, reason = skipped[0]
            why = f": {reason if reason.startswith(where) else f'{where}: {reason}'}"
        raise errors.InputError(
            f"--previous-report {path}: no earlier classgate report there{why}"
        )
    runs = tuple(run for _, _, run in sorted(kept, key=lambda k: k[:2]))
    return History(runs, tuple(skipped))


def class_counts(run: Run, model: str, split: str):
    """(ids, counts) that `run` wrote for a model's label in a split, or None.

    Read no larger than the run's report allows, and only as far as the report
    vouches for it: integer counts above 0; ids whole numbers in [0, num_classes);
    at most the classes the model has (exactly the classes seen, when the report's
    figures were counted for this model's label spec), adding up to at most the
    label values the report counted. Anything else is an InputError naming the
    file: no drift is measured against a planted or damaged file, nor gigabytes
    unpacked. None when the run wrote no such file (an older run, or one past
    2**30 classes) or its report has no figures of the split.
    """
    config = next(m for m in run.report.models if m.name == model)
    summary = run.report.labels.get(split, {}).get(config.label_feature)
    if summary is None:
        return None
    # The report's figures are those of the first model of the feature: the
    # classes it saw are this model's exactly when both check the label alike.
    first = next(
        m for m in run.report.models if m.label_feature == config.label_feature
    )
    exact = LabelSpec.of_label(first) == LabelSpec.of_label(config)
    classes = summary.classes_seen if exact else config.num_classes
    path = posixpath.join(run.folder, names.class_counts(model, split))
    most = _ARRAY_SLACK + 8 * classes
    try:
        data = storage.read(path, 2 * most)
    except errors.InputError:
        raise
    except Exception:  # absent: an older run, or one past 2**30 classes
        return None
    ids, counts = decode_class_counts(data, path, most)

    def refuse(why: str):
        return errors.InputError(f"{path}: {why}: not the counts of that run")

    if ids.size > classes or (exact and ids.size != classes):
        raise refuse(f"holds {ids.size} classes, its report says {classes}")
    if ids.size and ids[-1] >= config.num_classes:
        raise refuse(f"class id {ids[-1]} is past num_classes {config.num_classes}")
    values = _values_counted(summary, run.report_path)
    # A total past 2**62 is no run's, and is kept from overflowing int64 below.
    if ids.size and (
        float(counts.sum(dtype=np.float64)) >= 2.0**62 or int(counts.sum()) > values
    ):
        raise refuse(f"its counts add up to more than the {values} label values")
    return ids, counts


def _values_counted(summary, report_path: str) -> int:
    """The label values a report's split figures counted: sum of n x examples."""
    try:
        return sum(
            int(n) * examples for n, examples in summary.values_per_example.items()
        )
    except ValueError as e:
        raise errors.InputError(
            f"{report_path}: values_per_example holds a key that is not a count"
        ) from e


def encode_class_counts(ids: np.ndarray, counts: np.ndarray) -> bytes:
    """Sparse class counts, ids delta-encoded: a few bytes a class, compressed."""
    buffer = io.BytesIO()
    gaps = np.diff(ids.astype(np.int64), prepend=np.int64(0))
    np.savez_compressed(buffer, gaps=gaps, counts=counts.astype(np.int64))
    return buffer.getvalue()


def decode_class_counts(data: bytes, path: str, most: int | None = None):
    """The (ids, counts) of `encode_class_counts`.

    Each array unpacks to at most `most` bytes (InputError beyond).
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            if most is not None:
                for member in archive.zip.infolist():
                    if member.file_size > most:
                        raise errors.InputError(
                            f"{path}: {member.filename} unpacks to "
                            f"{member.file_size} bytes, more than {most}"
                        )
            gaps, counts = archive["gaps"], archive["counts"]
    except errors.InputError:
        raise
    except Exception as e:  # not an npz, arrays missing
        raise errors.InputError(f"{path}: not class counts classgate wrote") from e
    for name, array in (("gaps", gaps), ("counts", counts)):
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            raise errors.InputError(
                f"{path}: {name} are {array.dtype} of shape {array.shape}, not a "
                "row of whole numbers: damaged class counts"
            )
    gaps, counts = gaps.astype(np.int64), counts.astype(np.int64)
    if gaps.shape != counts.shape:
        raise errors.InputError(f"{path}: as many ids as counts, or damaged")
    if counts.size and counts.min() <= 0:
        raise errors.InputError(
            f"{path}: a class counted {counts.min()} times: damaged class counts"
        )
    # Ids strictly increase from 0 or more; the running sum of gaps that are
    # never negative wraps below 0 if it overflows int64, so ids >= 0 rules it out.
    ids = np.cumsum(gaps)
    if gaps.size and (gaps[0] < 0 or np.any(gaps[1:] <= 0) or np.any(ids < 0)):
        raise errors.InputError(f"{path}: class ids out of order: damaged class counts")
    return ids, counts


def _finished(report: Report, path: str) -> datetime.datetime:
    """When the run finished, as a time with its zone (report.json's is UTC)."""
    try:
        when = datetime.datetime.fromisoformat(report.finished)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise errors.InputError(
            f"{path}: finished {report.finished[:40]!r} is not a time with its zone"
        )
    return when


def _report_paths(path: str) -> list[str]:
    """report.json itself, the one in a run's folder, or those one level below."""
    path = path.rstrip("/") or "/"
    if path.endswith(".json"):
        return [path]
    own = posixpath.join(path, names.REPORT)
    if storage.exists(own):
        return [own]
    pattern = posixpath.join(path, "*", names.REPORT)
    if storage.is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        try:
            (matched,) = FileSystems.match([pattern])
        except Exception:
            return []
        return sorted(m.path for m in matched.metadata_list)
    import glob

    return sorted(glob.glob(glob.escape(path) + "/*/" + names.REPORT))


@dataclasses.dataclass(frozen=True)
class Past:
    """What this run is compared with, read on the driver before the job."""

    previous: str  # the previous run, described for messages
    previous_path: str  # its report.json
    # (model, split) -> the previous run's label figures ({"max", "distinct"}) and
    # class counts (None when it wrote none)
    figures: dict
    counts: dict
    # model -> [(finished, max, distinct, report path)], oldest first
    points: dict
    skipped: tuple[tuple[str, str], ...]


def read_past(
    path: str, started: str, models, splits, training: str, output: str | None = None
) -> Past:
    """The history at `path` for these models and splits (see `load`).

    `output` is this run's output folder: a report there is the run being replaced.
    """
    found = load(
        path,
        before=datetime.datetime.fromisoformat(started),
        models=[m.name for m in models],
        replacing=output,
    )
    previous = found.previous
    previous_models = {m.name for m in previous.report.models}
    figures, counts = {}, {}
    for model in models:
        if model.name not in previous_models:
            continue
        for split in splits:
            summary = previous.report.labels.get(split, {}).get(model.label_feature)
            if summary is None:
                continue
            figures[(model.name, split)] = {
                "max": summary.max,
                "distinct": summary.distinct,
            }
            counts[(model.name, split)] = class_counts(previous, model.name, split)
    points = {}
    for model in models:
        points[model.name] = [
            (run.report.finished, summary.max, summary.distinct, run.report_path)
            for run in found.runs
            if model.name in {m.name for m in run.report.models}
            for summary in [
                run.report.labels.get(training, {}).get(model.label_feature)
            ]
            if summary is not None and summary.max is not None
        ]
    return Past(
        previous=previous.describe(),
        previous_path=previous.report_path,
        figures=figures,
        counts=counts,
        points=points,
        skipped=found.skipped,
    )


def _same_folder(one: str, other: str) -> bool:
    """Whether two paths name one folder (local: links and `..` resolved)."""
    if storage.is_remote(one) or storage.is_remote(other):
        return one.rstrip("/") == other.rstrip("/")
    return os.path.realpath(one) == os.path.realpath(other)
