"""Drift against the previous run: class frequencies compared, classes gone or new.

Pure: two sparse class counts (ids, counts) of one split's label feature, this
run's and the previous run's, give the Jensen-Shannon divergence (in bits, so it
lies in [0, 1]) and the L-infinity distance of their class frequencies, as TFDV's
drift comparator measures categorical features, and the classes that appeared or
vanished. A distance at or above the model's warning threshold is LABEL_DRIFT, a
WARNING, or an ERROR at or above its error threshold when one is set.

A class counts as appeared (or vanished) only when its absence from the other
run is not chance: were both runs drawn from one distribution, all c occurrences
of a class would fall in this run with probability (n_this / n_both)**c; a class
is named when that is below ALPHA over all the classes seen (Bonferroni). Rare
classes coming and going between two samples are sampling, not news; the details
still count every id seen in one run only.
"""

import dataclasses

import numpy as np

from classgate.checks.anomaly import Anomaly, Code, Severity
from classgate.config import ModelConfig

# Class ids named in a finding at most; the details carry the counts.
SHOWN_IDS = 20
# The chance, over all classes, of naming a class that came or went by sampling.
ALPHA = 0.01


@dataclasses.dataclass(frozen=True)
class Distances:
    js_divergence: float  # bits
    linf: float
    appeared: np.ndarray  # ids seen now, not before, too often to be chance
    vanished: np.ndarray  # ids seen before, not now, too often to be chance
    only_now: int  # every id seen now only
    only_before: int  # every id seen before only


def distances(
    previous: tuple[np.ndarray, np.ndarray], current: tuple[np.ndarray, np.ndarray]
) -> Distances:
    """The distances of two class counts, each (sorted unique ids, counts)."""
    ids = np.union1d(previous[0], current[0])
    p, q = _frequencies(ids, *previous), _frequencies(ids, *current)
    middle = (p + q) / 2
    js = (_kullback_leibler(p, middle) + _kullback_leibler(q, middle)) / 2
    linf = float(np.max(np.abs(p - q))) if ids.size else 0.0
    before_count = _aligned(ids, *previous)
    now_count = _aligned(ids, *current)
    now_only = (now_count > 0) & (before_count == 0)
    before_only = (before_count > 0) & (now_count == 0)
    return Distances(
        js_divergence=min(max(js, 0.0), 1.0),
        linf=linf,
        appeared=ids[now_only & _not_chance(now_count, current, previous, ids.size)],
        vanished=ids[
            before_only & _not_chance(before_count, previous, current, ids.size)
        ],
        only_now=int(now_only.sum()),
        only_before=int(before_only.sum()),
    )


def check(
    model: ModelConfig,
    split: str,
    previous: tuple[np.ndarray, np.ndarray],
    current: tuple[np.ndarray, np.ndarray],
    previous_figures: dict,
    current_figures: dict,
    previous_run: str,
) -> list[Anomaly]:
    """Drift findings of one model's label in one split against the previous run.

    `*_figures` hold the runs' `max` and `distinct`; `previous_run` names the
    previous report (its path and when it finished), for the messages.
    """
    found = distances(previous, current)
    where = dict(model=model.name, split=split, feature=model.label_feature)
    changes = {
        "max_before": previous_figures.get("max"),
        "max_now": current_figures.get("max"),
        "distinct_before": previous_figures.get("distinct"),
        "distinct_now": current_figures.get("distinct"),
        "previous_run": previous_run,
    }
    anomalies = []
    severity = _severity(model, found)
    if severity is not None:
        anomalies.append(
            Anomaly(
                code=Code.LABEL_DRIFT,
                severity=severity,
                message=f"class frequencies moved since {previous_run}: Jensen-"
                f"Shannon divergence {found.js_divergence:.4f} bits (threshold "
                f"{model.drift_js_divergence}), L-infinity {found.linf:.4f} "
                f"(threshold {model.drift_linf}); distinct classes "
                f"{changes['distinct_before']} -> {changes['distinct_now']}, max id "
                f"{changes['max_before']} -> {changes['max_now']}",
                details={
                    "js_divergence_bits": found.js_divergence,
                    "linf": found.linf,
                    "thresholds": {
                        "js_divergence": model.drift_js_divergence,
                        "linf": model.drift_linf,
                        "error_js_divergence": model.drift_error_js_divergence,
                        "error_linf": model.drift_error_linf,
                    },
                    **changes,
                },
                **where,
            )
        )
    for code, ids, every, what in (
        (Code.CLASSES_APPEARED, found.appeared, found.only_now, "appeared"),
        (Code.CLASSES_VANISHED, found.vanished, found.only_before, "vanished"),
    ):
        if ids.size:
            shown = ", ".join(str(int(i)) for i in ids[:SHOWN_IDS])
            more = f" and {ids.size - SHOWN_IDS} more" if ids.size > SHOWN_IDS else ""
            anomalies.append(
                Anomaly(
                    code=code,
                    severity=Severity.WARNING,
                    message=f"{ids.size} class(es) {what} since {previous_run}, each "
                    f"too frequent to be missing by chance: {shown}{more}",
                    details={
                        "classes": int(ids.size),
                        "ids": [int(i) for i in ids[:SHOWN_IDS]],
                        "seen_in_one_run_only": every,
                        "alpha": ALPHA,
                        **changes,
                    },
                    **where,
                )
            )
    return anomalies


def _severity(model: ModelConfig, found: Distances) -> Severity | None:
    def reached(value, threshold):
        return threshold is not None and value >= threshold

    if reached(found.js_divergence, model.drift_error_js_divergence) or reached(
        found.linf, model.drift_error_linf
    ):
        return Severity.ERROR
    if reached(found.js_divergence, model.drift_js_divergence) or reached(
        found.linf, model.drift_linf
    ):
        return Severity.WARNING
    return None


def _aligned(ids: np.ndarray, seen: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Counts over `ids` (a superset of `seen`), 0 where unseen."""
    aligned = np.zeros(ids.size, dtype=np.float64)
    aligned[np.searchsorted(ids, seen)] = counts
    return aligned


def _frequencies(ids: np.ndarray, seen: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Counts over `ids`, as frequencies summing to 1."""
    aligned = _aligned(ids, seen, counts)
    total = aligned.sum()
    return aligned / total if total else aligned


def _not_chance(counts: np.ndarray, this, other, classes: int) -> np.ndarray:
    """Whether `counts` of this run, absent from the other, are too many for chance."""
    this_total, other_total = float(np.sum(this[1])), float(np.sum(other[1]))
    if not this_total or not other_total:
        return np.zeros(counts.size, dtype=bool)
    # log P(all c occurrences in this run) = c * log(share of this run)
    log_chance = counts * np.log(this_total / (this_total + other_total))
    return log_chance < np.log(ALPHA / max(classes, 1))


def _kullback_leibler(p: np.ndarray, q: np.ndarray) -> float:
    held = p > 0
    return float(np.sum(p[held] * np.log2(p[held] / q[held])))
