"""Beam step names of the label specs: one per spec, readable, unique by
construction; two models on one feature and num_classes, one with a vocabulary."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classgate.run import transforms
from classgate.stats.label import LabelSpec

# Few values each, so that generated specs share features, sizes and file names;
# features that look like another spec's qualified name are in the mix too.
features = st.sampled_from(["label", "item", "label@5x1", "label#0", "a:b"])
vocabularies = st.none() | st.sampled_from(
    ["v.txt", "x/v.txt", "gs://b/v.txt", "w.txt", "", "5x1"]
)
specs = st.builds(
    LabelSpec,
    feature=features,
    num_classes=st.sampled_from([5, 7]),
    num_true=st.sampled_from([1, 2]),
    vocabulary_file=vocabularies,
    num_oov_buckets=st.sampled_from([0, 3]),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(specs, unique=True, max_size=8))
def test_step_names_are_unique_stable_and_plain_when_they_can_be(found):
    names = [transforms.spec_name(spec, found) for spec in found]
    assert len(set(names)) == len(names)
    assert names == [transforms.spec_name(spec, list(found)) for spec in found]
    for spec, name in zip(found, names, strict=True):

        def shared(feature):
            return sum(s.feature == feature for s in found) > 1

        alone = not shared(spec.feature)
        # Only a shared feature's qualified name (`label@5x1`) can read like it.
        mistaken = any(
            spec.feature.startswith(f"{s.feature}@") and shared(s.feature)
            for s in found
        )
        if alone and not mistaken and not re.search(r"#[0-9]+$", spec.feature):
            assert name == spec.feature
        else:
            assert name.startswith(spec.feature)


def test_a_vocabulary_is_named_in_the_step():
    plain = LabelSpec("word", 100, 1)
    mapped = LabelSpec("word", 100, 1, "gs://bucket/vocab.txt", 2)
    assert [transforms.spec_name(s, [plain, mapped]) for s in (plain, mapped)] == [
        "word@100x1",
        "word@100x1+2oov:vocab.txt",
    ]


@pytest.mark.slow
def test_two_models_on_one_feature_one_with_a_vocabulary(ws):
    """They crashed with a duplicate Beam step label (exit 3): now each model gets
    its own figures, the vocabulary's model its strings mapped to ids."""
    words = [f"w{i}" for i in range(10)]
    vocabulary = ws.root / "vocab.txt"
    vocabulary.write_text("".join(f"{w}\n" for w in words))
    config = ws.config(
        "models:\n"
        f"  - {{name: mapped, label_feature: label, num_classes: 10, "
        f"num_sampled: 2, vocabulary_file: {vocabulary}}}\n"
        "  - {name: raw, label_feature: label, num_classes: 10, num_sampled: 2}\n"
    )
    code, report = ws.validate(
        "--data", ws.labels(words * 20), "--model-config", config, "--labels-only"
    )
    assert code == 1 and report is not None
    by_model = {}
    for anomaly in report["anomalies"]:
        if anomaly["severity"] == "ERROR":
            by_model.setdefault(anomaly.get("model"), []).append(anomaly["code"])
    # Strings are the vocabulary's: every class seen for `mapped`; `raw` wants ints.
    assert "mapped" not in by_model and "LABEL_TYPE_INVALID" in by_model["raw"]
    summary = report["labels"]["train"]["label"]  # the first model's figures
    assert (summary["examples"], summary["classes_seen"]) == (200, 10)
