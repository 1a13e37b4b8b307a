"""Writing a verdict's outputs, report.json last: its presence means "done".

Per-class files (unigram, remap) come from the training split's class counts and,
for the remap file, from the frequency fit itself; TFDV's statistics, schema and
anomalies (merged in anomalies.pbtxt, and per split as TFX's ExampleValidator lays
them out); report.md, report.html and JUnit XML; and report.json, written only once
everything else is in place, so a run that fails on the way leaves no verdict.
"""

import datetime
import io

import numpy as np
import pyarrow as pa
from pyarrow import csv

import classgate
from classgate import config, names
from classgate.checks import diagnoses, drift, sampler
from classgate.io import storage
from classgate.outputs import folder, history
from classgate.report import html, junit, markdown, signing
from classgate.report.model import (
    PARTIALS_VERSION,
    DriftProfile,
    FeatureSummary,
    FeatureTable,
    HistoryPoint,
    LabelSummary,
    Outputs,
    PartialFile,
    Partials,
    Report,
    Reuse,
    SplitData,
)
from classgate.stats import frequency, profile
from classgate.verdict import schema


def declared(request) -> list[str]:
    """Every name a validation may write in its folder: its manifest."""
    found = [
        names.REPORT,
        names.REPORT_MD,
        names.REPORT_HTML,
        names.SCHEMA,
        names.ANOMALIES,
        names.PENDING,
    ]
    if request.labels_only:
        found.append(names.PARTIALS)  # a folder: one partial per data file
    for model in request.models:
        found += [names.unigram(model.name), names.remap(model.name)]
    found += [names.statistics(split.name) for split in request.splits]
    found += [names.schema_diff(split.name) for split in request.splits]
    found += [
        names.class_counts(model.name, split.name)
        for model in request.models
        for split in request.splits
    ]
    if request.junit_xml:
        inside = folder.OutputFolder(request.output).relative(request.junit_xml)
        found += [inside] if inside else []
    return found


def publish(out, request, results, verdict, started: str, counters: dict) -> Report:
    """Writes every output of the verdict into `out` (an open OutputFolder).

    Returns the report, as written: signed when a key is set (report.signing).
    """
    report = report_of(request, results, verdict, started, now(), counters)
    report = report.with_checks()
    _frequency_files(out, request, results, verdict.fits)
    for model, split, path in _class_count_files(request):
        ids, counts = results.label(model, split).class_counts.pairs()
        out.write(path, history.encode_class_counts(ids, counts))
    for split, statistics in verdict.statistics.items():
        out.write(names.statistics(split), statistics.SerializeToString())
    out.write(names.SCHEMA, schema.to_text(verdict.schema))
    findings = verdict.tfdv_anomalies
    out.write(names.ANOMALIES, schema.to_text(findings.merged))
    for split in request.splits:
        diff = findings.of_split(split.name).SerializeToString()
        out.write(names.schema_diff(split.name), diff)
    out.write(names.REPORT_MD, markdown.render(report))
    out.write(names.REPORT_HTML, html.render(report))
    if request.junit_xml:
        inside = out.relative(request.junit_xml)
        if inside:
            out.write(inside, junit.render(report))
        else:
            storage.write_atomic(request.junit_xml, junit.render(report))
    report = signing.signed(report)
    out.write(names.REPORT, report.to_json())  # last: "done"
    return report


