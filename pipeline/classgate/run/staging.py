"""The staging folder: what a job leaves for the driver, as data, never as code.

The job writes one file per result into `<output>/.classgate-staging/`:

    labels-<split>-<spec>.npz            a split's statistics of one label spec
    classes-<split>-<spec>-<range>.npz   one key range of its class counts
    stats-<split>.npz                    TFDV statistics (full mode)
    files-<split>.npz                    what the readers found per file
    partials-<split>.npz                 labels-only: each file's partial, by digest

Each is a numpy .npz archive of plain arrays and a JSON header that names its
format, version and run, loaded with allow_pickle=False: reading a staged file
parses numbers and text and never runs code, whoever planted it. The run id ties
every file to the run that submitted the job, so results left by an abandoned job
in the same folder are refused, not mixed in.
"""

import contextlib
import dataclasses
import io
import json
import zipfile

import numpy as np

from classgate import errors
from classgate.io import storage
from classgate.stats import class_counts, label, results

VERSION = 1
_HEADER = "header"
# A staged result larger than this was not written by classgate's job: a key
# range's counts are at most 16 MiB, and a split's statistics hold at most the
# distinct out-of-range values found (16 bytes each).
MAX_BYTES = 2 << 30


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


def partials_path(staging: str, split_index: int) -> str:
    return f"{staging}/partials-{split_index}.npz"


