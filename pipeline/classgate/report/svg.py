"""SVG drawing for the report's plots: a plot's frame, axes, legend and markers.

plots.py says what each plot shows; this module how a plot is drawn: a fixed-size
frame with a title, ticked axes (linear or log10) and axis labels, lines, markers
and a legend in the top right corner. Every string placed in a plot is escaped.
"""

import dataclasses
import html
import math
from typing import NamedTuple

# One plot's size in SVG units; three plots fit side by side in a 1200 px window.
WIDTH, HEIGHT = 400, 280
# The top margin holds the title and the labels of the num_classes / 0 lines.
MARGIN = {"left": 56, "right": 14, "top": 36, "bottom": 42}
# The plotting area's edges in pixels, inside the margins.
LEFT, RIGHT = MARGIN["left"], WIDTH - MARGIN["right"]
TOP, BOTTOM = MARGIN["top"], HEIGHT - MARGIN["bottom"]
# Pixels kept free above the data on log axes, for the legend.
LEGEND_ROOM = 60


class Key(NamedTuple):
    """One legend entry: a line for a curve, a box for an area or bars."""

    color: str
    text: str
    line: bool = False
    dash: str = ""


@dataclasses.dataclass(frozen=True)
class Axis:
    """Maps data values in [low, high] to pixels in [start, end], maybe on log10."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False
    # False for categories (a plot's class ids), which the plot labels itself.
    ticked: bool = True

    def __call__(self, value: float) -> float:
        f = math.log10 if self.log else float
        share = (f(value) - f(self.low)) / ((f(self.high) - f(self.low)) or 1)
        return self.start + share * (self.end - self.start)

    def ticks(self) -> list[float]:
        if not self.ticked:
            return []
        if self.log:
            first, last = math.ceil(math.log10(self.low)), math.log10(self.high)
            return [10.0**k for k in range(first, math.floor(last) + 1)]
        rough = (self.high - self.low) / 5 or 1
        power = 10 ** math.floor(math.log10(rough))
        step = next(s * power for s in (1, 2, 5, 10) if s * power >= rough)
        first = math.ceil(self.low / step) * step
        return [first + i * step for i in range(int((self.high - first) / step) + 1)]


def frame(title: str, x: Axis, y: Axis, x_label: str, y_label: str) -> list[str]:
    """The SVG opening, title, axes with ticks and labels; plots append to it."""
    out = [
        f'<svg width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" font-size="11">',
        f'<text x="{WIDTH / 2}" y="14" text-anchor="middle" font-size="13" '
        f'font-weight="bold">{escape(title)}</text>',
    ]
    for value in x.ticks():
        px = x(value)
        out.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{TOP}" y2="{BOTTOM}" '
            f'stroke="#eee"/><text x="{px:.1f}" y="{BOTTOM + 14}" '
            f'text-anchor="middle">{short(value)}</text>'
        )
    for value in y.ticks():
        py = y(value)
        out.append(
            f'<line x1="{LEFT}" x2="{RIGHT}" y1="{py:.1f}" '
            f'y2="{py:.1f}" stroke="#eee"/><text x="{LEFT - 4}" y="{py + 4:.1f}" '
            f'text-anchor="end">{short(value)}</text>'
        )
    out += [
        f'<path d="M{LEFT},{TOP}V{BOTTOM}H{RIGHT}" fill="none" stroke="#333"/>',
        f'<text x="{(LEFT + WIDTH) / 2}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{escape(x_label)}</text>",
        f'<text transform="translate(14,{(TOP + BOTTOM) / 2}) rotate(-90)"'
        f' text-anchor="middle">{escape(y_label)}</text>',
    ]
    return out


def count_axis(counts: list) -> Axis:
    """A log axis over the counts that leaves LEGEND_ROOM pixels free on top."""
    low, high = min(counts) / 2, max(counts) * 2
    decades = math.log10(high / low) * (BOTTOM - TOP) / (BOTTOM - TOP - LEGEND_ROOM)
    return Axis(low, low * 10**decades, BOTTOM, TOP, log=True)


def round_up(value: float) -> float:
    """The next of 10, 20, 50, 100, 200...: an axis end a tick can fall near."""
    power = 10 ** max(1, math.floor(math.log10(value)))
    return next(s * power for s in (1, 2, 5, 10) if s * power >= value)


def marker(px: float, label: str, color: str) -> str:
    """A vertical line through the plot, labelled in the top margin."""
    anchor = min(max(px, LEFT + 40), RIGHT - 40)
    return (
        f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{TOP - 4}" '
        f'y2="{BOTTOM}" stroke="{color}" stroke-width="1.5" '
        f'stroke-dasharray="4,3"/><text x="{anchor:.1f}" y="{TOP - 7}" '
        f'text-anchor="middle" fill="{color}">{escape(label)}</text>'
    )


def polyline(points, x: Axis, y: Axis, color: str, extra: str, title: str) -> str:
    path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in points if b > 0)
    return (
        f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2" '
        f"{extra}><title>{escape(title)}</title></polyline>"
    )


def legend(keys: list[Key]) -> str:
    """The keys in the top right corner, in the room the y axis left.

    A curve's key is a short stretch of that curve, an area's or a bar's a box.
    """
    width = 36 + 6 * max(len(key.text) for key in keys)  # ~6 px per character
    x0, y0 = RIGHT - width, TOP + 12
    rows = [
        f'<g class="legend"><rect x="{x0 - 6}" y="{y0 - 10}" width="{width}" '
        f'height="{16 * len(keys) + 4}" fill="#fff" stroke="#ccc"/>'
    ]
    for i, key in enumerate(keys):
        mid = y0 + 16 * i - 2
        if key.line:
            dash = f' stroke-dasharray="{key.dash}"' if key.dash else ""
            rows.append(
                f'<line x1="{x0}" x2="{x0 + 20}" y1="{mid}" y2="{mid}" '
                f'stroke="{key.color}" stroke-width="2"{dash}/>'
            )
        else:
            rows.append(
                f'<rect x="{x0 + 3}" y="{mid - 4}" width="14" height="8" '
                f'fill="{key.color}" stroke="#999" stroke-width="0.5"/>'
            )
        rows.append(f'<text x="{x0 + 26}" y="{mid + 4}">{escape(key.text)}</text>')
    return "".join(rows) + "</g>"


def empty(title: str, text: str) -> str:
    return (
        f'<svg width="{WIDTH}" height="{HEIGHT}">'
        f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
        f"{escape(title)}: {escape(text)}</text></svg>"
    )


def short(value: float) -> str:
    """A tick label: 1, 20, 1.5k, 10k, 1M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def escape(value) -> str:
    return html.escape("" if value is None else str(value))
