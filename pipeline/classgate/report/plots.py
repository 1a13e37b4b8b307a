"""The report's plots: inline SVG drawn from the report's numbers, no library.

Per split of a model's label: the rank-frequency curve on log-log axes beside what
the log-uniform sampler expects, the id histogram with the valid range
[0, num_classes) marked and out-of-range bins in red, and the share of classes
never seen; per model, its history run by run; against the previous run, both
runs' class shares bar beside bar and both rank-frequency curves, overlaid. Every
bar, point and arc carries an SVG <title> with its figures, which browsers show as
a tooltip; the classes never seen are drawn on the rank-frequency plot as its tail
at count 0. Every string placed in a plot is escaped.
"""

import datetime
import math

from classgate.report import svg
from classgate.report.model import (
    DriftProfile,
    HistoryPoint,
    IdHistogram,
    LabelSummary,
    Profile,
)

# Colours: red and amber as in CI tools; blue/orange is a pair colour-blind eyes tell
# apart, which matters for observed vs expected and in-range vs out-of-range.
COLORS = {"ERROR": "#c62828", "WARNING": "#e08a00", "pass": "#2e7d32"}
_OBSERVED, _EXPECTED, _OUTSIDE, _VALID_BAND = "#1f77b4", "#ff7f0e", "#d62728", "#e8f5e9"
# The never-seen tail of the rank-frequency plot: grey, as the unseen arc of the
# coverage donut, with a darker edge so it stays visible when only a few pixels wide.
_UNSEEN_BAND, _UNSEEN_EDGE = "#e0e0e0", "#757575"
# Points of the expected curve: smooth on a log axis at any num_classes.
_CURVE_POINTS = 80
# Bin widths that agree to this many significant digits are the same width: the
# edges come from linspace and carry float noise.
_WIDTH_DIGITS = 3
# The narrowest the unseen tail is drawn, in pixels: one unseen class past rank
# 1000 is well under a pixel on a log axis.
_MIN_TAIL_WIDTH = 4
# The previous run beside this one in the drift plots: the expected curve's orange,
# dashed, against the observed blue, the pair colour-blind eyes tell apart.
_BEFORE, _NOW = _EXPECTED, _OBSERVED


def rank_frequency(profile: Profile, stats: LabelSummary, num_classes: int) -> str:
    """Observed count per rank beside total * P_loguniform(id = rank - 1), log-log.

    The log-uniform (Zipfian) sampler draws id k with probability
    (log(k + 2) - log(k + 1)) / log(num_classes + 1); if ids were assigned by falling
    frequency, rank r (1-based) would be id r - 1. `total` is the label values in
    [0, num_classes), the ones the sampler's distribution covers. The classes never
    seen take the ranks after every value seen, at count 0, which a log axis cannot
    show: they are a shaded tail on the axis, labelled with how many they are.
    """
    observed = profile.rank_frequency
    histogram = profile.id_histogram
    total = sum(histogram.counts) + histogram.beyond_low + histogram.beyond_high
    total -= stats.above_range + stats.below_range
    seen = stats.distinct  # classes seen and out-of-range values: ranks 1..seen
    unseen = stats.num_classes - stats.classes_seen
    last = max(num_classes, observed[-1][0] if observed else 1, seen + unseen)
    ranks = sorted(
        {round(last ** (i / _CURVE_POINTS)) for i in range(_CURVE_POINTS + 1)}
    )
    ranks = [r for r in ranks if r <= num_classes]
    scale = total / math.log(num_classes + 1)
    expected = [(r, scale * math.log((r + 1) / r)) for r in ranks]
    values = [c for _, c in observed] + [c for _, c in expected if c > 0]
    if not values:
        return svg.empty("Rank-frequency", "no label values")
    x = svg.Axis(
        1,
        svg.round_up(last),
        svg.LEFT,
        svg.RIGHT,
        log=True,
    )
    y = svg.count_axis(values)
    out = svg.frame(
        "Rank-frequency (log-log)", x, y, "rank (1 = most frequent id)", "count"
    )
    keys = [
        svg.Key(_OBSERVED, "observed", line=True),
        svg.Key(_EXPECTED, "log-uniform expected", line=True, dash="6,4"),
    ]
    if unseen > 0:
        out.append(_unseen_tail(x, seen, unseen, stats.num_classes))
        keys.append(svg.Key(_UNSEEN_BAND, "never seen (count 0)"))
    out.append(svg.marker(x(num_classes), f"num_classes {num_classes}", "#777"))
    if total > 0:
        out.append(
            svg.polyline(
                expected,
                x,
                y,
                _EXPECTED,
                'stroke-dasharray="6,4"',
                f"log-uniform expected: {total} values in [0, {num_classes}) "
                "drawn by the sampler's probabilities",
            )
        )
    out.append(svg.polyline(observed, x, y, _OBSERVED, "", "observed count per rank"))
    for r, c in observed:
        figures = f"rank {r}: {c} values"
        if total > 0 and r <= num_classes:
            figures += f"; log-uniform expects {scale * math.log((r + 1) / r):.1f}"
        out.append(
            f'<circle cx="{x(r):.1f}" cy="{y(c):.1f}" r="2.5" fill="{_OBSERVED}">'
            f"<title>{figures}</title></circle>"
        )
    out.append(svg.legend(keys))
    return "".join(out) + "</svg>"


