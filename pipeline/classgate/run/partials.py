"""Per-file partial label statistics: what a later run reuses instead of reading.

In labels-only mode the job tallies each data file apart (TallyFiles, below)
and writes that file's figures, per label spec, as one partial in the output folder
(`names.partial`); report.json records each partial's digest (`partials`). A later
run with --previous-report takes a file's figures from the previous run's partial
instead of reading the file when all of this holds, and reads the file otherwise:

- the previous report reads back, and its signature holds when
  CLASSGATE_SIGNING_KEY is set;
- its partials were made under this run's `key`: the partial format, the classgate
  version, every label spec with its vocabulary's bytes, the class range width;
- the split has the same name and format, and lists the file exactly as now: path,
  size, modification time and identity (locally device:inode:ctime_ns, which any
  write, rename or `touch` changes; a gs:// object's update time, which any
  rewrite changes). Other remote files have no such identity: they are read;
- the file's change and modification times lie RACY_S before that run listed the
  files (see RACY_S);
- the partial's bytes have the digest the previous report recorded, and name the
  same file and label specs.

A partial that is missing, damaged or does not hold means its file is read: never
an error, never a verdict on less data. Reused partials are checked and merged on
the driver one at a time, before the job starts, into one accumulator per split
and label spec: the driver holds at most those (as it does when it reads the job's
results) and one partial. Each is copied into this run's folder, and recorded in
its report, so that the next run can reuse it in turn.

A partial is bounded by its file, not by the data: its class counts are sparse (16
bytes per distinct class in the file before zlib, about 2 after), its out-of-range
values one entry per distinct such value in the file, at most label.MAX_LOCATIONS
locations per problem, and the reader's note (compression, at most
files.MAX_FEATURES_NOTED feature names).
"""

import dataclasses
import hashlib
import json
import posixpath
import zlib

import apache_beam as beam
from apache_beam.metrics import Metrics

from classgate import errors, names
from classgate.io import files, progress, storage
from classgate.model_files import vocabulary
from classgate.report import signing
from classgate.report.model import PARTIALS_VERSION, Report
from classgate.run import staging
from classgate.stats import label
from classgate.stats.results import Results

# The partial format (report.model, which records it); part of the key, so a
# change of format reads every file again.
VERSION = PARTIALS_VERSION
# A file changed less than this before the files were listed is read again, never
# reused. Its change time is the clock's at the write, rounded down to the
# filesystem's granularity (a scheduler tick, or a whole second on filesystems
# that keep seconds): a second write right after the listing could land in the
# same tick and keep the change time the listing saw. A write after the listing
# is stamped at least this much after any change time older than this, provided
# the clock that stamps the file (a file server's) does not lag the driver's,
# which takes `listed`, by as much (docs/guide/drift-and-headroom.md).
RACY_S = 1.0
_KIND = "partial"
# zlib's level for a partial: the fastest. Sorted class ids and small counts shrink
# about 7x at level 6 (10k examples over 10k classes: 104 KB to 14 KB), and nearly
# as much at 1, which is 8x faster: at 10M classes in 4 files (38 MiB of counts a
# file) the partials took 16 MiB at level 1 against 15 at 6, and the whole run
# 9.2 s against 13.8 s.
_LEVEL = 1


def key(request) -> str:
    """The digest of everything a file's partial depends on, besides the file.

    The partial format and classgate's version (a new reader reads again), the
    mode, the class range width, and every label spec with its vocabulary's bytes.
    Model names are not in it: two model sets with the same label specs compute
    the same partials.
    """
    import classgate

    specs = []
    for spec in request.specs:
        found = dataclasses.asdict(spec)
        if spec.vocabulary_file:
            data = storage.read(spec.vocabulary_file)
            found["vocabulary_sha256"] = hashlib.sha256(data).hexdigest()
        specs.append(found)
    text = json.dumps(
        {
            "version": VERSION,
            "classgate": classgate.__version__,
            "labels_only": request.labels_only,
            "class_range_width": request.class_range_width,
            "specs": specs,
        },
        sort_keys=True,
    )
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def name(split: str, path: str) -> str:
    """The partial's name in the output folder: the split and a digest of the path."""
    return names.partial(split, hashlib.sha256(path.encode()).hexdigest())


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def encode(
    data_file: files.DataFile, note: dict, stats: list[label.LabelStats], key: str
) -> bytes:
    """One file's partial: the file as listed, its reader's note, its figures."""
    header = {"file": data_file.model_dump(mode="json"), "note": note, "specs": []}
    arrays = {}
    for index, found in enumerate(stats):
        state, state_arrays = found.to_state()
        header["specs"].append(state)
        arrays.update({f"{index}_{k}": v for k, v in state_arrays.items()})
    return zlib.compress(staging.pack(_KIND, key, header, arrays), _LEVEL)


