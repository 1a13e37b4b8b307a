"""Pass implies the trainer can run: every label and context type the gate lets
through, the built-in trainer reads, in both formats."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tfx_bsl.coders import example_coder

from classgate import cli
from classgate.io import tfrecord

pytestmark = pytest.mark.slow

ROWS = 16
IDS = [i % 4 for i in range(ROWS)]
WORDS = ["cash", "card", "check", "caf\u00e9"]
CONFIG = (
    "name: m\nlabel_feature: label\nnum_classes: {n}\ncontext_feature: context\n"
    "context_vocab_size: 4\nembedding_dim: 4\nbatch_size: 8\nsampler: uniform\n"
    "num_sampled: 1\nunique: false\nmax_unseen_fraction: 1.0\n{extra}"
)

PARQUET_LABELS = {
    "int8": pa.array(IDS, pa.int8()),
    "int32": pa.array(IDS, pa.int32()),
    "uint8": pa.array(IDS, pa.uint8()),
    "uint64": pa.array(IDS, pa.uint64()),
    "whole float64": pa.array([float(i) for i in IDS]),
    "dictionary<int32>": pa.array(IDS, pa.int32()).dictionary_encode(),
    "list<int64>": pa.array([[i] for i in IDS]),
    "large_list<int16>": pa.array([[i] for i in IDS], pa.large_list(pa.int16())),
    "fixed_size_list<int64>": pa.FixedSizeListArray.from_arrays(
        pa.array(IDS, pa.int64()), 1
    ),
    "string, vocabulary": pa.array([WORDS[i] for i in IDS]),
    "large_string, vocabulary": pa.array([WORDS[i] for i in IDS], pa.large_string()),
    "binary, vocabulary": pa.array([WORDS[i].encode() for i in IDS], pa.binary()),
    "dictionary<string>, vocabulary": pa.array(
        [WORDS[i] for i in IDS]
    ).dictionary_encode(),
}
PARQUET_CONTEXTS = {
    "int64": pa.array(IDS),
    "int32": pa.array(IDS, pa.int32()),
    "uint16": pa.array(IDS, pa.uint16()),
    "whole float64": pa.array([float(i) for i in IDS]),
    "nullable int64": pa.array([None if i == 2 else i for i in IDS]),
    "list<int32>": pa.array([[i, (i + 1) % 4] for i in IDS], pa.list_(pa.int32())),
    "list with nulls": pa.array([[i, None] for i in IDS]),
    "dictionary<int64>": pa.array(IDS).dictionary_encode(),
}


def validate_then_train(ws, pattern, config_text, capsys):
    config = ws.config(config_text)
    out = ws.root / "out"
    argv = ["--data", pattern, "--model-config", config, "--output", str(out)]
    code = cli.main(["validate", *argv, "--labels-only"])
    assert code == 0, capsys.readouterr()
    code = cli.main(
        [
            "train",
            "--report",
            str(out / "report.json"),
            "--output",
            str(out),
            "--epochs",
            "1",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (out / "model").is_dir() and (out / "metrics.json").exists()


def vocabulary(ws, extra_lines=()) -> str:
    path = ws.root / "vocab.txt"
    path.write_text("\n".join([*WORDS, *extra_lines]) + "\n", encoding="utf-8")
    return f"vocabulary_file: {path}\n"


@pytest.mark.parametrize("name", sorted(PARQUET_LABELS))
def test_parquet_labels(ws, capsys, name):
    folder = ws.root / "data"
    folder.mkdir()
    table = pa.table({"label": PARQUET_LABELS[name], "context": pa.array(IDS)})
    pq.write_table(table, folder / "t.parquet")
    extra = vocabulary(ws) if "vocabulary" in name else ""
    validate_then_train(ws, str(folder / "*"), CONFIG.format(n=4, extra=extra), capsys)


@pytest.mark.parametrize("name", sorted(PARQUET_CONTEXTS))
def test_parquet_contexts(ws, capsys, name):
    folder = ws.root / "data"
    folder.mkdir()
    table = pa.table({"label": pa.array(IDS), "context": PARQUET_CONTEXTS[name]})
    pq.write_table(table, folder / "t.parquet")
    validate_then_train(ws, str(folder / "*"), CONFIG.format(n=4, extra=""), capsys)


@pytest.mark.parametrize(
    "labels, oov",
    [
        (pa.array([[i] for i in IDS]), 0),
        (pa.array([[WORDS[i].encode()] for i in IDS], pa.list_(pa.binary())), 0),
        (
            pa.array(
                [[WORDS[i].encode() if i else b"unknown"] for i in IDS],
                pa.list_(pa.binary()),
            ),
            1,
        ),
    ],
    ids=["int64_list", "bytes_list, vocabulary", "bytes_list, OOV bucket"],
)
@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_tfrecord(ws, capsys, labels, oov, compress):
    # Contexts of several lengths, and missing from some examples.
    context = pa.array([[i, (i + 1) % 4][: i % 3] for i in IDS])
    batch = pa.RecordBatch.from_arrays([labels, context], ["label", "context"])
    records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    folder = ws.root / "data"
    folder.mkdir()
    name = "t.tfrecord.gz" if compress else "t.tfrecord"
    tfrecord.write_records(str(folder / name), records, compress=compress)
    is_text = pa.types.is_binary(labels.type.value_type)
    extra = vocabulary(ws) if is_text else ""
    extra += f"num_oov_buckets: {oov}\n" if oov else ""
    n = 4 + oov
    validate_then_train(ws, str(folder / "*"), CONFIG.format(n=n, extra=extra), capsys)