def _unseen_tail(x: svg.Axis, seen: int, unseen: int, num_classes: int) -> str:
    """Ranks seen+1 .. seen+unseen at count 0: a shaded band down to the x axis.

    The label lies along the bottom when the band is wide enough for it, and up
    the band otherwise: on a log axis the tail is often a few pixels wide.
    """
    top, bottom = svg.TOP, svg.BOTTOM
    first, end = seen + 1, seen + unseen
    right = x(end)
    left = min(x(first), right - _MIN_TAIL_WIDTH)
    ranks = f"rank {first}" if unseen == 1 else f"ranks {first} to {end}"
    label = f"{unseen} classes never seen"
    # A white halo keeps the label legible over the curves and the num_classes line.
    halo = 'fill="#333" stroke="#fff" stroke-width="3" paint-order="stroke"'
    if right - left > 6 * len(label) + 8:  # ~6 px per character
        text = (
            f'<text x="{(left + right) / 2:.1f}" y="{bottom - 10}" '
            f'text-anchor="middle" {halo}>{svg.escape(label)}</text>'
        )
    else:
        text = (
            f'<text transform="translate({(left + right) / 2 + 4:.1f},{bottom - 10}) '
            f'rotate(-90)" {halo}>{svg.escape(label)}</text>'
        )
    return (
        f'<g class="unseen"><title>{ranks}: {unseen} of {num_classes} classes in '
        f"[0, {num_classes}) never seen (count 0)</title>"
        f'<rect x="{left:.1f}" y="{top}" width="{right - left:.1f}" '
        f'height="{bottom - top}" fill="{_UNSEEN_BAND}" fill-opacity="0.7"/>'
        f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{bottom - 2}" y2="{bottom - 2}" '
        f'stroke="{_UNSEEN_EDGE}" stroke-width="4"/>{text}</g>'
    )


