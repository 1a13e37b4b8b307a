"""The blessing: what "passed" means, bound to the data and configs it was given.

A report blesses training only when its status is pass, the files its split patterns
match now are exactly the ones it validated (path, size and modification time; on GCS
the object's update time, which a rewrite changes), and the model configs are the ones
it validated. Anything else closes the gate with a message that says what changed.
Size plus modification time is what can be checked without reading the data again;
a same-size rewrite within one filesystem timestamp tick would slip through.
"""

import dataclasses
import json
from collections.abc import Sequence

from pipeline import config, errors, output
from pipeline.io import files


class GateClosed(Exception):
    """The report does not bless this training; the message says why."""


@dataclasses.dataclass(frozen=True)
class Blessing:
    """A report that passed and still matches the data and configs on disk."""

    path: str
    report: dict
    splits: tuple[files.Split, ...]
    models: tuple[config.ModelConfig, ...]

    def environment(self) -> dict[str, str]:
        """What a trainer started by `classgate run` is told."""
        env = {"CLASSGATE_REPORT": self.path}
        if len(self.models) == 1:
            (model,) = self.models
            env.update(
                CLASSGATE_NUM_CLASSES=str(model.num_classes),
                CLASSGATE_NUM_SAMPLED=str(model.num_sampled),
                CLASSGATE_NUM_TRUE=str(model.num_true),
                CLASSGATE_LABEL_FEATURE=model.label_feature,
            )
        return env


def load_report(path: str) -> dict:
    try:
        return json.loads(output.read(path))
    except Exception as e:  # missing file, unreadable, not JSON
        raise errors.InputError(f"{path}: not a readable classgate report: {e}") from e


def check(
    report_path: str,
    models: Sequence[config.ModelConfig] | None = None,
    patterns: dict[str, tuple[str, ...]] | None = None,
) -> Blessing:
    """Returns the blessing, or raises GateClosed saying what differs.

    `models` and `patterns`, when given, are what the caller is about to train with;
    they must be what the report validated.
    """
    report = load_report(report_path)
    if report.get("status") != "pass":
        failing = [
            a["code"] for a in report.get("anomalies", []) if a["severity"] == "ERROR"
        ]
        raise GateClosed(
            f"{report_path}: status is {report.get('status')!r}, not pass "
            f"({', '.join(failing) or 'see the report'}): nothing was started"
        )
    validated = tuple(config.ModelConfig.model_validate(m) for m in report["models"])
    if (
        models is not None
        and config.fingerprint(models) != report["config_fingerprint"]
    ):
        raise GateClosed(f"{report_path}: {_config_change(validated, models)}")
    splits = []
    for name, data in report["data"].items():
        if patterns is not None and tuple(patterns.get(name, ())) != tuple(
            data["patterns"]
        ):
            raise GateClosed(
                f"{report_path}: split '{name}' was validated as {data['patterns']}, "
                f"not {list(patterns.get(name, []))}"
            )
        try:
            split = files.list_split(name, tuple(data["patterns"]), data["format"])
        except errors.InputError as e:
            raise GateClosed(f"{report_path}: data changed: {e.message}") from e
        if split.fingerprint != data["fingerprint"]:
            raise GateClosed(
                f"{report_path}: data changed: {_file_change(name, data, split)}"
            )
        splits.append(split)
    if patterns is not None and set(patterns) - set(report["data"]):
        extra = sorted(set(patterns) - set(report["data"]))[0]
        raise GateClosed(f"{report_path}: split '{extra}' was not validated")
    return Blessing(report_path, report, tuple(splits), validated)


def _file_change(name: str, validated: dict, now: files.Split) -> str:
    before = {f["path"]: (f["size"], f["modified"]) for f in validated["files"]}
    after = {f.path: (f.size, f.modified) for f in now.files}
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
    return f"split '{name}': " + ("; ".join(parts) or "file listing differs")


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
