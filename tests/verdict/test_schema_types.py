"""No false fail: correct data of every label type the gate accepts passes --strict.

The inferred schema types each label as the data stores it, so TFDV's checks agree
with classgate's on every accepted type: ints of every width, floats holding whole
numbers (pandas' nullable ints), strings through a vocabulary (plain, dictionary-
encoded, pandas category, Polars Categorical and Enum, tf.Example bytes_list),
tf.Example int64_list and struct fields (`meta.label`), as pyarrow, pandas, Polars
and TensorFlow's own TFRecord writer (gzip, ZLIB, uncompressed) write them. Each
generated dataset is correct by construction, and trips none of classgate's warnings
either: every class present, num_true labels per example, a uniform sampler,
num_sampled 1 of at least 3 classes, one split, and no OOV buckets (a string outside
the vocabulary draws LABEL_NOT_IN_VOCABULARY, and an empty bucket CLASSES_UNSEEN).
Any finding is a false fail, in full mode or with --labels-only.
"""

import contextlib
import dataclasses
import io
import pathlib
import tempfile

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from classgate import cli
from classgate.verdict import schema

pytestmark = pytest.mark.slow

# int8 holds ids up to 127; above 100 vocabulary lines the schema has no
# string_domain (schema.MAX_STRING_DOMAIN), so both sides of it are drawn.
MAX_CLASSES = 120

# Vocabulary lines as TensorFlow's TextFileInitializer reads them: no "\n", none
# empty, no trailing "\r" (it would be dropped). Any other UTF-8 text.
WORDS = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"),
    min_size=1,
    max_size=6,
).filter(lambda word: not word.endswith("\r"))


@dataclasses.dataclass(frozen=True)
class Labels:
    """Correct labels: (rows, num_true) ids with every class in [0, num_classes)."""

    ids: np.ndarray
    words: tuple[str, ...]  # the vocabulary: line i is class i

    @property
    def num_classes(self) -> int:
        return len(self.words)

    @property
    def num_true(self) -> int:
        return self.ids.shape[1]

    def strings(self) -> list[list[str]]:
        return [[self.words[i] for i in row] for row in self.ids]

    def shards(self, count: int):
        """Row ranges of `count` shards, the last ones possibly empty."""
        bounds = np.linspace(0, len(self.ids), count + 1).astype(int)
        return list(zip(bounds[:-1], bounds[1:], strict=True))


