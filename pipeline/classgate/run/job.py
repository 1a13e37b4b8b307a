"""The Beam job of one validation: read each split once, stage small results.

Every batch feeds one label accumulator per label spec (labels, then the trainer's
context ids), and in full mode TFDV's GenerateStatistics as well. In labels-only
mode each file is tallied whole by one worker (run.partials.TallyFiles), whose
figures also land as that file's partial in the output folder, for a later run to
reuse instead of reading the file (run.partials). Per-class counts leave the
accumulators by key range and are combined apart. Every result lands as
one file in the staging folder (classgate.staging), stamped with the run id; all
decisions are taken afterwards, on the driver, from those files.
"""

import functools
import os
import re
from collections.abc import Sequence

import apache_beam as beam
import pyarrow as pa
from apache_beam.runners.direct import direct_runner

from classgate.io import batches, files
from classgate.run import partials, staging, transforms
from classgate.verdict import schema


def pipeline(options) -> beam.Pipeline:
    """A Beam pipeline of these options, off the runner's known races and Prism.

    Beam 2.68's DirectRunner, in multi_threading mode, has its SDK workers flush
    their output buffers from a timer thread every second
    (worker_handlers.DATA_BUFFER_TIME_LIMIT_MS, TimeBasedBufferingClosableOutputStream
    in runners/worker/data_plane.py). That flush sends the buffer, then clears it,
    while the bundle's own thread goes on writing into it, unlocked: bytes written
    in between are dropped. A whole element lost is a key range's partial counts
    gone; part of one corrupts the stream, and a garbage length read from it can
    allocate gigabytes. Without the timer the buffer is flushed by the bundle's
    thread alone, at element boundaries, which is how the multi_processing mode,
    the portable runner's workers and Dataflow's run by default. The DirectRunner
    stays on its FnApiRunner (`SwitchingDirectRunner`). Beam's stager does not run
    `pip freeze` to stage a list of the submitting machine's packages with each
    portable or Dataflow job (half a second a job, for a mismatch warning; the
    workers' packages are the image's).
    """
    from apache_beam.options.pipeline_options import (
        DebugOptions,
        DirectOptions,
        StandardOptions,
    )
    from apache_beam.runners.runner import create_runner

    options.view_as(DebugOptions).add_experiment(
        "disable_logging_submission_environment"
    )

    if options.view_as(DirectOptions).direct_running_mode == "multi_threading":
        from apache_beam.runners.portability.fn_api_runner import worker_handlers

        worker_handlers.DATA_BUFFER_TIME_LIMIT_MS = 0  # size-based flushes only
    runner = create_runner(options.view_as(StandardOptions).runner or "DirectRunner")
    if type(runner) is direct_runner.SwitchingDirectRunner:
        runner = SwitchingDirectRunner()
    return beam.Pipeline(runner=runner, options=options)


class SwitchingDirectRunner(direct_runner.SwitchingDirectRunner):
    """Beam's DirectRunner, kept on its in-process FnApiRunner, never on Prism.

    Beam 2.68's DirectRunner hands a batch pipeline it judges fit to the
    PrismRunner, which first downloads the Prism binary from GitHub into
    ~/.apache_beam/cache (a write outside --output, and a download with no
    timeout inside a gate; offline, a failed try before falling back) and then
    runs the job on a runner classgate is not tested on. Beam offers one switch
    that keeps it off Prism: the runner marked interactive, which changes nothing
    else in it. `--runner=PrismRunner` still runs on Prism, for a user who asks.

    It bears the name of Beam's class: Beam's Pipeline.run knows that runner by
    its name, and spares it a round trip of the whole pipeline through its proto
    (about 0.2 s) that another name would cost.
    """

    _is_interactive = True


