"""The TFDV side: anomalies of every split merged into one file, dataset-level too;
each label typed as its data stores it, with the domain its model promises."""

import decimal
import hashlib

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from classgate.config import ModelConfig
from classgate.io import arrow
from classgate.io.batches import LocatedBatch
from classgate.model_files import vocabulary
from classgate.stats.label import LabelSpec, LabelStats
from classgate.verdict import schema


def test_merged_anomalies_keep_feature_and_dataset_findings():
    found = anomalies_pb2.Anomalies()
    info = found.anomaly_info["label"]
    info.severity = anomalies_pb2.AnomalyInfo.ERROR
    info.reason.add(description="out of range")
    found.dataset_anomaly_info.severity = anomalies_pb2.AnomalyInfo.WARNING
    found.dataset_anomaly_info.reason.add(description="too few examples")
    findings = schema.merge_anomalies(
        [("train", "inferred", found), ("eval", "inferred", found)]
    )
    merged = findings.merged
    assert len(findings.of_split("eval").anomaly_info["label"].reason) == 1
    assert len(merged.anomaly_info["label"].reason) == 2
    assert "[split eval, inferred schema]" in merged.anomaly_info["label"].description
    assert [r.description for r in merged.dataset_anomaly_info.reason] == [
        "[split train, inferred schema] too few examples",
        "[split eval, inferred schema] too few examples",
    ]


# Label types -----------------------------------------------------------------------

INT = schema_pb2.INT
FLOAT = schema_pb2.FLOAT
BYTES = schema_pb2.BYTES
INTS = [pa.int8(), pa.int16(), pa.int32(), pa.int64()]
INTS += [pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]
FLOATS = [pa.float16(), pa.float32(), pa.float64()]  # whole numbers in them
TEXTS = [pa.string(), pa.large_string(), pa.dictionary(pa.int32(), pa.string())]
BINARIES = [pa.binary(), pa.large_binary()]  # lines that need not be UTF-8
# int8 holds ids up to 127, past schema.MAX_STRING_DOMAIN.
MAX_CLASSES = 120


@pytest.fixture(scope="module")
def vocabularies(tmp_path_factory):
    """A folder for vocabulary files."""
    return tmp_path_factory.mktemp("vocabularies")


def vocabulary_file(folder, lines) -> str:
    """A vocabulary file of `lines` (bytes), named by its content.

    vocabulary.load caches by path: one path never holds two vocabularies.
    """
    data = b"".join(line + b"\n" for line in lines)
    path = folder / f"{hashlib.sha256(data).hexdigest()}.txt"
    path.write_bytes(data)
    return str(path)


def model(num_classes, name="m", feature="label", **keys) -> ModelConfig:
    return ModelConfig.model_validate(
        {"name": name, "label_feature": feature, "num_classes": num_classes, **keys}
    )


def full_statistics(batch: pa.RecordBatch):
    """TFDV's own statistics of the batch as full mode hands it to TFDV.

    generate_statistics_in_memory is what tfdv.generate_statistics_from_dataframe
    runs, without Beam; it takes the Arrow batch as classgate passes it.
    """
    from tensorflow_data_validation.statistics import stats_impl, stats_options

    return stats_impl.generate_statistics_in_memory(
        arrow.for_tfdv(batch)[0], stats_options.StatsOptions()
    )


def labels_only_statistics(batch: pa.RecordBatch, models):
    """The labels-only statistics of the batch: classgate's LabelStats as TFDV's."""
    by_feature = {}
    for m in models:
        stats = LabelStats(LabelSpec.of_label(m))
        words = vocabulary.as_array(m.vocabulary_file) if m.vocabulary_file else None
        stats.add_batch(LocatedBatch("f", 0, batch), words)
        by_feature.setdefault(m.label_feature, stats)
    return schema.label_statistics("train", by_feature)


def label_feature(found: schema_pb2.Schema, name="label") -> schema_pb2.Feature:
    (feature,) = [f for f in found.feature if f.name == name]
    return feature


def findings(statistics, against) -> list[str]:
    """TFDV's findings, as `TYPE feature` strings."""
    found = schema.validate(statistics, against)
    return [
        f"{anomalies_pb2.AnomalyInfo.Type.Name(r.type)} {name}"
        for name, info in found.anomaly_info.items()
        for r in info.reason
    ]


