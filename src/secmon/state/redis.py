"""Detection state shared by every worker and host through Redis, failing open to memory.

While Redis is away each process counts alone, in memory, and keeps a journal of the
updates Redis missed. When Redis answers again the journal is merged into it before the
breaker closes, each update at the moment it happened (mapped onto the server's clock),
so an attack in progress keeps its count across the outage, and nothing counts twice:

- ``Hit``: ZADD of the hit with its own time and member (the member it was sent with,
  so a hit that did reach Redis before a timeout is the same entry, not a second one),
  then trimmed to the window and cap as a live hit is;
- ``Take``: the window's entries up to the take's time are removed (later hits stay);
- ``Replace``: the value is stored if it is newer than what Redis holds;
- ``Claim``: SET NX for what is left of its ttl, so a subject alerted on meanwhile stays
  throttled for every worker.

What is older than its window (or ttl) by then is not merged. The journal holds at most
``STATE_MEMORY_MAX_KEYS`` updates; past that the oldest go first, and are counted.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.retry import Retry

from ..config import ConfigError
from . import Claim, Hit, Op, Replace, StatusCallback, Take, reset_after_fork
from .memory import MemoryState

# Each script is one atomic update that reads the time from the Redis server, so
# every worker and host measures windows on the same clock. Scores are microseconds.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local added = redis.call('ZADD', KEYS[1], now, ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
local cap = tonumber(ARGV[3])
if count > cap then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, count - cap - 1)
  count = cap
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return {count, added}
"""

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
local count = redis.call('ZCARD', KEYS[1])
redis.call('DEL', KEYS[1])
return count
"""

_REPLACE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local old = redis.call('HMGET', KEYS[1], 'v', 't')
redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if old[1] then
  return {old[1], now - tonumber(old[2])}
end
return false
"""

_CLAIM = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return {1, 0}
end
return {0, redis.call('PTTL', KEYS[1])}
"""

# Merging a hit made while Redis was away: ARGV = time (server microseconds), member,
# cap, window (microseconds).
_MERGE_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local at = tonumber(ARGV[1])
local window = tonumber(ARGV[4])
local old = redis.call('ZSCORE', KEYS[1], ARGV[2])
if (not old) or tonumber(old) < at then
  redis.call('ZADD', KEYS[1], at, ARGV[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local cap = tonumber(ARGV[3])
if count > cap then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, count - cap - 1)
end
local keep = math.ceil((at + window - now) / 1000)
if keep > 0 and keep > redis.call('PTTL', KEYS[1]) then
  redis.call('PEXPIRE', KEYS[1], keep)
end
return 1
"""

# Merging a replace: ARGV = value, time (server microseconds), ttl left (milliseconds).
_MERGE_REPLACE = """
local old = redis.call('HGET', KEYS[1], 't')
if (not old) or tonumber(old) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"""

_SCRIPTS = {"hit": _HIT, "take": _TAKE, "replace": _REPLACE, "claim": _CLAIM,
            "merge_hit": _MERGE_HIT, "merge_replace": _MERGE_REPLACE}
# Updates merged per round trip.
_MERGE_BATCH = 500
_SHAS = {name: hashlib.sha1(text.encode()).hexdigest() for name, text in _SCRIPTS.items()}  # noqa: S324 - Redis names scripts by SHA-1

