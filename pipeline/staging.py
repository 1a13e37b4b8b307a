"""The staging folder: what a job leaves for the driver, as data, never as code.

The job writes one file per result into `<output>/.classgate-staging/`:

    labels-<split>-<spec>.npz            a split's statistics of one label spec
    classes-<split>-<spec>-<range>.npz   one key range of its class counts
    stats-<split>.npz                    TFDV statistics (full mode)
    files-<split>.npz                    what the readers found per file

Each is a numpy .npz archive of plain arrays and a JSON header that names its
format, version and run, loaded with allow_pickle=False: reading a staged file
parses numbers and text and never runs code, whoever planted it. The run id ties
every file to the run that submitted the job, so results left by an abandoned job
in the same folder are refused, not mixed in.
"""

import dataclasses
import io
import json

import numpy as np

from classgate import errors, storage
from classgate.stats import class_counts, label

VERSION = 1
_HEADER = "header"


def label_stats_path(staging: str, split_index: int, spec_index: int) -> str:
    return f"{staging}/labels-{split_index}-{spec_index}.npz"


def class_counts_path(
    staging: str, split_index: int, spec_index: int, range_index: int
) -> str:
    return f"{staging}/classes-{split_index}-{spec_index}-{range_index}.npz"


def tfdv_stats_path(staging: str, split_index: int) -> str:
    return f"{staging}/stats-{split_index}.npz"


def file_notes_path(staging: str, split_index: int) -> str:
    return f"{staging}/files-{split_index}.npz"


