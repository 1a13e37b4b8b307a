"""docs/reference/ and schemas/model-config.schema.json are generated from the code
(tools/docs.py, `make docs`).

Every page is rendered again here, in memory, and compared with the committed one:
a flag, config key, anomaly code, report key or output file that changed without
`make docs` fails the suite, naming the page. What the generator reads from the
code must be complete too: every anomaly code says when it fires, every output
name is listed, report.json as classgate writes it meets the published schema, and
every model config in the docs meets the model config schema, which takes every
config classgate reads.
"""

import copy
import inspect
import json
import re

import builders
import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from classgate import config, errors, names
from classgate.checks import anomaly

from tools import docs


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return docs.render()


@pytest.mark.parametrize("page", sorted(docs.PAGES))
def test_the_committed_page_is_what_the_code_renders(rendered, page):
    path = docs.FOLDER / page
    committed = path.read_text() if path.is_file() else None
    if committed != rendered[page]:
        pytest.fail(f"docs/reference/{page} is stale: run `make docs`", pytrace=False)


@pytest.mark.parametrize("name", sorted(docs.SCHEMA_FILES))
def test_the_committed_schema_is_what_the_code_renders(name):
    path = docs.SCHEMAS / name
    committed = path.read_text() if path.is_file() else None
    if committed != docs.render_schemas()[name]:
        pytest.fail(f"schemas/{name} is stale: run `make docs`", pytrace=False)


@pytest.mark.parametrize("page", ["config.md", "model-config.schema.json"])
def test_the_check_names_a_stale_page(tmp_path, capsys, page):
    """`python -m tools.docs --check` on folders with one page edited."""
    folders = ["--folder", str(tmp_path / "reference"), "--schemas", str(tmp_path)]
    assert docs.main(folders) == 0
    assert docs.main([*folders, "--check"]) == 0
    path = next(tmp_path.rglob(page))
    path.write_text(path.read_text().replace("num_classes", "num_clases", 1))
    assert docs.main([*folders, "--check"]) == 1
    assert f"{page} is stale: run `make docs`" in capsys.readouterr().err


def test_every_anomaly_code_says_when_it_fires_and_how_badly():
    missing = [code.value for code in anomaly.Code if code not in anomaly.DESCRIPTIONS]
    assert not missing, f"add them to checks.anomaly.DESCRIPTIONS: {missing}"
    severities = {s.value for s in anomaly.Severity}
    for code, (severity, when) in anomaly.DESCRIPTIONS.items():
        assert re.match(r"[A-Z]+", severity).group() in severities, code
        assert when.strip(), code


def _produced_names() -> set[str]:
    """Every name the names module gives: its constants, and each function's
    name with its arguments as placeholders (`unigram-<model>.txt`)."""
    found = set()
    for key, value in vars(names).items():
        if key.isupper() and not key.startswith("_") and isinstance(value, str):
            found.add(value)
        elif inspect.isfunction(value) and not key.startswith(("_", "is_")):
            placeholders = [f"<{p}>" for p in inspect.signature(value).parameters]
            found.add(value(*placeholders))
    return found


def test_every_output_name_is_listed_with_what_it_is():
    listed = {name for name, _ in names.FILES}
    assert _produced_names() <= listed, _produced_names() - listed
    for name, what in names.FILES:
        example = name.replace("<model>", "m").replace("<split>", "train")
        assert names.is_output_name(example.replace("<name>", "junit")), name
        assert what.strip(), name


@pytest.mark.parametrize("rows", [[0, 1, 2, 3], [0, 1, 2, 11]], ids=["pass", "fail"])
def test_report_json_as_written_meets_the_published_schema(tmp_path, rows):
    path, _ = builders.report_file(tmp_path, [builders.model(num_classes=4)], rows)
    document = json.loads(open(path).read())
    committed = json.loads((docs.FOLDER / "report.schema.json").read_text())
    jsonschema.validate(document, committed)
    assert document["status"] == ("pass" if rows[-1] < 4 else "fail")


