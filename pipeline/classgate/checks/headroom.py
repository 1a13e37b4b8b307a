"""Headroom: at the pace of the run history, when labels outgrow num_classes.

Pure: a model's history of runs (when each finished, its label's max id and
distinct classes), this run included, is fitted with a straight line per figure
(least squares over days). The classes the labels need are max id + 1 and the
distinct classes; when either line, carried forward, passes num_classes within the
model's horizon (headroom_days), NUM_CLASSES_HEADROOM warns with the day it breaks
and the num_classes that would last the horizon. Catalogs grow; a num_classes that
is right today is wrong next month.

A pace needs a history of at least a day (MIN_SPAN_DAYS): runs minutes apart
differ by sampling noise (a few classes seen or not), which over minutes reads as
thousands of classes a day.
"""

import dataclasses
import datetime
import math

import numpy as np

from classgate.checks.anomaly import Anomaly, Code, Severity
from classgate.config import ModelConfig

DAY = 86_400.0
# The shortest history, first run to this one, that a pace is read from.
MIN_SPAN_DAYS = 1.0


@dataclasses.dataclass(frozen=True)
class Point:
    when: datetime.datetime
    max_id: int
    distinct: int


@dataclasses.dataclass(frozen=True)
class Forecast:
    figure: str  # "max label id" or "distinct classes"
    per_day: float  # classes needed, growth per day
    breaks: datetime.datetime  # when the classes needed pass num_classes
    lasting: int  # the num_classes that lasts the horizon


def _paces(history: list[Point]):
    """(figure, per day, classes needed today) of each growing figure's line.

    None when the history spans less than MIN_SPAN_DAYS: no pace from one moment,
    nor from noise over minutes.
    """
    if not history:
        return None
    latest = max(history, key=lambda p: p.when)
    days = np.array([(p.when - latest.when).total_seconds() / DAY for p in history])
    if -days.min() < MIN_SPAN_DAYS:
        return None
    found = []
    for figure, needed in (
        ("max label id", np.array([p.max_id + 1 for p in history], np.float64)),
        ("distinct classes", np.array([p.distinct for p in history], np.float64)),
    ):
        slope, intercept = np.polyfit(days, needed, 1)
        if slope > 0:
            found.append((figure, float(slope), float(intercept)))
    return latest, found


def _lasting(model: ModelConfig, slope: float, intercept: float) -> int:
    # (less a hair: a line through whole numbers lands a float's error above)
    return max(math.ceil(intercept + slope * model.headroom_days - 1e-6), 1)


def lasting(model: ModelConfig, history: list[Point]) -> list[int]:
    """The num_classes each growing figure needs to last the horizon, at its pace.

    Whether or not num_classes falls short today: the advice (checks.advice)
    weighs it with the labels' own range.
    """
    paced = _paces(history)
    if paced is None:
        return []
    return [_lasting(model, slope, intercept) for _, slope, intercept in paced[1]]


def forecasts(model: ModelConfig, history: list[Point]) -> list[Forecast]:
    """The figures that, at their pace, outgrow num_classes within the horizon."""
    paced = _paces(history)
    if paced is None:
        return []
    latest, growing = paced
    found = []
    for figure, slope, intercept in growing:
        if intercept > model.num_classes:
            continue  # past num_classes already (an ERROR elsewhere)
        days_left = (model.num_classes - intercept) / slope
        if days_left > model.headroom_days:
            continue
        breaks = latest.when + datetime.timedelta(days=days_left)
        found.append(Forecast(figure, slope, breaks, _lasting(model, slope, intercept)))
    return found


def check(
    model: ModelConfig, split: str, history: list[Point], advised: int | None = None
) -> list[Anomaly]:
    """NUM_CLASSES_HEADROOM when a figure outgrows num_classes within the horizon.

    `advised` is the num_classes the whole report advises (checks.advice), never
    below what lasts the horizon.
    """
    found = forecasts(model, history)
    if not found:
        return []
    first = min(found, key=lambda f: f.breaks)
    lasting = max([f.lasting for f in found] + [advised or 0])
    return [
        Anomaly(
            code=Code.NUM_CLASSES_HEADROOM,
            severity=Severity.WARNING,
            model=model.name,
            split=split,
            feature=model.label_feature,
            message=f"at the pace of {len(history)} runs, the {first.figure} "
            f"(+{first.per_day:.1f} classes/day) passes num_classes "
            f"{model.num_classes} on {first.breaks.date().isoformat()}, within "
            f"{model.headroom_days:g} days: num_classes {lasting} would last them",
            details={
                "breaks": first.breaks.isoformat(),
                "figure": first.figure,
                "per_day": first.per_day,
                "lasting_num_classes": lasting,
                "advised_num_classes": lasting,
                "horizon_days": model.headroom_days,
                "runs": len(history),
            },
        )
    ]
