import pyarrow as pa

from classgate.io import arrow


def test_as_lists_wraps_scalars_and_keeps_nulls_missing():
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array([1, None, 3]),
            pa.array([None, None, None], type=pa.float64()),
            pa.array([[1], None, [2, 3]]),
        ],
        ["a", "all_null", "already_list"],
    )
    wrapped = arrow.as_lists(batch)
    assert wrapped.to_pydict() == {
        "a": [[1], None, [3]],
        "all_null": [None, None, None],
        "already_list": [[1], None, [2, 3]],
    }
    for column in wrapped.columns:
        assert pa.types.is_list(column.type)
        column.flatten()  # TFDV flattens every column; an all-null one must survive