def histogram(histogram: IdHistogram, stats: LabelSummary, num_classes: int) -> str:
    """Counts of ids per bin on a log axis; bins holding ids outside [0, n) in red."""
    edges, counts = histogram.edges, histogram.counts
    positive = [c for c in counts if c > 0]
    if not positive:
        return svg.empty("Label ids", "no label values")
    x = svg.Axis(edges[0], edges[-1], svg.LEFT, svg.RIGHT)
    y = svg.count_axis(positive)
    x_label = f"label id; {bin_widths(edges, num_classes)}"
    out = svg.frame("Label ids (bars: count per bin)", x, y, x_label, "count (log)")
    band_low, band_high = x(max(0, edges[0])), x(min(num_classes, edges[-1]))
    top, bottom = svg.TOP, svg.BOTTOM
    out.insert(
        2,
        f'<rect x="{band_low:.1f}" y="{top}" width="{band_high - band_low:.1f}" '
        f'height="{bottom - top}" fill="{_VALID_BAND}"/>',
    )
    outside = _holds_outside(histogram, stats, num_classes)
    for low, high, count, red in zip(edges, edges[1:], counts, outside, strict=False):
        if count <= 0:
            continue
        kind, color = ("bar-out", _OUTSIDE) if red else ("bar-in", _OBSERVED)
        where = f"outside [0, {num_classes})" if red else "in range"
        out.append(
            f'<rect class="{kind}" x="{x(low) + 0.5:.1f}" y="{y(count):.1f}" '
            f'width="{max(x(high) - x(low) - 1, 1):.1f}" '
            f'height="{bottom - y(count):.1f}" fill="{color}">'
            f"<title>{_ids(low, high)}: {count} values ({where})</title></rect>"
        )
    for edge, label in ((0, "0"), (num_classes, f"num_classes {num_classes}")):
        if edges[0] < edge <= edges[-1]:
            out.append(svg.marker(x(edge), label, _OUTSIDE))
    keys = [
        svg.Key(_VALID_BAND, "valid range [0, num_classes)"),
        svg.Key(_OBSERVED, "ids in range"),
        svg.Key(_OUTSIDE, "bins holding out-of-range ids"),
    ]
    out.append(svg.legend(keys))
    return "".join(out) + "</svg>"


def bin_widths(edges: list[float], num_classes: int) -> str:
    """The histogram's bin width, as the plot states it: "bin width 2".

    Bins are equal within each of the stretches below 0, in [0, num_classes) and
    from num_classes on (profile puts an edge on 0 and on num_classes), but the
    stretches may differ; then each is named.
    """
    stretches = {}
    for low, high in zip(edges, edges[1:], strict=False):
        where = "below 0" if high <= 0 else "in range" if low < num_classes else "above"
        stretches.setdefault(where, f"{high - low:.{_WIDTH_DIGITS}g}")
    if len(set(stretches.values())) == 1:
        return f"bin width {next(iter(stretches.values()))}"
    return "bin width " + ", ".join(f"{w} {where}" for where, w in stretches.items())


def _ids(low: float, high: float) -> str:
    """The whole ids a bin [low, high) holds: "id 7" or "ids 0 to 1"."""
    first, last = math.ceil(low), math.ceil(high) - 1
    return f"id {first}" if first >= last else f"ids {first} to {last}"


def _holds_outside(
    histogram: IdHistogram, stats: LabelSummary, num_classes: int
) -> list[bool]:
    """Which bins hold ids outside [0, num_classes).

    A bin wholly outside does. The bins' edges need not fall on 0 and num_classes,
    so a bin across one of them holds such ids unless the bins wholly beyond that
    edge (and the counts beyond the plot) account for every below_range or
    above_range value. That is known only when the statistics were counted against
    this num_classes; otherwise a bin across an edge is taken to hold some.
    """
    edges, counts = histogram.edges, histogram.counts
    bins = list(zip(edges, edges[1:], counts, strict=False))
    exact = stats.num_classes == num_classes
    below = histogram.beyond_low + sum(c for _, hi, c in bins if hi <= 0)
    above = histogram.beyond_high + sum(c for lo, _, c in bins if lo >= num_classes)
    below_left = not exact or below < stats.below_range
    above_left = not exact or above < stats.above_range
    return [
        hi <= 0
        or lo >= num_classes
        or (lo < 0 and below_left)
        or (hi > num_classes and above_left)
        for lo, hi, _ in bins
    ]


