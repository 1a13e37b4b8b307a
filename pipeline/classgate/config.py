"""Model configs: what the trainer will be told, loaded and validated once at the edge.

A YAML file holds one model as top-level keys, or `models:` with a list of them.
Every key is a field of `ModelConfig`; adding a key is adding one field. Unknown keys
are errors, so a typo (`num_clases`) cannot silently fall back to a default.

Reading is bounded: a config file is at most MAX_BYTES, YAML aliases may expand to at
most MAX_VALUES values (a "billion laughs" file is refused, not expanded), and a
value echoed in an error message is cut short.

Reading has no surprises: YAML keeps the last of two equal keys and reads `010` as 8
and `1:30` as 90 (YAML 1.1), silently. Here a key given twice in one mapping, and a
number that is not plain decimal (010, 0x1f, 0o17, 0b101, 1:30, 1:30.5), are errors
naming the file, the line and the key.
"""

import difflib
import hashlib
import json
import math
import re
import reprlib
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

import pydantic
import yaml

from classgate import errors

# tf.nn.nce_loss examples use 64 negatives; more rarely helps and costs linearly.
DEFAULT_NUM_SAMPLED = 64
# A model config is a few hundred bytes; a file past 1 MiB is not one.
MAX_BYTES = 1 << 20
# Values a config may hold once YAML aliases are expanded: a thousand models.
MAX_VALUES = 100_000
# TensorFlow's class ids and sizes are int64.
INT64_MAX = (1 << 63) - 1
# Model names become file names (unigram-<name>.txt): plain, and short enough.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ECHO = reprlib.Repr()
_ECHO.maxstring = _ECHO.maxother = 60
_ECHO.maxlist = _ECHO.maxdict = _ECHO.maxtuple = _ECHO.maxset = 4
_ECHO.maxlevel = 2

PositiveInt = Annotated[int, pydantic.Field(strict=True, gt=0, le=INT64_MAX)]
Fraction = Annotated[float, pydantic.Field(ge=0.0, le=1.0)]
Feature = Annotated[str, pydantic.Field(min_length=1, max_length=1024)]


class ModelConfig(pydantic.BaseModel):
    """One NCE / sampled-softmax model and what its data must satisfy."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: str
    label_feature: Feature
    num_classes: PositiveInt
    num_true: PositiveInt = 1
    # Checked, not rejected, when out of range: NUM_SAMPLED_INVALID explains it.
    num_sampled: Annotated[
        int, pydantic.Field(strict=True, ge=-INT64_MAX, le=INT64_MAX)
    ]
    sampler: Literal["log_uniform", "uniform", "unigram"] = "log_uniform"
    unique: bool = True
    loss: Literal["nce", "sampled_softmax"] = "nce"
    remove_accidental_hits: bool
    max_unseen_fraction: Fraction = 0.1
    # String labels: line i of the file is class i; unknown strings hash into
    # num_oov_buckets extra ids, as tf.lookup.StaticVocabularyTable does.
    vocabulary_file: str | None = None
    num_oov_buckets: Annotated[int, pydantic.Field(strict=True, ge=0, le=INT64_MAX)] = 0
    # A TF checkpoint prefix or SavedModel folder whose output layer must fit.
    checkpoint: str | None = None
    weights_variable: str | None = None
    biases_variable: str | None = None
    # The built-in trainer's input: int ids embedded in a context_vocab_size table.
    context_feature: Feature | None = None
    context_vocab_size: PositiveInt | None = None
    embedding_dim: PositiveInt = 64
    # Drift against --previous-report: LABEL_DRIFT warns when the class frequencies'
    # Jensen-Shannon divergence (bits) or L-infinity distance reaches these, and is
    # an ERROR at the error thresholds when set. Two samples of 20k labels of one
    # distribution over 1,000 classes stay well below 0.05 (tests/checks/test_drift).
    drift_js_divergence: Fraction = 0.05
    drift_linf: Fraction = 0.05
    drift_error_js_divergence: Fraction | None = None
    drift_error_linf: Fraction | None = None
    # NUM_CLASSES_HEADROOM warns when, at the pace of the run history, labels would
    # outgrow num_classes within this many days.
    headroom_days: Annotated[float, pydantic.Field(gt=0.0, le=36_500.0)] = 30.0
    # Training defaults; `classgate train` flags override them.
    epochs: PositiveInt = 5
    batch_size: PositiveInt = 256
    learning_rate: Annotated[float, pydantic.Field(gt=0.0, allow_inf_nan=False)] = 0.01

    @pydantic.field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(
                "use 1 to 100 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit (the name is part of output file names)"
            )
        return name

    @pydantic.model_validator(mode="after")
    def _keys_that_go_together(self):
        if (self.context_feature is None) != (self.context_vocab_size is None):
            raise ValueError("context_feature and context_vocab_size go together")
        if self.checkpoint is not None and self.weights_variable is None:
            raise ValueError("checkpoint needs weights_variable (its output weights)")
        return self

    @pydantic.model_validator(mode="before")
    @classmethod
    def _fill_derived_defaults(cls, data):
        """Defaults that depend on other keys, the way TensorFlow's losses set them."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        num_classes = data.get("num_classes")
        if "num_sampled" not in data and isinstance(num_classes, int):
            data["num_sampled"] = min(DEFAULT_NUM_SAMPLED, num_classes - 1)
        if "remove_accidental_hits" not in data:
            # tf.nn.nce_loss defaults to False, tf.nn.sampled_softmax_loss to True.
            data["remove_accidental_hits"] = data.get("loss") == "sampled_softmax"
        return data