def pack(kind: str, run: str, header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz archive of `arrays` and a JSON header naming kind, version and run."""
    meta = {"format": f"classgate.{kind}", "version": VERSION, "run": run, **header}
    text = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **{_HEADER: text}, **arrays)
    return buffer.getvalue()


def unpack(data: bytes, kind: str, run: str, path: str) -> tuple[dict, dict]:
    """The header and arrays of a `pack`ed file; InputError if it is not ours."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        header = json.loads(arrays.pop(_HEADER).tobytes().decode("utf-8"))
    except Exception as e:  # not an npz, an object array, bad JSON
        raise errors.InputError(
            f"{path}: not a result classgate staged ({type(e).__name__})"
        ) from e
    if header.get("format") != f"classgate.{kind}" or header.get("version") != VERSION:
        raise errors.InputError(
            f"{path}: a {header.get('format')} file of version "
            f"{header.get('version')}, not classgate.{kind} {VERSION}"
        )
    if header.get("run") != run:
        raise errors.InputError(
            f"{path}: left by another run ({header.get('run')}), not this one "
            f"({run}); nothing was validated"
        )
    return header, arrays


# The results, each as the job encodes it and the driver decodes it.


def encode_label_stats(stats: label.LabelStats, run: str) -> bytes:
    header, arrays = stats.to_state()
    return pack("label_stats", run, header, arrays)


def decode_label_stats(
    data: bytes, spec: label.LabelSpec, run: str, path: str
) -> label.LabelStats:
    header, arrays = unpack(data, "label_stats", run, path)
    try:
        return label.LabelStats.from_state(spec, header, arrays)
    except (KeyError, ValueError, TypeError) as e:
        raise errors.InputError(f"{path}: damaged statistics: {e}") from e


def encode_class_counts(counts: class_counts.ClassCounts, run: str) -> bytes:
    ids, totals = counts.pairs()
    header = {"num_classes": counts.num_classes}
    return pack("class_counts", run, header, {"ids": ids, "counts": totals})


def decode_class_counts(data: bytes, run: str, path: str) -> class_counts.ClassCounts:
    header, arrays = unpack(data, "class_counts", run, path)
    try:
        counts = class_counts.ClassCounts(int(header["num_classes"]))
        counts.add_counts(arrays["ids"], arrays["counts"])
    except (KeyError, ValueError, TypeError) as e:
        raise errors.InputError(f"{path}: damaged class counts: {e}") from e
    return counts


def encode_proto(message, run: str) -> bytes:
    data = np.frombuffer(message.SerializeToString(), dtype=np.uint8)
    return pack("proto", run, {"type": type(message).__name__}, {"data": data})


def decode_proto(data: bytes, message_type, run: str, path: str):
    header, arrays = unpack(data, "proto", run, path)
    if header.get("type") != message_type.__name__:
        raise errors.InputError(f"{path}: holds a {header.get('type')}")
    return message_type.FromString(arrays["data"].tobytes())


def encode_file_notes(notes: list[tuple[str, dict]], run: str) -> bytes:
    """(path, what its reader found: compression, columns left out) per file."""
    files = sorted([path, note] for path, note in notes)
    return pack("file_notes", run, {"files": files}, {})


def decode_file_notes(data: bytes, run: str, path: str) -> dict[str, dict]:
    header, _ = unpack(data, "file_notes", run, path)
    return {str(p): dict(note) for p, note in header["files"]}


# Reading a finished job's results back --------------------------------------------


@dataclasses.dataclass(frozen=True)
class Results:
    """What a finished job staged, read back and checked whole."""

    # (split name, label spec) -> statistics, with every key range's counts back
    label_stats: dict
    # split name -> TFDV DatasetFeatureStatisticsList (full mode; else empty)
    tfdv_stats: dict
    # split name -> {path: what its reader found (compression, columns left out)}
    file_notes: dict


def expected_paths(request, staging: str) -> list[str]:
    """The files a finished job has staged, whatever the data (not the ranges)."""
    paths = []
    for split_index, _ in enumerate(request.splits):
        paths.append(file_notes_path(staging, split_index))
        for spec_index, _ in enumerate(request.specs):
            paths.append(label_stats_path(staging, split_index, spec_index))
        if not request.labels_only:
            paths.append(tfdv_stats_path(staging, split_index))
    return paths


def read_results(request, staging: str, run: str) -> Results:
    """Reads every staged result; InputError when one is missing or does not add up.

    The class counts of each key range the statistics say were taken must be
    there, and together hold exactly the ids the statistics counted: a runner
    that lost a worker's partial counts gives no verdict.
    """
    label_stats, tfdv_stats, notes = {}, {}, {}
    width = request.class_range_width
    for split_index, split in enumerate(request.splits):
        path = file_notes_path(staging, split_index)
        notes[split.name] = decode_file_notes(_read(path), run, path)
        for spec_index, spec in enumerate(request.specs):
            path = label_stats_path(staging, split_index, spec_index)
            stats = decode_label_stats(_read(path), spec, run, path)
            pieces = []
            for index in sorted(stats.class_ranges):
                path = class_counts_path(staging, split_index, spec_index, index)
                pieces.append((index, decode_class_counts(_read(path), run, path)))
            stats.put_class_counts(width, pieces)
            held = stats.class_counts.total()
            if held != stats.in_range:
                raise errors.InputError(
                    f"{split.name}/{spec.feature}: the runner lost results: the "
                    f"class counts hold {held} ids, the statistics counted "
                    f"{stats.in_range}; nothing was validated"
                )
            label_stats[(split.name, spec)] = stats
        if not request.labels_only:
            from tensorflow_metadata.proto.v0 import statistics_pb2

            path = tfdv_stats_path(staging, split_index)
            tfdv_stats[split.name] = decode_proto(
                _read(path), statistics_pb2.DatasetFeatureStatisticsList, run, path
            )
    return Results(label_stats, tfdv_stats, notes)


def check_examples(results: Results, request, counters: dict) -> None:
    """The examples the readers counted must all be in the statistics."""
    if "examples" not in counters:  # a runner without metrics
        return
    first = request.specs[0]
    held = sum(
        stats.examples
        for (_, spec), stats in results.label_stats.items()
        if spec == first
    )
    if held != counters["examples"]:
        raise errors.InputError(
            f"the runner lost results: {counters['examples']} examples were read, "
            f"the statistics hold {held}; nothing was validated"
        )


def _read(path: str) -> bytes:
    try:  # one read per result, no existence check first
        return storage.read(path)
    except errors.InputError:
        raise
    except Exception as e:  # FileNotFoundError locally, BeamIOError remotely
        raise errors.InputError(f"the job's results are incomplete: no {path}") from e