def column(values: list, kind: pa.DataType, num_true: int) -> pa.Array:
    """`values` in rows of num_true: scalars for one, else a list column."""
    if pa.types.is_dictionary(kind):
        flat = pa.array(values, kind.value_type).dictionary_encode()
    elif pa.types.is_float16(kind):  # Arrow casts no int to half floats
        flat = pa.array(np.array(values, np.float16), kind)
    else:
        flat = pa.array(values).cast(kind)
    if num_true == 1:
        return flat
    offsets = pa.array(np.arange(0, len(values) + 1, num_true), pa.int32())
    return pa.ListArray.from_arrays(offsets, flat)


LINE_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"),
    min_size=1,
    max_size=5,
).filter(lambda line: not line.endswith("\r"))
LINE_BYTES = st.binary(min_size=1, max_size=4).filter(
    lambda line: b"\n" not in line and not line.endswith(b"\r")
)


@st.composite
def correct_labels(draw, vocabularies):
    """(record batch, model) of correct labels of any accepted type."""
    kind = draw(st.sampled_from(INTS + FLOATS + TEXTS + BINARIES))
    num_true = draw(st.integers(1, 3))
    lines = None
    buckets = 0
    if kind in TEXTS or kind in BINARIES:
        line = LINE_TEXT.map(str.encode) if kind in TEXTS else LINE_BYTES
        lines = draw(st.lists(line, min_size=1, max_size=MAX_CLASSES, unique=True))
        buckets = draw(st.sampled_from([0, 0, 2]))
        num_classes = len(lines) + buckets
    else:
        num_classes = draw(st.integers(1, MAX_CLASSES))
    rows = draw(st.integers(1, 20))
    ids = draw(
        st.lists(
            st.integers(0, num_classes - 1 - buckets),
            min_size=rows * num_true,
            max_size=rows * num_true,
        )
    )
    keys = {"num_true": num_true}
    if lines is None:
        values = ids
    else:
        values = [lines[i] if kind in BINARIES else lines[i].decode() for i in ids]
        keys["vocabulary_file"] = vocabulary_file(vocabularies, lines)
        keys["num_oov_buckets"] = buckets
    batch = pa.RecordBatch.from_arrays([column(values, kind, num_true)], ["label"])
    return batch, model(num_classes, **keys), lines


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_a_label_is_typed_as_stored_and_correct_data_draws_no_finding(
    data, vocabularies
):
    batch, m, lines = data.draw(correct_labels(vocabularies))
    kind = batch.schema.field("label").type
    full = full_statistics(batch)
    inferred = label_feature(schema.infer(full, [m]))
    stored = {pa.types.is_integer: INT, pa.types.is_floating: FLOAT}
    expected = next((t for test, t in stored.items() if test(kind)), BYTES)
    if pa.types.is_list(kind):
        expected = next(
            (t for test, t in stored.items() if test(kind.value_type)), BYTES
        )
    assert inferred.type == expected
    top = m.num_classes - 1
    if expected == INT:
        assert inferred.int_domain == schema_pb2.IntDomain(
            min=0, max=top, is_categorical=True
        )
    elif expected == FLOAT:
        domain = inferred.float_domain
        assert (domain.min, domain.max) == (0.0, top)  # exact below 2**24
        assert domain.disallow_nan and domain.disallow_inf
    else:
        utf8 = all(_is_utf8(line) for line in lines)
        fits = not m.num_oov_buckets and utf8 and len(lines) <= 100
        if fits:
            assert list(inferred.string_domain.value) == [x.decode() for x in lines]
        else:
            assert inferred.WhichOneof("domain_info") is None
    assert (inferred.value_count.min, inferred.value_count.max) == (m.num_true,) * 2

    # Labels-only builds the same label feature from classgate's own statistics;
    # TFDV finds nothing in either mode, whichever schema it is given.
    only = labels_only_statistics(batch, [m])
    built = label_feature(schema.label_schema(only, [m]))
    assert built.type == inferred.type
    assert built.WhichOneof("domain_info") == inferred.WhichOneof("domain_info")
    if built.WhichOneof("domain_info"):
        kept = built.WhichOneof("domain_info")
        assert getattr(built, kept) == getattr(inferred, kept)
    assert built.value_count == inferred.value_count
    inferred_schema = schema.infer(full, [m])
    assert findings(full, inferred_schema) == []
    assert findings(only, schema.label_schema(only, [m])) == []
    assert findings(only, inferred_schema) == []


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize(
    ("lines", "buckets", "domain"),
    [
        ([b"cat", b"dog", b"emu"], 0, ["cat", "dog", "emu"]),
        ([f"w{i}".encode() for i in range(100)], 0, [f"w{i}" for i in range(100)]),
        ([f"w{i}".encode() for i in range(101)], 0, None),  # past TFDV's own limit
        ([b"cat", b"dog"], 1, None),  # OOV buckets take any string
        ([b"cat", b"\xffdog"], 0, None),  # not UTF-8: TFDV shows __BYTES_VALUE__
    ],
)
def test_string_labels_get_the_vocabulary_as_domain_where_it_fits(
    vocabularies, lines, buckets, domain
):
    m = model(
        len(lines) + buckets,
        vocabulary_file=vocabulary_file(vocabularies, lines),
        num_oov_buckets=buckets,
    )
    batch = pa.RecordBatch.from_arrays([pa.array(lines)], ["label"])
    inferred = label_feature(schema.infer(full_statistics(batch), [m]))
    assert inferred.type == BYTES
    if domain is None:
        assert inferred.WhichOneof("domain_info") is None
    else:
        assert list(inferred.string_domain.value) == domain


