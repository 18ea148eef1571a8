"""Time as secmon reads it for events and detection windows: the system's, or a scripted day.

Event timestamps and the in-memory detection windows read one process clock, so that a
scripted run (``secmon demo``) can place its events on a day of its own and the rules
measure their windows on that same day. Timeouts and deadlines keep the system clock.
"""

from __future__ import annotations

import time
from typing import Protocol


class Source(Protocol):
    """Where the time comes from: the ``time`` module by default."""

    def time(self) -> float: ...  # seconds since the epoch

    def monotonic(self) -> float: ...  # seconds, only differences matter


_source: Source = time


def use(source: Source | None) -> None:
    """Read the time from ``source`` from now on; None goes back to the system clock."""
    global _source, _stamp
    _source = time if source is None else source
    _stamp = (-1, "")


def monotonic() -> float:
    """The clock detection windows are measured on."""
    return _source.monotonic()


def utc_timestamp() -> str:
    """Now in UTC, ISO 8601 with microseconds and ``Z``; the seconds part is formatted once."""
    global _stamp
    now = _source.time()
    second = int(now)
    stamp = _stamp
    if stamp[0] != second:
        # One tuple, swapped whole, so another thread never sees a half-updated pair.
        stamp = _stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{stamp[1]}.{int((now - second) * 1_000_000):06d}Z"


_stamp: tuple[int, str] = (-1, "")