def build(
    root: beam.Pipeline,
    request,
    staging_path: str,
    run: str,
    reused=None,
    key: str = "",
) -> list:
    """Adds the reads, label statistics and (full mode) TFDV statistics to `root`.

    In labels-only mode each file is tallied apart and leaves its partial in the
    output folder (`_add_labels_only`); the files `reused` (a run.partials.Reused)
    took from an earlier run are not read. Returns the PCollections of the stages
    that stage results, for a stage that must follow them all (conclude_last).
    """
    written = []
    specs = request.specs
    features = tuple(dict.fromkeys(s.feature for s in specs))
    for split_index, split in enumerate(request.splits):
        if request.labels_only:
            taken = reused.taken(split.name) if reused is not None else frozenset()
            written += _add_labels_only(
                root, request, split, split_index, staging_path, run, taken, key
            )
            continue
        # Full mode: every file read whole, TFDV's statistics beside the labels'.
        read = root | f"Read[{split.name}]" >> transforms.ReadSplit(
            split, features, full=True
        )
        written.append(
            _write_file_notes(read[files.NOTES], split, split_index, staging_path, run)
        )
        for spec_index, spec in enumerate(specs):
            written += _add_label_stats(
                read.batches,
                request,
                spec,
                split.name,
                staging_path,
                run,
                (split_index, spec_index),
            )
        written.append(
            read.batches
            | f"ToArrow[{split.name}]" >> beam.Map(transforms.records_of)
            | f"TFDVStats[{split.name}]" >> schema.generate_statistics()
            | f"WriteTFDVStats[{split.name}]"
            >> transforms.WriteResult(
                staging.tfdv_stats_path(staging_path, split_index),
                functools.partial(staging.encode_proto, run=run),
            )
        )
    return written


def _write_file_notes(notes, split, split_index, staging_path, run):
    """What the reader found per file (files.NOTES), staged as one list."""
    return (
        notes
        | f"FileNotes[{split.name}]" >> beam.combiners.ToList()
        | f"WriteFileNotes[{split.name}]"
        >> transforms.WriteResult(
            staging.file_notes_path(staging_path, split_index),
            functools.partial(staging.encode_file_notes, run=run),
        )
    )


def _add_labels_only(root, request, split, split_index, staging_path, run, taken, key):
    """labels-only: each file tallied apart, its partial left in the output folder.

    TallyFiles reads a file and tallies it whole, so no batch crosses a worker;
    the per-file statistics then combine as CountLabels' do. The files in
    `taken` were reused from an earlier run and are not read.
    """
    from classgate.outputs import folder

    tallying = partials.TallyFiles
    specs = request.specs
    features = tuple(dict.fromkeys(s.feature for s in specs))
    name = split.name
    tally = tallying(
        transforms.decoder(split, features, full=False),
        name,
        specs,
        request.class_range_width,
        folder.OutputFolder(request.output).path,
        key,
    )
    tags = [tallying.PARTIALS, files.NOTES]
    for index, _ in enumerate(specs):
        tags += [tallying.stats_tag(index), tallying.classes_tag(index)]
    listed = [
        (f.path, f.size, f.modified, f.identity)
        for f in split.files
        if f.path not in taken
    ]
    tallied = (
        root
        | f"ListFiles[{name}]" >> beam.Create(listed)
        # Spreads files over workers instead of fusing them onto one.
        | f"SpreadFiles[{name}]" >> beam.Reshuffle()
        | f"TallyFiles[{name}]" >> beam.ParDo(tally).with_outputs(*tags, main="none")
    )
    written = [
        _write_file_notes(tallied[files.NOTES], split, split_index, staging_path, run),
        tallied[tallying.PARTIALS]
        | f"Partials[{name}]" >> beam.combiners.ToList()
        | f"WritePartials[{name}]"
        >> transforms.WriteResult(
            staging.partials_path(staging_path, split_index),
            functools.partial(staging.encode_partials, run=run),
        ),
    ]
    for spec_index, spec in enumerate(specs):
        step = f"[{name}][{transforms.spec_name(spec, specs)}]"
        counted = (
            tallied[tallying.stats_tag(spec_index)],
            tallied[tallying.classes_tag(spec_index)],
        ) | f"CombineLabels{step}" >> transforms.CombineLabels(
            spec, request.class_range_width
        )
        written += _write_label_stats(
            counted, step, staging_path, run, (split_index, spec_index)
        )
    return written


def conclude_last(written: list, output_path: str, run: str) -> None:
    """The job's last stage: the verdict, once every result is staged.

    Written in the output folder by run.validation.conclude_in_job, report.json
    last.
    """
    _ = (
        written
        | "Staged" >> beam.Flatten()
        | "AllStaged" >> beam.combiners.Count.Globally()
        | "Conclude" >> beam.Map(_conclude, output_path, run)
    )


