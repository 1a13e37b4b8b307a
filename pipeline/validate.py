"""One validation: build and run the Beam pipeline, then check and report on the driver.

The pipeline reads each split once. Every batch feeds the label accumulators, and in
full mode TFDV's GenerateStatistics as well. Results land as small files in a staging
folder; checks, schema inference and validation run afterwards as plain functions,
and the outputs are written atomically with report.json last.
"""

import dataclasses
import datetime
import functools
import io
import json
import pickle

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.options.pipeline_options import PipelineOptions, TestOptions
from apache_beam.runners.runner import PipelineState
from pyarrow import csv

import pipeline
from pipeline import checks, config, errors, output, schema, transforms
from pipeline.checks.anomaly import Anomaly, Severity
from pipeline.io import files
from pipeline.report import html, markdown
from pipeline.stats import label, tally


@dataclasses.dataclass(frozen=True)
class Request:
    """Everything one validation needs, resolved and checked by the caller."""

    splits: tuple[files.Split, ...]
    models: tuple[config.ModelConfig, ...]
    output: str
    labels_only: bool = False
    baseline_schema: str | None = None
    strict: bool = False
    beam_args: tuple[str, ...] = ()
    # False: submit the job and leave the verdict to `conclude` (a Flex Template's
    # launcher does not wait for the job it starts).
    wait: bool = True
    # Classes per key range of the per-class counts, each range combined apart.
    class_range_width: int = tally.RANGE_WIDTH

    @property
    def training_split(self) -> str:
        names = [s.name for s in self.splits]
        return "train" if "train" in names else names[0]

    @property
    def specs(self):
        """Label specs first, then the trainer's context ids: one accumulator each."""
        label_specs = [checks.spec_of(m) for m in self.models]
        contexts = [checks.context_spec_of(m) for m in self.models]
        return list(dict.fromkeys(label_specs + [c for c in contexts if c]))


@dataclasses.dataclass(frozen=True)
class Outcome:
    # "pass", "fail"; "dry-run" when the runner only translated the job;
    # "submitted" when the verdict waits for `conclude`.
    status: str
    anomalies: tuple[Anomaly, ...] = ()
    report: dict | None = None


# Written by a run submitted without waiting; `conclude` turns it into the verdict.
PENDING = "pending.json"


def unigram_name(model: str) -> str:
    """Per-class counts, loadable by tf.random.fixed_unigram_candidate_sampler."""
    return f"unigram-{_file_safe(model)}.txt"


def remap_name(model: str) -> str:
    """old_id<TAB>new_id by falling frequency, written when ids are not so sorted."""
    return f"remap-{_file_safe(model)}.txt"


def statistics_name(split: str) -> str:
    """Where a split's TFDV statistics go, laid out as TFX's StatisticsGen does."""
    return f"statistics/Split-{split}/FeatureStats.pb"


def _label_stats_path(staging: str, split_index: int, spec_index: int) -> str:
    """Where the job stages one split's statistics of one label spec."""
    return f"{staging}/labels-{split_index}-{spec_index}.pkl"


def _class_counts_path(
    staging: str, split_index: int, spec_index: int, range_index: int
) -> str:
    """Where the job stages one key range of a label spec's class counts."""
    return f"{staging}/classes-{split_index}-{spec_index}-{range_index}.pkl"


def _tfdv_stats_path(staging: str, split_index: int) -> str:
    """Where the job stages one split's TFDV statistics (full mode)."""
    return f"{staging}/stats-{split_index}.pb"


