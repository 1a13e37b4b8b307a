"""classgate as a library: validate, read a report, open the gate, train.

The command line is a thin layer over these functions: they take Python values
(patterns, ModelConfig objects, Beam options as a list or a mapping) and raise
InputError naming the file, feature or field where the command would exit 2. A
failing verdict is not an error here: `validate` returns the Report either way, and
the gate (`open_gate`, and `train` behind it) raises GateClosed.

Every argument is checked as the command line checks its flag, before anything is
read: a value the command would refuse is an InputError in the command's words
(the keyword named instead of the flag), never a worker's ValueError or a default
taken silently. Paths may be str or os.PathLike.

The libraries' chatter (Google's FutureWarnings, TensorFlow's start-up, Interactive
Beam's warnings inside IPython) is kept out of the caller's notebook cell for the
length of each call, as the command line keeps it off the terminal (classgate.quiet).
"""

import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from classgate import config, errors, quiet
from classgate.report.model import Report

AnyPath = str | os.PathLike
Data = AnyPath | Sequence[AnyPath] | Mapping[str, AnyPath | Sequence[AnyPath]]
ModelConfigs = AnyPath | config.ModelConfig | Sequence[Any]
BeamOptions = Sequence[str] | Mapping[str, Any] | Any

# Keyword arguments that are flags of the command line, and the reader (in config)
# that reads both from their text (see _as_the_cli_takes).
_READERS = {
    "data_format": config.data_format,
    "classes_per_range": config.positive_int,
    "epochs": config.positive_int,
    "batch_size": config.positive_int,
    "learning_rate": config.positive_float,
}


def _quietly(function):
    """`function`, the libraries' warnings filtered while it runs (quiet.library)."""

    @functools.wraps(function)
    def quietly(*args, **kwargs):
        with quiet.library():
            return function(*args, **kwargs)

    return quietly


@_quietly
def validate(
    data: Data,
    model_configs: ModelConfigs,
    output: AnyPath,
    *,
    labels_only: bool = False,
    data_format: str = "auto",
    baseline_schema: AnyPath | None = None,
    previous_report: AnyPath | None = None,
    strict: bool = False,
    beam_options: BeamOptions | None = None,
    classes_per_range: int | None = None,
    junit_xml: AnyPath | None = None,
) -> Report | None:
    """Validates the data against the model configs; returns the Report.

    Args:
        data: a file pattern or a list of them (the split "train"), or a mapping of
            split name to its pattern(s); local paths, gs:// or any Beam filesystem.
        model_configs: YAML files and/or ModelConfig objects, or one of them.
        output: the output folder (report.json, report.md, report.html, schema,
            statistics, anomalies).
        labels_only: read only the label (and context id) columns; no TFDV
            statistics.
        data_format: "auto", "tfrecord" or "parquet".
        baseline_schema: a TFDV schema (.pbtxt) to validate against as well.
        previous_report: earlier runs to compare with (see --previous-report).
        strict: warnings fail the verdict too.
        beam_options: Beam pipeline options, as flags (["--runner=DataflowRunner",
            ...]), a mapping ({"runner": "DataflowRunner"}) or a PipelineOptions.
        classes_per_range: classes per key range of the per-class counts.
        junit_xml: also write the verdict as JUnit XML here.

    Returns:
        The Report, whether the verdict is pass or fail (report.status); None for a
        dry run (`--dry_run` among the Beam options: the job was only translated).

    Raises:
        InputError: nothing could be validated (a file, feature, field or argument
            is named).
    """
    from classgate.run import job, validation
    from classgate.run import request as requests

    checked = {
        "data_format": _as_the_cli_takes("data_format", data_format, "auto"),
        "class_range_width": _as_the_cli_takes("classes_per_range", classes_per_range),
        "labels_only": _flag(labels_only, "labels_only"),
        "baseline_schema": _optional_path(baseline_schema, "baseline_schema"),
        "previous_report": _optional_path(previous_report, "previous_report"),
        "strict": _flag(strict, "strict"),
        "junit_xml": _optional_path(junit_xml, "junit_xml"),
    }
    output = _text(output, "output")
    patterns = _splits(data)
    beam_args = tuple(job.beam_arguments(_flags(beam_options)))
    request = requests.request(
        patterns, models(model_configs), output, beam_args=beam_args, **checked
    )
    return validation.run(request).report


@_quietly
def open_gate(
    report: AnyPath,
    model_configs: ModelConfigs | None = None,
    data: Data | None = None,
):
    """The blessing of a passing report that still matches the data on disk.

    Args:
        report: report.json, or the output folder that holds it.
        model_configs: when given, must be the configs the report validated.
        data: when given, must be the patterns the report validated.

    Returns:
        A Blessing: the report, the splits (files as they are now) and the models.

    Raises:
        GateClosed: the report failed, was edited, or the data or configs changed.
        InputError: the report cannot be read.
    """
    from classgate.gate import blessing

    given = None if model_configs is None else models(model_configs)
    patterns = None if data is None else _splits(data)
    return blessing.check(_report_path(report), given, patterns)