def report_of(
    request, results, verdict, started: str, finished: str, counters: dict
) -> Report:
    """The report of a verdict: what report.json holds. Pure: nothing is read."""
    split_names = [s.name for s in request.splits]
    first_model_of = {}
    for model in request.models:  # the first model of a feature speaks for it
        first_model_of.setdefault(model.label_feature, model)
    labels = {
        split: {
            feature: LabelSummary.model_validate(results.label(model, split).summary())
            for feature, model in first_model_of.items()
        }
        for split in split_names
    }
    return Report(
        status=verdict.status,
        strict=request.strict,
        mode="labels-only" if request.labels_only else "full",
        version=classgate.__version__,
        started=started,
        finished=finished,
        training_split=request.training_split,
        anomalies=verdict.anomalies,
        labels=labels,
        models=request.models,
        config_fingerprint=config.fingerprint(request.models),
        data={
            s.name: SplitData.of(s, _compressions(results.notes(s.name)))
            for s in request.splits
        },
        outputs=Outputs(
            schema=names.SCHEMA,
            anomalies=names.ANOMALIES,
            statistics={split: names.statistics(split) for split in split_names},
            unigram={
                m.name: names.unigram(m.name)
                for m in request.models
                if m.num_classes <= sampler.MAX_CLASS_FILE_LINES
            },
            class_counts={
                model.name: {
                    split: path
                    for m, split, path in _class_count_files(request)
                    if m is model
                }
                for model in request.models
                if model.num_classes <= sampler.MAX_CLASS_FILE_LINES
            },
        ),
        counters=counters,
        partials=_partials(request, results),
        reuse={split: Reuse(**found) for split, found in results.reuse.items()},
        previous_report=verdict.previous,
        history={
            model: [
                HistoryPoint(finished=when, max=top, distinct=distinct, report=path)
                for when, top, distinct, path in points
            ]
            for model, points in verdict.history.items()
        },
        drift=_drift(request, results, verdict.previous_counts),
        # labels-only statistics are the labels' own, already in `labels`
        features={}
        if request.labels_only
        else {split: features_of(found) for split, found in verdict.statistics.items()},
    )


def _partials(request, results) -> Partials | None:
    """The partials this run left per file, for a later run's reuse; None if none.

    None without a key (full mode, a submitted run): no later run reuses them.
    """
    if not results.partial_key:
        return None
    return Partials(
        version=PARTIALS_VERSION,
        key=results.partial_key,
        listed=request.listed,
        files={
            split: {
                path: PartialFile(name=name, sha256=digest, bytes=size)
                for path, (name, digest, size) in sorted(found.items())
            }
            for split, found in results.partials.items()
        },
    )


# Classes a drift profile names: each run's most frequent, and those whose share
# moved most (the L-infinity distance's class among them). Enough to see what
# moved; a few hundred bytes whatever num_classes is.
DRIFT_TOP_CLASSES = 12
DRIFT_MOVED_CLASSES = 8
# Features a split's table lists at most: a wide table stays a page, not a dump.
MAX_FEATURES = 300


def _drift(request, results, previous_counts) -> dict[str, dict[str, DriftProfile]]:
    """Model -> split -> this run's class counts beside the previous run's.

    Only where drift was measured: the previous run wrote counts of that model's
    label in that split.
    """
    found = {}
    for model in request.models:
        for split in (s.name for s in request.splits):
            before = previous_counts.get((model.name, split))
            if before is None:
                continue
            now = results.label(model, split).class_counts.pairs()
            found.setdefault(model.name, {})[split] = drift_profile(before, now)
    return found


def drift_profile(before, now) -> DriftProfile:
    """Two class counts, each (sorted unique ids, counts), compared compactly."""
    distances = drift.distances(before, now)
    ids = np.union1d(before[0], now[0])
    counts = [np.zeros(ids.size, dtype=np.int64) for _ in range(2)]
    for aligned, (seen, seen_counts) in zip(counts, (before, now), strict=True):
        aligned[np.searchsorted(ids, seen)] = seen_counts
    shares = [c / max(int(c.sum()), 1) for c in counts]
    larger = np.maximum(*shares)
    picked = np.unique(
        np.concatenate(
            [
                _largest(counts[0], DRIFT_TOP_CLASSES),
                _largest(counts[1], DRIFT_TOP_CLASSES),
                _largest(np.abs(shares[1] - shares[0]), DRIFT_MOVED_CLASSES),
            ]
        )
    )
    picked = picked[np.lexsort((ids[picked], -larger[picked]))]
    return DriftProfile(
        js_divergence=distances.js_divergence,
        linf=distances.linf,
        values_before=int(counts[0].sum()),
        values_now=int(counts[1].sum()),
        distinct_before=int(np.count_nonzero(counts[0])),
        distinct_now=int(np.count_nonzero(counts[1])),
        classes=[[int(ids[i]), int(counts[0][i]), int(counts[1][i])] for i in picked],
        rank_frequency_before=_rank_frequency(before[1]),
        rank_frequency_now=_rank_frequency(now[1]),
    )


def _largest(values: np.ndarray, count: int) -> np.ndarray:
    """The indices of the `count` largest values above 0 (fewer if fewer are)."""
    if values.size > count:
        top = np.argpartition(-values, count - 1)[:count]
    else:
        top = np.arange(values.size)
    return top[values[top] > 0]


