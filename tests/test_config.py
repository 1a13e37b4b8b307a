"""Model configs, parsed from bytes: errors name the field, reading is bounded."""

import pytest

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
