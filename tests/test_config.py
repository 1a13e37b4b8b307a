"""Model configs, parsed from bytes: errors name the field, reading is bounded."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classgate import config, errors


def parse(text: str, path="m.yaml"):
    return config.parse({path: text.encode()})


def test_one_model_or_a_list_and_derived_defaults():
    (nce,) = parse("name: a\nlabel_feature: l\nnum_classes: 10\n")
    assert (nce.num_sampled, nce.remove_accidental_hits, nce.sampler) == (
        9,
        False,
        "log_uniform",
    )
    first, second = parse(
        "models:\n  - {name: a, label_feature: l, num_classes: 100}\n"
        "  - {name: b, label_feature: l, num_classes: 3, loss: sampled_softmax}\n"
    )
    assert first.num_sampled == 64 and second.remove_accidental_hits is True


@pytest.mark.parametrize(
    "text, needles",
    [
        (
            "name: m\nlabel_feature: label\nnum_clases: 4\n",
            ["num_clases", "unknown key"],
        ),
        ("name: m\nlabel_feature: label\n", ["num_classes", "required"]),
        ("name: m\nlabel_feature: label\nnum_classes: 0\n", ["num_classes", "greater"]),
        ("name: m\nlabel_feature: label\nnum_classes: '10'\n", ["num_classes"]),
        (f"name: m\nlabel_feature: l\nnum_classes: {2**63}\n", ["num_classes", "less"]),
        (
            "models:\n  - {name: a, label_feature: l, num_classes: 3, sampler: zipf}\n",
            ["models[0].sampler"],
        ),
        ("name: [unclosed\n", ["not valid YAML"]),
        ("- just\n- a list\n", ["expected a mapping"]),
        ("name: a b\nlabel_feature: l\nnum_classes: 3\n", ["name", "letters"]),
        (f"name: {'n' * 101}\nlabel_feature: l\nnum_classes: 3\n", ["name"]),
        (
            "name: m\nlabel_feature: l\nnum_classes: 3\nlearning_rate: .nan\n",
            ["learning_rate"],
        ),
        ("models: []\n", ["non-empty list"]),
        (
            "models: [{name: a, label_feature: l, num_classes: 2}]\nextra: 1\n",
            ["unknown top-level key"],
        ),
        (
            "name: m\nlabel_feature: l\nnum_classes: 3\ncontext_feature: c\n",
            ["context_feature and context_vocab_size go together"],
        ),
    ],
)
def test_bad_configs_name_the_field(text, needles):
    with pytest.raises(errors.InputError) as raised:
        parse(text, "bad.yaml")
    message = raised.value.message
    assert message.startswith("bad.yaml") and "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_a_name_twice_across_files():
    text = b"name: a\nlabel_feature: l\nnum_classes: 3\n"
    with pytest.raises(errors.InputError, match="'a' is used twice"):
        config.parse({"one.yaml": text, "two.yaml": text})


def test_alias_expansion_is_bounded_but_small_aliases_work():
    small = (
        "models:\n  - &base {name: a, label_feature: l, num_classes: 3}\n"
        "  - {<<: *base, name: b}\n"
    )
    assert [m.name for m in parse(small)] == ["a", "b"]
    levels = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        levels.append(f"a{i}: &a{i} [{','.join(f'*a{i - 1}' for _ in range(9))}]")
    with pytest.raises(errors.InputError, match="aliases expand"):
        parse("\n".join(levels))


def test_echoed_values_are_cut_short():
    with pytest.raises(errors.InputError) as raised:
        parse(f"name: m\nlabel_feature: l\nnum_classes: '{'9' * 10_000}'\n")
    assert len(raised.value.message) < 300


def test_deep_nesting_is_an_input_error():
    with pytest.raises(errors.InputError, match="nested too deeply|not valid YAML"):
        parse("a: " + "[" * 100_000 + "]" * 100_000)


def test_files_are_read_bounded_and_regular_only(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (config.MAX_BYTES + 1))
    for path, needle in ((str(big), "larger than"), ("/dev/zero", "not a regular")):
        with pytest.raises(errors.InputError, match=needle):
            config.load([path])
    with pytest.raises(errors.InputError, match="cannot read"):
        config.load([str(tmp_path / "absent.yaml")])


def test_the_fingerprint_follows_every_key():
    (a,) = parse("name: a\nlabel_feature: l\nnum_classes: 3\n")
    (b,) = parse("name: a\nlabel_feature: l\nnum_classes: 3\nnum_sampled: 1\n")
    assert config.fingerprint([a]) == config.fingerprint([a])
    assert config.fingerprint([a]) != config.fingerprint([b])


# YAML without surprises: keys once, integers in decimal ----------------------------

# Keys of a model and a value of each, as YAML text and as the model holds it.
KEYS = {
    "name": ("m", "m"),
    "label_feature": ("label", "label"),
    "num_classes": ("1000", 1000),
    "num_true": ("2", 2),
    "unique": ("no", False),
    "learning_rate": ("0.5", 0.5),
    "embedding_dim": ("1_024", 1024),
    "sampler": ("uniform", "uniform"),
}
_settings = settings(max_examples=60, deadline=None, derandomize=True)


@_settings
@given(
    order=st.permutations(list(KEYS)),
    twice=st.none() | st.sampled_from(list(KEYS)),
    at=st.integers(0, len(KEYS)),
    listed=st.booleans(),
)
def test_a_key_given_twice_is_named_with_its_lines(order, twice, at, listed):
    lines = [f"{key}: {KEYS[key][0]}" for key in order]
    if twice is not None:  # the same value again: still refused, never merged
        lines.insert(max(at, order.index(twice) + 1), f"{twice}: {KEYS[twice][0]}")
    if listed:
        lines = ["models:"] + [
            ("  - " if i == 0 else "    ") + line for i, line in enumerate(lines)
        ]
    text = "\n".join(lines) + "\n"
    if twice is None:
        (found,) = parse(text)
        assert {key: getattr(found, key) for key in KEYS} == {
            key: value for key, (_, value) in KEYS.items()
        }
        return
    with pytest.raises(errors.InputError) as raised:
        parse(text, "dup.yaml")
    first, second = (
        number
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip(" -").startswith(f"{twice}:")
    )
    key = f"models[0].{twice}" if listed else twice
    message = raised.value.message
    assert message.startswith(f"dup.yaml: line {second}: key {key} is given twice")
    assert f"first on line {first}" in message and "\n" not in message


def _spellings(n: int):
    """(spelling, refused) of n: what YAML 1.1 or 1.2 read otherwise is refused."""
    yield str(n), False
    yield f"+{n}", False
    yield f"{n:_}", False  # 1_000_000: PyYAML and Python read it alike
    yield f"0{n:o}", True  # YAML 1.1 octal
    yield f"0{n}", True  # a leading zero: octal, or text (08), or n (YAML 1.2)
    yield f"0x{n:x}", True
    yield f"0X{n:X}", True
    yield f"0o{n:o}", True  # YAML 1.2 octal, text to YAML 1.1
    yield f"0b{n:b}", True
    yield f"{n}_", True  # a misplaced separator is a typo
    if n >= 60:
        yield f"{n // 60}:{n % 60:02d}", True  # YAML 1.1 base 60
        yield f"{n // 60}:{n % 60:02d}.5", True  # a base-60 float


@_settings
@given(n=st.integers(1, 10**12), key=st.sampled_from(["num_classes", "embedding_dim"]))
def test_integers_are_decimal_or_refused_naming_key_and_line(n, key):
    for spelling, refused in _spellings(n):
        fields = {"name": "m", "label_feature": "l", "num_classes": "7"}
        fields[key] = spelling
        text = "".join(f"{k}: {v}\n" for k, v in fields.items())
        line = list(fields).index(key) + 1
        if not refused:
            (found,) = parse(text)
            assert getattr(found, key) == n
            continue
        with pytest.raises(errors.InputError) as raised:
            parse(text, "n.yaml")
        message = raised.value.message
        assert message.startswith(f"n.yaml: line {line}: {key}: {spelling} is "), (
            spelling,
            message,
        )
        assert "\n" not in message


@pytest.mark.parametrize(
    "text, refused",
    [
        (
            "models:\n  - {name: a, label_feature: l, num_classes: 0o7}\n",
            "line 2: models[0].num_classes: 0o7 is not a decimal integer",
        ),
        (
            "name: a\nlabel_feature: l\nnum_classes: !!int '010'\n",
            "line 3: num_classes: 010 is not a decimal integer (YAML 1.1 reads it "
            "as 8)",
        ),
        (
            "name: a\nlabel_feature: l\nnum_classes: 3\n010: x\n",
            "line 4: key 010: 010 is not a decimal integer",
        ),
        (
            "name: a\nlabel_feature: l\nnum_classes: 1" + "0" * 200 + "\n",
            "line 3: num_classes: an integer of 201 characters",
        ),
        (
            "b: &b {x: 1}\nc: &c {x: 2}\nd: {<<: *b, <<: *c}\n",
            "line 3: key d.<< is given twice",
        ),
    ],
)
def test_surprises_anywhere_are_refused(text, refused):
    with pytest.raises(errors.InputError) as raised:
        parse(text, "s.yaml")
    assert raised.value.message.startswith(f"s.yaml: {refused}"), raised.value.message


@pytest.mark.parametrize(
    "spelled, key, value",
    [
        ("unique: yes", "unique", True),
        ("unique: False", "unique", False),
        ("learning_rate: 1.5e-3", "learning_rate", 0.0015),
        ("learning_rate: 1e-3", "learning_rate", 0.001),
        ("headroom_days: 1_000.5", "headroom_days", 1000.5),
        ("max_unseen_fraction: .5", "max_unseen_fraction", 0.5),
        ("num_oov_buckets: 0", "num_oov_buckets", 0),
        ("vocabulary_file: '010'", "vocabulary_file", "010"),  # quoted: text
        ("vocabulary_file: 10:30.txt", "vocabulary_file", "10:30.txt"),
    ],
)
def test_booleans_floats_and_text_keep_working(spelled, key, value):
    (found,) = parse(f"name: a\nlabel_feature: l\nnum_classes: 3\n{spelled}\n")
    if key == "vocabulary_file":  # a path: resolved from the config's folder
        assert os.path.basename(getattr(found, key)) == value
    else:
        assert getattr(found, key) == value


def test_a_merge_overrides_its_keys_without_being_a_duplicate():
    text = (
        "models:\n  - &base {name: a, label_feature: l, num_classes: 3}\n"
        "  - {<<: *base, name: b, num_classes: 4}\n"
    )
    assert [(m.name, m.num_classes) for m in parse(text)] == [("a", 3), ("b", 4)]


# Training settings, overridden: checked as a config's own keys --------------------

_MODEL = config.ModelConfig(name="m", label_feature="l", num_classes=3)


@_settings
@given(
    key=st.sampled_from(["epochs", "batch_size", "learning_rate"]),
    value=st.none()
    | st.integers(-5, 5)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.text(max_size=4),
)
def test_overrides_are_checked_as_config_keys(key, value):
    whole = key != "learning_rate"
    fits = (
        value is None
        or (whole and type(value) is int and value > 0)
        or (
            not whole
            and type(value) in (int, float)
            and value > 0
            and value != float("inf")
        )
    )
    if not fits:
        with pytest.raises(errors.InputError) as raised:
            config.overridden(_MODEL, **{key: value})
        assert raised.value.message.startswith(f"{key}: ")
        return
    found = config.overridden(_MODEL, **{key: value})
    assert getattr(found, key) == (getattr(_MODEL, key) if value is None else value)
    assert found.model_dump() == _MODEL.model_dump() | {key: getattr(found, key)}