@st.composite
def labels(draw, num_true: int) -> Labels:
    # Drawn as often past the string_domain limit as within it.
    num_classes = draw(
        st.integers(3, schema.MAX_STRING_DOMAIN)
        | st.integers(schema.MAX_STRING_DOMAIN + 1, MAX_CLASSES)
    )
    words = draw(
        st.lists(WORDS, min_size=num_classes, max_size=num_classes, unique=True)
    )
    rows = -(-num_classes // num_true) + draw(st.integers(0, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ids = rng.integers(0, num_classes, rows * num_true)
    ids[:num_classes] = np.arange(num_classes)  # every class present
    rng.shuffle(ids)
    return Labels(ids.reshape(rows, num_true), tuple(words))


# Writers: (folder, labels, shards) -> {label column: takes a vocabulary}, each
# writing train-<shard>-of-<shards>.<ext> files into `folder`.


def _lists(flat: pa.Array, num_true: int) -> pa.Array:
    """num_true values per row: scalars for one, else a list column."""
    if num_true == 1:
        return flat
    offsets = pa.array(np.arange(0, len(flat) + 1, num_true), pa.int32())
    return pa.ListArray.from_arrays(offsets, flat)


def write_pyarrow(folder: pathlib.Path, data: Labels, shards: int) -> dict:
    flat_ids = pa.array(data.ids.ravel())
    flat_words = pa.array([w for row in data.strings() for w in row])
    arrays, takes_words = {}, {}
    for kind in (
        pa.int8(),
        pa.int16(),
        pa.int32(),
        pa.int64(),
        pa.uint8(),
        pa.uint16(),
        pa.uint32(),
        pa.uint64(),
        pa.float32(),
        pa.float64(),
    ):
        arrays[f"label_{kind}"] = flat_ids.cast(kind)
        takes_words[f"label_{kind}"] = False
    for kind in (pa.string(), pa.large_string(), pa.binary()):
        arrays[f"label_{kind}"] = flat_words.cast(kind)
        takes_words[f"label_{kind}"] = True
    arrays["label_dictionary"] = flat_words.dictionary_encode()
    takes_words["label_dictionary"] = True
    arrays = {name: _lists(flat, data.num_true) for name, flat in arrays.items()}
    # Labels inside a struct (pyarrow's and Spark's nested columns): `meta.label`.
    arrays["meta"] = pa.StructArray.from_arrays(
        [_lists(flat_ids, data.num_true), _lists(flat_words, data.num_true)],
        ["label", "word"],
    )
    takes_words.update({"meta.label": False, "meta.word": True})
    table = pa.table(arrays)
    for shard, (start, stop) in enumerate(data.shards(shards)):
        path = folder / f"train-{shard:05d}-of-{shards:05d}.parquet"
        pq.write_table(table.slice(start, stop - start), path)
    return takes_words


def write_pandas(folder: pathlib.Path, data: Labels, shards: int, engine: str):
    ids, words = data.ids[:, 0], [row[0] for row in data.strings()]
    frame = pd.DataFrame(
        {
            "label_int64": ids.astype(np.int64),
            "label_Int64": pd.array(ids, dtype="Int64"),
            # How pandas holds nullable ints once they meet a float: float64.
            "label_Int64_float64": pd.array(ids, dtype="Int64").astype("float64"),
            "label_category": pd.Categorical(words),
            "label_object": pd.Series(words, dtype=object),
        }
    )
    for shard, (start, stop) in enumerate(data.shards(shards)):
        path = folder / f"train-{shard:05d}-of-{shards:05d}.parquet"
        frame.iloc[start:stop].to_parquet(path, engine=engine)
    return {
        "label_int64": False,
        "label_Int64": False,
        "label_Int64_float64": False,
        "label_category": True,
        "label_object": True,
    }


def write_polars(folder: pathlib.Path, data: Labels, shards: int) -> dict:
    ids = data.ids.tolist()
    words = data.strings()
    columns = {}
    for kind in (
        pl.Int8,
        pl.Int16,
        pl.Int32,
        pl.Int64,
        pl.UInt8,
        pl.UInt16,
        pl.UInt32,
        pl.UInt64,
        pl.Float32,
        pl.Float64,
    ):
        columns[f"label_{kind}", False] = (ids, kind)
    columns["label_String", True] = (words, pl.String)
    columns["label_Categorical", True] = (words, pl.Categorical)
    present = sorted({w for row in words for w in row})
    columns["label_Enum", True] = (words, pl.Enum(present))
    frame = pl.DataFrame(
        [
            pl.Series(
                name,
                [row[0] for row in rows] if data.num_true == 1 else rows,
                dtype=kind if data.num_true == 1 else pl.List(kind),
            )
            for (name, _), (rows, kind) in columns.items()
        ]
    )
    for shard, (start, stop) in enumerate(data.shards(shards)):
        path = folder / f"train-{shard:05d}-of-{shards:05d}.parquet"
        frame.slice(start, stop - start).write_parquet(path)
    return {name: vocab for name, vocab in columns}


def write_tfrecord(folder: pathlib.Path, data: Labels, shards: int, compression):
    """tf.Example through TensorFlow's own writer: int64_list and bytes_list."""
    import tensorflow as tf

    suffix = {"GZIP": ".tfrecord.gz", "ZLIB": ".tfrecord.zlib", "": ".tfrecord"}
    suffix = suffix[compression]
    strings = data.strings()
    for shard, (start, stop) in enumerate(data.shards(shards)):
        path = folder / f"train-{shard:05d}-of-{shards:05d}{suffix}"
        with tf.io.TFRecordWriter(str(path), options=compression) as writer:
            for row in range(start, stop):
                feature = {
                    "label_int64_list": tf.train.Feature(
                        int64_list=tf.train.Int64List(value=data.ids[row].tolist())
                    ),
                    "label_bytes_list": tf.train.Feature(
                        bytes_list=tf.train.BytesList(
                            value=[w.encode() for w in strings[row]]
                        )
                    ),
                }
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                writer.write(example.SerializeToString())
    return {"label_int64_list": False, "label_bytes_list": True}


WRITERS = {
    "pyarrow": write_pyarrow,
    "pandas-pyarrow": lambda f, d, s: write_pandas(f, d, s, "pyarrow"),
    "pandas-fastparquet": lambda f, d, s: write_pandas(f, d, s, "fastparquet"),
    "polars": write_polars,
    "tfrecord-gzip": lambda f, d, s: write_tfrecord(f, d, s, "GZIP"),
    "tfrecord-plain": lambda f, d, s: write_tfrecord(f, d, s, ""),
    "tfrecord-zlib": lambda f, d, s: write_tfrecord(f, d, s, "ZLIB"),
}
# pandas holds one value per cell; the others write lists for num_true > 1.
SCALAR_ONLY = {"pandas-pyarrow", "pandas-fastparquet"}


def models(root: pathlib.Path, data: Labels, columns: dict) -> str:
    """One config file: a correct model per label column."""
    vocab = root / "vocab.txt"
    vocab.write_bytes(b"".join(w.encode() + b"\n" for w in data.words))
    entries = []
    for column, takes_words in columns.items():
        entry = {
            "name": column.replace("label_", "m-"),
            "label_feature": column,
            "num_classes": data.num_classes,
            "num_true": data.num_true,
            "sampler": "uniform",  # log_uniform warns unless ids are frequency-sorted
            "num_sampled": 1,  # NUM_SAMPLED_HIGH warns at half of num_classes
        }
        if takes_words:
            entry["vocabulary_file"] = str(vocab)
        entries.append(entry)
    path = root / "models.yaml"
    path.write_text(yaml.safe_dump({"models": entries}, allow_unicode=True))
    return str(path)


def strict_runs(writer: str, data: Labels, shards: int) -> dict:
    """{mode: (exit code, findings)} of --strict runs on the written dataset.

    The labels-only run takes the full run's schema.pbtxt as its baseline, as a
    user who curates it would: labels-only statistics must agree with it too.
    Without a baseline, labels-only validates against no schema at all.
    """
    found = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        folder = root / "data"
        folder.mkdir()
        columns = WRITERS[writer](folder, data, shards)
        config = models(root, data, columns)
        full_schema = root / "out-full" / "schema.pbtxt"
        modes = {
            "full": [],
            "labels-only": ["--labels-only", "--baseline-schema", str(full_schema)],
        }
        for mode, flags in modes.items():
            output = root / f"out-{mode}"
            argv = ["validate", "--data", str(folder / "train-*"), "--strict"]
            argv += ["--model-config", config, "--output", str(output), *flags]
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = cli.main(argv)
            found[mode] = (code, out.getvalue())
    return found


@pytest.mark.parametrize("writer", WRITERS)
@settings(
    max_examples=2,  # each costs two runs of seconds: about a minute in all
    derandomize=True,
    deadline=None,
    database=None,
    # Not shrunk: every shrinking step costs two runs, minutes in all; a failure
    # is reported as drawn, its findings naming each failing label column.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_correct_labels_of_every_type_pass_strict(writer, data):
    num_true = 1 if writer in SCALAR_ONLY else data.draw(st.integers(1, 2))
    written = data.draw(labels(num_true), label="labels")
    shards = data.draw(st.integers(1, 3), label="shards")
    # What was covered (pytest --hypothesis-show-statistics).
    event(f"num_true {num_true}")
    fits = written.num_classes <= schema.MAX_STRING_DOMAIN
    event("string_domain" if fits else "no string_domain (too many lines)")
    failed = [
        f"{mode}: exit {code}\n{out}"
        for mode, (code, out) in strict_runs(writer, written, shards).items()
        if code
    ]
    assert not failed, f"{writer}:\n" + "\n".join(failed)
