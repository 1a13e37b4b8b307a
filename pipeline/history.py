"""Past runs: where they live, which is the previous one, what each holds.

`--previous-report PATH` names a report.json, a run's output folder, or a folder
(or bucket prefix) of runs' output folders, each `<run>/report.json`. Every report
found there is history for NUM_CLASSES_HEADROOM; the one that finished last is
the previous run, which LABEL_DRIFT compares with. A report that cannot be read, or
has another schema version, is left out and named (HISTORY_SKIPPED); when nothing
usable is left the run stops with exit 2: a comparison was asked for and cannot be
made. Class frequencies come from the file each run writes beside its report
(`names.class_counts`); a run without it (num_classes above 2**30) gives history
figures but no drift.
"""

import dataclasses
import datetime
import io
import posixpath

import numpy as np

from classgate import errors, names, storage
from classgate.report.model import Report

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


def load(path: str, before: datetime.datetime | None = None) -> History:
    """The runs at `path` that finished before `before`; InputError if none."""
    runs, skipped = [], []
    for report_path in _report_paths(path):
        try:
            report = Report.load(report_path)
            run = Run(report_path, report, _finished(report, report_path))
        except errors.InputError as e:
            skipped.append((report_path, e.message))
            continue
        if before is not None and run.finished > before:
            skipped.append((report_path, "finished after this run started"))
            continue
        runs.append(run)
    if not runs:
        why = f": {skipped[0][1]}" if skipped else ""
        raise errors.InputError(
            f"--previous-report {path}: no earlier classgate report there{why}"
        )
    runs.sort(key=lambda run: run.finished)
    return History(tuple(runs[-MAX_REPORTS:]), tuple(skipped))


def class_counts(run: Run, model: str, split: str, classes: int, exact: bool):
    """(ids, counts) that `run` wrote for a model's label in a split, or None.

    The file holds at most `classes` classes (exactly, with `exact`: the classes
    seen that its report states) and is read no larger than they need: a planted
    or damaged file is exit 2, never a drift measured against it, nor gigabytes
    unpacked.
    """
    path = posixpath.join(run.folder, names.class_counts(model, split))
    most = _ARRAY_SLACK + 8 * classes
    try:
        data = storage.read(path, 2 * most)
    except errors.InputError:
        raise
    except Exception:  # absent: an older run, or one past 2**30 classes
        return None
    ids, counts = decode_class_counts(data, path, most)
    if ids.size > classes or (exact and ids.size != classes):
        raise errors.InputError(
            f"{path}: holds {ids.size} classes, its report says {classes}: not "
            "the counts of that run"
        )
    return ids, counts


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
            ids, counts = np.cumsum(archive["gaps"]), archive["counts"]
    except errors.InputError:
        raise
    except Exception as e:  # not an npz, arrays missing
        raise errors.InputError(f"{path}: not class counts classgate wrote") from e
    if ids.shape != counts.shape or (ids.size and (np.any(np.diff(ids) <= 0))):
        raise errors.InputError(f"{path}: damaged class counts")
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
        return sorted(m.path for m in matched.metadata_list)[-MAX_REPORTS:]
    import glob

    return sorted(glob.glob(glob.escape(path) + "/*/" + names.REPORT))[-MAX_REPORTS:]


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


def read_past(path: str, started: str, models, splits, training: str) -> Past:
    """The history at `path` for these models and splits (see `load`)."""
    found = load(path, before=datetime.datetime.fromisoformat(started))
    previous = found.previous
    previous_models = {m.name: m for m in previous.report.models}
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
            # The report's figures are counted against the first model of the
            # feature: exact for this model when it has the same num_classes.
            exact = summary.num_classes == previous_models[model.name].num_classes
            counts[(model.name, split)] = class_counts(
                previous,
                model.name,
                split,
                summary.classes_seen
                if exact
                else previous_models[model.name].num_classes,
                exact,
            )
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
