"""``secmon query``: the ready analyses over secmon's logs, and their table/JSON/CSV output."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import IO, Any

import orjson

from .logread import (
    MISSING,
    Event,
    Filter,
    ScanStats,
    as_text,
    dig,
    event_time,
    field_text,
    scan,
    user_of,
)

# Below this much input a progress bar only flickers.
PROGRESS_MIN_BYTES = 64 << 20


# -- aggregations -------------------------------------------------------------------------


@dataclass(slots=True)
class Group:
    count: int = 0
    first: str = "~"  # sorts after every timestamp
    last: str = ""
    distinct: set[str] | None = None

    @property
    def first_seen(self) -> str | None:
        return self.first if self.last else None

    @property
    def last_seen(self) -> str | None:
        return self.last or None


# Distinct values tracked per group; beyond this, the column shows "N+".
DISTINCT_CAP = 10_000


class CountBy:
    """Counts per key, with first/last time seen and how many distinct ``other`` values."""

    def __init__(self, key: Callable[[Event], str | None],
                 other: Callable[[Event], str | None] | None = None) -> None:
        self.key = key
        self.other = other
        self.groups: dict[str, Group] = {}

    def add(self, event: Event) -> None:
        key = self.key(event)
        group = self.groups.get(key if key is not None else "(none)")
        if group is None:
            group = self.groups[key if key is not None else "(none)"] = Group()
        group.count += 1
        moment = event.get("timestamp")
        if type(moment) is not str or len(moment) != 27 or moment[-1] != "Z":
            moment = event_time(event)
        if moment is not None:
            if moment < group.first:
                group.first = moment
            if moment > group.last:
                group.last = moment
        if self.other is not None:
            other = self.other(event)
            if other is not None:
                if group.distinct is None:
                    group.distinct = {other}
                elif len(group.distinct) < DISTINCT_CAP:
                    group.distinct.add(other)

    def top(self, limit: int | None = None) -> list[tuple[str, Group]]:
        ranked = sorted(self.groups.items(), key=lambda item: (-item[1].count, item[0]))
        return ranked[:limit] if limit else ranked


# (name, timestamp prefix length, seconds)
_GRAINS = (("second", 19, 1), ("minute", 16, 60), ("hour", 13, 3600), ("day", 10, 86400))
_STEPS = (1, 5, 10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400,
          7 * 86400)


class TimeBuckets:
    """Counts per (time, series), kept per second and coarsened as the span grows.

    Keys are prefixes of canonical timestamps, so counting costs one slice; when more
    than ``max_keys`` distinct times pile up, seconds fold into minutes, hours, days.
    """

    def __init__(self, max_keys: int = 20_000) -> None:
        self.grain = 0
        self.max_keys = max_keys
        self.buckets: dict[str, dict[str, int]] = {}
        self._width = _GRAINS[0][1]

    def add(self, moment: str, series: str) -> None:
        bucket = self.buckets.get(moment[: self._width])
        if bucket is None:
            if len(self.buckets) >= self.max_keys and self.grain < len(_GRAINS) - 1:
                self._coarsen()
            bucket = self.buckets.setdefault(moment[: self._width], {})
        bucket[series] = bucket.get(series, 0) + 1

    def _coarsen(self) -> None:
        self.grain += 1
        self._width = width = _GRAINS[self.grain][1]
        folded: dict[str, dict[str, int]] = {}
        for prefix, bucket in self.buckets.items():
            target = folded.setdefault(prefix[:width], {})
            for series, count in bucket.items():
                target[series] = target.get(series, 0) + count
        self.buckets = folded

    def series_totals(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for bucket in self.buckets.values():
            totals.update(bucket)
        return totals

    def table(self, step: int | None = None, max_buckets: int = 60) -> tuple[int, list[datetime],
                                                                             dict[str, list[int]]]:
        """(bucket seconds, bucket starts, counts per series aligned with the starts)."""
        if not self.buckets:
            return step or 3600, [], {}
        starts = {prefix: _prefix_time(prefix) for prefix in self.buckets}
        first, last = min(starts.values()), max(starts.values())
        floor = _GRAINS[self.grain][2]
        if step is None:
            span = (last - first).total_seconds()
            step = next((s for s in _STEPS if s >= floor and span / s < max_buckets), _STEPS[-1])
        step = max(step, floor)
        origin = _floor(first, step)
        size = int((last - origin).total_seconds() // step) + 1
        buckets = [origin + timedelta(seconds=step * i) for i in range(size)]
        columns: dict[str, list[int]] = {}
        for prefix, bucket in self.buckets.items():
            index = int((starts[prefix] - origin).total_seconds() // step)
            for series, count in bucket.items():
                columns.setdefault(series, [0] * size)[index] += count
        return step, buckets, columns


def _prefix_time(prefix: str) -> datetime:
    padded = prefix + "0000-01-01T00:00:00"[len(prefix) :]
    return datetime.strptime(padded, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def _floor(moment: datetime, step: int) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % step, timezone.utc)


def step_label(step: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if step % size == 0:
            return f"{step // size}{unit}"
    return f"{step}s"


# -- analyses -----------------------------------------------------------------------------

# Keys every event carries (or that only locate it); what is left is the event's evidence.
_BASE_KEYS = frozenset({
    "timestamp", "level", "event_type", "category", "outcome", "event", "app", "request_id",
    "user_agent", "method", "path", "host", "route", "status", "peer_ip", "environment",
    "seq", "chain", "prev", "mac", "key_id", "username", "username_hash", "user_id", "source_ip",
})
EVENT_COLUMNS = ["time", "level", "event_type", "user", "source_ip", "event"]
CSV_COLUMNS = ["timestamp", "level", "event_type", "category", "outcome", "user_id", "username",
               "username_hash", "source_ip", "method", "path", "status", "event"]
DETECTION_CATEGORY = "intrusion_detection"


def evidence(event: Event) -> dict[str, Any]:
    """The fields particular to this event (counts, windows, addresses, changes...)."""
    return {key: value for key, value in event.items() if key not in _BASE_KEYS}


def _shown_time(moment: str | None) -> str:
    return moment[:19].replace("T", " ") if moment else ""


def _column_value(event: Event, column: str) -> Any:
    if column == "time":
        return _shown_time(event_time(event))
    if column == "user":
        return user_of(event)
    if column == "evidence":
        found = evidence(event)
        return orjson.dumps(found).decode() if found else ""
    value = dig(event, column.split("."))
    return None if value is MISSING else value


@dataclass
class Result:
    """An analysis's answer: a title, columns and rows (rows may still be streaming)."""

    title: str
    columns: list[str]
    rows: Iterable[list[Any]]
    # For plain event listings: the events themselves, so JSON lines keep every field.
    events: Iterable[Event] | None = None


