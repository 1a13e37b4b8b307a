"""Model configs: what the trainer will be told, loaded and validated once at the edge.

A YAML file holds one model as top-level keys, or `models:` with a list of them.
Every key is a field of `ModelConfig`; adding a key is adding one field. Unknown keys
are errors, so a typo (`num_clases`) cannot silently fall back to a default.

The trainer's own YAML or JSON may carry classgate's config in a `classgate:`
section: only that section is read, every other key of the file is the trainer's.
Any value may be read from the trainer's own files instead of copied: `{from: PATH,
key: KEY}` (classgate.model_files.sources), or a list of such references that must
agree. Relative paths in a config (`from`, `vocabulary_file`, `checkpoint`) resolve
from the folder of the file they appear in, whatever the working directory. Every
file read for a model (trainer configs, vocabulary, checkpoint index) is bound by
its digest (`files`), and each value read records its source (`sources`): the
config fingerprint covers both, so editing a referenced file closes the gate.

Reading is bounded: a config file is at most MAX_BYTES, YAML aliases may expand to at
most MAX_VALUES values (a "billion laughs" file is refused, not expanded), and a
value echoed in an error message is cut short.

Reading has no surprises: YAML keeps the last of two equal keys and reads `010` as 8
and `1:30` as 90 (YAML 1.1), silently. Here a key given twice in one mapping, and a
number that is not plain decimal (010, 0x1f, 0o17, 0b101, 1:30, 1:30.5), are errors
naming the file, the line and the key.
"""

import datetime
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
# The losses whose negatives are sampled: num_sampled, the sampler and accidental
# hits mean something only to them.
SAMPLED_LOSSES = ("nce", "sampled_softmax")
# Unseen classes are rows sampled as negatives that no example trains (a sampled
# loss: an ERROR past 10%); with a full softmax every row is pushed down by every
# example and only costs compute (a WARNING, unless the config sets a fraction).
DEFAULT_MAX_UNSEEN = {"nce": 0.1, "sampled_softmax": 0.1}
# PyTorch's CrossEntropyLoss ignores targets of -100 unless told otherwise.
TORCH_IGNORE_INDEX = -100
# Keys classgate computes when it reads a config; a file may not set them.
COMPUTED = ("sources", "files")


class CheckControl(pydantic.BaseModel):
    """A check's severity overridden, or its findings waived with a reason.

    `waive` is the reason (mandatory: a waiver nobody can explain is a hole);
    `until` the last day the waiver holds, after which the check counts again.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    severity: Literal["ERROR", "WARNING"] | None = None
    waive: Annotated[str, pydantic.Field(min_length=1, max_length=500)] | None = None
    until: datetime.date | None = None

    @pydantic.model_validator(mode="after")
    def _meaningful(self):
        if self.severity is None and self.waive is None:
            raise ValueError("set severity (ERROR or WARNING) or waive (a reason)")
        if self.until is not None and self.waive is None:
            raise ValueError("until is the end of a waiver: it needs waive (a reason)")
        return self


class Source(pydantic.BaseModel):
    """Where a config value was read: a file, a key in it, and what it held."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    file: str
    key: str
    value: int | float | str | bool | None
    line: int | None = None  # of the reference in the config that named it


