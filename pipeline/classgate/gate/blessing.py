"""The blessing: what "passed" means, bound to the data and configs it was given.

A report blesses training only when its status is pass, it is complete (at least
one split, the training split among them, at least one pattern and one file in
each, figures of every model's label in every split), that status agrees with the
report's own anomalies and figures (re-derived here, so a failing report edited to
say pass stays closed), its config fingerprint is that of the models it lists, the
files its split patterns match now are exactly the ones it validated (path, size,
modification time, and locally device, inode and change time; on GCS the object's
update time, which a rewrite changes; the skipped job markers too), the model
configs are the ones it validated, and, when CLASSGATE_SIGNING_KEY is set, its
signature holds (classgate.signing). Anything else closes the gate with a message
that says what changed. Identity and times are what can be checked without reading
the data again: a local rewrite in place always changes the change time.
"""

import dataclasses
import datetime
from collections.abc import Mapping, Sequence

from classgate import config, errors
from classgate.checks import anomaly, controls, labels, sampler
from classgate.checks.anomaly import Code, Severity, Status
from classgate.codes import MUST_HOLD
from classgate.errors import GateClosed
from classgate.io import files
from classgate.report import signing
from classgate.report.model import LabelSummary, Report, SplitData


@dataclasses.dataclass(frozen=True)
class Blessing:
    """A report that passed and still matches the data and configs on disk."""

    path: str
    report: Report
    splits: tuple[files.Split, ...]
    models: tuple[config.ModelConfig, ...]

    def environment(self) -> dict[str, str]:
        """What a trainer started by `classgate run` is told."""
        env = {"CLASSGATE_REPORT": self.path}
        if len(self.models) == 1:
            (model,) = self.models
            env.update(
                CLASSGATE_NUM_CLASSES=str(model.num_classes),
                CLASSGATE_NUM_TRUE=str(model.num_true),
                CLASSGATE_LABEL_FEATURE=model.label_feature,
                CLASSGATE_LOSS=model.loss,
            )
            if model.num_sampled is not None:
                env["CLASSGATE_NUM_SAMPLED"] = str(model.num_sampled)
            if model.ignore_index is not None:
                env["CLASSGATE_IGNORE_INDEX"] = str(model.ignore_index)
        return env


def check(
    report_path: str,
    models: Sequence[config.ModelConfig] | None = None,
    patterns: Mapping[str, Sequence[str]] | None = None,
) -> Blessing:
    """Returns the blessing, or raises GateClosed saying what differs.

    `models` and `patterns`, when given, are what the caller is about to train with;
    they must be what the report validated.
    """
    report = Report.load(report_path)
    unsigned = signing.problem(report)
    if unsigned:
        raise GateClosed(f"{report_path}: {unsigned}: nothing was started")
    if patterns is not None:
        patterns = {
            name: tuple(files.absolute(p) for p in globs)
            for name, globs in patterns.items()
        }
    if report.status != Status.PASS:
        codes = [a.code for a in anomaly.failing(report.anomalies, report.strict)]
        raise GateClosed(
            f"{report_path}: status is '{report.status}', not pass "
            f"({', '.join(codes[:10]) or 'see the report'}): nothing was started"
        )
    contradictions = _contradictions(report)
    if contradictions:
        raise GateClosed(
            f"{report_path}: says pass, but {contradictions[0]}: the report was "
            "edited or damaged; validate again"
        )
    validated = report.models
    if models is not None and config.fingerprint(models) != report.config_fingerprint:
        raise GateClosed(f"{report_path}: {_config_change(validated, models)}")
    changed = _file_changed(validated)
    if changed:
        raise GateClosed(f"{report_path}: {changed}: validate again")
    splits = []
    for name, data in report.data.items():
        if patterns is not None and tuple(patterns.get(name, ())) != tuple(
            data.patterns
        ):
            raise GateClosed(
                f"{report_path}: split '{name}' was validated as {data.patterns}, "
                f"not {list(patterns.get(name, []))}"
            )
        try:
            split = files.list_split(name, tuple(data.patterns), data.format)
        except errors.InputError as e:
            raise GateClosed(f"{report_path}: data changed: {e.message}") from e
        if split.fingerprint != data.fingerprint:
            raise GateClosed(
                f"{report_path}: data changed: {_file_change(name, data, split)}"
            )
        splits.append(split)
    if patterns is not None and set(patterns) - set(report.data):
        extra = sorted(set(patterns) - set(report.data))[0]
        raise GateClosed(f"{report_path}: split '{extra}' was not validated")
    return Blessing(report_path, report, tuple(splits), validated)


def _file_change(name: str, validated: SplitData, now: files.Split) -> str:
    def listing(split):
        return {f.path: f for f in [*split.files, *split.skipped]}

    before, after = listing(validated), listing(now)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    parts = [
        f"{len(paths)} file(s) {verb} (e.g. {paths[0]})"
        for verb, paths in (
            ("added", added),
            ("removed", removed),
            ("changed", changed),
        )
        if paths
    ]
    return f"split '{name}': " + ("; ".join(parts) or "the file listing differs")


