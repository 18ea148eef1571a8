"""Streamed reading of JSON-lines logs (plain or gzip) with filters screened on raw bytes."""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import IO, Any, cast

import orjson

from .events import LEVEL_RANK

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

Event = dict[str, Any]


class InputError(Exception):
    """An input file that cannot be read at all (missing, unreadable, corrupt gzip)."""


# -- time ---------------------------------------------------------------------------------

_RELATIVE = re.compile(r"(\d+)\s*(s|m|h|d|w)", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def canonical(moment: datetime) -> str:
    """The timestamp format secmon writes: UTC, microseconds, ``Z`` (sorts as text)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_when(text: str, now: datetime | None = None) -> str:
    """A --since/--until value as a canonical timestamp.

    Accepts an ISO date or date-time (UTC unless it carries an offset), ``now``, or a
    duration back from now such as ``90s``, ``30m``, ``24h``, ``7d``, ``2w``.
    """
    value = text.strip()
    now = now or datetime.now(timezone.utc)
    relative = _RELATIVE.fullmatch(value)
    if relative:
        seconds = int(relative.group(1)) * _UNITS[relative.group(2).lower()]
        return canonical(now - timedelta(seconds=seconds))
    if value.lower() == "now":
        return canonical(now)
    try:
        return canonical(_parse_iso(value))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-03-01), a date-time (2026-03-01T14:30, UTC unless "
            "an offset is given) or a duration back from now (90s, 30m, 24h, 7d, 2w)"
        ) from None


def _parse_iso(value: str) -> datetime:
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    return datetime.fromisoformat(value)


def event_time(event: Event) -> str | None:
    """The event's timestamp in canonical form, or None when it has none that parses."""
    value = event.get("timestamp")
    if not isinstance(value, str):
        return None
    if len(value) == 27 and value[-1] == "Z":
        return value
    try:
        return canonical(_parse_iso(value))
    except (ValueError, IndexError):
        return None


def parse_duration(text: str) -> int:
    """``5m``, ``1h``, ``1d`` as seconds."""
    match = _RELATIVE.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration such as 5m, 1h or 1d")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


# -- who ----------------------------------------------------------------------------------


def user_of(event: Event) -> str | None:
    """Who an event is about, as shown in tables: a username, ``#hash`` or ``id:42``."""
    name = event.get("username")
    if name is not None and name != "":
        return str(name)
    hashed = event.get("username_hash")
    if hashed:
        return f"#{hashed}"
    user_id = event.get("user_id")
    if user_id is not None and user_id != "":
        return f"id:{user_id}"
    return None


def _identities(event: Event) -> Iterator[str]:
    for key in ("username", "user_id", "actor_id", "source_ip", "target_user_id"):
        value = event.get(key)
        if value is not None:
            yield str(value)
            if key != "username" and key != "source_ip":
                yield f"id:{value}"
    if event.get("resource_type") == "user" and event.get("resource_id") is not None:
        # A change made to this user by someone else is part of their story too.
        yield str(event["resource_id"])
        yield f"id:{event['resource_id']}"
    hashed = event.get("username_hash")
    if hashed:
        yield str(hashed)
        yield f"#{hashed}"
    shown = user_of(event)
    if shown:
        yield shown


# -- filters ------------------------------------------------------------------------------

MISSING = object()


def dig(event: Any, path: Sequence[str]) -> Any:
    """The value at a dotted path (``a.b.c``) inside nested dicts, or a sentinel."""
    for part in path:
        if not isinstance(event, dict):
            return MISSING
        event = event.get(part, MISSING)
        if event is MISSING:
            return MISSING
    return event


def as_text(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def field_text(event: Event, path: Sequence[str]) -> str:
    value = dig(event, path)
    return "" if value is MISSING or value is None else as_text(value)


@dataclass(frozen=True)
class Where:
    """One ``--where key=value`` (or ``key!=value``) condition; dotted keys reach nested dicts."""

    path: tuple[str, ...]
    value: str
    negate: bool = False

    @classmethod
    def parse(cls, text: str) -> Where:
        match = re.fullmatch(r"\s*([\w@.-]+?)\s*(!?=)(.*)", text)
        if not match or any(not part for part in match.group(1).split(".")):
            raise ValueError(
                f"{text!r} is not a condition of the form key=value or key!=value "
                "(nested keys with dots: changes.role=admin)"
            )
        return cls(tuple(match.group(1).split(".")), match.group(3), match.group(2) == "!=")

    def __call__(self, event: Event) -> bool:
        value = dig(event, self.path)
        equal = value is not MISSING and as_text(value) == self.value
        return equal != self.negate

    def needle(self) -> bytes | None:
        # The value must appear verbatim in the raw line, unless a JSON writer escapes it.
        if self.negate or not self.value or not re.fullmatch(r"[A-Za-z0-9 _.:@+,=#-]+", self.value):
            return None
        return self.value.encode()


@dataclass(frozen=True)
class Filter:
    """What a scan keeps: event types, a time range, a minimum level, conditions, a person."""

    types: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    since: str | None = None
    until: str | None = None
    min_level: str | None = None
    where: tuple[Where, ...] = ()
    who: str | None = None

    def narrowed(self, types: Iterable[str] = (), categories: Iterable[str] = ()) -> Filter:
        """This filter and an analysis's own selection (both must hold)."""
        new_types = frozenset(types)
        if self.types and new_types:
            new_types = self.types & new_types or frozenset({"\0none"})
        return Filter(
            types=new_types or self.types,
            categories=self.categories | frozenset(categories),
            since=self.since,
            until=self.until,
            min_level=self.min_level,
            where=self.where,
            who=self.who,
        )

    def any_of(self) -> tuple[bytes, ...]:
        """Raw-line prefilter: at least one of these must appear (empty: no constraint)."""
        if self.types:
            return tuple(b'"' + name.encode() + b'"' for name in sorted(self.types))
        if self.categories:
            return tuple(b'"' + name.encode() + b'"' for name in sorted(self.categories))
        return ()

    def all_of(self) -> tuple[bytes, ...]:
        """Raw-line prefilter: each of these must appear."""
        needles = [n for n in (w.needle() for w in self.where) if n is not None]
        if self.who and re.fullmatch(r"[A-Za-z0-9 _.:@+,=-]+", self.who):
            needles.append(self.who.removeprefix("id:").encode())
        return tuple(needles)

    def predicate(self) -> Callable[[Event], bool] | None:
        """The exact check on a parsed event, or None when every event passes."""
        checks: list[Callable[[Event], bool]] = []
        if self.types:
            types = self.types
            checks.append(lambda e: e.get("event_type") in types)
        if self.categories:
            categories = self.categories
            checks.append(lambda e: e.get("category") in categories)
        if self.min_level:
            floor = LEVEL_RANK[self.min_level]
            checks.append(lambda e: LEVEL_RANK.get(e.get("level"), 0) >= floor)  # type: ignore[arg-type]
        if self.since or self.until:
            since, until = self.since, self.until

            def in_range(event: Event) -> bool:
                moment = event_time(event)
                if moment is None:
                    return False
                return (since is None or moment >= since) and (until is None or moment < until)

            checks.append(in_range)
        checks.extend(self.where)
        if self.who:
            who = self.who
            checks.append(lambda e: who in _identities(e))
        if not checks:
            return None
        if len(checks) == 1:
            return checks[0]
        return lambda e: all(check(e) for check in checks)


# -- reading ------------------------------------------------------------------------------


# Sequence numbers beyond this are not tracked in a bitmap (they would cost too much).
_MAX_BITMAP_SEQ = 1 << 27


class SeenRecords:
    """Signed records (chain, seq) already read, one bit per seq: millions cost little.

    The same audit record is in security.log and audit.log; reading both must count it once.
    """

    def __init__(self) -> None:
        self._bits: dict[str, bytearray] = {}
        self._odd: set[tuple[str, str]] = set()

    def first_time(self, chain: Any, seq: Any) -> bool:
        if type(seq) is not int or not isinstance(chain, str) or not 0 <= seq < _MAX_BITMAP_SEQ:
            key = (str(chain), str(seq))
            if key in self._odd:
                return False
            self._odd.add(key)
            return True
        bits = self._bits.get(chain)
        if bits is None:
            bits = self._bits[chain] = bytearray()
        index, mask = seq >> 3, 1 << (seq & 7)
        if index >= len(bits):
            bits.extend(bytes(index + 1 - len(bits) + len(bits) // 2))
        if bits[index] & mask:
            return False
        bits[index] |= mask
        return True


@dataclass
class ScanStats:
    """What a scan read: counted as it goes, reported at the end."""

    files: int = 0
    bytes: int = 0
    lines: int = 0
    matched: int = 0
    bad_lines: int = 0
    duplicates: int = 0
    bad_examples: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    seen: SeenRecords = field(default_factory=SeenRecords)
    # path -> (signed records, events) among the lines the filters looked at
    signed: dict[str, tuple[int, int]] = field(default_factory=dict)

    def bad_line(self, name: str, number: int) -> None:
        self.bad_lines += 1
        if len(self.bad_examples) < 5:
            self.bad_examples.append(f"{name}:{number}")

    def problems(self) -> list[str]:
        """One line per thing a reader should know about the input."""
        notes = []
        if self.bad_lines:
            where = ", ".join(self.bad_examples)
            more = ", ..." if self.bad_lines > len(self.bad_examples) else ""
            notes.append(
                f"skipped {self.bad_lines} line(s) that are not JSON events "
                f"(torn or foreign lines; first at {where}{more})"
            )
        if self.duplicates:
            notes.append(f"{self.duplicates} signed record(s) were in more than one input "
                         "(e.g. security.log and audit.log) and were counted once")
        for name in self.truncated:
            notes.append(f"{name}: compressed data ends early; read what was there")
        return notes


def _open(path: str) -> tuple[io.BufferedIOBase, IO[bytes]]:
    """(reader of the decompressed bytes, the raw file for progress); gzip by magic bytes."""
    try:
        raw = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed later
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a log file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None
    try:
        magic = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    except OSError as exc:
        raw.close()
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    return cast(io.BufferedIOBase, raw), raw


def _chunks(
    path: str, stats: ScanStats, advance: Callable[[int], None]
) -> Iterator[tuple[bytes, list[bytes]]]:
    """(block, its complete lines), a megabyte at a time; the file is never held whole."""
    reader, raw = _open(path)
    position = 0
    rest = b""
    try:
        while True:
            try:
                block = reader.read1(CHUNK)
            except EOFError:
                stats.truncated.append(path)
                break
            except (gzip.BadGzipFile, zlib.error) as exc:
                raise InputError(f"{path}: not a readable gzip file ({exc})") from None
            except OSError as exc:
                raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
            if not block:
                break
            stats.bytes += len(block)
            if path != "-":
                now = raw.tell()
                advance(now - position)
                position = now
            if rest:
                block = rest + block
            lines = block.split(b"\n")
            rest = lines.pop()
            yield block, lines
        if rest:
            yield rest, [rest]
    finally:
        if isinstance(reader, gzip.GzipFile):
            reader.close()
        if path != "-":
            raw.close()


def scan(
    paths: Sequence[str],
    where: Filter,
    stats: ScanStats,
    advance: Callable[[int], None] = lambda n: None,
    *,
    prefilter: bool = True,
) -> Iterator[tuple[bytes, Event]]:
    """Every (raw line, event) of ``paths`` that ``where`` keeps, in file order.

    Lines are screened on their raw bytes first (a type filter needs its quoted name
    somewhere in the line), so most lines of a filtered scan are never parsed; with
    ``prefilter=False`` every line is parsed (and counted in ``stats``).
    """
    any_of, all_of = (where.any_of(), where.all_of()) if prefilter else ((), ())
    keep = where.predicate()
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    seen = stats.seen.first_time
    needle = any_of[0] if len(any_of) == 1 else None
    for path in paths:
        stats.files += 1
        number = signed = parsed = 0
        for block, lines in _chunks(path, stats, advance):
            stats.lines += len(lines)
            if (any_of or all_of) and not _block_may_match(block, any_of, all_of):
                # Cheap skip of a whole block; garbage in it goes uncounted.
                number += len(lines)
                continue
            for line in lines:
                number += 1
                # One needle (the common case) is tested without building a generator.
                if needle is not None:
                    if needle not in line:
                        continue
                elif any_of and not any(n in line for n in any_of):
                    continue
                if all_of and not all(n in line for n in all_of):
                    continue
                try:
                    event = loads(line)
                except decode_error:
                    if line.strip():
                        stats.bad_line(path, number)
                    continue
                if type(event) is not dict:
                    stats.bad_line(path, number)
                    continue
                parsed += 1
                if "mac" in event:
                    signed += 1
                    if not seen(event.get("chain"), event.get("seq")):
                        stats.duplicates += 1
                        continue
                if keep is None or keep(event):
                    stats.matched += 1
                    yield line, event
        stats.signed[path] = (signed, parsed)


def _block_may_match(block: bytes, any_of: tuple[bytes, ...], all_of: tuple[bytes, ...]) -> bool:
    if any_of and not any(n in block for n in any_of):
        return False
    return all(n in block for n in all_of)


def total_size(paths: Sequence[str]) -> int:
    size = 0
    for path in paths:
        try:
            size += os.path.getsize(path) if path != "-" else 0
        except OSError:
            pass
    return size
