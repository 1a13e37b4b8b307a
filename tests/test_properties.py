"""The gate's invariants over generated inputs, hostile ones included.

Whatever the argv, config, vocabulary, Parquet schema or TFRecord damage:

- the exit code is 0, 1 or 2 (3 would be a defect of ours);
- exit 2 prints exactly one line on stderr, and no traceback;
- no file is created or deleted outside --output;
- a pass only where a plain reference over the same data agrees that training
  would work: every label an int in [0, num_classes), num_true of them per example,
  few enough classes unseen, a valid num_sampled; for vocabularies, TensorFlow's
  own table; for TFRecord, TensorFlow's own reader.

The examples are derandomized (the same each run) so CI is repeatable; each
property's example count keeps the suite to a few minutes.
"""

import contextlib
import io
import json
import os
import pathlib
import string

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tfx_bsl.coders import example_coder

from classgate import cli, errors
from classgate.io import tfrecord
from classgate.model_files import vocabulary

from workspace import Workspace

pytestmark = pytest.mark.slow


def examples(max_examples: int):
    return settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
        ],
    )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A workspace with a small data set the properties reuse."""
    ws = Workspace(tmp_path_factory.mktemp("properties"))
    ws.labels([0, 1, 2, 3] * 5, name="train")
    return ws


class Run:
    """One in-process run of classgate, and what it did to the file system."""

    def __init__(self, root: pathlib.Path, argv: list[str], output: pathlib.Path):
        before = _tree(root, output)
        top = set(os.listdir("/"))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            self.code = cli.main(argv)
        self.out, self.err = out.getvalue(), err.getvalue()
        self.outside_changed = _tree(root, output) != before or (
            set(os.listdir("/")) != top
        )

    def check(self) -> None:
        assert self.code in (0, 1, 2), (self.code, self.err)
        assert "Traceback" not in self.err
        if self.code == 2:
            lines = self.err.strip().splitlines()
            assert len(lines) == 1, self.err
            assert lines[0].startswith("classgate: error: "), self.err
            assert len(lines[0]) < 2000
        assert not self.outside_changed, "a file outside --output changed"


def _tree(root: pathlib.Path, output: pathlib.Path) -> dict:
    """Every file under root but the output folder: path -> (size, mtime)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        here = pathlib.Path(folder)
        dirs[:] = [d for d in dirs if here / d != output]
        for name in files:
            stat = (here / name).lstat()
            found[str(here / name)] = (stat.st_size, stat.st_mtime_ns)
    return found


def reference_ok(rows, model: dict) -> bool:
    """Would training work on these label rows with this config? Plain Python."""
    n = model["num_classes"]
    num_true = model.get("num_true", 1)
    if not rows:
        return False
    seen = set()
    for row in rows:
        if row is None or len(row) != num_true:
            return False
        for value in row:
            if not isinstance(value, int) or isinstance(value, bool):
                return False
            if not 0 <= value < n:
                return False
            seen.add(value)
    sampled = model.get("num_sampled", min(64, n - 1))
    if sampled <= 0 or (model.get("unique", True) and sampled >= n):
        return False
    return (n - len(seen)) / n <= model.get("max_unseen_fraction", 0.1)


# argv ---------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "validate",
        "train",
        "conclude",
        "run",
        "--data",
        "--split",
        "--output",
        "--model-config",
        "--labels-only",
        "--strict",
        "--format",
        "parquet",
        "tfrecord",
        "--",
        "--runner=Bogus",
        "--runner",
        "DirectRunner",
        "--direct_num_workers=2",
        "--classes-per-range",
        "0",
        "3",
        "--no-wait",
        "--report",
        "--junit-xml",
        "",
        "-",
        "*",
        "train=",
        "=x",
        "--quiet",
        "--baseline-schema",
        "--epochs",
        "-1",
        "--model",
        "--lables-only",
        "stray",
        "--data=",
        "--output=",
        "--split=a=b",
        "DATA",
        "CONFIG",
        "OUT",
    ]
)


