"""checks.evaluate, the verdict's every label check, against a plain reference.

No false pass: whatever the model config and whatever a Parquet file holds, the
checks pass only where a plain Python reference over the same labels agrees that
training would work: every label an integer in [0, num_classes), num_true per
example, few enough classes unseen, a valid num_sampled. Generated configs are
parsed by config.parse, generated files read by the job's own reader
(tests/builders.py): milliseconds an example, no pipeline.
"""

import builders
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classgate import config, errors
from classgate.checks.anomaly import Status, status_of

QUICK = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


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


def passes(models, splits) -> bool:
    return status_of(builders.evaluate(models, splits), strict=False) == Status.PASS


# Any config ------------------------------------------------------------------------

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
    "num_oov_buckets",
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


ROWS = [0, 1, 2, 3] * 5


@QUICK
@given(drawn=configs())
def test_any_config_passes_only_where_training_would_work(drawn):
    """Refused as one line naming the file, or checked: a pass of the labels 0-3
    only where the reference agrees."""
    model, text = drawn
    try:
        models = config.parse({"generated.yaml": text.encode()})
    except errors.InputError as e:
        assert e.message.startswith("generated.yaml") and "\n" not in e.message
        return
    if passes(models, {"train": {m.label_feature: ROWS for m in models}}):
        assert reference_ok([[v] for v in ROWS], model), model


# Any Parquet label column ------------------------------------------------------------

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


@QUICK
@given(drawn=parquet_tables())
def test_any_parquet_label_column_passes_only_where_training_would_work(
    tmp_path_factory, drawn
):
    """Read from a real file by the job's reader, beside other columns of any
    type: refused as one line naming the file, or a pass only where the
    reference over the column's values agrees."""
    name, kind, values, others = drawn
    label = arrow_column(kind, values)
    columns = {"label": label}
    for index in sorted(others):
        extra = pa.concat_arrays([OTHER_COLUMNS[index]] * len(label))
        columns[f"c{index}"] = extra.slice(0, len(label))
    path = tmp_path_factory.mktemp("pq") / "t.parquet"
    pq.write_table(pa.table(columns), path)
    model = builders.model(num_classes=3, max_unseen_fraction=1.0, num_sampled=1)
    try:
        found = builders.evaluate_files([model], {"train": [path]})
    except errors.InputError as e:
        assert e.message.startswith(str(path)) and "\n" not in e.message
        return
    if status_of(found, strict=False) != Status.PASS:
        return
    rows = [r if r is None or isinstance(r, list) else [r] for r in label.to_pylist()]
    rows = [None if r is None or None in r else r for r in rows]
    rows = [
        None
        if r is None
        else [int(v) if isinstance(v, float) and v.is_integer() else v for v in r]
        for r in rows
    ]
    reference = {"num_classes": 3, "max_unseen_fraction": 1.0, "num_sampled": 1}
    assert reference_ok(rows, reference), (name, values)


# Every model, every split --------------------------------------------------------


def test_every_model_of_a_config_file_is_checked():
    models = config.parse(
        {
            "m.yaml": b"models:\n"
            b"  - {name: right, label_feature: label, num_classes: 10}\n"
            b"  - {name: small, label_feature: label, num_classes: 5, num_sampled: 2}\n"
        }
    )
    found = builders.evaluate(models, {"train": {"label": list(range(10)) * 2}})
    errors_found = {(a.model, a.code) for a in found if a.severity == "ERROR"}
    assert ("small", "LABEL_ABOVE_RANGE") in errors_found
    assert not any(model == "right" for model, _ in errors_found)


@pytest.mark.parametrize("strict", [False, True])
def test_unseen_classes_within_tolerance_warn_and_strict_fails_them(strict):
    m = builders.model(num_classes=100, sampler="uniform", num_sampled=10)
    found = builders.evaluate([m], {"train": {"label": list(range(95)) * 2}})
    assert builders.codes(found, "WARNING") == ["CLASSES_UNSEEN"]
    assert builders.codes(found, "ERROR") == []
    assert status_of(found, strict) == (Status.FAIL if strict else Status.PASS)
