"""The trainer's input: the validated files as batches of (context ids, labels).

Ids are read the way validation read them (classgate.stats.values), so what passed
the gate parses here: TFRecord files each with the compression its bytes show,
string labels through the same vocabulary lines (tf.lookup tables), Parquet
columns of any integer, whole-float or dictionary type, file by file, top-level or
struct fields (`meta.label`) found by the same names.
"""

import numpy as np
import pyarrow.parquet as pq
import tensorflow as tf

from classgate import config
from classgate.io import arrow, tfrecord
from classgate.model_files import vocabulary
from classgate.stats import values as label_values

# Marks "no id here" in a padded batch of context ids; never a valid embedding row.
PAD = -1
# Records held for shuffling: enough to mix a few thousand batches' worth of
# neighbours, small enough that memory stays flat whatever the data set size.
SHUFFLE_BUFFER = 10_000
# Shards read at once, so a data set written in label order is still mixed.
INTERLEAVE = 8


def dataset(model, files, data_format, batch_size, shuffle=False) -> tf.data.Dataset:
    """Batches of (context ids [batch, n] padded with -1, labels [batch, num_true])."""
    if not files:
        raise ValueError("no input files given")
    if data_format == "tfrecord":
        data = _tfrecord(model, files, batch_size, shuffle)
    elif data_format == "parquet":
        data = _parquet(model, files, batch_size, shuffle)
    else:
        raise ValueError(f"data format '{data_format}': expected tfrecord or parquet")
    return data.prefetch(tf.data.AUTOTUNE)


def _tfrecord(model, files, batch_size, shuffle):
    # Each file with its own compression, judged from its bytes as validation did
    # (gzip, zlib or none; a zero-byte file reads as zero records under any).
    compressions = [tfrecord.tensorflow_compression(path) for path in files]
    label_type = tf.string if model.vocabulary_file else tf.int64
    features = {
        model.context_feature: tf.io.VarLenFeature(tf.int64),
        model.label_feature: tf.io.FixedLenFeature([model.num_true], label_type),
    }
    table = _vocabulary_table(model)

    def parse(records):
        parsed = tf.io.parse_example(records, features)
        ids = tf.sparse.to_dense(parsed[model.context_feature], default_value=PAD)
        labels = parsed[model.label_feature]
        return ids, labels if table is None else table.lookup(labels)

    sources = tf.data.Dataset.from_tensor_slices((files, compressions))
    if shuffle:
        sources = sources.shuffle(len(files))
    data = sources.interleave(
        lambda path, compression: tf.data.TFRecordDataset(
            path, compression_type=compression
        ),
        cycle_length=min(len(files), INTERLEAVE),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not shuffle,
    )
    if shuffle:
        data = data.shuffle(SHUFFLE_BUFFER)
    # Parsing whole batches is much faster than parsing record by record.
    return data.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def _vocabulary_table(model):
    """String label -> id, as validation mapped it: line i is id i, then OOV buckets."""
    if not model.vocabulary_file:
        return None
    initializer = tf.lookup.TextFileInitializer(
        model.vocabulary_file,
        tf.string,
        tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64,
        tf.lookup.TextFileIndex.LINE_NUMBER,
    )
    if model.num_oov_buckets:
        return tf.lookup.StaticVocabularyTable(initializer, model.num_oov_buckets)
    return tf.lookup.StaticHashTable(initializer, default_value=PAD)


def _parquet(model, files, batch_size, shuffle):
    words = (
        vocabulary.as_array(model.vocabulary_file) if model.vocabulary_file else None
    )
    contexts, context_lengths, labels = [], [], []
    for path in files:
        features = [model.context_feature, model.label_feature]
        schema = pq.read_schema(path)
        for name in features:
            if len(arrow.feature_paths(schema, name)) != 1:
                raise ValueError(
                    f"{path}: column '{name}' is not in the file, or is in it more "
                    f"than once (columns: {', '.join(schema.names)})"
                )
        # The top-level columns holding them: a struct field (`meta.label`) is read
        # with its struct, found in it as validation found it.
        table = pq.read_table(path, columns=arrow.top_level_columns(schema, features))
        # Each file's columns become int64 ids on their own: files of one split
        # may store them as different Arrow types.
        context = arrow.feature_column(table, model.context_feature)
        values, lengths = label_values.ids(context)
        contexts.append(values)
        context_lengths.append(lengths)
        label = arrow.feature_column(table, model.label_feature)
        labels.append(_labels(label, model, words, path))
    splits = np.concatenate([[0], np.cumsum(np.concatenate(context_lengths))])
    context = tf.RaggedTensor.from_row_splits(np.concatenate(contexts), splits)
    data = tf.data.Dataset.from_tensor_slices((context, np.concatenate(labels)))
    if shuffle:
        data = data.shuffle(SHUFFLE_BUFFER)
    return data.batch(batch_size).map(lambda ids, y: (ids.to_tensor(PAD), y))


def _labels(column, model: config.ModelConfig, words, path: str) -> np.ndarray:
    values, lengths = label_values.ids(column, words, model.num_oov_buckets)
    if np.any(lengths != model.num_true) or len(values) != lengths.sum():
        raise ValueError(
            f"{path}: label column '{model.label_feature}': every row needs exactly "
            f"num_true={model.num_true} labels"
        )
    return values.reshape(-1, model.num_true)