def build(root: beam.Pipeline, request: Request, staging: str) -> None:
    """Adds the reads, label statistics and (full mode) TFDV statistics to `root`."""
    labels = tuple(dict.fromkeys(m.label_feature for m in request.models))
    specs = request.specs
    for split_index, split in enumerate(request.splits):
        batches = root | f"Read[{split.name}]" >> transforms.ReadSplit(
            split, labels, full=not request.labels_only
        )
        for spec_index, spec in enumerate(specs):
            step = f"[{split.name}][{_spec_name(spec, specs)}]"
            width = request.class_range_width
            tallied = batches | f"TallyLabels{step}" >> beam.ParDo(
                transforms.TallyLabels(spec, width)
            ).with_outputs(transforms.TallyLabels.CLASSES, main="stats")
            _ = (
                tallied.stats
                | f"LabelStats{step}"
                >> beam.CombineGlobally(
                    transforms.MergeFn(functools.partial(label.LabelStats, spec))
                )
                | f"WriteLabelStats{step}"
                >> transforms.WriteResult(
                    _label_stats_path(staging, split_index, spec_index),
                    transforms.encode_pickle,
                )
            )
            _ = (
                tallied[transforms.TallyLabels.CLASSES]
                | f"ClassCounts{step}"
                >> beam.CombinePerKey(
                    transforms.MergeFn(
                        functools.partial(
                            tally.ClassCounts,
                            tally.range_size(spec.num_classes, width),
                        )
                    )
                )
                | f"WriteClassCounts{step}"
                >> transforms.WriteKeyedResults(
                    functools.partial(
                        _class_counts_path, staging, split_index, spec_index
                    ),
                    transforms.encode_pickle,
                )
            )
        if not request.labels_only:
            _ = (
                batches
                | f"ToArrow[{split.name}]" >> beam.Map(transforms.records_of)
                | f"TFDVStats[{split.name}]" >> schema.generate_statistics()
                | f"WriteTFDVStats[{split.name}]"
                >> transforms.WriteResult(
                    _tfdv_stats_path(staging, split_index), transforms.encode_proto
                )
            )


def run(request: Request) -> Outcome:
    """Validates; raises errors.InputError when nothing could be validated."""
    started = _now()
    # The model's own files are read first: a missing vocabulary is exit 2 at once.
    model_files = {m.name: _read_model_files(m) for m in request.models}
    folder = output.OutputFolder(request.output)
    folder.prepare()
    staging = folder.staging()
    submitted = False
    try:
        options = PipelineOptions(list(request.beam_args))
        root = beam.Pipeline(options=options)
        build(root, request, staging)
        result = root.run()
        if not request.wait and not options.view_as(TestOptions).dry_run:
            folder.write(PENDING, json.dumps(_pending(request, staging, started)))
            submitted = True
            return Outcome("submitted")
        result.wait_until_finish()
        if options.view_as(TestOptions).dry_run:
            return Outcome("dry-run")
        if result.state != PipelineState.DONE:
            raise RuntimeError(f"the pipeline ended in state {result.state}")
        counters = transforms.counters(result)
        return _conclude(request, folder, staging, started, model_files, counters)
    finally:
        if not submitted:
            folder.remove(staging)


def conclude(output_path: str) -> Outcome:
    """The verdict of a run submitted with wait=False, once its job has finished.

    Reads what the job staged in the output folder; raises InputError when the
    folder holds no submitted run, or the job has not (or not successfully)
    finished: its results are missing.
    """
    folder = output.OutputFolder(output_path)
    pending_path = folder.join(PENDING)
    try:
        pending = json.loads(output.read(pending_path))
    except Exception as e:  # no such file, unreadable, not JSON
        raise errors.InputError(
            f"{pending_path}: no submitted run to conclude here ({e})"
        ) from e
    request = _request_of(pending)
    staging = pending["staging"]
    missing = [
        path for path in _staged_paths(request, staging) if not output.exists(path)
    ]
    if missing:
        raise errors.InputError(
            f"{output_path}: the job has not finished, or failed: no {missing[0]}"
        )
    model_files = {m.name: _read_model_files(m) for m in request.models}
    outcome = _conclude(request, folder, staging, pending["started"], model_files, {})
    folder.remove(staging)
    folder.remove(pending_path)
    return outcome


def _pending(request: Request, staging: str, started: str) -> dict:
    """What `conclude` needs to rebuild the request, written beside the staging."""
    return {
        "staging": staging,
        "started": started,
        "splits": [{"name": s.name, **s.describe()} for s in request.splits],
        "models": [m.model_dump() for m in request.models],
        "labels_only": request.labels_only,
        "baseline_schema": request.baseline_schema,
        "strict": request.strict,
        "class_range_width": request.class_range_width,
    }


