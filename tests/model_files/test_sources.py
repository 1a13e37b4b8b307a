"""Values read from the trainer's own files, each written by its own library.

YAML, JSON and TOML by key path; Hugging Face's config.json as save_pretrained
writes it; a Hydra folder composed with an override; a gin file with a macro and a
scope; a Keras model saved by Keras; a TF checkpoint and a SavedModel; a
safetensors file by its writer. And hostile files: each is one InputError line.
"""

import json

import numpy as np
import pytest
import yaml

from classgate import errors
from classgate.model_files import sources


def read(tmp_path, reference: dict):
    return sources.read(reference, str(tmp_path), "m.yaml: line 3: num_classes")


def test_yaml_json_and_toml_by_key_path(tmp_path):
    document = {"task": {"model": {"num_classes": 5000, "heads": [{"units": 7}]}}}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(document))
    (tmp_path / "t.json").write_text(json.dumps(document))
    (tmp_path / "t.toml").write_text(
        "[task.model]\nnum_classes = 5000\n[[task.model.heads]]\nunits = 7\n"
    )
    for name in ("t.yaml", "t.json", "t.toml"):
        found = read(tmp_path, {"from": name, "key": "task.model.num_classes"})
        assert found.value == 5000
        assert list(found.digests) == [str(tmp_path / name)]
        found = read(tmp_path, {"from": name, "key": "task.model.heads.0.units"})
        assert found.value == 7
        assert read(tmp_path, {"from": name, "key": "len(task.model.heads)"}).value == 1


def test_a_trainers_own_yaml_tags_are_read_as_data_never_run(tmp_path):
    (tmp_path / "t.yaml").write_text(
        "n: 12\nobject: !!python/object/apply:os.system ['touch pwned']\n"
        "included: !include other.yaml\n"
    )
    assert read(tmp_path, {"from": "t.yaml", "key": "n"}).value == 12
    assert not (tmp_path / "pwned").exists()


def test_hugging_face_config_as_save_pretrained_writes_it(tmp_path):
    transformers = pytest.importorskip("transformers")
    transformers.BertConfig(num_labels=7).save_pretrained(tmp_path / "hf")
    saved = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert "num_labels" not in saved  # id2label alone says how many
    assert read(tmp_path, {"from": "hf/config.json", "key": "num_labels"}).value == 7
    found = read(tmp_path, {"from": "hf/config.json", "key": "len(id2label)"})
    assert found.value == 7


def test_a_hydra_folder_composed_with_an_override(tmp_path):
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "train.yaml").write_text(
        "defaults:\n  - model: small\n  - _self_\nheads: ${model.num_classes}\n"
    )
    (conf / "model" / "small.yaml").write_text("num_classes: 100\n")
    (conf / "model" / "big.yaml").write_text("num_classes: 10000\n")
    reference = {"from": "conf", "config_name": "train", "key": "heads"}
    assert read(tmp_path, reference).value == 100
    found = read(tmp_path, {**reference, "overrides": ["model=big"]})
    assert found.value == 10000
    assert set(found.digests) == {
        str(conf / "train.yaml"),
        str(conf / "model" / "small.yaml"),
        str(conf / "model" / "big.yaml"),
    }


def test_gin_bindings_with_a_macro_a_scope_and_an_include(tmp_path):
    (tmp_path / "base.gin").write_text("NUM_CLASSES = 5000\n")
    (tmp_path / "train.gin").write_text(
        "import my_project.models\n"  # never imported
        "include 'base.gin'\n"
        "nce_head.num_classes = %NUM_CLASSES\n"
        "eval/nce_head.num_classes = 7\n"
        "nce_head.optimizer = @Adam()\n"
    )
    gin = {"from": "train.gin"}
    assert read(tmp_path, {**gin, "key": "nce_head.num_classes"}).value == 5000
    assert read(tmp_path, {**gin, "key": "eval/nce_head.num_classes"}).value == 7
    with pytest.raises(errors.InputError, match="a reference to @Adam"):
        read(tmp_path, {**gin, "key": "nce_head.optimizer"})
    assert len(read(tmp_path, {**gin, "key": "nce_head.num_classes"}).digests) == 2


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("keras")
    inputs = tf.keras.Input(shape=(3,), dtype="int64")
    embedded = tf.keras.layers.Embedding(50, 8, name="items")(inputs)
    pooled = tf.keras.layers.GlobalAveragePooling1D()(embedded)
    outputs = tf.keras.layers.Dense(1000, name="logits")(pooled)
    model = tf.keras.Model(inputs, outputs)
    model.save(folder / "m.keras")
    (folder / "m.json").write_text(model.to_json())
    checkpoint = tf.train.Checkpoint(weights=tf.Variable(tf.zeros([1000, 8])))
    prefix = checkpoint.save(str(folder / "ckpt" / "model"))
    module = tf.Module()
    module.head = tf.Variable(tf.zeros([8, 1000]), name="head")
    tf.saved_model.save(module, str(folder / "saved"))
    return folder, prefix