def pack(kind: str, run: str, header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz archive of `arrays` and a JSON header naming kind, version and run."""
    meta = {"format": f"classgate.{kind}", "version": VERSION, "run": run, **header}
    text = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **{_HEADER: text}, **arrays)
    return buffer.getvalue()


def unpack(data: bytes, kind: str, run: str, path: str) -> tuple[dict, dict]:
    """The header and arrays of a `pack`ed file; InputError if it is not ours.

    `pack` stores its arrays uncompressed, so no member may unpack to more bytes
    than the file holds: a planted archive cannot make the driver allocate more
    than it read.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            for member in archive.zip.infolist():
                if member.compress_type != zipfile.ZIP_STORED or (
                    member.file_size > len(data)
                ):
                    raise ValueError(f"{member.filename} is not stored as pack stores")
            arrays = {name: archive[name] for name in archive.files}
        header = json.loads(arrays.pop(_HEADER).tobytes().decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("a header that is not a JSON object")
    except Exception as e:  # not an npz, an object array, bad JSON, too deep
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
    with _damaged(path, "statistics"):
        return label.LabelStats.from_state(spec, header, arrays)


def encode_class_counts(counts: class_counts.ClassCounts, run: str) -> bytes:
    ids, totals = counts.pairs()
    header = {"num_classes": counts.num_classes}
    return pack("class_counts", run, header, {"ids": ids, "counts": totals})


def decode_class_counts(data: bytes, run: str, path: str) -> class_counts.ClassCounts:
    header, arrays = unpack(data, "class_counts", run, path)
    with _damaged(path, "class counts"):
        counts = class_counts.ClassCounts(int(header["num_classes"]))
        counts.add_counts(arrays["ids"], arrays["counts"])
    return counts


def encode_proto(message, run: str) -> bytes:
    data = np.frombuffer(message.SerializeToString(), dtype=np.uint8)
    return pack("proto", run, {"type": type(message).__name__}, {"data": data})


def decode_proto(data: bytes, message_type, run: str, path: str):
    header, arrays = unpack(data, "proto", run, path)
    if header.get("type") != message_type.__name__:
        raise errors.InputError(f"{path}: holds a {str(header.get('type'))[:40]}")
    with _damaged(path, message_type.__name__):
        return message_type.FromString(arrays["data"].tobytes())


def encode_file_notes(notes: list[tuple[str, dict]], run: str) -> bytes:
    """(path, what its reader found: compression, columns left out) per file."""
    files = sorted([path, note] for path, note in notes)
    return pack("file_notes", run, {"files": files}, {})


def decode_file_notes(data: bytes, run: str, path: str) -> dict[str, dict]:
    header, _ = unpack(data, "file_notes", run, path)
    with _damaged(path, "file notes"):
        return {str(p): dict(note) for p, note in header["files"]}


def encode_partials(found: list[tuple[str, tuple]], run: str) -> bytes:
    """(data file path, (name, sha256, bytes) of its partial) per file read."""
    listed = sorted([path, list(entry)] for path, entry in found)
    return pack("partials", run, {"files": listed}, {})


def decode_partials(data: bytes, run: str, path: str) -> dict[str, tuple]:
    header, _ = unpack(data, "partials", run, path)
    with _damaged(path, "partials"):
        return {
            str(p): (str(name), str(digest), int(size))
            for p, (name, digest, size) in header["files"]
        }


# Reading a finished job's results back --------------------------------------------


def expected_paths(request, staging: str) -> list[str]:
    """The files a finished job has staged, whatever the data (not the ranges)."""
    paths = []
    for split_index, _ in enumerate(request.splits):
        paths.append(file_notes_path(staging, split_index))
        if request.labels_only:
            paths.append(partials_path(staging, split_index))
        for spec_index, _ in enumerate(request.specs):
            paths.append(label_stats_path(staging, split_index, spec_index))
        if not request.labels_only:
            paths.append(tfdv_stats_path(staging, split_index))
    return paths


def read_results(request, staging: str, run: str) -> results.Results:
    """Reads every staged result; InputError when one is missing or does not add up.

    The class counts of each key range the statistics say were taken must be
    there, and together hold exactly the ids the statistics counted: a runner
    that lost a worker's partial counts gives no verdict.
    """
    label_stats, tfdv_stats, notes, partials = {}, {}, {}, {}
    width = request.class_range_width
    for split_index, split in enumerate(request.splits):
        path = file_notes_path(staging, split_index)
        notes[split.name] = decode_file_notes(_read(path), run, path)
        if request.labels_only:
            path = partials_path(staging, split_index)
            partials[split.name] = decode_partials(_read(path), run, path)
        for spec_index, spec in enumerate(request.specs):
            path = label_stats_path(staging, split_index, spec_index)
            stats = decode_label_stats(_read(path), spec, run, path)
            pieces = []
            size = class_counts.range_size(spec.num_classes, width)
            for index in sorted(stats.class_ranges):
                path = class_counts_path(staging, split_index, spec_index, index)
                piece = decode_class_counts(_read(path), run, path)
                if piece.num_classes != size or index * width >= spec.num_classes:
                    raise errors.InputError(
                        f"{path}: the counts of another key range or label"
                    )
                pieces.append((index, piece))
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
    return results.Results(label_stats, tfdv_stats, notes, partials)


def check_examples(found: results.Results, request, counters: dict) -> None:
    """The examples the readers counted must all be in the statistics."""
    if "examples" not in counters:  # a runner without metrics
        return
    first = request.specs[0]
    held = sum(
        stats.examples
        for (_, spec), stats in found.label_stats.items()
        if spec == first
    )
    if held != counters["examples"]:
        raise errors.InputError(
            f"the runner lost results: {counters['examples']} examples were read, "
            f"the statistics hold {held}; nothing was validated"
        )


@contextlib.contextmanager
def _damaged(path: str, what: str):
    """Any failure to make sense of a staged file is that file's damage: exit 2.

    Staged files are data anyone who can write the output folder could plant;
    whatever their content, reading them ends in a result or in this line.
    """
    try:
        yield
    except errors.InputError:
        raise
    except Exception as e:
        raise errors.InputError(
            f"{path}: damaged {what} ({type(e).__name__}: {errors.first_line(e)[:100]})"
        ) from e


def read_staged(path: str) -> bytes:
    """A staged file's bytes; InputError when the job has not left it."""
    return _read(path)


def _read(path: str) -> bytes:
    try:  # one read per result, no existence check first
        return storage.read(path, MAX_BYTES)
    except errors.InputError:
        raise
    except Exception as e:  # FileNotFoundError locally, BeamIOError remotely
        raise errors.InputError(f"the job's results are incomplete: no {path}") from e


# What the submitting driver read before the job: conclude takes it from here ------


def driver_inputs_path(staging: str) -> str:
    return f"{staging}/driver.npz"


@dataclasses.dataclass(frozen=True)
class DriverInputs:
    """What the driver reads before the job, so that conclude need not.

    The model files' summaries by model name, the curated baseline Schema, and the
    history (outputs.history.Past).
    """

    model_files: dict
    baseline: object | None = None
    past: object | None = None


def encode_driver_inputs(inputs: DriverInputs, run: str) -> bytes:
    """The model files' figures, the baseline schema and the history, as data.

    A run submitted without waiting reads these before its job starts; `conclude`
    takes them from here instead of opening paths that pending.json names, so a
    planted pending.json can make it open nothing outside --output.
    """
    model_files, baseline, past = inputs.model_files, inputs.baseline, inputs.past
    arrays = {}
    header = {
        "model_files": {
            name: dataclasses.asdict(found) for name, found in model_files.items()
        },
        "baseline": None,
        "past": None,
    }
    if baseline is not None:
        arrays["baseline"] = np.frombuffer(baseline.SerializeToString(), np.uint8)
        header["baseline"] = type(baseline).__name__
    if past is not None:
        counts = []
        for index, ((model, split), found) in enumerate(sorted(past.counts.items())):
            counts.append([model, split, None if found is None else index])
            if found is not None:
                arrays[f"ids_{index}"], arrays[f"counts_{index}"] = found
        header["past"] = {
            "previous": past.previous,
            "previous_path": past.previous_path,
            "figures": [[m, s, f] for (m, s), f in sorted(past.figures.items())],
            "counts": counts,
            "points": past.points,
            "skipped": [list(pair) for pair in past.skipped],
        }
    return pack("driver", run, header, arrays)


def decode_driver_inputs(data: bytes, run: str, path: str) -> DriverInputs:
    """What `encode_driver_inputs` staged; InputError when it is damaged."""
    from classgate.model_files import summary
    from classgate.outputs import history

    header, arrays = unpack(data, "driver", run, path)
    with _damaged(path, "driver inputs"):
        model_files = {}
        for name, found in header["model_files"].items():
            for role in ("weights", "biases"):
                if found.get(role) is not None:
                    variable, shape = found[role]
                    found[role] = (str(variable), tuple(int(d) for d in shape))
            model_files[str(name)] = summary.ModelFiles(**found)
        baseline = None
        if header["baseline"] is not None:
            from tensorflow_metadata.proto.v0 import schema_pb2

            baseline = schema_pb2.Schema.FromString(arrays["baseline"].tobytes())
        past = None
        if header["past"] is not None:
            found = header["past"]
            counts = {}
            for model, split, index in found["counts"]:
                counts[(str(model), str(split))] = (
                    None
                    if index is None
                    else (arrays[f"ids_{index}"], arrays[f"counts_{index}"])
                )
            past = history.Past(
                previous=str(found["previous"]),
                previous_path=str(found["previous_path"]),
                figures={(str(m), str(s)): dict(f) for m, s, f in found["figures"]},
                counts=counts,
                points={
                    str(model): [tuple(point) for point in points]
                    for model, points in found["points"].items()
                },
                skipped=tuple(tuple(map(str, pair)) for pair in found["skipped"]),
            )
    return DriverInputs(model_files, baseline, past)
