"""Arrow columns as TFDV's statistics take them: lists of ints, floats or bytes.

Parquet written by pandas, Spark, DuckDB or Polars holds types TFDV cannot take
(TypeError: "unsupported arrow type"). Before a full-mode batch reaches TFDV, each
column is converted the way TFX's own examples would hold it, or left out:

- dictionaries (pandas' category) -> their values;
- booleans -> int64 (0, 1); half floats -> float32; decimals -> float64;
- fixed-size binary -> binary;
- timestamps, dates, times and durations -> int64 (their stored count of units);
- fixed-size lists -> lists; lists -> lists of converted values;
- structs -> one column per field, named `parent.field`, each converted;
- maps, unions, lists of structs and anything else -> left out, by name.

Every column is then a list column (a null scalar a null list), as TFDV needs. The
label checks never see this: they read the batch as it was read, finding a feature
by the same names (`feature_paths`, `feature_column`): a top-level column of that
exact name first, else a field of a struct, `parent.field`, at any depth.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def for_tfdv(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, list[str]]:
    """The batch with every column TFDV can take, as lists; and the names left out."""
    arrays, names, left_out = [], [], []
    taken = set(batch.schema.names)
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        for out_name, converted in _columns(name, column):
            if converted is None or (out_name != name and out_name in taken):
                left_out.append(out_name)
                continue
            if out_name in names:  # a duplicate name: TFDV takes one
                left_out.append(out_name)
                continue
            names.append(out_name)
            arrays.append(_as_list(converted))
    return pa.RecordBatch.from_arrays(arrays, names=names), left_out


def feature_paths(schema: pa.Schema, name: str) -> list[tuple[int, ...]]:
    """Where feature `name` is in `schema`: the field index at each level, per match.

    A top-level column of that exact name wins, as it does in for_tfdv's names;
    otherwise every dotted path through struct fields (`meta.label`, `a.b.c`) that
    spells the name, in column order. More than one match is for the caller to
    refuse: no reader could tell which one holds the data.
    """
    exact = [(i,) for i, field in enumerate(schema) if field.name == name]
    if exact:
        return exact
    return [
        (i, *rest)
        for i, field in enumerate(schema)
        for rest in _struct_paths(field.type, field.name, name)
    ]


def _struct_paths(kind: pa.DataType, prefix: str, name: str):
    """Paths below a field named `prefix` (of type `kind`) that spell `name`."""
    if not pa.types.is_struct(kind) or not name.startswith(prefix + "."):
        return
    for index in range(kind.num_fields):
        child = kind[index]
        spelled = f"{prefix}.{child.name}"
        if spelled == name:
            yield (index,)
        for rest in _struct_paths(child.type, spelled, name):
            yield (index, *rest)


def feature_column(
    batch: pa.RecordBatch | pa.Table, name: str
) -> pa.Array | pa.ChunkedArray | None:
    """The values of feature `name` in `batch`, or None when it has no such column.

    The first of `feature_paths`; a struct field takes its parents' nulls (a null
    `meta` is a null `meta.label`), as for_tfdv gives it to TFDV.
    """
    paths = feature_paths(batch.schema, name)
    if not paths:
        return None
    top, *fields = paths[0]
    column = batch.column(top)
    for index in fields:
        column = _field(column, index)
    return column


def _field(column: pa.Array | pa.ChunkedArray, index: int):
    """One field of a struct column, null wherever the struct is null."""
    if isinstance(column, pa.ChunkedArray):
        chunks = [_field(chunk, index) for chunk in column.chunks]
        return pa.chunked_array(chunks, column.type[index].type)
    # flatten() folds the struct's validity (and its slice offset) into each field.
    return column.flatten()[index]


def top_level_columns(schema: pa.Schema, names) -> list[str]:
    """The top-level columns that hold features `names` (found), in schema order."""
    needed = {paths[0][0] for name in names if (paths := feature_paths(schema, name))}
    return [schema.names[i] for i in sorted(needed)]


def left_out(schema: pa.Schema) -> list[str]:
    """The columns of `schema` that for_tfdv leaves out."""
    empty = pa.RecordBatch.from_arrays(
        [pa.array([], field.type) for field in schema], schema=schema
    )
    return for_tfdv(empty)[1]


def _columns(name: str, column: pa.Array):
    """(name, TFDV-ready values or None) of a column; a struct gives one per field."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_struct(column.type):
        valid = column.is_valid()
        for index in range(column.type.num_fields):
            field = column.type[index]
            child = column.field(index)
            if column.null_count:  # a null struct: null fields
                child = pc.if_else(valid, child, pa.nulls(len(child), child.type))
            yield from _columns(f"{name}.{field.name}", child)
        return
    yield name, _values(column)


def _values(array: pa.Array) -> pa.Array | None:
    """`array` with TFDV's value types, or None when it cannot have them."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _values(array.dictionary_decode())
    if (
        pa.types.is_null(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_float32(kind)
        or pa.types.is_float64(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
    ):
        return array
    if pa.types.is_float16(kind):
        return pa.array(
            array.to_numpy(zero_copy_only=False).astype(np.float32),
            mask=array.is_null().to_numpy(zero_copy_only=False),
        )
    if pa.types.is_fixed_size_binary(kind):
        return array.cast(pa.binary())
    if pa.types.is_boolean(kind):
        return array.cast(pa.int8()).cast(pa.int64())
    if pa.types.is_decimal(kind):
        return array.cast(pa.float64())
    if pa.types.is_temporal(kind) and not pa.types.is_interval(kind):
        width = pa.int32() if kind.bit_width == 32 else pa.int64()
        return array.view(width).cast(pa.int64())
    if pa.types.is_fixed_size_list(kind):
        size = kind.list_size
        offsets = pa.array(np.arange(len(array) + 1, dtype=np.int32) * size)
        values = _values(array.flatten())
        if values is None:
            return None
        return pa.ListArray.from_arrays(offsets, values, mask=array.is_null())
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        values = _values(array.values)
        if values is None:
            return None
        builder = pa.ListArray if pa.types.is_list(kind) else pa.LargeListArray
        return builder.from_arrays(array.offsets, values, mask=array.is_null())
    return None  # maps, unions, structs inside lists, extension types


def as_lists(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Every column of `batch` a list column, as tf.Example and TFDV hold them."""
    arrays = [_as_list(column) for column in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _as_list(column: pa.Array) -> pa.Array:
    """A scalar column wrapped in one-element lists (null -> null list)."""
    kind = column.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_null(kind):
        return column  # TFDV takes an all-null column as it is
    # A null row becomes a null, empty list: offsets advance only on values.
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(valid)]).astype(np.int32)
    return pa.ListArray.from_arrays(
        pa.array(offsets), column.drop_null(), mask=pa.array(~valid)
    )
