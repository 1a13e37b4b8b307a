"""classgate as a library: validate, read a report, open the gate, train.

The command line is a thin layer over these functions: they take Python values
(patterns, ModelConfig objects, Beam options as a list or a mapping) and raise
InputError naming the file, feature or field where the command would exit 2. A
failing verdict is not an error here: `validate` returns the Report either way, and
the gate (`open_gate`, and `train` behind it) raises GateClosed.
"""

import os
from collections.abc import Mapping, Sequence
from typing import Any

from classgate import config, errors
from classgate.report.model import Report

Data = str | Sequence[str] | Mapping[str, str | Sequence[str]]
ModelConfigs = str | os.PathLike | config.ModelConfig | Sequence[Any]
BeamOptions = Sequence[str] | Mapping[str, Any] | Any


def validate(
    data: Data,
    model_configs: ModelConfigs,
    output: str,
    *,
    labels_only: bool = False,
    data_format: str = "auto",
    baseline_schema: str | None = None,
    previous_report: str | None = None,
    strict: bool = False,
    beam_options: BeamOptions | None = None,
    classes_per_range: int | None = None,
    junit_xml: str | None = None,
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
        InputError: nothing could be validated (a file, feature or field is named).
    """
    from classgate import job, validation

    request = validation.request(
        _splits(data),
        models(model_configs),
        _text(output, "output"),
        data_format=data_format,
        class_range_width=classes_per_range,
        labels_only=labels_only,
        baseline_schema=baseline_schema,
        previous_report=previous_report,
        strict=strict,
        beam_args=tuple(job.beam_arguments(_flags(beam_options))),
        junit_xml=junit_xml,
    )
    return validation.run(request).report


def open_gate(
    report: str,
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
    from classgate import gate

    given = None if model_configs is None else models(model_configs)
    patterns = None if data is None else _splits(data)
    return gate.check(_report_path(report), given, patterns)


def train(
    report: str,
    output: str,
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
    from classgate import commands

    blessing = open_gate(report, model_configs, data)
    chosen = commands.trainable(blessing.models, model)
    return commands.train_blessed(
        blessing,
        chosen,
        _text(output, "output"),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
    )


def models(model_configs: ModelConfigs) -> tuple[config.ModelConfig, ...]:
    """ModelConfig objects as they are, YAML files read; names must be unique."""
    if isinstance(model_configs, str | os.PathLike | config.ModelConfig):
        model_configs = [model_configs]
    paths, objects = [], []
    for item in model_configs:
        if isinstance(item, config.ModelConfig):
            objects.append(item)
        elif isinstance(item, str | os.PathLike):
            paths.append(os.fspath(item))
        else:
            raise TypeError(
                f"model_configs: expected paths or ModelConfig, not {type(item)!r}"
            )
    read = config.load(list(dict.fromkeys(paths))) if paths else ()
    return config.checked((*read, *objects))


def _splits(data: Data) -> dict[str, list[str]]:
    if isinstance(data, str | os.PathLike):
        return {"train": [os.fspath(data)]}
    if isinstance(data, Mapping):
        return {
            name: [_text(p, f"data[{name!r}]") for p in _listed(globs)]
            for name, globs in data.items()
        }
    patterns = [_text(p, "data") for p in data]
    if not patterns:
        raise errors.InputError("no data given: pass a pattern or {split: pattern}")
    return {"train": patterns}


def _listed(globs) -> list:
    found = [globs] if isinstance(globs, str | os.PathLike) else list(globs)
    if not found:
        raise errors.InputError("a split without patterns: give each split a pattern")
    return found


def _text(value, what: str) -> str:
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{what}: expected a path, not {type(value)!r}")
    text = os.fspath(value)
    if not text:
        raise errors.InputError(f"{what}: an empty path")
    return text


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
        raise TypeError("beam_options: a list of flags, not one string")
    return [str(flag) for flag in beam_options]


def _report_path(report: str) -> str:
    from classgate import names, storage

    path = _text(report, "report")
    if not path.endswith(".json") and storage.exists(
        path.rstrip("/") + "/" + names.REPORT
    ):
        return path.rstrip("/") + "/" + names.REPORT
    return path
