import datetime
import decimal

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classgate import errors
from classgate.io import arrow, parquet
from classgate.stats import label

QUICK = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


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


# Features inside structs: `parent.field`, at any depth -----------------------------

SPARK_LIKE = pa.table(
    {
        "meta": pa.array(
            [
                {"label": 1, "deep": {"x": {"y": 7}}},
                None,  # a null struct: every field below it is null
                {"label": None, "deep": None},
                {"label": 3, "deep": {"x": {"y": 9}}},
            ]
        ),
        "meta.label": pa.array([[5], [6], [7], [8]]),  # a top-level column wins
        "other": pa.array([1, 2, 3, 4]),
    }
)


def test_a_top_level_column_wins_then_struct_fields_at_any_depth():
    table = SPARK_LIKE
    assert arrow.feature_paths(table.schema, "meta.label") == [(1,)]
    deep = table.schema.field("meta").type.get_field_index("deep")
    assert arrow.feature_paths(table.schema, "meta.deep.x.y") == [(0, deep, 0, 0)]
    assert arrow.feature_paths(table.schema, "meta.nope") == []
    assert arrow.feature_paths(table.schema, "meta.deep.x.y.z") == []
    assert arrow.feature_column(table, "meta.label").to_pylist() == [[5], [6], [7], [8]]
    # Without the top-level column the struct's field is found, nulls carried down.
    struct_only = table.drop(["meta.label"])
    assert arrow.feature_column(struct_only, "meta.label").to_pylist() == [
        1,
        None,
        None,
        3,
    ]
    assert arrow.feature_column(struct_only, "meta.deep.x.y").to_pylist() == [
        7,
        None,
        None,
        9,
    ]
    assert arrow.feature_column(struct_only, "meta.nope") is None


@QUICK
@given(
    rows=st.lists(
        st.none() | st.fixed_dictionaries({"b": st.none() | st.integers(-5, 5)}),
        max_size=30,
    ),
    offset=st.integers(0, 5),
    chunk=st.integers(1, 7),
)
def test_a_struct_field_is_its_rows_values_in_any_slice_and_chunking(
    rows, offset, chunk
):
    """What a Parquet reader hands on: sliced batches, chunked tables."""
    column = pa.array(rows, pa.struct([("b", pa.int64())]))
    batch = pa.RecordBatch.from_arrays([column], ["a"]).slice(offset)
    expected = [None if row is None else row["b"] for row in rows[offset:]]
    assert arrow.feature_column(batch, "a.b").to_pylist() == expected
    chunks = [column[i : i + chunk] for i in range(0, len(rows), chunk)] or [column]
    table = pa.table({"a": pa.chunked_array(chunks, column.type)})
    assert arrow.feature_column(table, "a.b").to_pylist() == [
        None if row is None else row["b"] for row in rows
    ]


def test_a_field_spelled_twice_is_two_matches():
    """Two struct columns of one name: no reader can tell which holds the data."""
    struct = pa.array([{"label": 1}])
    table = pa.Table.from_arrays([struct, struct], ["meta", "meta"])
    assert len(arrow.feature_paths(table.schema, "meta.label")) == 2


def read_all(path, required, columns=None):
    decode = parquet.DecodeParquetFile(required, columns)
    decode.setup()
    found = list(decode.process((str(path), 0)))
    return [b for b in found if not isinstance(b, beam.pvalue.TaggedOutput)]


def test_labels_only_reads_the_struct_that_holds_the_label(tmp_path):
    path = tmp_path / "s.parquet"
    pq.write_table(SPARK_LIKE.drop(["meta.label"]), path)
    (batch,) = read_all(path, ("meta.label",), ["meta.label"])
    assert batch.records.schema.names == ["meta"]  # not `other`
    stats = label.LabelStats(label.LabelSpec("meta.label", num_classes=4, num_true=1))
    stats.add_batch(batch)
    assert (stats.examples, stats.missing, stats.min, stats.max) == (4, 2, 1, 3)
    assert [loc.record for loc in stats.locations[label.MISSING]] == [1, 2]


def test_a_feature_in_no_column_and_no_struct_names_the_file_and_columns(tmp_path):
    path = tmp_path / "s.parquet"
    pq.write_table(SPARK_LIKE.drop(["meta.label"]), path)
    with pytest.raises(errors.InputError) as raised:
        read_all(path, ("meta.lable",), ["meta.lable"])
    assert str(raised.value) == (
        f"{path}: column 'meta.lable', which a model config names, is not in the "
        "file (columns: meta, other)"
    )