@examples(40)
@given(words=st.lists(WORDS | st.text(string.printable, max_size=8), max_size=10))
def test_any_argv(scratch, words):
    root = scratch.root
    output = root / "argv-out"
    data = str(root / "data" / "train" / "*")
    config = scratch.model(4, name="argv", max_unseen_fraction=1.0)
    # Names for paths, so that many runs get as far as the job.
    swap = {"DATA": data, "CONFIG": config, "OUT": str(output)}
    argv = ["validate", "--data", data, "--model-config", config]
    argv += [swap.get(w, w) for w in words]
    if "--output" not in argv:
        argv += ["--output", str(output)]
    Run(root, argv, output).check()


# configs ------------------------------------------------------------------------

KEYS = [
    "name",
    "label_feature",
    "num_classes",
    "num_true",
    "num_sampled",
    "sampler",
    "unique",
    "loss",
    "remove_accidental_hits",
    "max_unseen_fraction",
    "vocabulary_file",
    "num_oov_buckets",
    "context_feature",
    "context_vocab_size",
    "embedding_dim",
    "epochs",
    "batch_size",
    "learning_rate",
    "num_clases",
    "models",
]
VALUES = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-3, 8),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["label", "m", "uniform", "nce", "x" * 300, "", "log_uniform"]),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 5), max_size=3),
    st.dictionaries(st.sampled_from(["a", "name"]), st.integers(0, 3), max_size=2),
)


@st.composite
def configs(draw):
    """Mostly near-valid model configs, with a few keys off."""
    model = {
        "name": "m",
        "label_feature": "label",
        "num_classes": draw(
            st.sampled_from([1, 2, 3, 4, 5, 8, 2**63 - 1, 2**63, 0, -1])
        ),
    }
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=3)):
        model[key] = draw(VALUES)
    if draw(st.booleans()):
        model.pop(draw(st.sampled_from(["name", "label_feature", "num_classes"])))
    text = yaml.safe_dump(model, allow_unicode=True)
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.text(max_size=60))  # not a mapping, maybe not YAML
    return model, text


@examples(40)
@given(drawn=configs())
def test_any_config(scratch, drawn):
    model, text = drawn
    root = scratch.root
    output = root / "config-out"
    path = root / "generated.yaml"
    path.write_text(text)
    data = str(root / "data" / "train" / "*")
    argv = ["validate", "--data", data, "--model-config", str(path)]
    run = Run(root, [*argv, "--output", str(output), "--labels-only"], output)
    run.check()
    if run.code == 0:
        rows = [[v] for v in [0, 1, 2, 3] * 5]
        assert reference_ok(rows, model), (model, run.out)


# vocabularies -------------------------------------------------------------------

LINE_BYTES = st.binary(max_size=6) | st.sampled_from(
    [
        b"\r",
        b"\r\n",
        "\u2028".encode(),
        b"\x0b",
        b"\x0c",
        b"\x1c",
        "\x85".encode(),
        b"\xff",
        b"a",
        b"b",
    ]
)


@st.composite
def vocabulary_files(draw):
    pieces = draw(st.lists(LINE_BYTES, max_size=12))
    ends = draw(
        st.lists(
            st.sampled_from([b"\n", b"", b"\r\n"]),
            min_size=len(pieces),
            max_size=len(pieces),
        )
    )
    return b"".join(p + e for p, e in zip(pieces, ends, strict=True))


def initializer(path: str):
    import tensorflow as tf

    return tf.lookup.TextFileInitializer(
        path,
        tf.string,
        tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64,
        tf.lookup.TextFileIndex.LINE_NUMBER,
    )


def tensorflow_table(path: str):
    """{line bytes: id} as TensorFlow's table holds them, or None if it refuses."""
    import tensorflow as tf

    try:
        keys, values = tf.lookup.StaticHashTable(initializer(path), -1).export()
    except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError):
        return None
    except (tf.errors.FailedPreconditionError, UnicodeDecodeError):
        # A line twice: refused too (TensorFlow fails to decode its own message
        # when the duplicate is not UTF-8).
        return DUPLICATES
    return dict(zip(keys.numpy().tolist(), values.numpy().tolist(), strict=True))


DUPLICATES = "duplicate lines"