class ModelConfig(pydantic.BaseModel):
    """One classifier head and what its data must satisfy.

    NCE, sampled softmax, a full softmax, or PyTorch's cross-entropy.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: str = pydantic.Field(
        description="The model's name: 1 to 100 letters, digits, `.`, `_` or `-`, "
        "starting with a letter or digit; it names output files "
        "(`unigram-<name>.txt`)."
    )
    label_feature: Feature = pydantic.Field(
        description="The feature that holds the labels: a tf.Example feature, a "
        "Parquet column, or a Parquet struct field by its `parent.field` path."
    )
    num_classes: PositiveInt = pydantic.Field(
        description="What the trainer passes to tf.nn.nce_loss or "
        "tf.nn.sampled_softmax_loss: every label must be an id in [0, num_classes)."
    )
    num_true: PositiveInt = pydantic.Field(
        1, description="Labels per example: every example must have exactly this many."
    )
    # Checked, not rejected, when out of range: NUM_SAMPLED_INVALID explains it.
    # None for a loss that samples nothing (softmax, torch_cross_entropy).
    num_sampled: Annotated[
        int | None,
        pydantic.Field(
            strict=True,
            ge=-INT64_MAX,
            le=INT64_MAX,
            description="Negative classes sampled per batch. Default: 64, capped at "
            "num_classes - 1. A value the sampler cannot take is reported "
            "(NUM_SAMPLED_INVALID), not refused.",
        ),
    ]
    sampler: Literal["log_uniform", "uniform", "unigram"] = pydantic.Field(
        "log_uniform",
        description="The candidate sampler; log_uniform assumes ids sorted by "
        "falling frequency (SAMPLER_FREQUENCY_ORDER checks that they are).",
    )
    unique: bool = pydantic.Field(
        True,
        description="The sampler draws without replacement: num_sampled must be "
        "below num_classes.",
    )
    loss: Literal["nce", "sampled_softmax", "softmax", "torch_cross_entropy"] = (
        pydantic.Field(
            "nce",
            description="The classifier head: tf.nn.nce_loss (nce), "
            "tf.nn.sampled_softmax_loss (sampled_softmax), a full softmax "
            "(softmax: sparse_softmax_cross_entropy_with_logits, Keras "
            "SparseCategoricalCrossentropy) or PyTorch's CrossEntropyLoss "
            "(torch_cross_entropy). The sampler's keys apply to the sampled ones.",
        )
    )
    ignore_index: Annotated[
        int | None,
        pydantic.Field(
            strict=True,
            ge=-INT64_MAX,
            le=INT64_MAX,
            description="Labels equal to this are ignored by the loss, not out of "
            "range (PyTorch's ignore_index, Keras' ignore_class). Default: -100 for "
            "torch_cross_entropy, as PyTorch; none otherwise.",
        ),
    ] = None
    remove_accidental_hits: bool = pydantic.Field(
        description="Sampled classes equal to a true label are removed. Default: "
        "false for nce, true for sampled_softmax, as TensorFlow's losses default."
    )
    max_unseen_fraction: Fraction = pydantic.Field(
        description="CLASSES_UNSEEN is an ERROR when more than this share of the "
        "classes never occurs in the training split, else a WARNING. Default: 0.1 "
        "for the sampled losses (unseen rows are sampled as negatives), 1.0 for a "
        "full softmax (unseen rows only cost compute: a WARNING).",
    )
    # String labels: line i of the file is class i; unknown strings hash into
    # num_oov_buckets extra ids, as tf.lookup.StaticVocabularyTable does.
    vocabulary_file: str | None = pydantic.Field(
        None,
        description="String labels: line i of this file is class i, read as "
        "TensorFlow's TextFileInitializer reads it.",
    )
    num_oov_buckets: Annotated[int, pydantic.Field(strict=True, ge=0, le=INT64_MAX)] = (
        pydantic.Field(
            0,
            description="Extra ids that strings absent from vocabulary_file hash "
            "into (Fingerprint64, as tf.lookup.StaticVocabularyTable does).",
        )
    )
    # A TF checkpoint prefix or SavedModel folder whose output layer must fit.
    checkpoint: str | None = pydantic.Field(
        None,
        description="A TF checkpoint prefix or SavedModel folder whose output layer "
        "must have num_classes rows; needs weights_variable.",
    )
    weights_variable: str | None = pydantic.Field(
        None,
        description="The checkpoint's output weights: an exact variable name, or a "
        "substring that matches one variable.",
    )
    biases_variable: str | None = pydantic.Field(
        None,
        description="The checkpoint's output biases, named as weights_variable is: "
        "their length must be num_classes.",
    )
    # The built-in trainer's input: int ids embedded in a context_vocab_size table.
    context_feature: Feature | None = pydantic.Field(
        None,
        description="The trainer's input ids (the ID_* checks); goes with "
        "context_vocab_size.",
    )
    context_vocab_size: PositiveInt | None = pydantic.Field(
        None,
        description="Rows of the trainer's embedding table: context_feature ids "
        "must lie in [0, context_vocab_size).",
    )
    embedding_dim: PositiveInt = pydantic.Field(
        64, description="The built-in trainer's embedding width."
    )
    # Drift against --previous-report: LABEL_DRIFT warns when the class frequencies'
    # Jensen-Shannon divergence (bits) or L-infinity distance reaches these, and is
    # an ERROR at the error thresholds when set. Two samples of 20k labels of one
    # distribution over 1,000 classes stay well below 0.05 (tests/checks/test_drift).
    drift_js_divergence: Fraction = pydantic.Field(
        0.05,
        description="LABEL_DRIFT warns from this Jensen-Shannon divergence (bits) "
        "of the class frequencies against the previous run.",
    )
    drift_linf: Fraction = pydantic.Field(
        0.05,
        description="LABEL_DRIFT warns from this L-infinity distance of the class "
        "frequencies against the previous run.",
    )
    drift_error_js_divergence: Fraction | None = pydantic.Field(
        None,
        description="LABEL_DRIFT is an ERROR from this Jensen-Shannon divergence "
        "(bits); null: never.",
    )
    drift_error_linf: Fraction | None = pydantic.Field(
        None,
        description="LABEL_DRIFT is an ERROR from this L-infinity distance; null: "
        "never.",
    )
    # NUM_CLASSES_HEADROOM warns when, at the pace of the run history, labels would
    # outgrow num_classes within this many days.
    headroom_days: Annotated[float, pydantic.Field(gt=0.0, le=36_500.0)] = (
        pydantic.Field(
            30.0,
            description="NUM_CLASSES_HEADROOM warns when, at the pace of the run "
            "history, labels would outgrow num_classes within this many days.",
        )
    )
    # Training defaults; `classgate train` flags override them.
    epochs: PositiveInt = pydantic.Field(
        5, description="The built-in trainer's epochs; `train --epochs` overrides."
    )
    batch_size: PositiveInt = pydantic.Field(
        256,
        description="The built-in trainer's batch size; `train --batch-size` "
        "overrides.",
    )
    learning_rate: Annotated[float, pydantic.Field(gt=0.0, allow_inf_nan=False)] = (
        pydantic.Field(
            0.01,
            description="The built-in trainer's learning rate; `train "
            "--learning-rate` overrides.",
        )
    )

    # Per-check control, by code: severity overridden, or findings waived.
    checks: dict[str, CheckControl] = pydantic.Field(
        default_factory=dict,
        description="Per check code: `{severity: ERROR|WARNING}` overrides its "
        "severity for this model; `{waive: REASON, until: DATE}` waives its findings "
        "(listed in every report, never failing the gate) until the date. E.g. "
        "`checks: {SAMPLER_FREQUENCY_ORDER: {waive: 'hashed ids', until: "
        "2027-03-31}}`.",
    )
    # Computed when a config file is read: each value read from another file, and
    # the digest of every file read for this model. Part of the config fingerprint.
    sources: dict[str, list[Source]] = pydantic.Field(
        default_factory=dict,
        description="Computed: where each value read from another file came from.",
    )
    files: dict[str, str] = pydantic.Field(
        default_factory=dict,
        description="Computed: every file read for this model, with its digest.",
    )

    @property
    def sampled(self) -> bool:
        """Whether the loss samples negatives (nce, sampled_softmax)."""
        return self.loss in SAMPLED_LOSSES

    @pydantic.field_validator("checks")
    @classmethod
    def _known_codes(cls, checks: dict) -> dict:
        from classgate.codes import MUST_HOLD, TFDV_PREFIX, Code

        for code in checks:
            if code not in Code.__members__ and not code.startswith(TFDV_PREFIX):
                close = difflib.get_close_matches(code, list(Code.__members__), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ValueError(f"{code[:60]!r} is no check's code{hint}")
            control = checks[code]
            if code in MUST_HOLD and (control.waive or control.severity == "WARNING"):
                raise ValueError(
                    f"{code} cannot be waived or made a WARNING: its findings mean "
                    "training breaks (fix the data or the config instead)"
                )
        return checks

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
        if self.sampled and self.num_sampled is None:
            raise ValueError(f"loss {self.loss} samples: num_sampled is needed")
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
        loss = data.get("loss", "nce")
        if not isinstance(loss, str):  # a list or a mapping: the loss field says so
            loss = None
        sampled = loss in SAMPLED_LOSSES
        if "num_sampled" not in data and isinstance(num_classes, int) and sampled:
            data["num_sampled"] = min(DEFAULT_NUM_SAMPLED, num_classes - 1)
        data.setdefault("num_sampled", None)
        if "remove_accidental_hits" not in data:
            # tf.nn.nce_loss defaults to False, tf.nn.sampled_softmax_loss to True.
            data["remove_accidental_hits"] = loss == "sampled_softmax"
        if "max_unseen_fraction" not in data:
            data["max_unseen_fraction"] = DEFAULT_MAX_UNSEEN.get(loss, 1.0)
        if "ignore_index" not in data and loss == "torch_cross_entropy":
            data["ignore_index"] = TORCH_IGNORE_INDEX
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
    return tuple(bind(model) for model in parse(documents))


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
    text = json.dumps([m.model_dump(mode="json") for m in models], sort_keys=True)
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

    section = ""
    if isinstance(document, dict) and SECTION in document:
        # The trainer's own file: classgate's config is this section alone.
        document, section = document[SECTION], SECTION
        if not isinstance(document, dict):
            raise errors.InputError(f"{path}: '{SECTION}' must be a mapping")
    if isinstance(document, dict) and "models" in document:
        if set(document) != {"models"}:
            extra = sorted(map(str, set(document) - {"models"}))
            raise errors.InputError(
                f"{path}: unknown top-level key {_ECHO.repr(extra[0])} beside 'models'"
                + (
                    ""
                    if section
                    else f" (a trainer's file: put classgate's keys in "
                    f"a '{SECTION}:' section)"
                )
            )
        entries, prefix = document["models"], _joined(section, "models")
        if not isinstance(entries, list) or not entries:
            raise errors.InputError(f"{path}: 'models' must be a non-empty list")
    elif isinstance(document, dict):
        entries, prefix = [document], section
    else:
        raise errors.InputError(
            f"{path}: expected a mapping of model keys, 'models:' or '{SECTION}:'"
        )

    models = []
    for index, entry in enumerate(entries):
        where = f"{prefix}[{index}]" if prefix.endswith("models") else prefix
        if not isinstance(entry, dict):
            raise errors.InputError(f"{path}: {where or 'model'}: expected a mapping")
        computed = sorted(set(map(str, entry)) & set(COMPUTED))
        if computed:
            raise errors.InputError(
                f"{path}: {_joined(where, computed[0])}: classgate computes this "
                "key when it reads a config; remove it"
            )
        fields, sources, files = _read_references(entry, path, where)
        try:
            model = ModelConfig.model_validate({**fields, "sources": sources})
        except pydantic.ValidationError as e:
            raise errors.InputError(f"{path}: {_describe(e, where)}") from e
        models.append(model.model_copy(update={"files": files}))
    return models


# A trainer's own YAML or JSON file holds classgate's config in this section.
SECTION = "classgate"
# Keys whose values are paths, resolved from the folder of the config that names
# them (as Hydra, Compose and Kustomize resolve theirs).
_PATHS = ("vocabulary_file", "checkpoint")


def _joined(*parts: str) -> str:
    return ".".join(part for part in parts if part)


def _read_references(entry: dict, path: str, where: str):
    """The entry with every `{from, key}` read, its paths resolved; and what was read.

    Returns (fields, sources by field, files read with their digests). A value
    given as a list of references takes the first; the others are kept in its
    sources, where checks.artifacts holds them to agree.
    """
    from classgate.model_files import sources as readers

    base = _folder(path)
    fields, found_sources, files = {}, {}, {}
    for key, value in entry.items():
        references = value if isinstance(value, list) else [value]
        if not references or not all(readers.is_reference(r) for r in references):
            if isinstance(value, list) and any(map(readers.is_reference, value)):
                raise errors.InputError(
                    f"{path}: {_joined(where, str(key))}: a list of references "
                    "holds something else too"
                )
            fields[key] = value
            continue
        read = []
        for reference in references:
            line = getattr(reference, "line", None)
            at = f"{path}: line {line}: " if line else f"{path}: "
            found = readers.read(dict(reference), base, at + _joined(where, str(key)))
            files.update(found.digests)
            value_read = found.value
            if not isinstance(value_read, int | float | str | bool) and (
                value_read is not None
            ):
                raise errors.InputError(
                    f"{at}{_joined(where, str(key))}: {reference['from']} holds a "
                    f"{type(value_read).__name__} at {reference['key']!r}, not a "
                    "value (len(KEY) counts entries)"
                )
            source = readers.resolve_path(reference["from"], base)
            read.append(
                Source(
                    file=source, key=str(reference["key"]), value=value_read, line=line
                )
            )
        fields[key] = read[0].value
        found_sources[str(key)] = read
    for key in _PATHS:
        if isinstance(fields.get(key), str) and fields[key]:
            fields[key] = readers.resolve_path(fields[key], base)
    return fields, found_sources, files


def bind(model: ModelConfig) -> ModelConfig:
    """`model` with the digest of every file it is checked with in `files`.

    Beside the files its values were read from: its vocabulary and its
    checkpoint's index. A change to any of them changes the config fingerprint,
    so a later gate sees it.
    """
    from classgate.model_files import sources as readers

    where = f"model '{model.name}'"
    files = {}
    if model.vocabulary_file:
        data = readers.read_bytes(
            model.vocabulary_file, f"{where}: vocabulary_file", 2 << 30
        )
        files[model.vocabulary_file] = readers.digest(data)
    if model.checkpoint:
        from classgate.model_files import checkpoint

        index = checkpoint.prefix(model.checkpoint) + ".index"
        data = readers.read_bytes(index, f"{where}: checkpoint", 1 << 30)
        files[index] = readers.digest(data)
    if files == model.files:
        return model
    return model.model_copy(update={"files": {**model.files, **files}})


def _folder(path: str) -> str:
    """The folder a config file lies in: where its relative paths start."""
    import os
    import posixpath

    from classgate.io import storage

    if storage.is_remote(path):
        return posixpath.dirname(path)
    return os.path.dirname(os.path.abspath(path))


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


class _Located(dict):
    """A mapping that knows its line: where a `{from, key}` reference is written."""

    line: int | None = None


def _construct_located_map(loader, node):
    data = _Located()
    data.line = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_located_map)
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
        section = _section(node)
        if section is not None:  # a trainer's file: its own keys are its own
            _refuse_surprises(loader, section)
            return {SECTION: loader.construct_document(section)}
        _refuse_surprises(loader, node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _section(node):
    """The value node of a top-level `classgate:` key, or None."""
    if not isinstance(node, yaml.MappingNode):
        return None
    found = [
        value
        for key, value in node.value
        if isinstance(key, yaml.ScalarNode) and key.value == SECTION
    ]
    if len(found) > 1:
        raise ValueError(f"key {SECTION} is given twice")
    return found[0] if found else None


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