# INT96 timestamps past 2262 -------------------------------------------------------

LATE = datetime.datetime(9999, 12, 31, 23, 59, 59)
EARLY = datetime.datetime(1, 1, 1)


def test_int96_timestamps_past_2262_read_without_wrapping(tmp_path):
    """Spark's INT96: as nanoseconds, pyarrow's default, 9999-12-31 reads as 1816."""
    path = tmp_path / "spark.parquet"
    when = pa.array([LATE, datetime.datetime(2020, 1, 1), EARLY], pa.timestamp("us"))
    pq.write_table(
        pa.table({"label": [0, 1, 2], "when": when}),
        path,
        use_deprecated_int96_timestamps=True,
    )
    assert "int96" in str(pq.ParquetFile(path).metadata.schema)
    assert pq.read_table(path).column("when")[0].value < 0  # the wrap, unfixed
    (batch,) = read_all(path, ("label",))
    assert batch.records.column("when").to_pylist() == when.to_pylist()
    converted, left_out = arrow.for_tfdv(batch.records)
    epoch = datetime.datetime(1970, 1, 1)
    micros = [
        (t - epoch) // datetime.timedelta(microseconds=1) for t in when.to_pylist()
    ]
    assert converted.column(1).to_pylist() == [[m] for m in micros]
    assert left_out == []


# Whatever a Parquet file holds: read and judged, or one line naming it -----------


def test_duplicate_columns_are_named(tmp_path):
    """pyarrow writes two columns of one name; which holds the labels is anyone's
    guess, so the file is refused rather than read either way."""
    import builders

    path = tmp_path / "d.parquet"
    table = pa.Table.from_arrays(
        [pa.array([0, 1]), pa.array([1, 0])], names=["label", "label"]
    )
    pq.write_table(table, path)
    with pytest.raises(errors.InputError) as raised:
        builders.read_files([path], ("label",), ["label"])
    assert raised.value.message == (
        f"{path}: column 'label' appears 2 times; a reader cannot tell which one "
        "holds the data"
    )


def test_a_truncated_file_is_one_line_naming_it(tmp_path):
    import builders

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"label": [0, 1, 2, 3]}), path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(errors.InputError) as raised:
        builders.read_files([path])
    message = raised.value.message
    assert message.startswith(f"{path}: not a readable Parquet file")
    assert "\n" not in message


@pytest.mark.parametrize(
    "column",
    [
        pa.array([decimal.Decimal("1"), decimal.Decimal("2")]),
        pa.array([1, 2], pa.timestamp("s")),
        pa.array([[(1, 2)], [(2, 3)]], pa.map_(pa.int64(), pa.int64())),
        pa.array([[[1]], [[2]]]),
        pa.array([{"x": 1}, {"x": 2}]),
        pa.array([True, False]),
    ],
    ids=["decimal", "timestamp", "map", "list-of-list", "struct", "bool"],
)
def test_labels_of_any_arrow_type_are_judged_not_crashed_on(tmp_path, column):
    """No id type: LABEL_TYPE_INVALID, an ERROR (these once crashed: exit 3)."""
    import builders

    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table({"label": column}), path)
    found = builders.evaluate_files([builders.model(num_classes=3)], {"train": [path]})
    assert "LABEL_TYPE_INVALID" in {a.code for a in found if a.severity == "ERROR"}


def test_uint64_labels_past_int64_do_not_wrap(tmp_path):
    import builders

    big = (1 << 64) - 1
    path = tmp_path / "u.parquet"
    pq.write_table(pa.table({"label": pa.array([0, 1, big], pa.uint64())}), path)
    model = builders.model(num_classes=2, num_sampled=1)
    found = builders.results_of_files([model], {"train": [path]})
    stats = found.label(model, "train")
    assert (stats.min, stats.max) == (0, big)
    codes = {a.code for a in builders.evaluate_files([model], {"train": [path]})}
    assert "LABEL_ABOVE_RANGE" in codes and "LABEL_BELOW_RANGE" not in codes


def test_labels_only_needs_every_feature_a_model_names(tmp_path):
    """The context ids are read, and required, in labels-only mode too: a file
    without them is one line naming the column (the trainer would fail on it)."""
    import builders

    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": [0, 1, 2, 3]}), path)
    with pytest.raises(errors.InputError, match="column 'context'"):
        builders.read_files([path], ("label", "context"), ["label", "context"])