@dataclass
class Query:
    """One ``secmon query`` run: inputs, filter, the analysis and its options."""

    paths: Sequence[str]
    where: Filter = field(default_factory=Filter)
    analysis: str = "events"
    by: str | None = None
    fields: Sequence[str] | None = None
    bucket: int | None = None
    limit: int | None = None
    stats: ScanStats = field(default_factory=ScanStats)
    advance: Callable[[int], None] = lambda n: None

    def scan(self, where: Filter | None = None) -> Iterator[tuple[bytes, Event]]:
        return scan(self.paths, where or self.where, self.stats, self.advance)

    def run(self) -> Result:
        method: Callable[[], Result] = getattr(self, "_" + self.analysis.replace("-", "_"))
        return method()

    def _events(self) -> Result:
        columns = list(self.fields) if self.fields else EVENT_COLUMNS
        events: Iterator[Event] = (event for _, event in self.scan())
        if self.limit:
            events = _take(events, self.limit)
        rows = ([_column_value(event, c) for c in columns] for event in events)
        return Result("events", columns, rows, None if self.fields else events)

    def _timeline(self) -> Result:
        columns = list(self.fields) if self.fields else [
            "time", "level", "event_type", "source_ip", "path", "event"]
        events = sorted((e for _, e in self.scan()), key=lambda e: event_time(e) or "")
        if self.limit:
            events = events[-self.limit:]
        rows = [[_column_value(event, c) for c in columns] for event in events]
        return Result(f"timeline of {self.where.who}", columns, rows,
                      None if self.fields else events)

    def _alerts(self) -> Result:
        columns = list(self.fields) if self.fields else [
            "time", "event_type", "user", "source_ip", "evidence"]
        where = self.where.narrowed(categories=[DETECTION_CATEGORY])
        events = sorted((e for _, e in self.scan(where)), key=lambda e: event_time(e) or "")
        if self.limit:
            events = events[-self.limit:]
        rows = [[_column_value(event, c) for c in columns] for event in events]
        return Result("detections and alerts", columns, rows, None if self.fields else events)

    def _failed_logins(self) -> Result:
        where = self.where.narrowed(types=["authn_login_fail"])
        if self.by == "ip":
            return self._count("failed logins by source IP", where, _ip, _user,
                               ["source_ip", "failures", "users", "first", "last"])
        return self._count("failed logins by user", where, user_of, _ip,
                           ["user", "failures", "source_ips", "first", "last"])

    def _denials(self) -> Result:
        where = self.where.narrowed(types=["authz_fail"])
        if self.by == "ip":
            return self._count("access denials by source IP", where, _ip, _user,
                               ["source_ip", "denials", "users", "first", "last"])
        return self._count("access denials by user", where, user_of, _resource,
                           ["user", "denials", "resources", "first", "last"])

    def _count_by(self) -> Result:
        assert self.by is not None
        path = self.by.split(".")
        if len(path) == 1:
            name = path[0]

            def key(event: Event) -> str | None:
                value = event.get(name)
                return value if type(value) is str else (
                    None if value is None else as_text(value))
        else:

            def key(event: Event) -> str | None:
                return field_text(event, path) or None

        return self._count(f"events by {self.by}", self.where, key, None,
                           [self.by, "events", "first", "last"])

    def _count(self, title: str, where: Filter, key: Callable[[Event], str | None],
               other: Callable[[Event], str | None] | None, columns: list[str]) -> Result:
        counter = CountBy(key, other)
        for _, event in self.scan(where):
            counter.add(event)
        rows = []
        for name, group in counter.top(self.limit):
            row: list[Any] = [name, group.count]
            if other is not None:
                distinct = len(group.distinct or ())
                row.append(f"{distinct}+" if distinct >= DISTINCT_CAP else distinct)
            row += [_shown_time(group.first_seen), _shown_time(group.last_seen)]
            rows.append(row)
        return Result(title, columns, rows)

    def _over_time(self) -> Result:
        buckets = TimeBuckets()
        add = buckets.add
        for _, event in self.scan():
            moment = event.get("timestamp")
            if type(moment) is not str or len(moment) != 27 or moment[-1] != "Z":
                moment = event_time(event)
                if moment is None:
                    continue
            add(moment, str(event.get("event_type")))
        step, starts, columns = buckets.table(self.bucket)
        order = [name for name, _ in buckets.series_totals().most_common()]
        rows = []
        for index, start in enumerate(starts):
            counts = [columns[name][index] for name in order]
            shown = start.strftime("%Y-%m-%d %H:%M:%S" if step < 60 else "%Y-%m-%d %H:%M")
            rows.append([shown, *counts, sum(counts)])
        return Result(f"events by type per {step_label(step)}", ["time", *order, "total"], rows)


