"""Vocabulary files, read as TensorFlow's TextFileInitializer reads them.

Lines and labels are bytes: whatever a file holds (U+2028, lone carriage returns,
bytes that are not UTF-8), classgate's lines are TensorFlow's table's, and a pass
maps every string label into [0, num_classes) as TensorFlow's own lookup does.
"""

import builders
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tfx_bsl.coders import example_coder

from classgate import errors
from classgate.checks.anomaly import Status, status_of
from classgate.io import tfrecord
from classgate.model_files import summary, vocabulary


def examples(max_examples: int):
    return settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
        ],
    )


LINE_BYTES = st.binary(max_size=6) | st.sampled_from(
    [
        b"\r",
        b"\r\n",
        "\u2028".encode(),
        b"\x0b",
        b"\x0c",
        b"\x1c",
        "\x85".encode(),
        b"\xff",
        b"a",
        b"b",
    ]
)


@st.composite
def vocabulary_files(draw):
    pieces = draw(st.lists(LINE_BYTES, max_size=12))
    ends = draw(
        st.lists(
            st.sampled_from([b"\n", b"", b"\r\n"]),
            min_size=len(pieces),
            max_size=len(pieces),
        )
    )
    return b"".join(p + e for p, e in zip(pieces, ends, strict=True))


def initializer(path: str):
    import tensorflow as tf

    return tf.lookup.TextFileInitializer(
        path,
        tf.string,
        tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64,
        tf.lookup.TextFileIndex.LINE_NUMBER,
    )


def tensorflow_table(path: str):
    """{line bytes: id} as TensorFlow's table holds them, or None if it refuses."""
    import tensorflow as tf

    try:
        keys, values = tf.lookup.StaticHashTable(initializer(path), -1).export()
    except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError):
        return None
    except (tf.errors.FailedPreconditionError, UnicodeDecodeError):
        # A line twice: refused too (TensorFlow fails to decode its own message
        # when the duplicate is not UTF-8).
        return DUPLICATES
    return dict(zip(keys.numpy().tolist(), values.numpy().tolist(), strict=True))


DUPLICATES = "duplicate lines"


@examples(100)
@given(data=vocabulary_files())
def test_vocabulary_lines_are_tensorflows(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("vocab") / "v.txt"
    path.write_bytes(data)
    expected = tensorflow_table(str(path))
    try:
        lines = vocabulary.parse(data, str(path))
    except errors.InputError:
        assert expected in (None, DUPLICATES), data  # refused by both
        return
    assert expected is not None, data
    if expected == DUPLICATES:  # VOCABULARY_SIZE_MISMATCH's duplicate lines
        assert len(set(lines)) < len(lines)
    else:
        assert {line: i for i, line in enumerate(lines)} == expected


def string_labels(path, labels: list[bytes]) -> str:
    """A TFRecord of tf.Examples with one bytes_list label each."""
    column = pa.array([[label] for label in labels], pa.list_(pa.binary()))
    batch = pa.RecordBatch.from_arrays([column], ["label"])
    records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    tfrecord.write_records(str(path), records, compress=False)
    return str(path)


def test_a_line_holding_u2028_is_one_class_as_in_tensorflow(tmp_path):
    """str.splitlines() would make 4 classes of these 3 lines, and "a" and "x"
    labels of them; TensorFlow maps both to -1."""
    path = tmp_path / "vocab.txt"
    path.write_text("a\u2028x\nb\nc\n", encoding="utf-8")
    assert vocabulary.parse(path.read_bytes(), str(path)) == (
        "a\u2028x".encode(),
        b"b",
        b"c",
    )
    assert tensorflow_table(str(path)) == {"a\u2028x".encode(): 0, b"b": 1, b"c": 2}
    data = string_labels(tmp_path / "s.tfrecord", [b"a", b"x", b"b", b"c"])
    model = builders.model(num_classes=4, vocabulary_file=str(path), num_sampled=1)
    found = builders.codes(builders.evaluate_files([model], {"train": [data]}), "ERROR")
    assert "VOCABULARY_SIZE_MISMATCH" in found and "LABEL_NOT_IN_VOCABULARY" in found


def test_labels_that_are_not_utf8_map_through_the_vocabulary(tmp_path):
    path = tmp_path / "vocab.bin"
    path.write_bytes(b"caf\xe9\nok\n")  # latin-1, as some exports are
    data = string_labels(tmp_path / "s.tfrecord", [b"caf\xe9", b"ok", b"\xff\xfe"])
    model = builders.model(num_classes=2, vocabulary_file=str(path), num_sampled=1)
    found = builders.evaluate_files([model], {"train": [data]})
    missing = builders.find(found, "LABEL_NOT_IN_VOCABULARY")
    assert missing.details["values"] == 1  # the third label is in no line
    stats = builders.results_of_files([model], {"train": [data]}).label(model, "train")
    assert stats.classes_seen == 2


def test_a_vocabulary_edited_since_it_was_read_is_read_again(tmp_path):
    """A process that validates twice (a notebook) judged the second run by the
    lines it read first: a false pass of labels that the file no longer holds."""
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"a\nb\nc\n")
    model = builders.model(num_classes=3, vocabulary_file=str(path), num_sampled=1)
    data = string_labels(tmp_path / "s.tfrecord", [b"a", b"b", b"c"])
    assert summary.read(model).vocabulary_size == 3
    found = builders.evaluate_files([model], {"train": [data]})
    assert builders.codes(found, "ERROR") == []
    path.write_bytes(b"x\ny\nz\n")
    assert summary.read(model).vocabulary_size == 3
    assert vocabulary.as_array(str(path)).to_pylist() == [b"x", b"y", b"z"]
    found = builders.codes(builders.evaluate_files([model], {"train": [data]}), "ERROR")
    assert "LABEL_NOT_IN_VOCABULARY" in found


