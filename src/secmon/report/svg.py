"""The report's SVG vocabulary: a chart element, marks, scales and axes, labels kept as text.

Charts are inline in the page, so the page's stylesheet styles them (``.chart text``,
``.grid``, ``.axis``); sizes are in the chart's own units and scale with the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from .markup import Html, fill, join

FONT = 12
# The mean advance of a sans-serif glyph, in font sizes: room enough for a label.
GLYPH = 0.6
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600,
              6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400)


def text_width(text: str, size: float = FONT) -> float:
    return len(text) * size * GLYPH


def shorten(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chart(name: str, width: float, height: float, title: str, description: str,
          parts: Sequence[Html]) -> Html:
    """The <svg> element: an image with a title and a text alternative for assistive tech."""
    return fill(
        '<svg class="chart" data-chart="$name" xmlns="http://www.w3.org/2000/svg" '
        'viewBox="0 0 $width $height" role="img" aria-labelledby="$name-title $name-desc">'
        '<title id="$name-title">$title</title><desc id="$name-desc">$description</desc>'
        "$parts</svg>",
        name=name, width=float(width), height=float(height), title=title,
        description=description, parts=join(parts))


def rect(x: float, y: float, width: float, height: float, colour: str,
         tip: str | None = None) -> Html:
    """A bar; ``tip`` is its tooltip (and its name for assistive tech)."""
    shape = fill('<rect x="$x" y="$y" width="$w" height="$h" fill="$c"', x=float(x),
                 y=float(y), w=float(max(width, 0.0)), h=float(max(height, 0.0)), c=colour)
    if tip is None:
        return Html(shape + "/>")
    return Html(shape + fill("><title>$tip</title></rect>", tip=tip))


def text(x: float, y: float, content: str, *, anchor: str = "start", css: str = "",
         rotate: bool = False) -> Html:
    transform = fill(' transform="rotate(-90 $x $y)"', x=float(x), y=float(y)) if rotate \
        else Html("")
    return fill('<text x="$x" y="$y" text-anchor="$anchor" class="$css"$transform>$content'
                "</text>", x=float(x), y=float(y), anchor=anchor, css=css,
                transform=transform, content=content)


def line(x1: float, y1: float, x2: float, y2: float, css: str) -> Html:
    return fill('<line x1="$x1" y1="$y1" x2="$x2" y2="$y2" class="$css"/>', x1=float(x1),
                y1=float(y1), x2=float(x2), y2=float(y2), css=css)


def compact(value: int) -> str:
    """A tick label that fits the margin: 950, 9500, 20k, 1.5M."""
    for size, unit in ((1_000_000, "M"), (10_000, "k")):
        if value >= size:
            divisor = size if unit == "M" else 1000
            return f"{value / divisor:.4g}{unit}"
    return str(value)


def count_ticks(top: int, most: int = 5) -> list[int]:
    """0, then round steps (1, 2, 5 times a power of ten) up to at least ``top``."""
    top = max(top, 1)
    for power in range(0, 19):
        for base in (1, 2, 5):
            step = base * 10**power
            if math.ceil(top / step) <= most:
                return [step * i for i in range(math.ceil(top / step) + 1)]
    return [0, top]


@dataclass(frozen=True)
class TimeScale:
    """Seconds since the epoch to x, over ``[start, end)`` drawn from ``left`` to ``right``."""

    start: float
    end: float
    left: float
    right: float

    def x(self, moment: float) -> float:
        return self.left + (moment - self.start) / (self.end - self.start) * (self.right
                                                                             - self.left)

    def ticks(self, most: int = 8) -> tuple[int, list[float]]:
        """A round tick interval (seconds) and the ticks on it within the scale."""
        span = self.end - self.start
        step = next((s for s in TIME_STEPS if span / s <= most), TIME_STEPS[-1])
        first = math.ceil(self.start / step) * step
        return step, [float(t) for t in range(int(first), int(self.end) + 1, step)]


def _utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, timezone.utc)


def time_axis(scale: TimeScale, y: float, top: float, label: str = "time (UTC)") -> list[Html]:
    """Ticks below ``y`` (grid lines up to ``top``): times, with the date under the first
    tick and each new day."""
    step, ticks = scale.ticks()
    parts = []
    shown_day = None
    for moment in ticks:
        x = scale.x(moment)
        when = _utc(moment)
        parts.append(line(x, top, x, y, "grid"))
        parts.append(line(x, y, x, y + 4, "axis"))
        if step >= 86400:
            parts.append(text(x, y + 17, f"{when:%b} {when.day}", anchor="middle"))
            if moment == ticks[0]:
                parts.append(text(x, y + 31, str(when.year), anchor="middle", css="muted"))
            continue
        parts.append(text(x, y + 17, f"{when:%H:%M:%S}" if step < 60 else f"{when:%H:%M}",
                          anchor="middle"))
        if when.date() != shown_day:
            shown_day = when.date()
            parts.append(text(x, y + 31, f"{when:%Y-%m-%d}", anchor="middle", css="muted"))
    if not ticks:  # a span shorter than its first round time: say when it is
        when = _utc(scale.start)
        parts.append(text(scale.left, y + 17, f"{when:%Y-%m-%d %H:%M:%S}"))
    parts.append(line(scale.left, y, scale.right, y, "axis"))
    parts.append(text((scale.left + scale.right) / 2, y + 46, label, anchor="middle",
                      css="muted"))
    return parts


def count_axis(ticks: Sequence[int], left: float, right: float, bottom: float, top: float,
               label: str) -> list[Html]:
    """Horizontal grid lines with their counts on the left, the axis title up the side."""
    parts: list[Html] = []
    peak = ticks[-1] or 1
    for value in ticks:
        y = bottom - value / peak * (bottom - top)
        parts.append(line(left, y, right, y, "grid" if value else "axis"))
        parts.append(text(left - 6, y + 4, compact(value), anchor="end"))
    parts.append(text(14, (top + bottom) / 2, label, anchor="middle", css="muted",
                      rotate=True))
    return parts


def swatch(x: float, y: float, colour: str, label: str) -> list[Html]:
    """One legend entry: a coloured square and its label, ``y`` the text baseline."""
    return [rect(x, y - 10, 11, 11, colour), text(x + 17, y, label)]