def _ip(event: Event) -> str | None:
    value = event.get("source_ip")
    return None if value is None else str(value)


def _user(event: Event) -> str | None:
    return user_of(event)


def _resource(event: Event) -> str | None:
    """What was denied: ``invoice:7``, else the path, else the resource type."""
    kind, ident, path = event.get("resource_type"), event.get("resource_id"), event.get("path")
    if kind is not None and ident is not None:
        return f"{kind}:{ident}"
    if path is not None:
        return str(path)
    return None if kind is None else str(kind)


def _take(events: Iterator[Event], limit: int) -> Iterator[Event]:
    for count, event in enumerate(events, 1):
        yield event
        if count >= limit:
            return


ANALYSES = ("events", "timeline", "alerts", "failed-logins", "denials", "count-by", "over-time")


# -- output -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else as_text(value)


def write_jsonl(result: Result, out: IO[bytes]) -> int:
    count = 0
    if result.events is not None:
        for event in result.events:
            out.write(orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS) + b"\n")
            count += 1
        return count
    for row in result.rows:
        record = dict(zip(result.columns, row, strict=False))
        out.write(orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS, default=str) + b"\n")
        count += 1
    return count


def write_csv(result: Result, out: IO[str]) -> int:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    columns = result.columns
    if result.events is not None and columns == EVENT_COLUMNS:
        columns = CSV_COLUMNS
        rows: Iterable[list[Any]] = (
            [_column_value(event, c) for c in columns] for event in result.events)
    else:
        rows = result.rows
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(["" if v is None else _plain(v) for v in row])
        count += 1
    return count


LEVEL_STYLES = {"warning": "yellow", "error": "red", "critical": "bold red"}


def render_table(result: Result, console: Any) -> int:
    """Print ``result`` as a rich table (nothing when it is empty); returns the row count."""
    from rich.table import Table
    from rich.text import Text

    rows = list(result.rows)
    if not rows:
        return 0
    table = Table(title=result.title, title_justify="left", header_style="bold")
    for index, column in enumerate(result.columns):
        numbers = all(isinstance(row[index], int) or row[index] is None for row in rows)
        wrap = column in ("event", "evidence", "path")
        table.add_column(column, justify="right" if numbers else "left",
                         overflow="fold" if wrap else "ellipsis", no_wrap=not wrap)
    for row in rows:
        cells = []
        for column, value in zip(result.columns, row, strict=False):
            text = Text("" if value is None else str(_plain(value)))
            if column == "level":
                text.stylize(LEVEL_STYLES.get(str(value), ""))
            cells.append(text)
        table.add_row(*cells)
    console.print(table)
    return len(rows)