def test_tfdv_flags_a_string_outside_the_vocabulary_as_classgate_does(vocabularies):
    m = model(3, vocabulary_file=vocabulary_file(vocabularies, [b"a", b"b", b"c"]))
    train = pa.RecordBatch.from_arrays([pa.array(["a", "b", "c"])], ["label"])
    evaluation = pa.RecordBatch.from_arrays([pa.array(["a", "zebra"])], ["label"])
    inferred = schema.infer(full_statistics(train), [m])
    assert findings(full_statistics(evaluation), inferred) == [
        "ENUM_TYPE_UNEXPECTED_STRING_VALUES label"
    ]


def test_the_float_domain_holds_every_id_past_float32_precision():
    # 2**24 + 1 is no float32: a bound rounded to nearest would be 2**24.
    m = model(2**24 + 2)
    ids = [0.0, float(2**24 + 1)]
    batch = pa.RecordBatch.from_arrays([pa.array(ids, pa.float64())], ["label"])
    full = full_statistics(batch)
    inferred = schema.infer(full, [m])
    assert label_feature(inferred).float_domain.max >= 2**24 + 1
    assert findings(full, inferred) == []
    above = pa.RecordBatch.from_arrays([pa.array([2.0**25])], ["label"])
    assert findings(full_statistics(above), inferred) == ["FLOAT_TYPE_BIG_FLOAT label"]


@pytest.mark.parametrize(
    ("values", "takes_words", "promised"),
    [
        (pa.array(["1", "2"]), False, INT),  # strings without a vocabulary
        (pa.array([1, 2]), True, BYTES),  # ids where the model maps strings
    ],
)
def test_data_of_a_type_no_model_takes_keeps_the_promised_type(
    vocabularies, values, takes_words, promised
):
    """TFDV's type finding then joins classgate's LABEL_TYPE_INVALID."""
    keys = {}
    if takes_words:
        keys["vocabulary_file"] = vocabulary_file(vocabularies, [b"a", b"b", b"c"])
    m = model(3, **keys)
    batch = pa.RecordBatch.from_arrays([values], ["label"])
    full = full_statistics(batch)
    inferred = schema.infer(full, [m])
    assert label_feature(inferred).type == promised
    assert "UNEXPECTED_DATA_TYPE label" in findings(full, inferred)
    only = labels_only_statistics(batch, [m])
    assert label_feature(schema.label_schema(only, [m])).type == promised