def test_keras_archive_and_model_json_by_layer_name(keras_files):
    folder, _ = keras_files
    for name in ("m.keras", "m.json"):
        assert read(folder, {"from": name, "key": "logits.units"}).value == 1000
        assert read(folder, {"from": name, "key": "items.input_dim"}).value == 50
    with pytest.raises(errors.InputError, match="no layer named 'nope'"):
        read(folder, {"from": "m.keras", "key": "nope.units"})


def test_checkpoint_and_saved_model_shapes_from_the_index(keras_files):
    folder, prefix = keras_files
    found = read(folder, {"from": prefix, "key": "weights", "axis": 0})
    assert found.value == 1000 and list(found.digests) == [prefix + ".index"]
    assert read(folder, {"from": "saved", "key": "head", "axis": 1}).value == 1000
    with pytest.raises(errors.InputError, match="no axis 2"):
        read(folder, {"from": prefix, "key": "weights", "axis": 2})


def test_safetensors_shape_from_the_header_alone(tmp_path):
    from safetensors.numpy import save_file

    save_file({"classifier.weight": np.zeros((321, 4), np.float32)}, tmp_path / "h.st")
    (tmp_path / "h.safetensors").write_bytes((tmp_path / "h.st").read_bytes())
    reference = {"from": "h.safetensors", "key": "classifier.weight"}
    assert read(tmp_path, reference).value == 321
    assert read(tmp_path, {**reference, "axis": 1}).value == 4


@pytest.mark.parametrize(
    "name, content, reference, needle",
    [
        ("t.yaml", b"a: {b: 1}\n", {"key": "a.c"}, "has no 'a.c' at a"),
        ("t.yaml", b"a: [1, 2]\n", {"key": "a"}, None),  # a list: the config says
        ("t.json", b"{" * 10_000, {"key": "a"}, "not valid JSON"),
        ("m.keras", b"PK not a zip", {"key": "logits.units"}, "not a Keras archive"),
        (
            "h.safetensors",
            (10**9).to_bytes(8, "little") + b"{}",
            {"key": "w"},
            "its header says 1000000000 bytes",
        ),
        ("t.gin", b"a.b = %NOWHERE\n", {"key": "a.b"}, "a macro bound nowhere"),
        ("t.gin", b"a.b = = 3\n", {"key": "a.b"}, "not a gin file"),
        ("t.yaml", b"n: 1\n", {"key": "n", "extra": 1}, "unknown key 'extra'"),
        ("t.yaml", b"n: 1\n", {"key": "len(n)"}, "not a mapping or list"),
    ],
)
def test_hostile_files_are_one_line_naming_file_and_key(
    tmp_path, name, content, reference, needle
):
    (tmp_path / name).write_bytes(content)
    if needle is None:  # the value itself is no number: config.py's to refuse
        assert read(tmp_path, {"from": name, **reference}).value == [1, 2]
        return
    with pytest.raises(errors.InputError) as raised:
        read(tmp_path, {"from": name, **reference})
    message = raised.value.message
    assert needle in message and "\n" not in message
    assert message.startswith("m.yaml: line 3: num_classes")


def test_a_hydra_override_that_fails_and_a_package_search_path(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "train.yaml").write_text("n: 3\n")
    reference = {"from": "conf", "config_name": "train", "key": "n"}
    with pytest.raises(errors.InputError, match="Hydra cannot compose 'train'"):
        read(tmp_path, {**reference, "overrides": ["model=absent"]})
    (conf / "train.yaml").write_text(
        "hydra:\n  searchpath: [pkg://evil.configs]\nn: 3\n"
    )
    with pytest.raises(errors.InputError, match="imports a package"):
        read(tmp_path, reference)
