"""Model configs: what the trainer will be told, loaded and validated once at the edge.

A YAML file holds one model as top-level keys, or `models:` with a list of them.
Every key is a field of `ModelConfig`; adding a key is adding one field. Unknown keys
are errors, so a typo (`num_clases`) cannot silently fall back to a default.

Reading is bounded: a config file is at most MAX_BYTES, YAML aliases may expand to at
most MAX_VALUES values (a "billion laughs" file is refused, not expanded), and a
value echoed in an error message is cut short.
"""

import difflib
import hashlib
import json
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
    from classgate import storage

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


def _safe_yaml(text: str):
    """yaml.safe_load, refusing documents whose aliases expand past MAX_VALUES."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_VALUES:
            raise ValueError(
                f"YAML aliases expand to more than {MAX_VALUES} values; a model "
                "config needs far fewer"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


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