@pytest.mark.parametrize("kind", [pa.int32(), pa.float32()])
def test_models_sharing_a_label_take_the_widest_range_in_the_stored_type(kind):
    models = [model(10, "small", num_true=1), model(30, "large", num_true=1)]
    batch = pa.RecordBatch.from_arrays([pa.array([0, 29]).cast(kind)], ["label"])
    full = full_statistics(batch)
    inferred = label_feature(schema.infer(full, models))
    domain = inferred.int_domain if kind == pa.int32() else inferred.float_domain
    assert (domain.min, domain.max) == (0, 29)
    assert inferred.type == (INT if kind == pa.int32() else FLOAT)
    only = labels_only_statistics(batch, models)
    assert label_feature(schema.label_schema(only, models)) == inferred


def test_the_domain_tfdv_inferred_for_a_label_goes_with_it(vocabularies):
    """No orphan string_domain beside the label's own; other features keep theirs."""
    m = model(2, vocabulary_file=vocabulary_file(vocabularies, [b"a", b"b"]))
    batch = pa.RecordBatch.from_arrays(
        [pa.array(["a", "b"]), pa.array(["x", "y"])], ["label", "city"]
    )
    inferred = schema.infer(full_statistics(batch), [m])
    assert [d.name for d in inferred.string_domain] == ["city"]
    assert label_feature(inferred, "city").domain == "city"


@pytest.mark.parametrize(
    ("value_types", "expected"),
    [
        ({"int8"}, statistics_pb2.FeatureNameStatistics.INT),
        ({"uint64"}, statistics_pb2.FeatureNameStatistics.INT),
        ({"bool"}, statistics_pb2.FeatureNameStatistics.INT),
        ({"timestamp[us, tz=UTC]"}, statistics_pb2.FeatureNameStatistics.INT),
        ({"halffloat"}, statistics_pb2.FeatureNameStatistics.FLOAT),
        ({"double"}, statistics_pb2.FeatureNameStatistics.FLOAT),
        ({"decimal128(10, 2)"}, statistics_pb2.FeatureNameStatistics.FLOAT),
        ({"int64", "double"}, statistics_pb2.FeatureNameStatistics.FLOAT),
        ({"large_string"}, statistics_pb2.FeatureNameStatistics.STRING),
        ({"binary"}, statistics_pb2.FeatureNameStatistics.STRING),
        ({"fixed_size_binary[4]"}, statistics_pb2.FeatureNameStatistics.STRING),
        (
            {"dictionary<values=string, indices=int32, ordered=0>"},
            statistics_pb2.FeatureNameStatistics.STRING,
        ),
        (
            {"dictionary<values=int64, indices=int8, ordered=0>"},
            statistics_pb2.FeatureNameStatistics.INT,
        ),
        ({"struct<a: int64>"}, None),
        (set(), None),
    ],
)
def test_arrow_types_map_to_the_statistics_type_full_mode_gives(value_types, expected):
    assert schema.stats_type(value_types) == expected


@pytest.mark.parametrize(
    "kind",
    [pa.bool_(), pa.timestamp("us"), pa.decimal128(10, 2), pa.binary(3), pa.int8()],
)
def test_labels_only_types_a_label_as_full_mode_statistics_do(kind):
    """Whatever the column, both modes' statistics give the label one type."""
    values = {
        pa.bool_(): [True, False],
        pa.timestamp("us"): [0, 1],
        pa.decimal128(10, 2): [decimal.Decimal("1.00")] * 2,
        pa.binary(3): [b"abc", b"def"],
        pa.int8(): [0, 1],
    }[kind]
    batch = pa.RecordBatch.from_arrays([pa.array(values, kind)], ["label"])
    full = full_statistics(batch).datasets[0].features[0].type
    only = labels_only_statistics(batch, [model(3)]).datasets[0].features[0].type
    assert only == full


def test_a_finding_on_a_struct_field_names_its_feature_and_model():
    """TFDV keys the finding "'meta.label'"; the report says meta.label, its model's."""
    m = model(3, feature="meta.label")
    batch = pa.RecordBatch.from_arrays(
        [pa.StructArray.from_arrays([pa.array([0, 1, 7])], ["label"])], ["meta"]
    )
    full = full_statistics(batch)
    found = schema.validate(full, schema.infer(full, [m]))
    assert list(found.anomaly_info) == ["'meta.label'"]  # above the int_domain
    (anomaly,) = schema.as_anomalies(found, "train", schema.INFERRED, [m])
    assert (anomaly.feature, anomaly.model) == ("meta.label", "m")