def _conclude(staged, output_path: str, run: str) -> None:
    from classgate.run import validation

    validation.conclude_in_job(staged, output_path, run)


def _add_label_stats(batches, request, spec, split, staging_path, run, where):
    step = f"[{split}][{transforms.spec_name(spec, request.specs)}]"
    counted = batches | f"CountLabels{step}" >> transforms.CountLabels(
        spec, request.class_range_width
    )
    return _write_label_stats(counted, step, staging_path, run, where)


def _write_label_stats(counted, step, staging_path, run, where):
    stats = counted[transforms.CountLabels.STATS]
    wrote_stats = stats | f"WriteLabelStats{step}" >> transforms.WriteResult(
        staging.label_stats_path(staging_path, *where),
        functools.partial(staging.encode_label_stats, run=run),
    )
    ranges = counted[transforms.CountLabels.CLASS_COUNTS]
    wrote_counts = ranges | f"WriteClassCounts{step}" >> transforms.WriteKeyedResults(
        functools.partial(staging.class_counts_path, staging_path, *where),
        functools.partial(staging.encode_class_counts, run=run),
    )
    return [wrote_stats, wrote_counts]


def explain(error: BaseException, request) -> BaseException:
    """A failed job's error, as the exit code it deserves.

    classgate's own InputErrors pass as they are (exit 2). TFDV's statistics fail,
    naming no feature, when a feature has one type in some batches and another in
    others; the files are then read again, on this machine, until it is found
    (exit 2). A failure whose traceback runs through classgate's code is a defect
    of ours (left as it is: exit 3). Anything else failed in the runner itself: a
    worker that died, a service that cannot be reached, a runner's own bug; no
    verdict, exit 2, with the runner's first line.
    """
    from classgate import errors

    text = str(error)
    if errors.find_input_error(error) is not None:
        return error
    if "Unable to merge incompatible type" in text:
        return _type_conflict_error(request, text)
    if any(_is_ours(module) for module in _modules_of(error)):
        return error
    return errors.InputError(
        f"the job failed in the runner, so nothing was validated: "
        f"{errors.first_line(error)[:300]} (the runner's logs say more)"
    )


# Modules a failed job's error passes through on the driver, on its way up from the
# runner: a frame of theirs is no defect. Module names, not file names: a test
# holds each to an importable module, so a module that moves breaks that test
# rather than the exit-code contract.
DRIVER_MODULES = (
    "classgate.run.validation",
    "classgate.run.job",
    "classgate.run.workers",
    "classgate.cli.commands",
    "classgate.cli",
)
# A traceback line's file: the module is its path below a folder named classgate
# (the installed package, here or on a worker), or below this package's folder.
_FRAME = re.compile(r'File "([^"]+\.py)"')


def _is_ours(module: str | None) -> bool:
    return module is not None and module not in DRIVER_MODULES


def _modules_of(error: BaseException):
    """The classgate modules in an error's traceback, None for others' frames.

    Its own frames, and those of whatever traceback text a runner handed back
    (another process's, another machine's).
    """
    trace = error.__traceback__
    while trace is not None:
        name = trace.tb_frame.f_globals.get("__name__", "")
        yield name if name.split(".")[0] == "classgate" else None
        trace = trace.tb_next
    for path in _FRAME.findall(str(error)):
        yield module_of_file(path)


def module_of_file(path: str) -> str | None:
    """`classgate.io.parquet` for a path of classgate's; None for anyone else's."""
    import classgate

    own = os.path.dirname(os.path.abspath(classgate.__file__)) + os.sep
    if path.startswith(own):
        below = path[len(own) :]
    elif "/classgate/" in path:
        below = path.rsplit("/classgate/", 1)[1]
    else:
        return None
    parts = below[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["classgate", *parts])


def _type_conflict_error(request, text: str) -> Exception:
    from classgate import errors

    found = _type_conflict(request)
    advice = "give it one type in every file, or pass --labels-only"
    if found is None:
        return errors.InputError(
            f"a feature changes type across the data (TFDV: {text[:80]}); {advice}"
        )
    feature, (one, where_one), (other, where_other) = found
    return errors.InputError(
        f"feature '{feature}' is {one} in {where_one} but {other} in {where_other}: "
        f"TFDV's statistics need one type per feature; {advice}"
    )