@st.composite
def vocabularies_and_labels(draw):
    """Any vocabulary file and labels; half of them a file TensorFlow takes and
    labels mostly among its lines, so that many cases pass."""
    if draw(st.booleans()):
        return draw(vocabulary_files()), draw(
            st.lists(LINE_BYTES, min_size=1, max_size=6)
        )
    lines = draw(
        st.lists(
            st.binary(min_size=1, max_size=4).filter(
                lambda b: b"\n" not in b and not b.endswith(b"\r")
            ),
            min_size=1,
            max_size=8,
            unique=True,
        )
    )
    labels = draw(st.lists(st.sampled_from(lines) | LINE_BYTES, min_size=1, max_size=6))
    return b"".join(line + b"\n" for line in lines), labels


@examples(60)
@given(drawn=vocabularies_and_labels(), oov=st.integers(0, 2))
def test_a_pass_maps_every_string_label_as_tensorflow_does(
    tmp_path_factory, drawn, oov
):
    """Whatever the vocabulary and the labels: where classgate's checks pass, the
    trainer's table (TensorFlow's, OOV buckets included) maps every label into
    [0, num_classes); a file TensorFlow refuses is refused (one line)."""
    import tensorflow as tf

    data, labels = drawn
    root = tmp_path_factory.mktemp("strings")
    path = root / "vocab.bin"
    path.write_bytes(data)
    table = tensorflow_table(str(path))
    model = builders.model(
        name="v",
        num_classes=(len(table) if isinstance(table, dict) else 1) + oov,
        vocabulary_file=str(path),
        num_oov_buckets=oov,
        max_unseen_fraction=1.0,
        num_sampled=1,
        unique=False,
    )
    records = string_labels(root / "s.tfrecord", labels)
    try:
        found = builders.evaluate_files([model], {"train": [records]})
    except errors.InputError as e:
        assert "\n" not in e.message
        event("refused")
        return
    if status_of(found, strict=False) != Status.PASS:
        event("failed")
        return
    event("passed")
    assert table not in (None, DUPLICATES), (data, found)
    if oov:
        lookup = tf.lookup.StaticVocabularyTable(initializer(str(path)), oov)
    else:
        lookup = tf.lookup.StaticHashTable(initializer(str(path)), -1)
    ids = lookup.lookup(tf.constant(labels)).numpy()
    assert ((ids >= 0) & (ids < model.num_classes)).all(), (labels, ids)


def test_an_empty_vocabulary_or_an_empty_line_is_refused_as_tensorflow_does(tmp_path):
    for content, needle in ((b"", "empty"), (b"a\n\nb\n", "line 2 is empty")):
        path = tmp_path / "v.txt"
        path.write_bytes(content)
        assert tensorflow_table(str(path)) is None
        with pytest.raises(errors.InputError, match=needle):
            vocabulary.parse(content, str(path))
