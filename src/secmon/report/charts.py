"""The report's charts: events over time by category, detections over time per rule (on the
same time axis, so the two line up), and the top sources and users of failures and denials."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..query import CountBy, Group, step_label
from . import svg
from .markup import Html
from .summary import Summary

MAX_BUCKETS = 72
# Fewer buckets than this get empty ones on both sides: one bar is not the whole width.
MIN_BUCKETS = 12
# Categories in the legend, rules given a row; the rest are summed as one.
MAX_SERIES = 9
MAX_RULES = 12
TOP = 10
CATEGORY_COLORS = {
    "authentication": "#4c78a8",
    "web": "#f58518",
    "iam": "#54a24b",
    "file": "#b279a2",
    "intrusion_detection": "#e45756",
    "session": "#72b7b2",
    "database": "#eeca3b",
    "configuration": "#9d755d",
    "process": "#bab0ac",
}
OTHER_COLOR = "#a0a7b1"
FAILURE_COLOR, DENIAL_COLOR = "#e45756", "#f58518"
DETECTION_COLOR = CATEGORY_COLORS["intrusion_detection"]

# The time charts share their width and plot area, so their buckets line up on the page.
WIDE, LEFT, RIGHT = 960, 56, 750


@dataclass
class TimeGrid:
    """Both time charts' buckets: ``step`` seconds from ``starts[0]``, counts per series."""

    step: int
    starts: list[datetime]
    categories: dict[str, list[int]]
    rules: dict[str, list[int]]

    @property
    def scale(self) -> svg.TimeScale:
        start = self.starts[0].timestamp()
        return svg.TimeScale(start, start + self.step * len(self.starts), LEFT, RIGHT)

    def span(self, index: int) -> str:
        """Bucket ``index`` as a reader names it: ``2026-03-02 09:15-09:30 UTC``."""
        start = self.starts[index]
        end = start + timedelta(seconds=self.step)
        if self.step < 60:
            return f"{start:%Y-%m-%d %H:%M:%S} UTC"
        return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"


def time_grid(summary: Summary) -> TimeGrid | None:
    step, starts, categories = summary.categories.table(max_buckets=MAX_BUCKETS)
    if not starts:
        return None
    rules: dict[str, list[int]] = {}
    if summary.rules.buckets:
        rule_step, rule_starts, rule_columns = summary.rules.table(step=step)
        if rule_step != step:  # the detections kept a coarser grain: draw both on it
            step, starts, categories = summary.categories.table(step=rule_step)
        # Both grids are floored to multiples of ``step``: the offset is whole buckets.
        offset = round((rule_starts[0] - starts[0]).total_seconds() / step)
        for name, counts in rule_columns.items():
            row = rules[name] = [0] * len(starts)
            for index, count in enumerate(counts):
                row[min(max(index + offset, 0), len(starts) - 1)] += count
    before = max(MIN_BUCKETS - len(starts), 0) // 2
    after = max(MIN_BUCKETS - len(starts) - before, 0)
    if before or after:
        span = timedelta(seconds=step)
        starts = ([starts[0] - span * i for i in range(before, 0, -1)] + starts
                  + [starts[-1] + span * i for i in range(1, after + 1)])
        for columns in (categories, rules):
            for name, counts in columns.items():
                columns[name] = [0] * before + counts + [0] * after
    return TimeGrid(step, starts, categories, rules)


def _by_total(columns: dict[str, list[int]], keep: int,
              other: str) -> list[tuple[str, list[int]]]:
    """Series, the largest first (ties in the order they first occur); beyond ``keep``,
    the rest summed as ``other``: a foreign log may hold any number of names."""
    def first(counts: list[int]) -> int:
        return next((i for i, n in enumerate(counts) if n), len(counts))

    ranked = sorted(columns.items(), key=lambda kv: (-sum(kv[1]), first(kv[1]), kv[0]))
    if len(ranked) <= keep:
        return ranked
    rest = [sum(counts) for counts in zip(*(c for _, c in ranked[keep - 1:]), strict=True)]
    return [*ranked[: keep - 1], (other, rest)]