def _type_conflict(request):
    """(feature, (type, where), (type, where)) of the first type conflict, or None."""
    from classgate.io import arrow, parquet, tfrecord

    for split in request.splits:
        seen = {}
        for data_file in split.files:
            if split.format == "parquet":
                decode = parquet.DecodeParquetFile(())
            else:
                decode = tfrecord.DecodeTFRecordFile()
            decode.setup()
            for batch in decode.process((data_file.path, data_file.size)):
                if not isinstance(batch, batches.LocatedBatch):
                    continue
                for field in arrow.for_tfdv(batch.records)[0].schema:
                    kind = _value_kind(field.type)
                    if kind is None:
                        continue
                    where = f"{batch.file} (record {batch.first_record})"
                    first = seen.setdefault(field.name, (kind, where))
                    if first[0] != kind:
                        return field.name, first, (kind, where)
    return None


def _value_kind(kind) -> str | None:
    """TFDV's type of an Arrow (list) column: int, float or bytes; None if empty."""
    while hasattr(kind, "value_type"):
        kind = kind.value_type
    if pa.types.is_null(kind):
        return None
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return "int"
    if pa.types.is_floating(kind):
        return "float"
    return "bytes"


# How alike a misspelt option and a known one must be to be named (difflib's
# ratio, 0 to 1, over the names without their dashes): `runer` and `runner` are
# 0.91, `output-dir` and `output` 0.75; unrelated names of Beam's stay below 0.75.
_CLOSE = 0.75


def _closest(name: str, own: Sequence[str], beam: Sequence[str]) -> str:
    """The hint for a misspelt option ("; did you mean Beam's --runner?"), or ""."""
    import difflib

    def bare(flag: str) -> str:
        return flag.lstrip("-").replace("-", "_").lower()

    candidates = {bare(flag): flag for flag in [*beam, *own] if flag.startswith("--")}
    close = difflib.get_close_matches(bare(name), candidates, n=1, cutoff=_CLOSE)
    if not close:
        return ""
    flag = candidates[close[0]]
    whose = "classgate's" if flag in own else "Beam's"
    return f"; did you mean {whose} {flag}?"


def beam_arguments(words: Sequence[str], own: Sequence[str] = ()) -> list[str]:
    """The words, checked to be Beam pipeline options, every one of them.

    A bad value (--direct_num_workers=abc) is one InputError naming the option and
    the value: Beam's argparse would print its 112-line usage and exit. An unknown
    option is one too, naming the closest of Beam's options and `own` (the
    command's own flags) when one is close: `--runer` is `--runner` misspelt.
    """
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from classgate import errors

    def refuse(message: str) -> None:
        if message.startswith("ambiguous option: "):
            return  # as Beam's own parser does: such a word is an unknown, below
        raise errors.InputError(f"Beam option {message.removeprefix('argument ')}")

    def keep(parser) -> None:
        parser.error = refuse  # argparse reports through self.error(message)
        parsers.append(parser)

    parsers = []
    options = PipelineOptions(list(words))
    options.get_all_options(add_extra_args_fn=keep)
    _, unknown = parsers[0].parse_known_args(list(words))
    for word in unknown:
        if not word.startswith("-"):
            raise errors.InputError(
                f"unexpected argument {word!r}: if the shell expanded a glob into "
                "many files, quote the pattern (--data 'data/*.tfrecord') so that "
                "classgate matches it, every file included"
            )
        name = word.split("=")[0]
        known = [flag for a in parsers[0]._actions for flag in a.option_strings]
        raise errors.InputError(
            f"unknown option {name} (neither a classgate nor a Beam option"
            f"{_closest(name, own, known)})"
        )
    runner = options.view_as(StandardOptions).runner
    if runner is not None:
        from apache_beam.runners import runner as runners

        try:
            runners.create_runner(runner)
        except (ValueError, ImportError, AttributeError) as e:
            raise errors.InputError(
                f"--runner {runner}: not a Beam runner ({errors.first_line(e)[:120]})"
            ) from e
    return list(words)
