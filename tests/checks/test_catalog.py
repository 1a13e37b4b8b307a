"""checks.catalog against checks.evaluate: every finding is of a check said to run.

report.html ticks the checks the catalog says ran and found nothing; a check that
evaluate runs but the catalog leaves out would find things in rows nobody expects,
and its passes would never be shown. Generated models and splits hold the two to
one set of rules.
"""

from builders import evaluate, model, stats
from hypothesis import given, settings
from hypothesis import strategies as st

from classgate.checks import catalog
from classgate.checks.anomaly import Code

SPLITS = ("train", "eval", "test")


@st.composite
def cases(draw):
    num_classes = draw(st.integers(2, 12))
    keys = {
        "num_classes": num_classes,
        "num_true": draw(st.integers(1, 2)),
        "num_sampled": draw(st.integers(1, num_classes + 2)),
        "sampler": draw(st.sampled_from(["log_uniform", "uniform", "unigram"])),
        "loss": draw(st.sampled_from(["nce", "sampled_softmax"])),
        "remove_accidental_hits": draw(st.booleans()),
        "max_unseen_fraction": draw(st.sampled_from([0.0, 0.5, 1.0])),
    }
    if draw(st.booleans()):
        keys |= {"context_feature": "context", "context_vocab_size": 5}
    label = st.integers(-2, num_classes + 2)
    splits, formats = {}, {}
    for split in SPLITS[: draw(st.integers(1, 3))]:
        size = draw(st.integers(0, 12))
        if draw(st.booleans()):
            rows = draw(
                st.lists(st.one_of(st.none(), label), min_size=size, max_size=size)
            )
        else:
            lists = st.one_of(st.none(), st.lists(label, max_size=3))
            rows = draw(st.lists(lists, min_size=size, max_size=size))
        columns = {"label": rows}
        if "context_feature" in keys and draw(st.booleans()):
            ids = st.one_of(st.none(), st.integers(-1, 6))
            columns["context"] = draw(st.lists(ids, min_size=size, max_size=size))
        splits[split] = columns
        formats[split] = draw(st.sampled_from(["parquet", "tfrecord"]))
    return model(**keys), splits, formats


@settings(max_examples=150, deadline=None, derandomize=True)
@given(cases())
def test_every_finding_is_of_a_check_the_catalog_says_ran(case):
    m, splits, formats = case
    found = evaluate([m], splits, formats=formats)
    examples = {split: len(columns["label"]) for split, columns in splits.items()}
    training = next(iter(splits))
    seen = stats(splits[training]["label"], m).classes_seen
    ran = set(catalog.model_checks(m, examples, training, seen))
    ran |= set(catalog.data_checks(formats, full=False))
    assert {(a.code, a.split) for a in found} <= ran


def test_the_catalog_names_what_always_runs():
    m = model()
    ran = catalog.model_checks(m, {"train": 3, "eval": 0}, "train", 2)
    codes = {code for code, _ in ran}
    assert {Code.LABEL_ABOVE_RANGE, Code.CLASSES_UNSEEN, Code.LABEL_MISSING} <= codes
    assert all(split in (None, "train") for _, split in ran)  # eval has no examples
    assert (Code.SPLIT_CLASSES_MISSING, "eval") not in ran
    data = catalog.data_checks({"train": "tfrecord", "eval": "parquet"}, full=True)
    assert (Code.COMPRESSION_NAME_MISMATCH, "train") in data
    assert (Code.COMPRESSION_NAME_MISMATCH, "eval") not in data
    assert (catalog.TFDV_SCHEMA, "eval") in data
