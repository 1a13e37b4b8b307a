"""Generated label data sets with known answers, for the demo, tests and benchmarks.

`python -m classgate.synthetic --output DIR` writes TFRecord shards (or Parquet) with
`num_classes` true classes, every one of them present, plus three model configs that
tell the classic story: num_classes correct, under-estimated (half) and
over-estimated (double).
"""

import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

LABEL = "label"
CONTEXT = "context"


def labels(examples: int, num_classes: int, seed: int = 0) -> np.ndarray:
    """`examples` ids in [0, num_classes), each class at least once, Zipf-skewed."""
    if examples < num_classes:
        raise ValueError("examples must be >= num_classes so every class occurs")
    rng = np.random.default_rng(seed)
    extra = np.minimum(rng.zipf(1.3, examples - num_classes) - 1, num_classes - 1)
    ids = np.concatenate([np.arange(num_classes), extra]).astype(np.int64)
    rng.shuffle(ids)
    return ids


def table(ids: np.ndarray, num_classes: int, seed: int = 0) -> pa.Table:
    """A label, a context id that determines it, and a float feature.

    The context is a fixed permutation of the label, so the built-in trainer has
    something to learn; context_vocab_size is num_classes.
    """
    rng = np.random.default_rng(seed + 1)
    return pa.table(
        {
            LABEL: pa.array(ids),
            CONTEXT: pa.array(rng.permutation(num_classes)[ids]),
            "weight": pa.array(rng.random(len(ids), dtype=np.float32)),
        }
    )


def learnable(
    examples: int,
    seed: int,
    num_classes: int = 200,
    vocab: int = 500,
    context_lists: bool = False,
) -> pa.Table:
    """Label = 7 * context mod num_classes, 10% of labels random: learnable data.

    With `context_lists`, each context id comes once or twice in a list: mean
    pooling must give the same vector.
    """
    rng = np.random.default_rng(seed)
    context = rng.integers(0, vocab, examples)
    label = (context * 7) % num_classes
    noisy = rng.random(examples) < 0.1
    label[noisy] = rng.integers(0, num_classes, noisy.sum())
    if context_lists:
        repeats = rng.integers(1, 3, examples)
        offsets = pa.array(np.concatenate([[0], np.cumsum(repeats)]), pa.int32())
        context = pa.ListArray.from_arrays(
            offsets, pa.array(np.repeat(context, repeats))
        )
    return pa.table({LABEL: pa.array(label), CONTEXT: context})


def write_tfrecord(data: pa.Table, folder: str, shards: int, prefix: str = "train"):
    """Writes gzip TFRecord shards of tf.Example; returns their paths."""
    from tfx_bsl.coders import example_coder

    from classgate.io import arrow, tfrecord

    encoder = example_coder.RecordBatchToExamplesEncoder()
    data = _as_example_types(data)
    paths = []
    for shard, rows in enumerate(_shards(data, shards)):
        path = os.path.join(folder, f"{prefix}-{shard:05d}-of-{shards:05d}.tfrecord.gz")
        records = []
        for batch in rows.to_batches(max_chunksize=65536):
            records.extend(encoder.encode(arrow.as_lists(batch)))
        tfrecord.write_records(path, records)
        paths.append(path)
    return paths


def write_parquet(data: pa.Table, folder: str, shards: int, prefix: str = "train"):
    paths = []
    for shard, rows in enumerate(_shards(data, shards)):
        path = os.path.join(folder, f"{prefix}-{shard:05d}-of-{shards:05d}.parquet")
        pq.write_table(rows, path)
        paths.append(path)
    return paths


def model_yaml(name: str, num_classes: int, feature: str = LABEL) -> str:
    return f"name: {name}\nlabel_feature: {feature}\nnum_classes: {num_classes}\n"


def trainer_yaml(name: str, num_classes: int, context_vocab_size: int) -> str:
    """A model config the built-in trainer can use on `table`'s columns."""
    return model_yaml(name, num_classes) + (
        f"context_feature: {CONTEXT}\ncontext_vocab_size: {context_vocab_size}\n"
        "embedding_dim: 32\n"
    )


def _as_example_types(data: pa.Table) -> pa.Table:
    """tf.Example holds only int64, float32 and bytes lists."""
    casts = {pa.types.is_string: pa.binary(), pa.types.is_floating: pa.float32()}
    columns = []
    for column in data.columns:
        kind = column.type.value_type if pa.types.is_list(column.type) else column.type
        for test, target in casts.items():
            if test(kind):
                is_list = pa.types.is_list(column.type)
                column = column.cast(pa.list_(target) if is_list else target)
        columns.append(column)
    return pa.table(columns, names=data.column_names)


def _shards(data: pa.Table, shards: int):
    bounds = np.linspace(0, data.num_rows, shards + 1).astype(int)
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        yield data.slice(start, stop - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--num-classes", type=int, default=10_000)
    parser.add_argument("--examples", type=int, default=30_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--format", choices=("tfrecord", "parquet"), default="tfrecord")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    data = table(labels(args.examples, args.num_classes), args.num_classes)
    write = write_tfrecord if args.format == "tfrecord" else write_parquet
    paths = write(data, args.output, args.shards)
    n = args.num_classes
    cases = {"correct": n, "under": n // 2, "over": n * 2}
    for case, num_classes in cases.items():
        with open(os.path.join(args.output, f"{case}.yaml"), "w") as f:
            f.write(trainer_yaml(f"{case}-model", num_classes, n))
    print(
        f"wrote {args.examples} examples with {n} true classes in {len(paths)} "
        f"{args.format} shards, and configs {', '.join(cases)} to {args.output}"
    )


if __name__ == "__main__":
    main()
