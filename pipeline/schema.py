"""The one place that speaks TFDV and tensorflow_metadata protos.

The schema is inferred by TFDV from the training split's statistics, then each label
feature gets the domain its model promises: `int_domain {min: 0 max: num_classes-1
is_categorical: true}` and exactly num_true values per example. Every split is then
validated against that schema, and against a curated baseline schema when given.
"""

import collections
import contextlib
import dataclasses
import functools
import io
from collections.abc import Mapping, Sequence

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from classgate import errors
from classgate.checks.anomaly import Anomaly, Severity
from classgate.config import ModelConfig
from classgate.stats.label import LabelStats

INFERRED = "inferred"
BASELINE = "baseline"


@functools.cache
def _tfdv():
    """TFDV, imported on first use (it costs ~3 s), its IPython notice kept quiet."""
    with contextlib.redirect_stderr(io.StringIO()):
        import tensorflow_data_validation

    return tensorflow_data_validation


def generate_statistics():
    """TFDV's GenerateStatistics PTransform with default options."""
    return _tfdv().GenerateStatistics()


def label_statistics(
    split: str, by_feature: Mapping[str, LabelStats]
) -> statistics_pb2.DatasetFeatureStatisticsList:
    """TFDV statistics of the label features only, from the label accumulators.

    The labels-only path has no TFDV statistics of its own; these let the schema,
    the validation and Facets work the same way on it.
    """
    examples = max((s.examples for s in by_feature.values()), default=0)
    dataset = statistics_pb2.DatasetFeatureStatistics(name=split, num_examples=examples)
    for name, stats in sorted(by_feature.items()):
        feature = dataset.features.add()
        feature.path.step.append(name)
        common = statistics_pb2.CommonStatistics(
            num_non_missing=stats.examples - stats.missing,
            num_missing=stats.missing,
            tot_num_values=sum(k * n for k, n in stats.values_per_example.items()),
        )
        present = [k for k, n in stats.values_per_example.items() if n and k]
        if present:
            common.min_num_values, common.max_num_values = min(present), max(present)
        if common.num_non_missing:
            common.avg_num_values = common.tot_num_values / common.num_non_missing
        if stats.non_integer and not stats.integer_values:
            feature.type = statistics_pb2.FeatureNameStatistics.STRING
            feature.string_stats.common_stats.CopyFrom(common)
        else:
            feature.type = statistics_pb2.FeatureNameStatistics.INT
            feature.num_stats.common_stats.CopyFrom(common)
            if stats.min is not None:
                feature.num_stats.min, feature.num_stats.max = stats.min, stats.max
    return statistics_pb2.DatasetFeatureStatisticsList(datasets=[dataset])


def infer(
    training: statistics_pb2.DatasetFeatureStatisticsList,
    models: Sequence[ModelConfig],
) -> schema_pb2.Schema:
    """TFDV's inferred schema with each label feature's promised domain applied."""
    return _with_label_domains(_tfdv().infer_schema(training), models)


def label_schema(models: Sequence[ModelConfig]) -> schema_pb2.Schema:
    """The labels-only schema: just the label features, built without TFDV.

    The labels-only path never imports TensorFlow: this is the same schema that
    `infer` would give for the label features, minus presence inferred from data.
    """
    schema = _with_label_domains(schema_pb2.Schema(), models)
    for feature in schema.feature:
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
    return schema


def _with_label_domains(
    schema: schema_pb2.Schema, models: Sequence[ModelConfig]
) -> schema_pb2.Schema:
    by_feature = collections.defaultdict(list)
    for model in models:
        by_feature[model.label_feature].append(model)
    for name, sharing in by_feature.items():
        feature = _feature(schema, name)
        # Models sharing a label feature: the widest range any of them accepts.
        num_classes = max(m.num_classes for m in sharing)
        feature.type = schema_pb2.INT
        feature.ClearField("domain_info")
        feature.int_domain.CopyFrom(
            schema_pb2.IntDomain(min=0, max=num_classes - 1, is_categorical=True)
        )
        feature.ClearField("shape")
        feature.value_count.min = feature.value_count.max = sharing[0].num_true
    return schema


def load_baseline(path: str, only: Sequence[str] | None = None) -> schema_pb2.Schema:
    """Reads a curated schema; `only` keeps those features (the labels-only path)."""
    try:
        schema = _tfdv().load_schema_text(path)
    except Exception as e:  # file errors and text_format.ParseError alike
        first = errors.first_line(e)
        raise errors.InputError(f"{path}: not a readable TFDV schema: {first}") from e
    if only is not None:
        kept = [f for f in schema.feature if f.name in only]
        schema.ClearField("feature")
        schema.feature.extend(kept)
    return schema