def _request_of(pending: dict) -> Request:
    splits = tuple(
        files.Split(
            s["name"],
            tuple(s["patterns"]),
            s["format"],
            tuple(files.DataFile(**f) for f in s["files"]),
        )
        for s in pending["splits"]
    )
    return Request(
        splits=splits,
        models=tuple(config.ModelConfig.model_validate(m) for m in pending["models"]),
        output="",
        labels_only=pending["labels_only"],
        baseline_schema=pending["baseline_schema"],
        strict=pending["strict"],
        class_range_width=pending["class_range_width"],
    )


def _staged_paths(request: Request, staging: str) -> list[str]:
    """Every file the job writes into the staging folder."""
    paths = []
    for split_index, _ in enumerate(request.splits):
        for spec_index, _ in enumerate(request.specs):
            paths.append(_label_stats_path(staging, split_index, spec_index))
        if not request.labels_only:
            paths.append(_tfdv_stats_path(staging, split_index))
    return paths


def _read_model_files(model: config.ModelConfig) -> checks.artifacts.ModelFiles:
    from pipeline import checkpoint, vocabulary

    found = {}
    if model.vocabulary_file:
        found["vocabulary_size"] = len(vocabulary.load(model.vocabulary_file))
        found["vocabulary_duplicates"] = vocabulary.duplicates(model.vocabulary_file)
    if model.checkpoint:
        variables = checkpoint.variables(model.checkpoint)
        for role in ("weights", "biases"):
            wanted = getattr(model, f"{role}_variable")
            if wanted:
                name, shape = checkpoint.find(
                    variables, wanted, f"{role}_variable", model.checkpoint
                )
                found[role] = (name, tuple(shape))
    return checks.artifacts.ModelFiles(**found)


def _write_frequency_files(request, folder, label_stats, anomalies) -> None:
    """The unigram counts of every model, and a remapping where ids need one.

    The remapping is what would make the log-uniform sampler fit; the
    SAMPLER_FREQUENCY_ORDER check already measured by how much, so its details
    decide (the fit sorts the seen counts: done once).
    """
    from pipeline.checks import diagnoses
    from pipeline.stats import frequency

    gains = {
        a.model: a.details["distance"] - a.details["distance_remapped"]
        for a in anomalies
        if a.code == "SAMPLER_FREQUENCY_ORDER"
    }
    for model in request.models:
        stats = label_stats[(request.training_split, checks.spec_of(model))]
        n, (ids, counts) = model.num_classes, stats.class_counts.pairs()
        folder.write(unigram_name(model.name), _count_lines(n, ids, counts))
        if gains.get(model.name, 0.0) > diagnoses.REMAP_GAIN:
            pieces = (
                piece
                for old_ids, new_ids in frequency.remapping(n, ids, counts)
                for piece in _lines(old_ids, new_ids)
            )
            folder.write(remap_name(model.name), pieces)


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


def _staged_label_stats(request: Request, staging: str) -> dict:
    """(split, spec) -> LabelStats, with the class counts of every key range back."""
    found = {}
    width = request.class_range_width
    for split_index, split in enumerate(request.splits):
        for spec_index, spec in enumerate(request.specs):
            path = _label_stats_path(staging, split_index, spec_index)
            stats = pickle.loads(output.read(path))
            pieces = []
            for index in sorted(stats.class_ranges):
                path = _class_counts_path(staging, split_index, spec_index, index)
                try:  # one read per range, no existence check first
                    pieces.append((index, pickle.loads(output.read(path))))
                except OSError as e:  # Beam's BeamIOError is one too
                    raise errors.InputError(
                        f"the job's results are incomplete: no {path}"
                    ) from e
            stats.put_class_counts(width, pieces)
            held = stats.class_counts.total()
            if held != stats.in_range:
                raise errors.InputError(
                    f"{split.name}/{spec.feature}: the runner lost results: the "
                    f"class counts hold {held} ids, the "
                    f"statistics counted {stats.in_range}; nothing was validated"
                )
            found[(split.name, spec)] = stats
    return found