@examples(150)
@given(data=vocabulary_files())
def test_vocabulary_lines_are_tensorflows(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("vocab") / "v.txt"
    path.write_bytes(data)
    expected = tensorflow_table(str(path))
    try:
        lines = vocabulary.parse(data, str(path))
    except errors.InputError:
        assert expected in (None, DUPLICATES), data  # refused by both
        return
    assert expected is not None, data
    if expected == DUPLICATES:  # VOCABULARY_SIZE_MISMATCH's duplicate lines
        assert len(set(lines)) < len(lines)
    else:
        assert {line: i for i, line in enumerate(lines)} == expected


@examples(20)
@given(
    data=vocabulary_files(),
    labels=st.lists(LINE_BYTES, min_size=1, max_size=6),
    oov=st.integers(0, 2),
)
def test_a_pass_maps_every_string_label_as_tensorflow_does(scratch, data, labels, oov):
    import tensorflow as tf

    root = scratch.root
    vocab = root / "vocab.bin"
    vocab.write_bytes(data)
    table = tensorflow_table(str(vocab))
    folder = root / "strings"
    folder.mkdir(exist_ok=True)
    column = pa.array([[label] for label in labels], pa.list_(pa.binary()))
    batch = pa.RecordBatch.from_arrays([column], ["label"])
    records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    tfrecord.write_records(str(folder / "s.tfrecord.gz"), records)
    model = {
        "name": "v",
        "label_feature": "label",
        "num_classes": (len(table) if table else 1) + oov,
        "vocabulary_file": str(vocab),
        "num_oov_buckets": oov,
        "max_unseen_fraction": 1.0,
        "num_sampled": 1,
        "unique": False,
    }
    config = root / "vocab-model.yaml"
    config.write_text(yaml.safe_dump(model))
    output = root / "vocab-out"
    argv = ["validate", "--data", str(folder / "*"), "--model-config", str(config)]
    run = Run(root, [*argv, "--output", str(output), "--labels-only"], output)
    run.check()
    if run.code == 0:
        assert table not in (None, DUPLICATES)
        if oov:
            lookup = tf.lookup.StaticVocabularyTable(initializer(str(vocab)), oov)
        else:
            lookup = tf.lookup.StaticHashTable(initializer(str(vocab)), -1)
        ids = lookup.lookup(tf.constant(labels)).numpy()
        assert ((ids >= 0) & (ids < model["num_classes"])).all(), (labels, ids)


# Parquet schemas ----------------------------------------------------------------

LABEL_TYPES = {
    "int8": pa.int8(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "list<int64>": pa.list_(pa.int64()),
    "large_list<int32>": pa.large_list(pa.int32()),
    "list<float64>": pa.list_(pa.float64()),
    "dictionary<int32>": pa.dictionary(pa.int8(), pa.int32()),
}
OTHER_COLUMNS = [
    pa.array([1, 2], pa.timestamp("ms")),
    pa.array([True, None]),
    pa.array(["a", None]),
    pa.array([[1.5], []]),
    pa.array([{"x": 1}, None]),
    pa.array([1, 2], pa.date32()),
    pa.array([None, None], pa.null()),
]
ELEMENTS = st.one_of(st.integers(-2, 6), st.none(), st.just(2**63 + 5))


@st.composite
def parquet_tables(draw):
    name = draw(st.sampled_from(sorted(LABEL_TYPES)))
    kind = LABEL_TYPES[name]
    rows = draw(st.integers(1, 8))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        values = st.none() | st.lists(ELEMENTS, max_size=3)
    else:
        values = ELEMENTS
    drawn = draw(st.lists(values, min_size=rows, max_size=rows))
    others = draw(st.sets(st.integers(0, len(OTHER_COLUMNS) - 1)))
    return name, kind, drawn, others


def arrow_column(kind: pa.DataType, values: list) -> pa.Array:
    """`values` as `kind` where they fit it; as strings where they cannot."""
    base = kind.value_type if pa.types.is_dictionary(kind) else kind
    inner = base.value_type if hasattr(base, "value_type") else base

    def convert(v):
        if isinstance(v, list):
            return [convert(x) for x in v]
        if v is None:
            return None
        if pa.types.is_string(inner):
            return str(v)
        if pa.types.is_boolean(inner):
            return bool(v)
        if pa.types.is_floating(inner):
            return float(v)
        return v

    try:
        array = pa.array([convert(v) for v in values], base)
    except (pa.ArrowInvalid, OverflowError):
        return pa.array([None if v is None else str(v) for v in values])
    return array.dictionary_encode() if pa.types.is_dictionary(kind) else array


@examples(30)
@given(drawn=parquet_tables(), labels_only=st.booleans())
def test_any_parquet_schema(scratch, drawn, labels_only):
    name, kind, values, others = drawn
    root = scratch.root
    folder = root / "pq"
    folder.mkdir(exist_ok=True)
    label = arrow_column(kind, values)
    columns = {"label": label}
    for index in sorted(others):
        extra = pa.concat_arrays([OTHER_COLUMNS[index]] * len(label))
        columns[f"c{index}"] = extra.slice(0, len(label))
    pq.write_table(pa.table(columns), folder / "t.parquet")
    config = scratch.model(3, name="pq", max_unseen_fraction=1.0, num_sampled=1)
    output = root / "pq-out"
    argv = ["validate", "--data", str(folder / "*"), "--model-config", config]
    argv += ["--output", str(output)] + (["--labels-only"] if labels_only else [])
    run = Run(root, argv, output)
    run.check()
    if run.code == 0:
        rows = [
            r if r is None or isinstance(r, list) else [r] for r in label.to_pylist()
        ]
        rows = [None if r is None or None in r else r for r in rows]
        rows = [
            None
            if r is None
            else [int(v) if isinstance(v, float) and v.is_integer() else v for v in r]
            for r in rows
        ]
        model = {"num_classes": 3, "max_unseen_fraction": 1.0, "num_sampled": 1}
        assert reference_ok(rows, model), (name, values, run.out)


# TFRecord damage ----------------------------------------------------------------


@examples(30)
@given(
    kind=st.sampled_from(["flip", "truncate", "insert", "cut-at-record"]),
    where=st.integers(0, 10**6),
    byte=st.integers(1, 255),
    compress=st.booleans(),
)
def test_any_tfrecord_damage(scratch, kind, where, byte, compress):
    import tensorflow as tf

    root = scratch.root
    folder = root / "tfr"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    path = folder / ("d.tfrecord.gz" if compress else "d.tfrecord")
    batch = pa.RecordBatch.from_arrays(
        [pa.array([[i % 4] for i in range(30)])], ["label"]
    )
    records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    tfrecord.write_records(str(path), records, compress=compress)
    data = bytearray(path.read_bytes())
    at = where % len(data)
    if kind == "flip":
        data[at] ^= byte
    elif kind == "truncate":
        del data[at:]
    elif kind == "insert":
        data[at:at] = bytes([byte])
    elif not compress:  # cut at a record boundary: a shorter, valid file
        kept = where % 30
        del data[16 * kept + sum(len(r) for r in records[:kept]) :]
    path.write_bytes(bytes(data))
    output = root / "tfr-out"
    config = scratch.model(4, name="tfr", max_unseen_fraction=1.0, sampler="uniform")
    argv = ["validate", "--data", str(path), "--model-config", config]
    run = Run(root, [*argv, "--output", str(output), "--labels-only"], output)
    run.check()
    if run.code in (0, 1):
        # The file reads whole with TensorFlow's own reader, to the same figures.
        compression = "GZIP" if tfrecord.is_gzip(str(path)) else ""
        read = [
            tf.train.Example.FromString(r.numpy())
            .features.feature["label"]
            .int64_list.value[0]
            for r in tf.data.TFRecordDataset(str(path), compression)
        ]
        report = json.loads((output / "report.json").read_text())
        figures = report["labels"]["train"]["label"]
        assert figures["examples"] == len(read)
        unigram = np.loadtxt(output / "unigram-tfr.txt", dtype=np.int64, ndmin=1)
        assert np.array_equal(unigram, np.bincount(read, minlength=4)[:4])