def coverage(
    stats: LabelSummary, max_unseen_fraction: float, judged: bool, failing: bool
) -> str:
    """A donut: classes of [0, num_classes) seen vs never seen in this split.

    The unseen arc is red only where the report holds CLASSES_UNSEEN as an error
    (`failing`): the plot shows the verdict, it does not judge again. `judged`
    says whether the split is the one the rule applies to (the training split).
    """
    n, seen = stats.num_classes, stats.classes_seen
    unseen = (n - seen) / n
    color = COLORS["ERROR"] if failing else "#bbb"
    rule = f"gate: at most {max_unseen_fraction:.0%} unseen"
    rule = rule if judged else "not gated on this split"
    radius, cx, cy = 66, 140, 118
    arc = 2 * math.pi * radius
    seen_text = f"{seen} of {n} classes seen ({1 - unseen:.1%})"
    unseen_text = f"{n - seen} of {n} classes never seen ({unseen:.1%}); {rule}"
    return (
        f'<svg width="280" height="{svg.HEIGHT}" '
        f'viewBox="0 0 280 {svg.HEIGHT}" font-size="12">'
        '<text x="140" y="14" text-anchor="middle" font-size="13" '
        'font-weight="bold">Classes never seen</text>'
        f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="none" stroke="{color}" '
        f'stroke-width="26"><title>{svg.escape(unseen_text)}</title></circle>'
        f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="none" stroke="{_OBSERVED}" '
        f'stroke-width="26" stroke-dasharray="{arc * (1 - unseen):.2f} {arc:.2f}" '
        f'transform="rotate(-90 {cx} {cy})">'
        f"<title>{svg.escape(seen_text)}</title></circle>"
        f'<text x="{cx}" y="{cy + 2}" text-anchor="middle" font-size="24" '
        f'font-weight="bold">{unseen:.1%}</text>'
        f'<text x="{cx}" y="{cy + 20}" text-anchor="middle">unseen</text>'
        f'<rect x="40" y="{cy + radius + 24}" width="12" height="10" '
        f'fill="{_OBSERVED}"/><text x="58" y="{cy + radius + 33}">{seen} of {n} '
        f'classes seen</text><rect x="40" y="{cy + radius + 42}" width="12" '
        f'height="10" fill="{color}"/><text x="58" y="{cy + radius + 51}">{rule}'
        "</text></svg>"
    )


def history(points: list[HistoryPoint], num_classes: int) -> str:
    """The classes a model's label needed, run by run (--previous-report).

    Max id + 1 and distinct classes over time, against num_classes: the lines
    NUM_CLASSES_HEADROOM fits.
    """
    if not points:
        return svg.empty("History", "no earlier runs")
    when = [datetime.datetime.fromisoformat(p.finished).timestamp() for p in points]
    first, last = min(when), max(when)
    days = [(t - first) / 86_400 for t in when]
    needed = [(p.max or 0) + 1 for p in points]
    top = svg.round_up(max(needed + [p.distinct for p in points] + [num_classes]) * 1.1)
    span = (last - first) / 86_400 or 1
    x = svg.Axis(0, span, svg.LEFT, svg.RIGHT)
    y = svg.Axis(
        0,
        top,
        svg.BOTTOM,
        svg.TOP + svg.LEGEND_ROOM / 2,
    )
    out = svg.frame(
        "Classes needed, run by run", x, y, "days since the first run", "classes"
    )
    limit = y(num_classes)
    out.append(
        f'<line x1="{svg.LEFT}" x2="{svg.RIGHT}" '
        f'y1="{limit:.1f}" y2="{limit:.1f}" stroke="{COLORS["ERROR"]}" '
        f'stroke-dasharray="4,3"><title>num_classes {num_classes}</title></line>'
    )
    for values, color, what in (
        (needed, _OBSERVED, "max label id + 1"),
        ([p.distinct for p in points], _EXPECTED, "distinct classes"),
    ):
        line = list(zip(days, values, strict=True))
        out.append(svg.polyline(line, x, y, color, "", what))
        for point, day, value in zip(points, days, values, strict=True):
            run = point.report or "this run"
            out.append(
                f'<circle cx="{x(day):.1f}" cy="{y(value):.1f}" r="3" fill="{color}">'
                f"<title>{svg.escape(run)} ({svg.escape(point.finished)}): "
                f"{what} {value}</title>"
                "</circle>"
            )
    out.append(
        svg.legend(
            [
                svg.Key(_OBSERVED, "max label id + 1", line=True),
                svg.Key(_EXPECTED, "distinct classes", line=True),
                svg.Key(
                    COLORS["ERROR"], f"num_classes {num_classes}", line=True, dash="4,3"
                ),
            ]
        )
    )
    return "".join(out) + "</svg>"


