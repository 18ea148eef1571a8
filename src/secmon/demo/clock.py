"""The demo's clock: the scripted day on which its events are stamped and windows measured."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

from .. import clock

# What one request of the script takes on the scripted day.
REQUEST_SECONDS = 1.0


class ScriptedDay:
    """A day (UTC) told in steps: each starts at its time, and each request takes a second.

    While the apps run it is secmon's process clock, so the events carry the day's times
    and the detection rules measure their windows on the same day: bob's eight wrong
    passwords fall within the brute-force window, alice's logins from Berlin and Sydney
    are 17 minutes apart. Nothing else runs on it: timeouts, the apps' own rate limiters
    and the checkpoints' write times keep the system clock (each step takes well under
    a second of it, so a limiter sees no more than it would on the scripted day).
    """

    def __init__(self, day: date, start: str) -> None:
        self.day = day
        self._midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
        self._now = self._moment(start)

    @classmethod
    def yesterday(cls, start: str) -> ScriptedDay:
        """Yesterday: the whole day is in the past, before the checkpoints written today."""
        return cls((datetime.now(timezone.utc) - timedelta(days=1)).date(), start)

    def _moment(self, hhmm: str) -> float:
        hours, minutes = (int(part) for part in hhmm.split(":"))
        return self._midnight + hours * 3600 + minutes * 60

    def at(self, hhmm: str) -> None:
        """A step starts: the clock moves on to ``hhmm`` (never back)."""
        moment = self._moment(hhmm)
        if moment < self._now:
            raise ValueError(f"the step at {hhmm} comes after {self.now:%H:%M:%S}")
        self._now = moment

    def tick(self) -> None:
        """A request was made."""
        self._now += REQUEST_SECONDS

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self._now, timezone.utc)

    # The clock.Source protocol: one scripted time serves both.
    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    @contextlib.contextmanager
    def running(self) -> Iterator[ScriptedDay]:
        """secmon reads its time from this day inside the block."""
        clock.use(self)
        try:
            yield self
        finally:
            clock.use(None)