# Errors that mean "Redis is not usable right now" rather than a bug in a result.
_OUTAGE = (RedisError, OSError)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class RedisState:
    """Counters in Redis, one round trip per batch of updates, behind a circuit breaker.

    When a call fails or times out, the breaker opens: updates go to a per-process
    :class:`MemoryState` at once (no request waits on Redis again), and to the journal;
    ``on_status`` is told once, and a background thread pings Redis with growing pauses
    until it answers, merges the journal into it, then closes the breaker and tells
    ``on_status`` again.
    """

    name = "redis"
    shared = True

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        prefix: str,
        max_keys: int,
        on_status: StatusCallback,
        probe_interval: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self._url = url
        self.timeout = timeout
        self.prefix = prefix
        self.probe_interval = probe_interval
        self.fallback = MemoryState(max_keys, stats_prefix="state.fallback.")
        self.max_journal = max_keys
        self.counters = {"failures": 0, "breaker_opened": 0, "recovered": 0, "fallback_ops": 0,
                         "merged": 0, "merge_dropped": 0}
        self._on_status = on_status
        self._start_process()  # validates the URL now; connects on first use
        reset_after_fork(self, self._start_process)

    def __repr__(self) -> str:
        return f"<RedisState prefix={self.prefix!r}>"  # never the URL: it may hold a password

    def _connect(self) -> redis.Redis:
        parts = urlsplit(self._url)
        if parts.scheme != "unix" and parts.path.strip("/") and not parts.path.strip("/").isdigit():
            # redis-py would silently use database 0.
            raise ConfigError("STATE_BACKEND", "the database in a Redis URL is a number: /15")
        try:
            return redis.Redis.from_url(
                self._url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "STATE_BACKEND",
                f"invalid Redis URL ({type(exc).__name__}); "
                "expected redis://[:password@]host:port/db",
            ) from None

    def _start_process(self) -> None:
        # Also run in each forked child: the parent's sockets, locks and probe thread
        # are not the child's to use.
        self._client = self._connect()
        self._lock = threading.Lock()
        # (monotonic time, update, member it was sent with): what Redis missed.
        self._journal: deque[tuple[float, Op, bytes | None]] = deque()
        self._stop = threading.Event()
        self._open = False
        self._closed_at = -math.inf
        self._first_probe = self.probe_interval[0]

    # -- updates ------------------------------------------------------------------------

    def run(self, ops: Sequence[Op]) -> list[Any]:
        # Plain hits get a random member here, so that the journal has the very one sent.
        members = [_member(op) for op in ops]
        if self._open:
            return self._fall_back(ops, members)
        try:
            return self._run(ops, members)
        except _OUTAGE as exc:
            self._trip(exc)
            return self._fall_back(ops, members)

    def _fall_back(self, ops: Sequence[Op], members: list[bytes | None]) -> list[Any]:
        self.counters["fallback_ops"] += len(ops)
        results = self.fallback.run(ops)
        now = time.monotonic()
        journal = self._journal
        with self._lock:
            overflow = len(journal) + len(ops) - self.max_journal
            if overflow > 0:
                self.counters["merge_dropped"] += overflow
                for _ in range(min(overflow, len(journal))):
                    journal.popleft()
            journal.extend((now, op, member) for op, member in zip(ops, members, strict=True))
            closed = not self._open  # the breaker closed since this call found it open
        if closed:
            try:
                self._merge_journal()
            except _OUTAGE as exc:
                self._trip(exc)
        return results

    def _run(self, ops: Sequence[Op], members: Sequence[bytes | None]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for op, member in zip(ops, members, strict=True):
            self._queue(pipe, op, member)
        results = pipe.execute(raise_on_error=False)
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            # Scripts are cached by the server; a restart or SCRIPT FLUSH forgets them.
            self._load_scripts(self._client)
            pipe = self._client.pipeline(transaction=False)
            for i in missing:
                self._queue(pipe, ops[i], members[i])
            for i, result in zip(missing, pipe.execute(raise_on_error=False), strict=True):
                results[i] = result
        for result in results:
            if isinstance(result, Exception):
                raise result
        return [_convert(op, result) for op, result in zip(ops, results, strict=True)]

    def _key(self, op: Op) -> str:
        return f"{self.prefix}{{{op.key}}}"  # a hash tag: the key maps to one Cluster slot

    def _queue(self, pipe: Any, op: Op, member: bytes | None) -> None:
        key = self._key(op)
        if isinstance(op, Hit):
            pipe.evalsha(_SHAS["hit"], 1, key, _micros(op.window), member, op.cap)
        elif isinstance(op, Take):
            pipe.evalsha(_SHAS["take"], 1, key, _micros(op.window))
        elif isinstance(op, Replace):
            pipe.evalsha(_SHAS["replace"], 1, key, op.value, _millis(op.ttl))
        elif isinstance(op, Claim):
            pipe.evalsha(_SHAS["claim"], 1, key, _millis(op.ttl))
        else:
            raise TypeError(f"unknown state operation {type(op).__name__}")

    # -- merging what Redis missed --------------------------------------------------------

    def _merge_journal(self, *, close: bool = False) -> int:
        """Replay the journal into Redis, oldest first; with ``close``, close the breaker
        once it is empty (under the lock that fallbacks journal under). Raises on an
        outage, leaving what was not merged in the journal."""
        merged = 0
        while True:
            with self._lock:
                journal = self._journal
                if not journal:
                    if close:
                        self._open = False
                        self._closed_at = time.monotonic()
                    return merged
                chunk = [journal.popleft() for _ in range(min(len(journal), _MERGE_BATCH))]
            try:
                merged += self._replay(chunk)
            except BaseException:
                with self._lock:
                    self._journal.extendleft(reversed(chunk))
                raise

    def _replay(self, chunk: list[tuple[float, Op, bytes | None]]) -> int:
        seconds, micros = self._client.time()
        server_now = int(seconds) * 1_000_000 + int(micros)
        local_now = time.monotonic()
        pipe = self._client.pipeline(transaction=False)
        queued = 0
        for at, op, member in chunk:
            age = max(0.0, local_now - at)
            when = server_now - int(age * 1_000_000)
            key = self._key(op)
            if isinstance(op, Hit):
                if age >= op.window:
                    continue
                pipe.evalsha(_SHAS["merge_hit"], 1, key, when, member or b"", op.cap,
                             _micros(op.window))
            elif isinstance(op, Take):
                pipe.zremrangebyscore(key, "-inf", when)
            elif isinstance(op, Replace):
                if age >= op.ttl:
                    continue
                pipe.evalsha(_SHAS["merge_replace"], 1, key, op.value, when,
                             _millis(op.ttl - age))
            else:
                if age >= op.ttl:
                    continue
                pipe.set(key, b"1", nx=True, px=_millis(op.ttl - age))
            queued += 1
        if not queued:
            return 0
        results = pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, _OUTAGE) and not isinstance(result, ResponseError):
                raise result
        with self._lock:
            self.counters["merged"] += queued
        return queued

    @staticmethod
    def _load_scripts(client: redis.Redis) -> None:
        for text in _SCRIPTS.values():
            client.script_load(text)

    # -- the circuit breaker ------------------------------------------------------------

    def _trip(self, exc: BaseException) -> None:
        with self._lock:
            self.counters["failures"] += 1
            if self._open:
                return
            self._open = True
            self.counters["breaker_opened"] += 1
            shortest, longest = self.probe_interval
            # A server that fails again soon after it recovered (overloaded, flapping)
            # is given longer before the next try.
            recently = time.monotonic() - self._closed_at < longest
            self._first_probe = min(self._first_probe * 2, longest) if recently else shortest
            threading.Thread(
                target=self._probe, args=(self._stop, self._first_probe),
                name="secmon-state-probe", daemon=True,
            ).start()
        self._on_status(False, _describe(exc))

    def _probe(self, stop: threading.Event, delay: float) -> None:
        longest = self.probe_interval[1]
        while not stop.wait(delay):
            try:
                self._client.ping()
                self._load_scripts(self._client)
                merged = self._merge_journal(close=True)
            except _OUTAGE:
                delay = min(delay * 2, longest)
                continue
            with self._lock:
                self.counters["recovered"] += 1
            self._on_status(True, "redis answers again" + (
                f"; {merged} updates made meanwhile merged into it" if merged else ""))
            return

    @property
    def is_open(self) -> bool:
        """True while updates go to per-process memory because Redis failed."""
        return self._open

    # -- lifecycle ----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "state.backend": self.name,
            "state.breaker": "open" if self._open else "closed",
            "state.journal": len(self._journal),
            **{f"state.{name}": value for name, value in self.counters.items()},
            **self.fallback.stats(),
        }

    def close(self) -> None:
        self._stop.set()
        try:
            self._client.close()
        except _OUTAGE:
            pass
        self.fallback.close()


def _member(op: Op) -> bytes | None:
    if not isinstance(op, Hit):
        return None
    return op.member if op.member is not None else os.urandom(10)


def _micros(seconds: float) -> int:
    return max(1, int(seconds * 1_000_000))


def _millis(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _convert(op: Op, result: Any) -> Any:
    if isinstance(op, Hit):
        count, added = result
        return int(count), bool(added)
    if isinstance(op, Take):
        return int(result)
    if isinstance(op, Replace):
        if result is None:
            return None
        value, age = result
        return bytes(value), int(age) / 1_000_000
    claimed, remaining = result
    if claimed:
        return True, op.ttl
    return False, max(0, int(remaining)) / 1000