def timeline_chart(grid: TimeGrid) -> Html:
    """Stacked bars: events per bucket by category."""
    order = _by_total(grid.categories, MAX_SERIES, "other")
    size = len(grid.starts)
    stacked = [sum(counts[i] for _, counts in order) for i in range(size)]
    top, bottom = 14.0, 214.0
    ticks = svg.count_ticks(max(stacked))
    scale = grid.scale
    parts = svg.time_axis(scale, bottom, top)
    parts += svg.count_axis(ticks, LEFT, RIGHT, bottom, top, "events")
    slot = (RIGHT - LEFT) / size
    gap = min(slot * 0.15, 4.0)
    per_event = (bottom - top) / ticks[-1]
    for index in range(size):
        x = scale.x(grid.starts[index].timestamp()) + gap / 2
        y = bottom
        for name, counts in order:
            count = counts[index]
            if count:
                height = count * per_event
                y -= height
                parts.append(svg.rect(x, y, slot - gap, height,
                                      CATEGORY_COLORS.get(name, OTHER_COLOR),
                                      f"{grid.span(index)}: {count} {name}"))
    totals = [(name, sum(counts)) for name, counts in order]
    for row, (name, total) in enumerate(totals):
        y = top + 10 + row * 20
        parts += svg.swatch(RIGHT + 22, y, CATEGORY_COLORS.get(name, OTHER_COLOR),
                            svg.shorten(name, 20))
        parts.append(svg.text(WIDE - 8, y, str(total), anchor="end", css="muted"))
    busiest = max(range(size), key=lambda i: stacked[i])
    used = [i for i in range(size) if stacked[i]]
    description = (
        f"Stacked bars, one per {step_label(grid.step)} from {grid.span(used[0])} to "
        f"{grid.span(used[-1])}: {sum(stacked)} events by category ("
        + ", ".join(f"{name} {total}" for name, total in totals)
        + f"). The busiest was {grid.span(busiest)} with {stacked[busiest]} events.")
    height = max(bottom + 56, top + 10 + len(order) * 20)
    return svg.chart("timeline", WIDE, height, timeline_title(grid), description, parts)


def timeline_title(grid: TimeGrid) -> str:
    return f"Events over time by category (per {step_label(grid.step)})"


def rules_chart(grid: TimeGrid) -> Html | None:
    """Small multiples: detections per bucket, one row per rule, each row on its own scale."""
    if not grid.rules:
        return None
    order = _by_total(grid.rules, MAX_RULES, "other rules")
    size = len(grid.starts)
    scale = grid.scale
    row_height, bar_room, top = 40.0, 28.0, 8.0
    slot = (RIGHT - LEFT) / size
    gap = min(slot * 0.15, 4.0)
    bottom = top + len(order) * row_height + 6
    parts = svg.time_axis(scale, bottom, top)
    lines = []
    for row, (name, counts) in enumerate(order):
        total, peak = sum(counts), max(counts)
        base = top + row * row_height + bar_room + 6
        parts.append(svg.line(LEFT, base, RIGHT, base, "axis"))
        parts.append(svg.text(LEFT - 6, base - bar_room + 4, svg.compact(peak), anchor="end",
                              css="muted"))
        for index, count in enumerate(counts):
            if count:
                height = max(count / peak * bar_room, 2.0)
                parts.append(svg.rect(scale.x(grid.starts[index].timestamp()) + gap / 2,
                                      base - height, slot - gap, height, DETECTION_COLOR,
                                      f"{grid.span(index)}: {count} {name}"))
        parts.append(svg.text(RIGHT + 22, base - 16, svg.shorten(name, 28)))
        parts.append(svg.text(RIGHT + 22, base - 2, _detections(total), css="muted small"))
        busiest = max(range(size), key=lambda i: counts[i])
        lines.append(f"{name}: {_detections(total)}, the most ({peak}) in "
                     f"{grid.span(busiest)}")
    if len(order) >= 3:  # the axis title is taller than one or two rows
        parts.append(svg.text(14, (top + bottom) / 2, "detections", anchor="middle",
                              css="muted", rotate=True))
    description = (f"Detections over time, one row per rule, one bar per "
                   f"{step_label(grid.step)}, each row scaled to its own peak. "
                   + "; ".join(lines) + ".")
    return svg.chart("rules", WIDE, bottom + 56, rules_title(grid), description, parts)


