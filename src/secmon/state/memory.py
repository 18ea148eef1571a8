"""Per-process detection state: exact sliding windows in a bounded least-recently-used map."""

from __future__ import annotations

import struct
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from .. import clock as process_clock
from . import Claim, Hit, Op, Replace, Take, reset_after_fork

# Besides the key count, all windows together hold at most this many timestamps or
# members per allowed key, so memory stays proportional to STATE_MEMORY_MAX_KEYS
# whatever an attacker sends.
ENTRIES_PER_KEY = 8


# Entries are hit times packed in a bytearray (oldest first), a dict of member -> last
# seen (insertion order is oldest first) or a (value, stamp) tuple: none of them is
# tracked by the cyclic garbage collector, so a full state adds nothing to GC pauses,
# and each costs about one object. Expiry times live in a parallel dict.
_TIME = struct.calcsize("d")
_pack = struct.Struct("d").pack


def _count_until(times: bytearray, cutoff: float) -> int:
    """How many packed times are at or before ``cutoff``."""
    if not times or struct.unpack_from("d", times)[0] > cutoff:
        return 0
    with memoryview(times) as view, view.cast("d") as floats:
        return bisect_right(floats, cutoff)


def _size(entry: Any) -> int:
    if type(entry) is bytearray:
        return len(entry) // _TIME
    return 1 if type(entry) is tuple else len(entry)


class MemoryState:
    """Sliding windows and values for one process, bounded by key count and total entries.

    A window is half-open: a hit ``window`` seconds old no longer counts. When the map
    is full the least recently used key goes; live keys dropped that way are counted
    as ``evictions`` (expired ones as ``expired``), so a flood of distinct names shows
    up in the stats instead of in the process size.
    """

    name = "memory"
    shared = False

    def __init__(
        self,
        max_keys: int = 100_000,
        *,
        clock: Callable[[], float] = process_clock.monotonic,
        stats_prefix: str = "state.",
    ) -> None:
        self.max_keys = max_keys
        self.max_entries = max_keys * ENTRIES_PER_KEY
        self.clock = clock
        self.counters = {"evictions": 0, "expired": 0}
        self._prefix = stats_prefix
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._expires: dict[str, float] = {}
        self._entries = 0
        self._lock = threading.Lock()
        reset_after_fork(self, self._new_lock)

    def _new_lock(self) -> None:
        # A lock held by another thread at fork time would never be released here.
        self._lock = threading.Lock()

    def run(self, ops: Sequence[Op]) -> list[Any]:
        with self._lock:
            now = self.clock()
            results = [self._apply(op, now) for op in ops]
            self._evict(now)
            return results

    def _apply(self, op: Op, now: float) -> Any:
        if isinstance(op, Hit):
            return self._hit(op, now) if op.member is None else self._distinct(op, now)
        if isinstance(op, Claim):
            if self._get(op.key, now, tuple) is not None:
                return False, self._expires[op.key] - now
            self._put(op.key, (b"1", now), now + op.ttl)
            return True, op.ttl
        if isinstance(op, Replace):
            held = self._get(op.key, now, tuple)
            previous = None if held is None else (held[0], now - held[1])
            self._put(op.key, (op.value, now), now + op.ttl)
            return previous
        if isinstance(op, Take):
            window = self._get(op.key, now, bytearray, dict)
            if window is None:
                return 0
            self._drop(op.key)
            cutoff = now - op.window
            if type(window) is dict:
                return sum(1 for seen in window.values() if seen > cutoff)
            return len(window) // _TIME - _count_until(window, cutoff)
        raise TypeError(f"unknown state operation {type(op).__name__}")

    def _hit(self, op: Hit, now: float) -> tuple[int, bool]:
        times = self._get(op.key, now, bytearray)
        if times is None:
            times = self._put(op.key, bytearray(), 0.0)
        before = len(times)
        stale = _count_until(times, now - op.window)
        if stale:
            del times[: stale * _TIME]
        times += _pack(now)
        if len(times) > op.cap * _TIME:
            del times[: len(times) - op.cap * _TIME]
        self._expires[op.key] = now + op.window
        self._entries += (len(times) - before) // _TIME
        return len(times) // _TIME, True

    def _distinct(self, op: Hit, now: float) -> tuple[int, bool]:
        members = self._get(op.key, now, dict)
        if members is None:
            members = self._put(op.key, {}, 0.0)
        before = len(members)
        added = members.pop(op.member, None) is None
        members[op.member] = now  # re-inserted last: the dict stays ordered by last seen
        cutoff = now - op.window
        while True:
            oldest = next(iter(members))
            if members[oldest] > cutoff and len(members) <= op.cap:
                break
            del members[oldest]
        self._expires[op.key] = now + op.window
        self._entries += len(members) - before
        return len(members), added

    def _get(self, key: str, now: float, *kinds: type[Any]) -> Any:
        entry = self._data.get(key)
        if entry is None:
            return None
        if self._expires[key] <= now or type(entry) not in kinds:
            self._drop(key)
            self.counters["expired"] += 1
            return None
        self._data.move_to_end(key)
        return entry

    def _put(self, key: str, entry: Any, expires: float) -> Any:
        if key in self._data:
            self._drop(key)
        self._data[key] = entry
        self._expires[key] = expires
        self._entries += _size(entry)
        return entry

    def _drop(self, key: str) -> None:
        self._entries -= _size(self._data.pop(key))
        del self._expires[key]

    def _evict(self, now: float) -> None:
        data = self._data
        while len(data) > self.max_keys or (
            self._entries > self.max_entries and len(data) > 1
        ):
            key, entry = data.popitem(last=False)
            self._entries -= _size(entry)
            expired = self._expires.pop(key) <= now
            self.counters["expired" if expired else "evictions"] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            prefix = self._prefix
            return {
                f"{prefix}keys": len(self._data),
                f"{prefix}entries": self._entries,
                **{prefix + name: value for name, value in self.counters.items()},
            }

    def close(self) -> None:
        with self._lock:
            self._data.clear()
            self._expires.clear()
            self._entries = 0