def load(paths: Sequence[str]) -> tuple[ModelConfig, ...]:
    """Reads every model from the given YAML files; raises InputError naming the key."""
    from classgate.io import storage

    documents = {}
    for path in paths:
        try:
            documents[path] = storage.read(path, MAX_BYTES)
        except errors.InputError as e:
            raise errors.InputError(f"cannot read model config {e.message}") from e
        except Exception as e:  # missing file, permissions, remote errors
            reason = getattr(e, "strerror", None) or str(e).splitlines()[0]
            raise errors.InputError(
                f"{path}: cannot read model config: {reason}"
            ) from e
    return parse(documents)


def parse(documents: Mapping[str, bytes]) -> tuple[ModelConfig, ...]:
    """The models of config files' contents ({path: bytes}); InputError naming keys."""
    models: list[ModelConfig] = []
    for path, data in documents.items():
        models.extend(_parse_file(path, data))
    return checked(models)


def checked(models: Sequence[ModelConfig]) -> tuple[ModelConfig, ...]:
    """The models of one validation: at least one, each name once."""
    names = [model.name for model in models]
    for name in names:
        if names.count(name) > 1:
            raise errors.InputError(f"model name '{name}' is used twice in the configs")
    if not models:
        raise errors.InputError("no model config given: pass --model-config FILE")
    return tuple(models)


def overridden(model: ModelConfig, **keys) -> ModelConfig:
    """`model` with the keys given (not None) replaced, each checked as a file's is.

    What `classgate train --epochs N` and `classgate.train(epochs=N)` go through:
    a value no config could hold (0, -1, nan, True) is an InputError naming the
    key, never taken for "not given". Strict: a number is not read from text.
    """
    given = {key: value for key, value in keys.items() if value is not None}
    if not given:
        return model
    try:
        return ModelConfig.model_validate({**model.model_dump(), **given}, strict=True)
    except pydantic.ValidationError as e:
        raise errors.InputError(_describe(e, "")) from e