def decode(
    data: bytes, key: str, data_file: files.DataFile, specs, path: str
) -> tuple[dict, list[label.LabelStats]]:
    """The note and figures of `data_file`'s partial; ValueError if it is not that.

    Unpacked to at most staging.MAX_BYTES, as any staged result is.
    """
    unzip = zlib.decompressobj()
    data = unzip.decompress(data, staging.MAX_BYTES)
    if not unzip.eof or unzip.unconsumed_tail:
        raise ValueError(f"{path}: truncated, or unpacks past {staging.MAX_BYTES}")
    header, arrays = staging.unpack(data, _KIND, key, path)
    if header.get("file") != data_file.model_dump(mode="json"):
        raise ValueError(f"{path}: the partial of another file")
    if not isinstance(header.get("note"), dict) or len(header["specs"]) != len(specs):
        raise ValueError(f"{path}: not the partial of these label specs")
    stats = []
    for index, (spec, state) in enumerate(zip(specs, header["specs"], strict=True)):
        prefix = f"{index}_"
        own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        found = label.LabelStats.from_state(spec, state, own)
        if found.class_counts.total() != found.in_range or found.class_ranges:
            raise ValueError(f"{path}: class counts that do not add up")
        stats.append(found)
    return header["note"], stats


def established(data_file: files.DataFile, listed: float | None) -> bool:
    """Whether the file's listing proves its bytes unchanged since `listed`."""
    if listed is None:
        return False
    before_ns = int((listed - RACY_S) * 1e9)
    if data_file.modified * 1e9 >= before_ns:
        return False
    if data_file.identity:
        changed = data_file.identity.rsplit(":", 1)[-1]
        return changed.isdigit() and int(changed) < before_ns
    return data_file.path.startswith("gs://") and data_file.modified > 0


@dataclasses.dataclass
class Reused:
    """What this run takes from the previous run's partials, per split."""

    key: str
    # (split, label spec) -> the reused files' figures, merged
    stats: dict = dataclasses.field(default_factory=dict)
    # split -> {data file path: its reader's note}
    notes: dict = dataclasses.field(default_factory=dict)
    # split -> {data file path: (name, sha256, bytes) of its partial}
    entries: dict = dataclasses.field(default_factory=dict)
    # split -> report.model.Reuse's fields
    counts: dict = dataclasses.field(default_factory=dict)

    def taken(self, split: str) -> frozenset[str]:
        """The paths of the split's files that the job need not read."""
        return frozenset(self.entries.get(split, {}))

    def joined(self, results: Results) -> Results:
        """The job's results with the reused files' figures merged in."""
        label_stats = dict(results.label_stats)
        for where, found in self.stats.items():
            label_stats[where] = label_stats[where].merge(found)
        splits = set(results.file_notes) | set(self.notes)
        return dataclasses.replace(
            results,
            label_stats=label_stats,
            file_notes={
                split: {**results.notes(split), **self.notes.get(split, {})}
                for split in splits
            },
            partials={
                split: {
                    **results.partials.get(split, {}),
                    **self.entries.get(split, {}),
                }
                for split in set(results.partials) | set(self.entries)
            },
            partial_key=self.key,
            reuse=self.counts,
        )


def nothing(request, why: str, key: str = "") -> Reused:
    """Every file read, for `why`."""
    found = Reused(key)
    for split in request.splits:
        found.counts[split.name] = _counts(split, set(), why)
    return found


def reuse(request, past, out) -> Reused:
    """The partials of unchanged files, checked, merged and copied into `out`.

    `past` is the history --previous-report named (outputs.history.Past), None
    without one; `out` this run's open output folder.
    """
    if not request.labels_only:
        return nothing(
            request,
            "full mode: TFDV's statistics of every feature do not merge from "
            "per-file parts, so every file is read",
        )
    this_key = key(request)
    previous, why = _previous(past, this_key)
    if previous is None:
        return nothing(request, why, this_key)
    found = Reused(this_key)
    folder = posixpath.dirname(past.previous_path)
    for split in request.splits:
        entries = found.entries.setdefault(split.name, {})
        notes = found.notes.setdefault(split.name, {})
        before = previous.data.get(split.name)
        if before is None or before.format != split.format:
            found.counts[split.name] = _counts(
                split,
                set(),
                f"the previous run read no {split.format} split '{split.name}'",
            )
            continue
        listed = {f.path: f for f in before.files}
        recorded = previous.partials.files.get(split.name, {})
        for data_file in split.files:
            if listed.get(data_file.path) != data_file:
                continue
            took = _take(folder, split.name, data_file, recorded, previous, request)
            if took is None:
                continue
            data, note, stats = took
            out.write_below(name(split.name, data_file.path), data)
            entries[data_file.path] = (
                name(split.name, data_file.path),
                digest(data),
                len(data),
            )
            notes[data_file.path] = note
            for spec, one in zip(request.specs, stats, strict=True):
                merged = found.stats.setdefault(
                    (split.name, spec), label.LabelStats(spec)
                )
                merged.merge(one)
        found.counts[split.name] = _counts(split, set(entries), None)
    return found