def _pages() -> list:
    root = docs.FOLDER.parents[1]
    return [
        root / "README.md",
        root / "CHANGELOG.md",
        *sorted(root.glob("docs/**/*.md")),
    ]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_relative_link_names_a_file_that_exists(page):
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
    local = [link for link in links if "://" not in link]
    missing = [link for link in local if not (page.parent / link).exists()]
    assert not missing, f"{page.name} links to what is not there: {missing}"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_test_a_page_cites_is_there(page):
    """`tests/x.py` and `tests/x.py::test_y` (or `::test_y` after it) name a test
    file, and a test in it, that exist: the guarantees point at what holds them."""
    root = docs.FOLDER.parents[1]
    missing, cited = [], None
    for match in re.finditer(r"(tests/[\w/.-]+\.py)|::(test_\w+)", page.read_text()):
        if match.group(1):
            cited = root / match.group(1)
            if not cited.is_file():
                missing.append(match.group(1))
        elif cited is not None and cited.is_file():
            if f"def {match.group(2)}(" not in cited.read_text():
                missing.append(f"{cited.relative_to(root)}::{match.group(2)}")
    assert not missing, f"{page.name} cites what is not there: {missing}"


# The model config schema: every config in the docs meets it, and it takes every
# config classgate reads ----------------------------------------------------------


def _model_config_schema() -> dict:
    return json.loads((docs.SCHEMAS / "model-config.schema.json").read_text())


def _yaml_blocks() -> list[tuple[str, object]]:
    """(where, document) of every ```yaml block in the README and docs/."""
    root = docs.FOLDER.parents[1]
    found = []
    for page in [root / "README.md", *sorted(root.glob("docs/**/*.md"))]:
        text = page.read_text()
        for match in re.finditer(r"```yaml[^\n]*\n(.*?)```", text, re.S):
            line = text[: match.start()].count("\n") + 1
            found.append((f"{page.relative_to(root)}:{line}", yaml.safe_load(match[1])))
    return found


def _is_config(document) -> bool:
    """A whole model config: one model's keys, `models:` or `classgate:`."""
    return isinstance(document, dict) and (
        {"name", "label_feature"} <= set(document)
        or set(document) == {"models"}
        or config.SECTION in document
    )


def _is_fragment(document) -> bool:
    """Some of a model config's keys (a page showing the drift keys, say)."""
    return (
        isinstance(document, dict)
        and bool(document)
        and set(document) <= set(config.ModelConfig.model_fields)
        and not _is_config(document)
    )


def test_every_model_config_in_the_docs_meets_the_schema():
    schema = _model_config_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    # a page's excerpt of a config: its keys, each as the schema has it
    excerpts = copy.deepcopy(schema)
    excerpts["$defs"]["ModelConfig"]["required"] = []
    whole = fragments = 0
    for where, document in _yaml_blocks():
        if _is_config(document):
            whole += 1
            problems = list(jsonschema.Draft7Validator(schema).iter_errors(document))
        elif _is_fragment(document):
            fragments += 1
            problems = list(jsonschema.Draft7Validator(excerpts).iter_errors(document))
        else:
            continue
        assert not problems, f"{where}: {problems[0].message}"
    # the README's, validate.md's and the trainer-configs guide's: found, not skipped
    assert whole >= 8 and fragments >= 1


