"""Label checks over hand-built statistics: each code on its case and clean twin."""

import pyarrow as pa
import pytest
from builders import codes, evaluate, find, model

CLEAN = list(range(10)) * 3


def test_a_clean_split_has_no_error():
    assert codes(evaluate([model()], {"train": {"label": CLEAN}}), "ERROR") == []


@pytest.mark.parametrize(
    "rows, code",
    [
        (CLEAN + [10, 12], "LABEL_ABOVE_RANGE"),
        (CLEAN + [-3, -4], "LABEL_BELOW_RANGE"),
        (CLEAN + [None], "LABEL_MISSING"),
        (CLEAN + [[1, 2]], "LABEL_COUNT_MISMATCH"),
        (CLEAN + [1.5], "LABEL_TYPE_INVALID"),
        (list(range(5)) * 3, "CLASSES_UNSEEN"),
    ],
)
def test_each_label_problem_has_its_code(rows, code):
    rows = [r if isinstance(r, list) or r is None else [r] for r in rows]
    found = evaluate([model()], {"train": {"label": rows}})
    assert code in codes(found, "ERROR")


def test_above_range_names_the_fix_and_locations():
    found = evaluate([model()], {"train": {"label": CLEAN + [99, 12]}})
    above = find(found, "LABEL_ABOVE_RANGE")
    assert above.message.startswith("labels reach 99: set num_classes to at least 100")
    assert [loc["record"] for loc in above.details["locations"]] == [30, 31]


def test_labels_beyond_int64_say_remap_not_a_size():
    found = evaluate(
        [model()], {"train": {"label": pa.array([0, 2**64 - 1], pa.uint64())}}
    )
    assert "beyond any int64 class id" in find(found, "LABEL_ABOVE_RANGE").message


def test_float_labels_fail_in_tfrecord_only():
    rows = [float(v) for v in CLEAN]
    tfrecord = evaluate([model()], {"train": {"label": rows}}, {"train": "tfrecord"})
    assert "float_list" in find(tfrecord, "LABEL_TYPE_INVALID").message
    parquet = evaluate([model()], {"train": {"label": rows}}, {"train": "parquet"})
    assert "LABEL_TYPE_INVALID" not in codes(parquet)


def test_unseen_classes_within_tolerance_are_a_warning():
    found = evaluate([model(num_classes=11)], {"train": {"label": CLEAN}})
    unseen = find(found, "CLASSES_UNSEEN")
    assert unseen.severity == "WARNING" and "labels stop at 9" in unseen.message


def test_an_empty_split():
    found = evaluate([model()], {"train": {"label": CLEAN}, "eval": {"label": []}})
    assert find(found, "EMPTY_DATASET").split == "eval"


def test_strings_without_a_vocabulary_are_invalid():
    found = evaluate([model()], {"train": {"label": ["cash", "card"]}})
    invalid = find(found, "LABEL_TYPE_INVALID")
    assert invalid.details["locations"][0]["value"] == "cash"
