"""The trainer's reader takes every file the gate's readers pass: ZLIB and empty
TFRecord shards, labels and contexts inside Parquet structs, with the same values."""

import collections

import pyarrow as pa
import pyarrow.parquet as pq
from tfx_bsl.coders import example_coder

from classgate import config
from classgate.io import tfrecord
from classgate.training import data

LABELS = [i % 5 for i in range(40)]
CONTEXTS = [[i % 7, (i + 1) % 7][: 1 + i % 2] for i in range(40)]


def model(label="label", context="context") -> config.ModelConfig:
    return config.ModelConfig(
        name="m",
        label_feature=label,
        num_classes=5,
        context_feature=context,
        context_vocab_size=7,
        embedding_dim=4,
        num_sampled=2,
    )


def pairs(dataset) -> collections.Counter:
    """(label, context ids) of every example the trainer's dataset yields."""
    found = collections.Counter()
    for ids, labels in dataset:
        for row, label in zip(ids.numpy(), labels.numpy(), strict=True):
            found[(int(label[0]), tuple(int(i) for i in row if i != data.PAD))] += 1
    return found


def written(labels, contexts) -> collections.Counter:
    return collections.Counter(
        (label, tuple(context)) for label, context in zip(labels, contexts, strict=True)
    )


def test_zlib_gzip_plain_and_empty_shards_are_each_read_by_their_bytes(tmp_path):
    import tensorflow as tf

    batch = pa.RecordBatch.from_arrays(
        [pa.array([[v] for v in LABELS]), pa.array(CONTEXTS)], ["label", "context"]
    )
    records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    zlib_path = tmp_path / "a.tfrecord"  # no name says zlib; TensorFlow reads 'ZLIB'
    options = tf.io.TFRecordOptions(compression_type="ZLIB")
    with tf.io.TFRecordWriter(str(zlib_path), options=options) as writer:
        for record in records[:20]:
            writer.write(record)
    tfrecord.write_records(str(tmp_path / "b.tfrecord.gz"), records[20:30])
    tfrecord.write_records(str(tmp_path / "c.tfrecord"), records[30:], compress=False)
    for empty in ("d.tfrecord.gz", "e.tfrecord"):
        (tmp_path / empty).write_bytes(b"")
    files = sorted(str(p) for p in tmp_path.iterdir())
    assert [tfrecord.tensorflow_compression(f) for f in files] == [
        "ZLIB",
        "GZIP",
        "",
        "",
        "",
    ]
    read = pairs(data.dataset(model(), files, "tfrecord", batch_size=16))
    assert read == written(LABELS, CONTEXTS)


def test_struct_fields_are_read_as_validation_reads_them(tmp_path):
    """`meta.label` and `features.ids` at any depth; a top-level decoy is not read."""
    table = pa.table(
        {
            "meta": pa.array([{"label": v, "source": "web"} for v in LABELS]),
            "features": pa.array([{"inner": {"ids": c}} for c in CONTEXTS]),
            "label": pa.array([99] * len(LABELS)),
        }
    )
    paths = [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    pq.write_table(table.slice(0, 25), paths[0])
    pq.write_table(table.slice(25), paths[1], use_compliant_nested_type=True)
    reader = model(label="meta.label", context="features.inner.ids")
    read = pairs(data.dataset(reader, paths, "parquet", batch_size=16))
    assert read == written(LABELS, CONTEXTS)