def fingerprint(models: Sequence[ModelConfig]) -> str:
    """A digest of the resolved configs: what a later gate compares against."""
    text = json.dumps([m.model_dump() for m in models], sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _parse_file(path: str, data: bytes) -> list[ModelConfig]:
    try:
        document = _safe_yaml(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise errors.InputError(f"{path}: not UTF-8 text (byte {e.start})") from e
    except RecursionError as e:
        raise errors.InputError(f"{path}: YAML nested too deeply") from e
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise errors.InputError(f"{path}: not valid YAML{line}") from e
    except ValueError as e:
        raise errors.InputError(f"{path}: {e}") from e

    if isinstance(document, dict) and "models" in document:
        if set(document) != {"models"}:
            extra = sorted(map(str, set(document) - {"models"}))
            raise errors.InputError(
                f"{path}: unknown top-level key {_ECHO.repr(extra[0])} beside 'models'"
            )
        entries, prefix = document["models"], "models"
        if not isinstance(entries, list) or not entries:
            raise errors.InputError(f"{path}: 'models' must be a non-empty list")
    elif isinstance(document, dict):
        entries, prefix = [document], None
    else:
        raise errors.InputError(
            f"{path}: expected a mapping of model keys or 'models:'"
        )

    models = []
    for index, entry in enumerate(entries):
        where = f"{prefix}[{index}]" if prefix else ""
        if not isinstance(entry, dict):
            raise errors.InputError(f"{path}: {where or 'model'}: expected a mapping")
        try:
            models.append(ModelConfig.model_validate(entry))
        except pydantic.ValidationError as e:
            raise errors.InputError(f"{path}: {_describe(e, where)}") from e
    return models


def _describe(error: pydantic.ValidationError, where: str) -> str:
    """The first problem as 'models[0].num_classes: must be > 0 (got -5)'.

    An unknown key comes first: a typo is what makes a required key look missing.
    """
    problems = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = problems[0]
    field = ".".join(_ECHO.repr(part).strip("'") for part in first["loc"])
    location = ".".join(part for part in (where, field) if part)
    if first["type"] == "extra_forbidden":
        close = difflib.get_close_matches(field, ModelConfig.model_fields, n=1)
        hint = (
            f"did you mean '{close[0]}'?"
            if close
            else "known keys: " + ", ".join(ModelConfig.model_fields)
        )
        return f"{location}: unknown key ({hint})"
    if first["type"] == "missing":
        return f"{location}: required key is missing"
    return f"{location}: {first['msg']} (got {_ECHO.repr(first.get('input'))})"


_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
# Every plain scalar some YAML reader takes for an integer: YAML 1.1's octal (010),
# hex, binary and sexagesimal (1:30) forms, YAML 1.2's 0o17, and leading zeros
# (08 is text to YAML 1.1, 8 to 1.2). All resolve to int here, where only
# _DECIMAL is accepted: no such value reaches a model as text or another number.
_NUMBER_LIKE = re.compile(
    r"^[-+]?(?:[0-9][0-9_]*(?::[0-5]?[0-9])*|0[xX][0-9a-fA-F_]+|0[oObB][0-9_]+)$"
)
# Decimal as YAML 1.1, YAML 1.2 and Python all read it: no leading zero. A `_`
# between digits (1_000_000, a legible num_classes) is kept: PyYAML and Python read
# it as the number; a YAML 1.2 reader takes it for text, which fails there loudly,
# never as another number. A `_` elsewhere (10_, 1__0) is a typo, refused.
_DECIMAL = re.compile(r"^[-+]?(?:0|[1-9](?:_?[0-9])*)$")
# No key takes an integer this long (int64 has 19 digits); echoing one is cut short.
_MAX_DIGITS = 100


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader whose integers are decimal, or refused (see _refuse_surprises).

    Its own copy of the implicit resolvers, the int one replaced by _NUMBER_LIKE.
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _INT]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_decimal_int(self, node) -> int:
        text = self.construct_scalar(node)
        problem = _number_problem(node.tag, text)
        if problem:
            raise ValueError(f"line {node.start_mark.line + 1}: {problem}")
        return int(text)

    def construct_plain_float(self, node) -> float:
        problem = _number_problem(node.tag, self.construct_scalar(node))
        if problem:
            raise ValueError(f"line {node.start_mark.line + 1}: {problem}")
        return self.construct_yaml_float(node)


_Loader.add_implicit_resolver(_INT, _NUMBER_LIKE, list("-+0123456789"))
_Loader.add_constructor(_INT, _Loader.construct_decimal_int)
_Loader.add_constructor(_FLOAT, _Loader.construct_plain_float)


def _safe_yaml(text: str):
    """yaml.safe_load, refusing what a reader would take silently (see the module).

    Aliases may expand to MAX_VALUES values at most; then every mapping is checked
    for a key given twice and every number for a form that is not decimal, before
    anything is constructed (a ValueError naming the line and the key).
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_VALUES:
            raise ValueError(
                f"YAML aliases expand to more than {MAX_VALUES} values; a model "
                "config needs far fewer"
            )
        _refuse_surprises(loader, node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_surprises(loader: _Loader, root) -> None:
    """Raises ValueError at the first key given twice or number not plain decimal.

    Walks the composed nodes, each once (an alias is checked where it is defined),
    without recursion. A merge (`<<: *base`) is no duplicate of the keys beside it:
    overriding merged keys is what it is for.
    """
    seen, stack = set(), [(root, "")]
    while stack:
        node, where = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            _refuse_number(node, where)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(
                (item, f"{where}[{index}]")
                for index, item in reversed(list(enumerate(node.value)))
            )
        elif isinstance(node, yaml.MappingNode):
            first_line = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # the constructor refuses it: an unhashable key
                key_path = f"{where}.{key_node.value}" if where else key_node.value
                _refuse_number(key_node, key_path, "key ")
                if key_node.tag == _MERGE:  # never constructed: flattened instead
                    key = (_MERGE,)
                else:
                    key = loader.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    raise ValueError(
                        f"line {line}: key {_cut(key_path)} is given twice (first "
                        f"on line {first_line[key]}); YAML would keep the last value "
                        "silently: keep one"
                    )
                first_line[key] = line
            for key_node, value_node in reversed(node.value):
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                stack.append((value_node, f"{where}.{key}" if where else key))


def _refuse_number(node, where: str, what: str = "") -> None:
    problem = _number_problem(node.tag, node.value)
    if problem:
        named = f"{what}{_cut(where)}: " if where else ""
        raise ValueError(f"line {node.start_mark.line + 1}: {named}{problem}")


def _number_problem(tag: str, text: str) -> str | None:
    """Why a scalar of this tag and text is refused as a number, or None."""
    if tag == _INT and len(text) > _MAX_DIGITS:
        return f"an integer of {len(text)} characters: no key takes one so large"
    if tag == _INT and not _DECIMAL.match(text):
        return (
            f"{_cut(text)} is not a decimal integer{_yaml_1_1(text)}: write it in "
            "decimal digits, or quote it if it is text"
        )
    if tag == _FLOAT and ":" in text:
        return (
            f"{_cut(text)} is a base-60 number{_yaml_1_1(text)}: write it in "
            "decimal, or quote it if it is text"
        )
    return None


def _yaml_1_1(text: str) -> str:
    """' (YAML 1.1 reads it as 8)': the number PyYAML makes of it, if any."""
    if len(text) > 40:
        return ""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f" (YAML 1.1 reads it as {value})"
    return ""


def _cut(text: str) -> str:
    """Text as an error message echoes it: cut short, unquoted."""
    return _ECHO.repr(text)[1:-1]


def _expanded_size(node, sizes: dict) -> int:
    """Values in `node` once every alias is expanded; shared nodes counted once each."""
    if id(node) in sizes:
        return sizes[id(node)]
    sizes[id(node)] = 1  # a node that refers to itself counts once
    if isinstance(node, yaml.MappingNode):
        total = 1 + sum(
            _expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value
        )
    elif isinstance(node, yaml.SequenceNode):
        total = 1 + sum(_expanded_size(v, sizes) for v in node.value)
    else:
        total = 1
    sizes[id(node)] = min(total, MAX_VALUES + 1)
    return sizes[id(node)]


# Values given as text: a flag's (`--classes-per-range 8`) or a keyword argument's
# (`classgate.validate(..., classes_per_range=8)`, read from its text as the flag's
# is). One reading and one message for both: ValueError(why), which the command
# line shows after its flag and the library after its keyword.

DATA_FORMATS = ("auto", "tfrecord", "parquet")


def positive_int(text: str) -> int:
    """A whole number above 0, from its text (True is not 1, nor "2.5" a whole)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{text!r} is not a positive whole number")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0, from its text."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{text!r} is not a positive finite number")
    return value


def data_format(text: str) -> str:
    """One of DATA_FORMATS, in argparse's words for a choice it does not know."""
    if text not in DATA_FORMATS:
        listed = ", ".join(repr(f) for f in DATA_FORMATS)
        raise ValueError(f"invalid choice: {text!r} (choose from {listed})")
    return text