def _previous(past, this_key: str) -> tuple[Report | None, str | None]:
    """The previous run's report when its partials may be used; else why not."""
    if past is None:
        return None, "no --previous-report"
    try:
        previous = Report.load(past.previous_path)
    except errors.InputError as e:
        return None, f"the previous report does not read back: {e.message[:200]}"
    problem = signing.problem(previous)
    if problem is not None:
        return None, f"the previous report is not trusted: {problem}"
    if previous.partials is None:
        return None, (
            "the previous run left no partials (full mode, --no-wait, or an older "
            "classgate)"
        )
    if previous.partials.version != VERSION or previous.partials.key != this_key:
        return None, (
            "the previous run's partials were computed under other label specs, "
            "vocabularies, class range width or classgate version"
        )
    return previous, None


def _take(folder, split, data_file, recorded, previous, request):
    """(bytes, note, figures) of an unchanged file's partial; None: read the file."""
    entry = recorded.get(data_file.path)
    own_name = name(split, data_file.path)
    if entry is None or entry.name != own_name:
        return None
    if not established(data_file, previous.partials.listed):
        return None
    path = posixpath.join(folder, own_name)
    try:
        data = storage.read(path, entry.bytes)
    except Exception:  # gone, unreadable, larger than recorded: read the file
        return None
    if len(data) != entry.bytes or digest(data) != entry.sha256:
        return None
    try:
        note, stats = decode(
            data, previous.partials.key, data_file, request.specs, path
        )
    except Exception:  # damaged in a way its digest did not show: read the file
        return None
    return data, note, stats


def _counts(split, reused: set, why: str | None) -> dict:
    read = [f for f in split.files if f.path not in reused]
    return {
        "files_reused": len(split.files) - len(read),
        "bytes_reused": split.bytes - sum(f.size for f in read),
        "files_read": len(read),
        "bytes_read": sum(f.size for f in read),
        "why_none": why,
    }


# The job's side -----------------------------------------------------------------


class TallyFiles(beam.DoFn):
    """labels-only: a file -> its label statistics per spec, its partial written.

    Reads the file with the split's decoder and tallies every batch into one
    LabelStats per spec, so each file's figures exist apart: they are written
    as the file's partial (run.partials) for a later run to reuse. Then, as
    `TallyLabels` does per batch, the class counts leave by key range (tagged
    `classes<i>` for the i-th spec) and the rest is tagged `stats<i>`. Also
    tagged: the reader's note (files.NOTES), and (PARTIALS) each partial's
    (data file path, (name, sha256, bytes)). Holds one file's accumulators: the
    distinct classes of that file, not of the data.
    """

    PARTIALS = "partials"

    def __init__(self, decode, split: str, specs, range_width: int, out: str, key):
        self._decode = decode
        self._split = split
        self._specs = tuple(specs)
        self._range_width = range_width
        self._out = out
        self._key = key
        self._missing = Metrics.counter(progress.NAMESPACE, "missing_labels")
        self._outside = Metrics.counter(progress.NAMESPACE, "out_of_range_labels")

    @staticmethod
    def stats_tag(index: int) -> str:
        return f"stats{index}"

    @staticmethod
    def classes_tag(index: int) -> str:
        return f"classes{index}"

    def setup(self):
        self._decode.setup()
        self._words = [
            vocabulary.as_array(spec.vocabulary_file) if spec.vocabulary_file else None
            for spec in self._specs
        ]

    def process(self, element: tuple):
        path, size, modified, identity = element
        data_file = files.DataFile(
            path=path, size=size, modified=modified, identity=identity
        )
        found = [label.LabelStats(spec) for spec in self._specs]
        note = {}
        for batch in self._decode.process((path, size)):
            if isinstance(batch, beam.pvalue.TaggedOutput):  # the file's note
                note = batch.value[1]
                continue
            for stats, words in zip(found, self._words, strict=True):
                self._outside.inc(stats.add_batch(batch, words))
        for stats in found:
            self._missing.inc(stats.missing)
        data = encode(data_file, note, found, self._key)
        written = name(self._split, path)
        # atomic: no half partial; inside --output once links are followed
        storage.write_atomic(f"{self._out}/{written}", data, within=self._out)
        yield beam.pvalue.TaggedOutput(
            self.PARTIALS, (path, (written, digest(data), len(data)))
        )
        yield beam.pvalue.TaggedOutput(files.NOTES, (path, note))
        for index, stats in enumerate(found):
            for keyed in stats.take_class_counts(self._range_width):
                yield beam.pvalue.TaggedOutput(self.classes_tag(index), keyed)
            yield beam.pvalue.TaggedOutput(self.stats_tag(index), stats)
