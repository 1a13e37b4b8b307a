"""The one place that speaks TFDV and tensorflow_metadata protos.

The schema is inferred by TFDV from the training split's statistics, then each label
feature is typed as the data stores it and gets the domain its model promises in that
type: ids in [0, num_classes) as `int_domain` (ints) or `float_domain` (whole-number
floats), vocabulary strings as bytes, and exactly num_true values per example. Every
split is then validated against that schema, and against a curated baseline schema
when given: correct data of any label type the gate accepts draws no TFDV finding.
"""

import collections
import contextlib
import dataclasses
import functools
import io
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from classgate import errors
from classgate.checks.anomaly import TFDV_PREFIX, Anomaly, Severity
from classgate.config import ModelConfig
from classgate.model_files import vocabulary
from classgate.stats.label import LabelStats

INFERRED = "inferred"
BASELINE = "baseline"

_STATS = statistics_pb2.FeatureNameStatistics
# The statistics type of each Arrow type a label can have, as full mode's TFDV
# statistics give it: classgate.io.arrow.for_tfdv hands TFDV booleans and times as
# int64, half floats and decimals as floats, and every text or binary type as bytes.
# Names are Arrow's (str(pa.DataType)); a parameterised type matches by its prefix.
_STATS_TYPE_OF_ARROW = {
    _STATS.INT: (
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "bool", "date32", "date64", "timestamp[", "time32[", "time64[", "duration[",
    ),
    _STATS.FLOAT: ("halffloat", "float", "double", "decimal128(", "decimal256("),
    _STATS.STRING: (
        "string", "large_string", "binary", "large_binary", "fixed_size_binary[",
    ),
}  # fmt: skip
# The schema type that statistics of each type validate against without a finding.
_SCHEMA_TYPE = {
    _STATS.INT: schema_pb2.INT,
    _STATS.FLOAT: schema_pb2.FLOAT,
    _STATS.STRING: schema_pb2.BYTES,
    _STATS.BYTES: schema_pb2.BYTES,
}
# A label's string_domain holds at most this many vocabulary lines: the limit of
# TFDV's own infer_schema (max_string_domain_size), past which it infers none either.
MAX_STRING_DOMAIN = 100


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
        kind = stats_type(stats.value_types)
        if kind is None:  # no values, or only of types full mode leaves out
            no_ids = stats.non_integer and not stats.integer_values
            kind = _STATS.STRING if no_ids else _STATS.INT
        feature.type = kind
        if kind == _STATS.STRING:
            feature.string_stats.common_stats.CopyFrom(common)
        else:
            feature.num_stats.common_stats.CopyFrom(common)
            if stats.min is not None:
                feature.num_stats.min, feature.num_stats.max = stats.min, stats.max
    return statistics_pb2.DatasetFeatureStatisticsList(datasets=[dataset])


def stats_type(value_types: Iterable[str]) -> int | None:
    """The TFDV statistics type of a label with these Arrow value types.

    What full mode's statistics would say of the same column, so that one schema
    validates both modes alike. Types of a label that changed type between files
    resolve to the widest: bytes, then float, then int. None when no type is one
    TFDV's statistics take (structs, maps, nested lists), or there are none.
    """
    found = set()
    for name in value_types:
        # Dictionary-encoded values are typed by their values, as for_tfdv decodes.
        if name.startswith("dictionary<values="):
            name = name.removeprefix("dictionary<values=").split(",")[0]
        for kind, names in _STATS_TYPE_OF_ARROW.items():
            if name in names or any(
                name.startswith(n) for n in names if n.endswith(("[", "("))
            ):
                found.add(kind)
    for kind in (_STATS.STRING, _STATS.FLOAT, _STATS.INT):
        if kind in found:
            return kind
    return None


def infer(
    training: statistics_pb2.DatasetFeatureStatisticsList,
    models: Sequence[ModelConfig],
) -> schema_pb2.Schema:
    """TFDV's inferred schema with each label feature's promised domain applied."""
    return _with_label_domains(_tfdv().infer_schema(training), models, training)


def label_schema(
    training: statistics_pb2.DatasetFeatureStatisticsList,
    models: Sequence[ModelConfig],
) -> schema_pb2.Schema:
    """The labels-only schema: just the label features, built without TFDV.

    The labels-only path never imports TensorFlow: this is the same schema that
    `infer` would give for the label features, minus presence inferred from data.
    `training` is the training split's `label_statistics`.
    """
    schema = _with_label_domains(schema_pb2.Schema(), models, training)
    for feature in schema.feature:
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
    return schema


