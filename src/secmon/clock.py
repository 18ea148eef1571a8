"""Event timestamps: now in UTC, ISO 8601 with microseconds and ``Z``."""

from __future__ import annotations

import time


def utc_timestamp() -> str:
    """Now in UTC, ISO 8601 with microseconds and ``Z``; the seconds part is formatted once."""
    global _stamp
    now = time.time()
    second = int(now)
    stamp = _stamp
    if stamp[0] != second:
        # One tuple, swapped whole, so another thread never sees a half-updated pair.
        stamp = _stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{stamp[1]}.{int((now - second) * 1_000_000):06d}Z"


_stamp: tuple[int, str] = (-1, "")