@_quietly
def train(
    report: AnyPath,
    output: AnyPath,
    *,
    model: str | None = None,
    model_configs: ModelConfigs | None = None,
    data: Data | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
) -> dict:
    """Trains the built-in NCE model behind the gate; returns metrics.json's content.

    The gate opens first (see `open_gate`); only then are an earlier training's
    outputs in `output` replaced. `model` names the model when the report has
    several; epochs, batch_size and learning_rate override the config's.

    Raises:
        GateClosed: nothing was trained.
        InputError: the report, the model or the files cannot be used.
        KeyboardInterrupt: after saving a checkpoint and the model.
    """
    from classgate.training import blessed

    settings = {
        name: _as_the_cli_takes(name, value)
        for name, value in (
            ("epochs", epochs),
            ("batch_size", batch_size),
            ("learning_rate", learning_rate),
        )
    }
    output = _text(output, "output")
    if model is not None and not isinstance(model, str):
        raise errors.InputError(f"model: a model's name, not {type(model).__name__}")
    opened = open_gate(report, model_configs, data)
    chosen = blessed.trainable(opened.models, model)
    return blessed.train(opened, chosen, output, **settings)


def models(model_configs: ModelConfigs) -> tuple[config.ModelConfig, ...]:
    """ModelConfig objects as they are, YAML files read; names must be unique.

    A mapping is refused rather than read as a list of its keys: its keys would be
    taken for file names (for a model's keys as a mapping, pass ModelConfig(**keys)).
    """
    if isinstance(model_configs, str | os.PathLike | config.ModelConfig):
        model_configs = [model_configs]
    wanted = "YAML paths or classgate.ModelConfig objects"
    if isinstance(model_configs, Mapping):
        raise errors.InputError(
            f"model_configs: a mapping; pass {wanted} (ModelConfig(**keys) for a "
            "model's keys)"
        )
    paths, objects = [], []
    for item in _items(model_configs, "model_configs", wanted):
        if isinstance(item, config.ModelConfig):
            objects.append(item)
        elif isinstance(item, str | os.PathLike):
            paths.append(_text(item, "model_configs"))
        else:
            raise errors.InputError(
                f"model_configs: expected {wanted}, not {type(item).__name__}"
            )
    read = config.load(list(dict.fromkeys(paths))) if paths else ()
    # An object's vocabulary and checkpoint are bound by digest as a file's are.
    return config.checked((*read, *(config.bind(o) for o in objects)))


def _splits(data: Data) -> dict[str, list[str]]:
    wanted = "a pattern, a list of them or {split: patterns}"
    if isinstance(data, str | os.PathLike):
        return {"train": [_text(data, "data")]}
    if isinstance(data, Mapping):
        splits = {}
        for name, globs in data.items():
            what = f"data[{str(name)[:60]!r}]"
            splits[name] = [_text(p, what) for p in _listed(globs, what)]
    else:
        splits = {"train": [_text(p, "data") for p in _items(data, "data", wanted)]}
    if not any(splits.values()):
        raise errors.InputError(f"no data given: pass {wanted}")
    return splits


def _listed(globs, what: str) -> list:
    if isinstance(globs, str | os.PathLike):
        return [globs]
    found = _items(globs, what, "a pattern or a list of them")
    if not found:
        raise errors.InputError(
            f"{what}: a split without patterns: give each split a pattern"
        )
    return found


def _items(value, what: str, wanted: str) -> list:
    """The items of a list-like argument; InputError for anything else."""
    if isinstance(value, Mapping | bytes | bytearray) or not isinstance(
        value, Iterable
    ):
        raise errors.InputError(
            f"{what}: expected {wanted}, not {type(value).__name__}"
        )
    return list(value)


def _text(value, what: str) -> str:
    if not isinstance(value, str | os.PathLike):
        raise errors.InputError(f"{what}: expected a path, not {type(value).__name__}")
    text = os.fspath(value)
    if not isinstance(text, str):  # a PathLike of bytes
        raise errors.InputError(f"{what}: expected a str path, not bytes")
    if not text:
        raise errors.InputError(f"{what}: an empty path")
    return text


def _optional_path(value, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _flag(value, what: str) -> bool:
    """A switch of the command line (--labels-only, --strict): True or False only.

    A string such as "no" is truthy; taking it for True would switch the mode on.
    """
    if not isinstance(value, bool):
        raise errors.InputError(
            f"{what}: expected True or False, not {type(value).__name__}"
        )
    return value


def _as_the_cli_takes(name: str, value, default=None):
    """`value` read as the command line reads its flag; `default` for None.

    The flag's reader (config.positive_int, ...) reads the value's text, as the
    flag's: the same check and the same words, the keyword named for the flag. So
    True is not 1, nor 2.5 a whole number.
    """
    if value is None:
        return default
    try:
        return _READERS[name](str(value))
    except ValueError as e:
        raise errors.InputError(f"{name}: {e}") from None


def _flags(beam_options: BeamOptions | None) -> list[str]:
    """Beam options as command-line flags."""
    if beam_options is None:
        return []
    if hasattr(beam_options, "get_all_options"):  # a PipelineOptions
        beam_options = beam_options.get_all_options(
            drop_default=True, retain_unknown_options=True
        )
    if isinstance(beam_options, Mapping):
        flags = []
        for name, value in beam_options.items():
            values = value if isinstance(value, list | tuple) else [value]
            for one in values:
                if one is True:
                    flags.append(f"--{name}")
                elif one is not False and one is not None:
                    flags.append(f"--{name}={one}")
        return flags
    if isinstance(beam_options, str):
        raise errors.InputError(
            "beam_options: a list of flags (or a mapping), not one string"
        )
    wanted = "a list of flags, a mapping or PipelineOptions"
    return [str(flag) for flag in _items(beam_options, "beam_options", wanted)]


def _report_path(report: AnyPath) -> str:
    from classgate import names
    from classgate.io import storage

    path = _text(report, "report")
    if not path.endswith(".json") and storage.exists(
        path.rstrip("/") + "/" + names.REPORT
    ):
        return path.rstrip("/") + "/" + names.REPORT
    return path