def _file_changed(models) -> str | None:
    """The first file a model was read from or checked with that is not as it was.

    Every trainer config a value was read from, vocabulary and checkpoint index is
    read again and its digest compared: an edit of the trainer's config after a
    pass closes the gate, whoever starts the trainer.
    """
    from classgate.model_files import sources

    for model in models:
        for path, expected in model.files.items():
            try:
                now = sources.redigest(path, expected)
            except errors.InputError as e:
                return f"model '{model.name}': {e.message}"
            if now != expected:
                fields = [
                    field
                    for field, found in model.sources.items()
                    if any(s.file == path for s in found)
                ]
                what = f" ({', '.join(fields)} was read from it)" if fields else ""
                return (
                    f"model '{model.name}': {path} changed since it was validated{what}"
                )
    return None


def _config_change(validated, given) -> str:
    before = {m.name: m.model_dump() for m in validated}
    after = {m.name: m.model_dump() for m in given}
    if set(before) != set(after):
        return f"models differ: validated {sorted(before)}, given {sorted(after)}"
    for name, keys in after.items():
        for key, value in keys.items():
            if before[name][key] != value:
                return (
                    f"model '{name}': {key} is {value!r}, but "
                    f"{before[name][key]!r} was validated: validate again"
                )
    return "the model configs differ"


def _contradictions(report: Report) -> list[str]:
    """Why a report's own content cannot pass, re-derived from its figures.

    The config fingerprint is recomputed from the models listed; the anomalies'
    severities and the label figures of each model's feature in each split are
    checked again the way classgate's label checks judged them.
    """
    found = _incomplete(report)
    if config.fingerprint(report.models) != report.config_fingerprint:
        found.append("its config fingerprint is not that of the models it lists")
    bad = [a.code for a in anomaly.failing(report.anomalies, report.strict)]
    if bad:
        found.append(f"it lists {bad[0]}, which fails the gate")
    day = datetime.datetime.fromisoformat(report.started).date()
    for model in report.models:
        if any(a.severity == Severity.ERROR for a in sampler.check(model)) and not (
            _excused(model, Code.NUM_SAMPLED_INVALID, report.strict, day)
        ):
            found.append(f"model '{model.name}' has an invalid num_sampled")
        for split in dict.fromkeys([*report.data, *report.labels]):
            figures = report.labels.get(split, {}).get(model.label_feature)
            if figures is None:
                found.append(
                    f"split '{split}' has no figures of '{model.label_feature}'"
                )
                continue
            training = split == report.training_split
            found += [
                f"model '{model.name}', split '{split}': {why}"
                for code, why in _label_failures(model, figures, training)
                if not _excused(model, code, report.strict, day)
            ]
    if set(report.labels) != set(report.data):
        found.append("its label figures and its data name different splits")
    return found


def _incomplete(report: Report) -> list[str]:
    """What a report lacks that a verdict needs: a pass on nothing is no pass."""
    found = []
    if not report.models:
        found.append("it validates no model")
    if not report.data:
        found.append("it names no split")
    elif report.training_split not in report.data:
        found.append(f"its training split '{report.training_split}' is not a split")
    for split, data in report.data.items():
        if not data.patterns:
            found.append(f"split '{split}' has no pattern")
        if not data.files:
            found.append(f"split '{split}' has no file")
    return found


def _excused(model, code: str, strict: bool, day: datetime.date) -> bool:
    """Whether the model's own controls let a finding of `code` pass the gate.

    Waived on the run's day, or made a WARNING (and the run not --strict): the
    same controls the verdict applied (checks.controls). A check whose failure
    breaks training (codes.MUST_HOLD) is never excused, whatever the config says.
    """
    if code in MUST_HOLD:
        return False
    if controls.waived(model, code, day):
        return True
    control = model.checks.get(code)
    return bool(control and control.severity == "WARNING" and not strict)


def _label_failures(model, figures: LabelSummary, training: bool):
    """(code, why) of each label check that the report's figures fail."""
    n = model.num_classes
    found = []
    if figures.examples == 0:
        return [(Code.EMPTY_DATASET, "no examples")]
    if figures.missing:
        found.append((Code.LABEL_MISSING, f"{figures.missing} examples lack the label"))
    if figures.non_integer:
        found.append(
            (Code.LABEL_TYPE_INVALID, f"{figures.non_integer} labels are not ids")
        )
    if figures.max is not None and figures.max >= n:
        found.append(
            (Code.LABEL_ABOVE_RANGE, f"labels reach {figures.max}, num_classes is {n}")
        )
    if figures.min is not None and figures.min < 0:
        found.append((Code.LABEL_BELOW_RANGE, f"labels go down to {figures.min}"))
    if figures.num_classes == n and figures.above_range:
        found.append(
            (Code.LABEL_ABOVE_RANGE, f"{figures.above_range} labels lie past {n - 1}")
        )
    if figures.num_classes == n and figures.below_range:
        found.append((Code.LABEL_BELOW_RANGE, f"{figures.below_range} labels below 0"))
    counts = {int(k) for k, v in figures.values_per_example.items() if v}
    if counts - {0, model.num_true}:
        found.append(
            (
                Code.LABEL_COUNT_MISMATCH,
                f"label counts {sorted(counts)}, num_true is {model.num_true}",
            )
        )
    if training and figures.num_classes == n:
        if labels.too_many_unseen(model, figures.classes_seen):
            unseen = (n - figures.classes_seen) / n
            found.append(
                (Code.CLASSES_UNSEEN, f"{unseen:.1%} of the classes never occur")
            )
    return found