def validate(
    statistics: statistics_pb2.DatasetFeatureStatisticsList, schema: schema_pb2.Schema
) -> anomalies_pb2.Anomalies:
    return _tfdv().validate_statistics(statistics, schema)


def as_anomalies(
    found: anomalies_pb2.Anomalies,
    split: str,
    source: str,
    models: Sequence[ModelConfig],
) -> list[Anomaly]:
    """TFDV's findings as `TFDV_<type>` anomalies, with the severity of `severity`."""
    result = []
    for name, info in _infos(found):
        owners = [m.name for m in models if m.label_feature == name]
        for reason in info.reason:
            code = anomalies_pb2.AnomalyInfo.Type.Name(reason.type)
            result.append(
                Anomaly(
                    code=f"TFDV_{code}",
                    severity=severity(info, source),
                    message=f"{reason.description} (against the {source} schema)",
                    model=owners[0] if len(owners) == 1 else None,
                    feature=name,
                    split=split,
                    details={"schema": source, "short": reason.short_description},
                )
            )
    return result


def severity(info: anomalies_pb2.AnomalyInfo, source: str) -> Severity:
    """What a TFDV finding weighs in the report, and so in every file that holds it.

    Against the inferred schema they are warnings: new string values in eval are
    worth showing but are not a class-count failure. Against a curated baseline,
    TFDV's own severity stands.
    """
    if source == INFERRED or info.severity == anomalies_pb2.AnomalyInfo.WARNING:
        return Severity.WARNING
    return Severity.ERROR


# The report's severities as AnomalyInfo's: anomalies.pbtxt and SchemaDiff.pb say
# what report.json says, not what TFDV said before classgate weighed it.
_PROTO_SEVERITY = {
    Severity.WARNING: anomalies_pb2.AnomalyInfo.WARNING,
    Severity.ERROR: anomalies_pb2.AnomalyInfo.ERROR,
}


@dataclasses.dataclass(frozen=True)
class Findings:
    """TFDV's findings of a run, merged and split by split.

    `merged` is anomalies.pbtxt; `of_split` each split's SchemaDiff.pb (TFX's
    ExampleAnomalies layout).
    """

    merged: anomalies_pb2.Anomalies
    by_split: Mapping[str, anomalies_pb2.Anomalies]

    def of_split(self, split: str) -> anomalies_pb2.Anomalies:
        """The split's Anomalies; an empty one when nothing was found in it."""
        return self.by_split.get(split) or _empty_anomalies()


def merge_anomalies(
    found: Sequence[tuple[str, str, anomalies_pb2.Anomalies]],
) -> Findings:
    """Every (split, schema source, Anomalies) merged, and merged per split.

    Reasons say split and schema; a feature's severity is the worst severity that
    the report gives its findings (`severity`), never TFDV's raw one.
    """
    by_split = {}
    for split in dict.fromkeys(split for split, _, _ in found):
        mine = [entry for entry in found if entry[0] == split]
        by_split[split] = _merged(mine)
        by_split[split].baseline.CopyFrom(mine[0][2].baseline)
    return Findings(_merged(found), by_split)


def _merged(found) -> anomalies_pb2.Anomalies:
    merged = _empty_anomalies()
    for split, source, anomalies in found:
        for name, info in _infos(anomalies):
            if not info.reason:  # as_anomalies reports nothing for it either
                continue
            target = (
                merged.dataset_anomaly_info
                if name is None
                else merged.anomaly_info[name]
            )
            if not target.reason:
                target.CopyFrom(info)
                target.ClearField("reason")
                target.ClearField("severity")
                target.description = ""
            target.severity = max(
                target.severity, _PROTO_SEVERITY[severity(info, source)]
            )
            for reason in info.reason:
                copy = target.reason.add()
                copy.CopyFrom(reason)
                copy.description = (
                    f"[split {split}, {source} schema] {reason.description}"
                )
            target.description = " ".join(r.description for r in target.reason)
        if anomalies.HasField("data_missing"):
            merged.data_missing = merged.data_missing or anomalies.data_missing
    return merged


def _empty_anomalies() -> anomalies_pb2.Anomalies:
    return anomalies_pb2.Anomalies(
        anomaly_name_format=anomalies_pb2.Anomalies.SERIALIZED_PATH
    )


def _infos(found: anomalies_pb2.Anomalies):
    """(feature name, AnomalyInfo) in name order; None names the dataset's."""
    infos = sorted(found.anomaly_info.items())
    if found.HasField("dataset_anomaly_info"):
        infos.append((None, found.dataset_anomaly_info))
    return infos


def to_text(message) -> str:
    return text_format.MessageToString(message)


def _feature(schema: schema_pb2.Schema, name: str) -> schema_pb2.Feature:
    for feature in schema.feature:
        if feature.name == name:
            return feature
    feature = schema.feature.add()
    feature.name = name
    return feature
