"""Model configs: what the trainer will be told, loaded and validated once at the edge.

A YAML file holds one model as top-level keys, or `models:` with a list of them.
Every key is a field of `ModelConfig`; adding a key is adding one field. Unknown keys
are errors, so a typo (`num_clases`) cannot silently fall back to a default.
"""

import difflib
import hashlib
import json
from collections.abc import Sequence
from typing import Annotated, Literal

import pydantic
import yaml
from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline import errors

# tf.nn.nce_loss examples use 64 negatives; more rarely helps and costs linearly.
DEFAULT_NUM_SAMPLED = 64

PositiveInt = Annotated[int, pydantic.Field(strict=True, gt=0)]
Fraction = Annotated[float, pydantic.Field(ge=0.0, le=1.0)]


class ModelConfig(pydantic.BaseModel):
    """One NCE / sampled-softmax model and what its data must satisfy."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, pydantic.Field(min_length=1)]
    label_feature: Annotated[str, pydantic.Field(min_length=1)]
    num_classes: PositiveInt
    num_true: PositiveInt = 1
    # Checked, not rejected, when out of range: NUM_SAMPLED_INVALID explains it.
    num_sampled: Annotated[int, pydantic.Field(strict=True)]
    sampler: Literal["log_uniform", "uniform", "unigram"] = "log_uniform"
    unique: bool = True
    loss: Literal["nce", "sampled_softmax"] = "nce"
    remove_accidental_hits: bool
    max_unseen_fraction: Fraction = 0.1
    # String labels: line i of the file is class i; unknown strings hash into
    # num_oov_buckets extra ids, as tf.lookup.StaticVocabularyTable does.
    vocabulary_file: str | None = None
    num_oov_buckets: Annotated[int, pydantic.Field(strict=True, ge=0)] = 0
    # A TF checkpoint prefix or SavedModel folder whose output layer must fit.
    checkpoint: str | None = None
    weights_variable: str | None = None
    biases_variable: str | None = None
    # The built-in trainer's input: int ids embedded in a context_vocab_size table.
    context_feature: str | None = None
    context_vocab_size: PositiveInt | None = None
    embedding_dim: PositiveInt = 64
    # Training defaults; `classgate train` flags override them.
    epochs: PositiveInt = 5
    batch_size: PositiveInt = 256
    learning_rate: Annotated[float, pydantic.Field(gt=0.0)] = 0.01

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
    models: list[ModelConfig] = []
    for path in paths:
        models.extend(_load_file(path))
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


def _load_file(path: str) -> list[ModelConfig]:
    try:
        # Beam's filesystems: a config may live on gs:// (a Flex Template's does).
        with FileSystems.open(
            path, compression_type=CompressionTypes.UNCOMPRESSED
        ) as f:
            document = yaml.safe_load(f.read().decode("utf-8"))
    except (OSError, BeamIOError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e).splitlines()[0]
        raise errors.InputError(f"{path}: cannot read model config: {reason}") from e
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise errors.InputError(f"{path}: not valid YAML{line}") from e

    if isinstance(document, dict) and "models" in document:
        if set(document) != {"models"}:
            extra = sorted(set(document) - {"models"})
            raise errors.InputError(
                f"{path}: unknown top-level key '{extra[0]}' beside 'models'"
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
    field = ".".join(str(part) for part in first["loc"])
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
    return f"{location}: {first['msg']} (got {first.get('input')!r})"