def test_what_yaml_1_1_reads_as_a_number_or_a_switch_is_no_error_in_an_editor():
    """classgate reads configs as YAML 1.1 (PyYAML); a language server as YAML 1.2,
    to which `on` and `1_000_000` are text. Neither is flagged; quoted digits,
    which classgate refuses, are."""
    validator = jsonschema.Draft7Validator(_model_config_schema())
    as_text = {"name": "m", "label_feature": "l", "num_classes": "1_000_000"}
    for switch in ("on", "yes", "No", "off", "true"):
        assert not list(validator.iter_errors({**as_text, "unique": switch}))
        document = (
            f"name: m\nlabel_feature: l\nnum_classes: 1_000_000\nunique: {switch}\n"
        )
        assert config.parse({"m.yaml": document.encode()})
    assert list(validator.iter_errors({**as_text, "num_classes": "1000"}))
    assert list(validator.iter_errors({**as_text, "unique": "maybe"}))


# Values each key may take, and values it may not: a drawn model gets valid values
# for some keys, and now and then one wrong value or a required key left out.
_VALID = {
    "num_true": [1, 2],
    "num_sampled": [5, 1],
    "sampler": ["uniform", "unigram", "log_uniform"],
    "unique": [True, False],
    "loss": ["nce", "sampled_softmax", "softmax", "torch_cross_entropy"],
    "ignore_index": [-100, None, 3],
    "remove_accidental_hits": [True, False],
    "max_unseen_fraction": [0.2, 1.0, 0],
    "vocabulary_file": ["vocab.txt", None],
    "num_oov_buckets": [0, 3],
    "drift_error_linf": [None, 0.3],
    "headroom_days": [30, 365.5],
    "learning_rate": [0.01, 1],
    "num_classes": [10, 1, {"from": "trainer.yaml", "key": "model.n"}],
}
_WRONG = {
    "name": ["", "two words", "-x"],
    "label_feature": [""],
    "num_classes": [0, -3, "ten", {"from": "trainer.yaml"}],
    "num_true": [0, "one"],
    "sampler": ["zipf"],
    "unique": ["yes"],
    "loss": ["hinge"],
    "ignore_index": [2.5],
    "max_unseen_fraction": [1.5],
    "num_oov_buckets": [-1],
    "drift_error_linf": [2],
    "headroom_days": [0],
    "learning_rate": [0, "fast"],
    "num_clases": [10],  # a typo
}


@st.composite
def _documents(draw):
    """A model config file's content, valid or not: one model, a list, a section."""
    models = []
    for _ in range(draw(st.integers(1, 2))):
        model = {"name": draw(st.sampled_from(["m", "next-item", "a.b_c"]))}
        model["label_feature"] = "label"
        keys = draw(st.sets(st.sampled_from(sorted(_VALID)), max_size=5))
        for key in sorted(keys | {"num_classes"}):
            model[key] = draw(st.sampled_from(_VALID[key]))
        if draw(st.integers(0, 3)) == 0:  # one thing wrong
            key = draw(st.sampled_from(sorted(_WRONG) + ["-name", "-label_feature"]))
            if key.startswith("-"):
                del model[key[1:]]
            else:
                model[key] = draw(st.sampled_from(_WRONG[key]))
        models.append(model)
    form = draw(st.sampled_from(["one", "models", "section"]))
    if form == "one":
        return models[0]
    listed = {"models": models} if len(models) > 1 or form == "models" else models[0]
    return listed if form == "models" else {"classgate": listed, "trainer": {"n": 1}}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(document=_documents())
def test_every_config_classgate_reads_meets_the_schema(tmp_path_factory, document):
    """No editor flags a config classgate takes; what the schema refuses, classgate
    refuses too (the schema cannot say all: context_feature without its size, say)."""
    folder = tmp_path_factory.getbasetemp() / "schema-configs"
    folder.mkdir(exist_ok=True)
    (folder / "trainer.yaml").write_text("model:\n  n: 12\n")
    text = yaml.safe_dump(document).encode()
    try:
        config.parse({str(folder / "model.yaml"): text})
        read = True
    except errors.InputError:
        read = False
    problems = list(
        jsonschema.Draft7Validator(_model_config_schema()).iter_errors(
            yaml.safe_load(text)
        )
    )
    if read:
        assert not problems, problems[0].message