def _check_examples(label_stats: dict, specs, counters: dict) -> None:
    """The examples the readers counted must all be in the statistics."""
    if "examples" not in counters:  # a runner without metrics
        return
    held = sum(
        stats.examples for (_, spec), stats in label_stats.items() if spec == specs[0]
    )
    if held != counters["examples"]:
        raise errors.InputError(
            f"the runner lost results: {counters['examples']} examples were read, "
            f"the statistics hold {held}; nothing was validated"
        )


def _conclude(request, folder, staging, started, model_files, counters) -> Outcome:
    specs = request.specs
    names = [s.name for s in request.splits]
    label_stats = _staged_label_stats(request, staging)
    _check_examples(label_stats, specs, counters)

    statistics = {}
    for split_index, split in enumerate(names):
        if request.labels_only:
            by_feature = {
                spec.feature: label_stats[(split, spec)]
                for spec in map(checks.spec_of, request.models)
            }
            statistics[split] = schema.label_statistics(split, by_feature)
        else:
            from tensorflow_metadata.proto.v0 import statistics_pb2

            statistics[split] = statistics_pb2.DatasetFeatureStatisticsList.FromString(
                output.read(_tfdv_stats_path(staging, split_index))
            )

    anomalies = checks.evaluate(
        request.models,
        label_stats,
        names,
        request.training_split,
        model_files,
        {m.name: unigram_name(m.name) for m in request.models},
    )
    if request.labels_only:
        # The label checks above are the validation; TFDV would only restate them.
        inferred = schema.label_schema(request.models)
        schemas = []
    else:
        inferred = schema.infer(statistics[request.training_split], request.models)
        schemas = [(schema.INFERRED, inferred)]
    if request.baseline_schema:
        only = [s.feature for s in specs] if request.labels_only else None
        schemas.append(
            (schema.BASELINE, schema.load_baseline(request.baseline_schema, only))
        )
    found = []
    for split in names:
        for source, against in schemas:
            result = schema.validate(statistics[split], against)
            found.append((split, source, result))
            anomalies += schema.as_anomalies(result, split, source, request.models)

    failing = {Severity.ERROR} | ({Severity.WARNING} if request.strict else set())
    status = "fail" if any(a.severity in failing for a in anomalies) else "pass"
    report = {
        "status": status,
        "strict": request.strict,
        "mode": "labels-only" if request.labels_only else "full",
        "version": pipeline.__version__,
        "started": started,
        "finished": None,
        "training_split": request.training_split,
        "anomalies": [a.to_json() for a in anomalies],
        "labels": {
            split: {
                spec.feature: label_stats[(split, spec)].summary()
                # the first model of a feature wins
                for spec in reversed([checks.spec_of(m) for m in request.models])
            }
            for split in names
        },
        "models": [m.model_dump() for m in request.models],
        "config_fingerprint": config.fingerprint(request.models),
        "data": {s.name: s.describe() for s in request.splits},
        "outputs": {
            "schema": "schema.pbtxt",
            "anomalies": "anomalies.pbtxt",
            "statistics": {split: statistics_name(split) for split in names},
            "unigram": {m.name: unigram_name(m.name) for m in request.models},
        },
    }
    _write_frequency_files(request, folder, label_stats, anomalies)
    for split in names:
        folder.write(statistics_name(split), statistics[split].SerializeToString())
    folder.write("schema.pbtxt", schema.to_text(inferred))
    folder.write("anomalies.pbtxt", schema.to_text(schema.merge_anomalies(found)))
    report["counters"] = counters
    report["finished"] = _now()
    folder.write("report.md", markdown.render(report))
    folder.write("report.html", html.render(report))
    folder.write(output.REPORT, json.dumps(report, indent=2) + "\n")  # last: "done"
    return Outcome(status, tuple(anomalies), report)


def _spec_name(spec, specs) -> str:
    """The feature name, qualified only when two models check it differently."""
    if sum(s.feature == spec.feature for s in specs) == 1:
        return spec.feature
    return f"{spec.feature}@{spec.num_classes}x{spec.num_true}"


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