def _rank_frequency(counts: np.ndarray) -> list[list[int]]:
    """[rank, count] at log-spaced ranks, as the label's profile samples its curve."""
    ranked = np.sort(np.asarray(counts, dtype=np.int64))[::-1]
    ranks = np.unique(
        np.geomspace(1, max(ranked.size, 1), profile.PROFILE_POINTS).astype(int)
    )
    return [[int(r), int(ranked[r - 1])] for r in ranks if r <= ranked.size]


def features_of(statistics) -> FeatureTable:
    """A split's TFDV statistics (a DatasetFeatureStatisticsList) in brief."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    if not statistics.datasets:
        return FeatureTable(examples=0, total=0, features=[])
    dataset = statistics.datasets[0]
    kinds = statistics_pb2.FeatureNameStatistics.Type
    rows = []
    for feature in dataset.features:
        name = ".".join(feature.path.step) if feature.path.step else feature.name
        which = feature.WhichOneof("stats")
        stats = getattr(feature, which) if which else None
        common = getattr(stats, "common_stats", None)
        row = {
            "name": name,
            "type": kinds.Name(feature.type),
            "present": int(common.num_non_missing) if common else 0,
            "missing": int(common.num_missing) if common else 0,
        }
        if which == "num_stats":
            row.update(
                (key, _finite(getattr(stats, key))) for key in ("min", "max", "mean")
            )
        elif which == "string_stats":
            row["unique"] = int(stats.unique)
        rows.append(FeatureSummary(**row))
    rows.sort(key=lambda row: row.name)
    return FeatureTable(
        examples=int(dataset.num_examples),
        total=len(rows),
        features=rows[:MAX_FEATURES],
    )


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _compressions(notes: dict) -> dict[str, int]:
    """How many files its readers found of each compression: {"gzip": 3, ...}."""
    found = [note["compression"] for note in notes.values() if "compression" in note]
    return {kind: found.count(kind) for kind in sorted(set(found))}


def _class_count_files(request):
    """(model, split, path) of each class-count file, what a later run's drift reads.

    None past 2**30 classes (CLASS_FILES_SKIPPED).
    """
    return [
        (model, split.name, names.class_counts(model.name, split.name))
        for model in request.models
        if model.num_classes <= sampler.MAX_CLASS_FILE_LINES
        for split in request.splits
    ]


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _frequency_files(out, request, results, fits) -> None:
    """The unigram counts of every model, and a remapping where ids need one."""
    for model in request.models:
        n = model.num_classes
        if n > sampler.MAX_CLASS_FILE_LINES:  # CLASS_FILES_SKIPPED says so
            continue
        stats = results.label(model, request.training_split)
        ids, counts = stats.class_counts.pairs()
        out.write(names.unigram(model.name), _count_lines(n, ids, counts))
        fit = fits.get(model.name)
        if fit is not None and diagnoses.worth_remapping(fit):
            pieces = (
                piece
                for old_ids, new_ids in frequency.remapping(n, ids, counts)
                for piece in _lines(old_ids, new_ids)
            )
            out.write(names.remap(model.name), pieces)


def _count_lines(num_classes: int, ids: np.ndarray, counts: np.ndarray):
    """One line per class with its count (0 when unseen), from the seen ones."""
    chunk = 1 << 20
    for start in range(0, num_classes, chunk):
        stop = min(start + chunk, num_classes)
        here = slice(*np.searchsorted(ids, [start, stop]))
        dense = np.zeros(stop - start, dtype=np.int64)
        dense[ids[here] - start] = counts[here]
        yield from _lines(dense)


def _lines(*columns: np.ndarray, chunk: int = 1 << 20):
    """Tab-separated lines of integer columns, in pieces of `chunk` rows.

    Arrow's CSV writer formats them in C++: 10M lines in about 0.4 s, never one
    string (Python's str and join took 1.4 s).
    """
    options = csv.WriteOptions(include_header=False, delimiter="\t")
    for start in range(0, len(columns[0]), chunk):
        table = pa.table(
            {str(i): c[start : start + chunk] for i, c in enumerate(columns)}
        )
        piece = io.BytesIO()
        csv.write_csv(table, piece, options)
        yield piece.getvalue()