def _with_label_domains(
    schema: schema_pb2.Schema,
    models: Sequence[ModelConfig],
    training: statistics_pb2.DatasetFeatureStatisticsList,
) -> schema_pb2.Schema:
    stored = _stored_types(training)
    by_feature = collections.defaultdict(list)
    for model in models:
        by_feature[model.label_feature].append(model)
    for name, sharing in by_feature.items():
        feature = _feature(schema, name)
        feature.type = label_type(stored.get(name), sharing)
        _clear_domain(schema, feature)
        # Models sharing a label feature: the widest range any of them accepts.
        num_classes = max(m.num_classes for m in sharing)
        if feature.type == schema_pb2.INT:
            feature.int_domain.CopyFrom(
                schema_pb2.IntDomain(min=0, max=num_classes - 1, is_categorical=True)
            )
        elif feature.type == schema_pb2.FLOAT:
            feature.float_domain.CopyFrom(_float_ids(num_classes))
        else:
            words = _string_domain(sharing)
            if words is not None:
                feature.string_domain.value.extend(words)
        feature.ClearField("shape")
        feature.value_count.min = feature.value_count.max = sharing[0].num_true
    return schema


def label_type(stored: int | None, sharing: Sequence[ModelConfig]) -> int:
    """The schema type of a label feature: the stored one, where a model takes it.

    A model with a vocabulary takes bytes; one without takes ints and floats that
    hold whole numbers. `stored` is the statistics type of the training split (None
    when it has no such feature). Data of a type no sharing model takes keeps the
    first model's promise (bytes or int), so TFDV's type finding joins classgate's
    LABEL_TYPE_INVALID instead of hiding behind it.
    """
    taken = set()
    for model in sharing:
        if model.vocabulary_file:
            taken.add(schema_pb2.BYTES)
        else:
            taken |= {schema_pb2.INT, schema_pb2.FLOAT}
    as_stored = _SCHEMA_TYPE.get(stored)
    if as_stored in taken:
        return as_stored
    return schema_pb2.BYTES if sharing[0].vocabulary_file else schema_pb2.INT


def _float_ids(num_classes: int) -> schema_pb2.FloatDomain:
    """Ids in [0, num_classes) as whole-number floats: the float_domain they take.

    FloatDomain's bounds are float32: the largest id is rounded up, never down, so a
    correct id past 2**24 stays inside (LABEL_ABOVE_RANGE judges the ids exactly).
    NaN and infinity are never ids.
    """
    top = np.float32(num_classes - 1)
    if float(top) < num_classes - 1:
        top = np.nextafter(top, np.float32(np.inf))
    return schema_pb2.FloatDomain(
        min=0.0, max=float(top), disallow_nan=True, disallow_inf=True
    )


def _string_domain(sharing: Sequence[ModelConfig]) -> list[str] | None:
    """The vocabulary lines as a string_domain, or None where none fits.

    The vocabulary is the exact set of strings the models take, as int_domain is
    the set of ids: TFDV then flags a string no model knows, as TFDV's own
    infer_schema would flag one the training split lacked, and an eval split's
    word that is in the vocabulary but not in training passes. There is none when
    OOV buckets take any string (every string is then a label), when a line is not
    UTF-8 (TFDV's statistics show such values as __BYTES_VALUE__, and a domain
    holds text), or past MAX_STRING_DOMAIN lines, where TFDV infers none either.
    The lines were read on the driver before the scan (vocabulary.load caches them).
    """
    if any(not m.vocabulary_file or m.num_oov_buckets for m in sharing):
        return None
    lines = dict.fromkeys(
        line for m in sharing for line in vocabulary.load(m.vocabulary_file)
    )
    if len(lines) > MAX_STRING_DOMAIN:
        return None
    try:
        return [line.decode("utf-8") for line in lines]
    except UnicodeDecodeError:
        return None


def _stored_types(
    training: statistics_pb2.DatasetFeatureStatisticsList,
) -> dict[str, int]:
    """Feature name -> its statistics type in the training split."""
    if not training.datasets:
        return {}
    stored = {}
    for feature in training.datasets[0].features:
        name = ".".join(feature.path.step) if feature.path.step else feature.name
        stored[name] = feature.type
    return stored


