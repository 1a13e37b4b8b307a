"""report.md: the verdict first, then a table per model, then the anomalies."""

from classgate.checks.anomaly import Anomaly
from classgate.report.model import Report


def render(report: Report) -> str:
    standing = [a for a in report.anomalies if a.waived is None]
    errors = [a for a in standing if a.severity == "ERROR"]
    warnings = [a for a in standing if a.severity == "WARNING"]
    waived = [a for a in report.anomalies if a.waived is not None]
    verdict = "PASS" if report.status == "pass" else "FAIL"
    lines = [
        f"# classgate: {verdict}",
        "",
        f"{len(errors)} error(s), {len(warnings)} warning(s)"
        + (f", {len(waived)} waived" if waived else "")
        + (" (--strict: warnings fail the gate)" if report.strict else "")
        + f". Mode: {report.mode}. classgate {report.version}, "
        f"{report.started} to {report.finished}.",
        "",
    ]
    for anomaly in errors + warnings + waived:
        waiver = f" (waived: {anomaly.waived['reason']})" if anomaly.waived else ""
        lines.append(
            f"- **{anomaly.severity} `{anomaly.code}`** {_where(anomaly)}"
            f"{anomaly.message}{waiver}"
        )
    for model in report.models:
        feature = model.label_feature
        lines += [
            "",
            f"## Model `{model.name}`",
            "",
            f"label `{feature}`, num_classes {model.num_classes}, "
            f"num_true {model.num_true}, {model.loss} loss"
            + (
                f", num_sampled {model.num_sampled}, {model.sampler} sampler"
                if model.sampled
                else ""
            )
            + (
                f", ignore_index {model.ignore_index}"
                if model.ignore_index is not None
                else ""
            ),
            "",
            *_sources(model),
            "| split | examples | missing | min | max | distinct | classes seen "
            "| above range | below range | non-integer |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for split, by_feature in report.labels.items():
            s = by_feature.get(feature)
            if s is None:
                continue
            lines.append(
                f"| {split} | {s.examples} | {s.missing} | {_blank(s.min)} "
                f"| {_blank(s.max)} | {s.distinct} "
                f"| {s.classes_seen} / {s.num_classes} | {s.above_range} "
                f"| {s.below_range} | {s.non_integer} |"
            )
        mine = [a for a in report.anomalies if a.model == model.name]
        lines += [
            "",
            "| check | severity | split | message |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| `{a.code}` | {a.severity}{' (waived)' if a.waived else ''} "
            f"| {a.split or ''} | {a.message} |"
            for a in mine
        ] or ["| all label checks | pass | | |"]
    lines += ["", "## Data", ""]
    for split, data in report.data.items():
        lines.append(
            f"- `{split}`: {len(data.files)} {data.format} file(s), "
            f"{data.bytes} bytes, from {', '.join(data.patterns)} "
            f"(`{data.fingerprint[:19]}`)"
        )
    return "\n".join(lines) + "\n"


def _where(anomaly: Anomaly) -> str:
    parts = [getattr(anomaly, k) for k in ("model", "split", "feature")]
    parts = [part for part in parts if part]
    return f"({' / '.join(parts)}) " if parts else ""


def _blank(value) -> str:
    return "" if value is None else str(value)


def _sources(model) -> list[str]:
    """Where each value read from the trainer's files came from: a line each."""
    return [
        f"- `{field}` {source.value!r} from `{source.file}`: `{source.key}`"
        for field, found in model.sources.items()
        for source in found
    ] + ([""] if model.sources else [])