def rules_title(grid: TimeGrid) -> str:
    return f"Detections over time per rule (per {step_label(grid.step)})"


def _detections(count: int) -> str:
    return f"{count} detection{'s' if count != 1 else ''}"


def ranked(counts: Iterable[tuple[str, int]], limit: int = TOP) -> list[tuple[str, int]]:
    """The ``limit`` largest counts, ties by key: without sorting a million usernames."""
    return heapq.nsmallest(limit, counts, key=lambda kv: (-kv[1], kv[0]))


def top_groups(counter: CountBy, limit: int = TOP) -> list[tuple[str, Group]]:
    """``counter.top(limit)``, in O(n log limit)."""
    keys = ranked(((key, group.count) for key, group in counter.groups.items()), limit)
    return [(key, counter.groups[key]) for key, _ in keys]


def top_chart(name: str, title: str, failures: CountBy, denials: CountBy) -> Html | None:
    """Horizontal bars: failed logins and denials of the keys (IPs, users) with the most."""
    totals: Counter[str] = Counter({key: group.count for key, group in failures.groups.items()})
    for key, group in denials.groups.items():
        totals[key] += group.count
    top = ranked(totals.items())
    if not top:
        return None

    def count(counter: CountBy, key: str) -> int:
        group = counter.groups.get(key)
        return group.count if group else 0

    width, upper, row_height, bar_height = 480.0, 6.0, 24.0, 16.0
    labels = [svg.shorten(key) for key, _ in top]
    left = 10 + max(svg.text_width(label) for label in labels)
    right = width - 16 - svg.text_width(str(top[0][1]))
    bottom = upper + row_height * len(top)
    ticks = svg.count_ticks(top[0][1], most=4)
    per_event = (right - left) / ticks[-1]
    parts: list[Html] = []
    for value in ticks:
        x = left + value * per_event
        parts.append(svg.line(x, upper, x, bottom, "grid" if value else "axis"))
        parts.append(svg.text(x, bottom + 16, svg.compact(value), anchor="middle"))
    parts.append(svg.text((left + right) / 2, bottom + 32, "events", anchor="middle",
                          css="muted"))
    lines = []
    for row, ((key, total), label) in enumerate(zip(top, labels, strict=True)):
        y = upper + row * row_height + (row_height - bar_height) / 2
        failed, denied = count(failures, key), count(denials, key)
        parts.append(svg.text(left - 6, y + 12, label, anchor="end"))
        if failed:
            parts.append(svg.rect(left, y, failed * per_event, bar_height, FAILURE_COLOR,
                                  f"{key}: {failed} failed logins"))
        if denied:
            parts.append(svg.rect(left + failed * per_event, y, denied * per_event,
                                  bar_height, DENIAL_COLOR, f"{key}: {denied} access denials"))
        parts.append(svg.text(left + total * per_event + 5, y + 12, str(total), css="muted"))
        lines.append(f"{key}: {failed} failed logins, {denied} access denials")
    legend = bottom + 54
    parts += svg.swatch(left, legend, FAILURE_COLOR, "failed logins")
    parts += svg.swatch(left + 130, legend, DENIAL_COLOR, "access denials")
    return svg.chart(name, width, legend + 10, title, "; ".join(lines) + ".", parts)