def _clear_domain(schema: schema_pb2.Schema, feature: schema_pb2.Feature) -> None:
    """Drops the feature's domain, and the schema-level domain only it referred to."""
    named = feature.domain if feature.WhichOneof("domain_info") == "domain" else None
    feature.ClearField("domain_info")
    if named is None or any(f.domain == named for f in schema.feature):
        return
    kept = [d for d in schema.string_domain if d.name != named]
    del schema.string_domain[:]
    schema.string_domain.extend(kept)


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
    """TFDV's findings as `TFDV_<type>` anomalies, with the severity of `severity`.

    A finding names its feature as the config does: TFDV's key quotes a name with a
    dot in it (`'meta.label'`, a struct field), its path does not.
    """
    result = []
    for key, info in _infos(found):
        name = ".".join(info.path.step) if info.path.step else key
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
    ours: Sequence[Anomaly] = (),
    splits: Sequence[str] = (),
) -> Findings:
    """Every (split, schema source, Anomalies) merged, and merged per split.

    Reasons say split and schema; a feature's severity is the worst severity that
    the report gives its findings (`severity`), never TFDV's raw one. classgate's
    own findings (`ours`, not TFDV_*) join them as CUSTOM_VALIDATION reasons at
    their severity, on their feature (or the dataset), so a TFX or TFDV reader of
    anomalies.pbtxt or a SchemaDiff.pb sees the error that closed the gate; a
    finding of no split is in every split's. A waived finding stays, as a WARNING.
    """
    ours = [a for a in ours if not a.code.startswith(TFDV_PREFIX)]
    names = dict.fromkeys([*splits, *(split for split, _, _ in found)])
    names.update(dict.fromkeys(a.split for a in ours if a.split is not None))
    by_split = {}
    for split in names:
        mine = [entry for entry in found if entry[0] == split]
        by_split[split] = _merged(mine)
        if mine:
            by_split[split].baseline.CopyFrom(mine[0][2].baseline)
        _add_ours(by_split[split], [a for a in ours if a.split in (split, None)])
    merged = _merged(found)
    _add_ours(merged, ours)
    return Findings(merged, by_split)


def _add_ours(target: anomalies_pb2.Anomalies, ours: Sequence[Anomaly]) -> None:
    """The findings of classgate as CUSTOM_VALIDATION reasons, at their severity."""
    for anomaly in ours:
        info = (
            target.dataset_anomaly_info
            if anomaly.feature is None
            else target.anomaly_info[anomaly.feature]
        )
        weight = Severity.WARNING if anomaly.waived else anomaly.severity
        info.severity = max(info.severity, _PROTO_SEVERITY[weight])
        reason = info.reason.add()
        reason.type = anomalies_pb2.AnomalyInfo.CUSTOM_VALIDATION
        reason.short_description = anomaly.code
        where = ", ".join(
            f"{k} {v}"
            for k, v in (("split", anomaly.split), ("model", anomaly.model))
            if v
        )
        waived = f" (waived: {anomaly.waived['reason']})" if anomaly.waived else ""
        reason.description = f"[{where or 'config'}] {anomaly.message}{waived}"
        info.description = " ".join(r.description for r in info.reason)


# TFDV's anomaly types that restate a classgate finding on the same feature and
# split: the label's domain, value count, presence and type, which the schema has
# from the model config. Folded into the classgate finding, not listed twice.
RESTATES = {
    "LABEL_ABOVE_RANGE": {"INT_TYPE_BIG_INT", "FLOAT_TYPE_BIG_FLOAT"},
    "LABEL_BELOW_RANGE": {"INT_TYPE_SMALL_INT", "FLOAT_TYPE_SMALL_FLOAT"},
    "LABEL_COUNT_MISMATCH": {
        "FEATURE_TYPE_LOW_NUMBER_VALUES",
        "FEATURE_TYPE_HIGH_NUMBER_VALUES",
    },
    "LABEL_MISSING": {
        "FEATURE_TYPE_LOW_FRACTION_PRESENT",
        "FEATURE_TYPE_LOW_NUMBER_PRESENT",
        "FEATURE_TYPE_NOT_PRESENT",
        "SCHEMA_MISSING_COLUMN",
    },
    "LABEL_TYPE_INVALID": {
        "UNEXPECTED_DATA_TYPE",
        "INT_TYPE_NOT_INT_STRING",
        "FLOAT_TYPE_STRING_NOT_FLOAT",
        "FLOAT_TYPE_NON_STRING",
        "STRING_TYPE_NOW_FLOAT",
        "STRING_TYPE_NOW_INT",
    },
}


def fold_restated(anomalies: Sequence[Anomaly]) -> list[Anomaly]:
    """The anomalies without TFDV's restatements of classgate's findings.

    A TFDV_<type> finding on a feature and split where a classgate finding of a
    code that type restates (RESTATES) stands is dropped; the classgate finding
    names it in its details (`restated_by_tfdv`).
    """
    ours = {
        (a.split, a.feature, code): a
        for a in anomalies
        if not a.code.startswith(TFDV_PREFIX)
        for code in [a.code]
        if code in RESTATES
    }
    folded: dict[int, list[str]] = {}
    kept = []
    for anomaly in anomalies:
        tfdv_type = anomaly.code.removeprefix(TFDV_PREFIX)
        if anomaly.code.startswith(TFDV_PREFIX):
            owner = next(
                (
                    ours[(anomaly.split, anomaly.feature, code)]
                    for code, types in RESTATES.items()
                    if tfdv_type in types
                    and (anomaly.split, anomaly.feature, code) in ours
                ),
                None,
            )
            if owner is not None:
                folded.setdefault(id(owner), []).append(anomaly.code)
                continue
        kept.append(anomaly)
    return [
        a.model_copy(
            update={"details": {**a.details, "restated_by_tfdv": folded[id(a)]}}
        )
        if id(a) in folded
        else a
        for a in kept
    ]


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