def drift_classes(drift: DriftProfile) -> str:
    """Each class's share of the label values: the previous run's bar, this run's.

    The classes each run holds most often and those that moved most. Shares, not
    counts: runs of different sizes compare. Every bar's tooltip gives both runs'
    counts and shares.
    """
    classes = drift.classes
    if not classes:
        return svg.empty("Class shares", "no label values in either run")
    totals = (max(drift.values_before, 1), max(drift.values_now, 1))
    shares = [(100 * b / totals[0], 100 * n / totals[1]) for _, b, n in classes]
    top = max(max(pair) for pair in shares)
    x = svg.Axis(0, len(classes), svg.LEFT, svg.RIGHT, ticked=False)
    y = svg.Axis(0, top * 1.05 or 1, svg.BOTTOM, svg.TOP + svg.LEGEND_ROOM)
    out = svg.frame(
        "Class shares: previous run and this run",
        x,
        y,
        "class id (most frequent in either run first)",
        "share of label values (%)",
    )
    step = x(1) - x(0)
    bar = max(step / 2 - 0.5, 0.5)
    for i, ((class_id, before, now), pair) in enumerate(
        zip(classes, shares, strict=True)
    ):
        told = (
            f"class {class_id}: {pair[0]:.2f}% before ({before} of "
            f"{drift.values_before}), {pair[1]:.2f}% now ({now} of {drift.values_now})"
        )
        for offset, share, color, kind in (
            (0, pair[0], _BEFORE, "bar-before"),
            (bar, pair[1], _NOW, "bar-now"),
        ):
            out.append(
                f'<rect class="{kind}" x="{x(i) + offset + 0.25:.1f}" '
                f'y="{y(share):.1f}" width="{bar:.1f}" '
                f'height="{svg.BOTTOM - y(share):.1f}" fill="{color}">'
                f"<title>{svg.escape(told)}</title></rect>"
            )
        out.append(
            f'<text transform="translate({x(i) + step / 2 + 3:.1f},'
            f'{svg.BOTTOM + 4}) rotate(-90)" text-anchor="end" font-size="8">'
            f"{class_id}</text>"
        )
    keys = [svg.Key(_BEFORE, "previous run"), svg.Key(_NOW, "this run")]
    out.append(svg.legend(keys))
    return "".join(out) + "</svg>"


def drift_ranks(drift: DriftProfile) -> str:
    """Both runs' rank-frequency curves, as shares of their label values, log-log.

    The shape of each distribution whatever ids its classes have: a head that grew
    or a tail that thinned shows here when the class ids say nothing.
    """
    curves = [
        (drift.rank_frequency_before, max(drift.values_before, 1)),
        (drift.rank_frequency_now, max(drift.values_now, 1)),
    ]
    points = [
        [(rank, 100 * count / total) for rank, count in curve if count > 0]
        for curve, total in curves
    ]
    values = [share for curve in points for _, share in curve]
    if not values:
        return svg.empty("Rank-frequency", "no label values in either run")
    last = max(rank for curve in points for rank, _ in curve)
    x = svg.Axis(1, svg.round_up(max(last, 2)), svg.LEFT, svg.RIGHT, log=True)
    # Shares end at 100%; the head falls from the top left, the legend sits right.
    y = svg.Axis(
        min(values) / 2, min(100.0, max(values) * 4), svg.BOTTOM, svg.TOP, log=True
    )
    out = svg.frame(
        "Rank-frequency: previous run and this run",
        x,
        y,
        "rank (1 = most frequent class)",
        "share of label values (%)",
    )
    runs = (
        ("previous run", _BEFORE, 'stroke-dasharray="6,4"', drift.values_before),
        ("this run", _NOW, "", drift.values_now),
    )
    for curve, (name, color, dash, total) in zip(points, runs, strict=True):
        out.append(svg.polyline(curve, x, y, color, dash, f"{name}: share per rank"))
        for rank, share in curve:
            out.append(
                f'<circle cx="{x(rank):.1f}" cy="{y(share):.1f}" r="2" '
                f'fill="{color}"><title>{name}, rank {rank}: {share:.3g}% of '
                f"{total} values</title></circle>"
            )
    keys = [
        svg.Key(_BEFORE, "previous run", line=True, dash="6,4"),
        svg.Key(_NOW, "this run", line=True),
    ]
    out.append(svg.legend(keys))
    return "".join(out) + "</svg>"
