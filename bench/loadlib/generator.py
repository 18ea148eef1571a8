"""An open-loop load generator on httpx: fixed arrival rates, and its own record of every request.

Requests are started at their scheduled times (each stream at its rate, jittered)
whether or not earlier ones have been answered, and latency is measured from the scheduled
time: a server that stalls shows its stall in the figures instead of slowing the generator
down (no coordinated omission).
Every request carries a unique ``X-Request-ID``; the record of what was sent, and what
came back, is what the logs are checked against.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import time
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from .profiles import Profile, Session

REQUEST_ID_HEADER = "X-Request-ID"
TIMEOUT = 30.0
MAX_IN_FLIGHT = 2000


@dataclass(frozen=True)
class Stream:
    """One kind of request at a fixed rate, from ``clients`` source addresses."""

    kind: str
    rate: float  # requests per second
    clients: int = 1


@dataclass(slots=True)
class Record:
    """One request: what was sent, by whom, and what came back when."""

    id: str
    kind: str
    benign: bool
    phase: str
    ip: str
    identity: str | None
    username: str | None
    intended: float  # time.monotonic() it was due
    sent: float = 0.0
    done: float = 0.0
    status: int | None = None
    error: str | None = None

    @property
    def latency(self) -> float:
        """Seconds from when the request was due to its answer."""
        return self.done - self.intended

    @property
    def answered(self) -> bool:
        return self.status is not None


def arrivals(streams: Sequence[Stream], duration: float, seed: str) -> list[tuple[float, str]]:
    """When each request is due: exactly ``rate`` a second per stream, each at a random
    moment within its own slot of ``1 / rate`` seconds.

    The jitter keeps one stream from locking into step with another (always arriving just
    behind a slow login, say); the same ``seed`` gives the same schedule, so a server with
    secmon and one without are sent exactly the same traffic.
    """
    schedule: list[tuple[float, str]] = []
    for stream in streams:
        rng = random.Random(f"{seed}:{stream.kind}:{stream.rate}")
        slot = 1.0 / stream.rate
        for index in range(int(duration * stream.rate)):
            schedule.append(((index + rng.random()) * slot, stream.kind))
    schedule.sort()
    return schedule


class Addresses:
    """Loopback source addresses, one per client: 127.0.0.0/8 is all ours on Linux."""

    def __init__(self, second_octet: int) -> None:
        self._hosts = (f"127.{second_octet}.{third}.{fourth}"
                       for third in range(256) for fourth in range(1, 255))

    def next(self) -> str:
        return next(self._hosts)


class LoadGenerator:
    """Drives one server with streams of requests and records each of them."""

    def __init__(self, url: str, profile: Profile, *, label: int = 10) -> None:
        self.url = url
        self.profile = profile
        self.records: list[Record] = []
        self.run_id = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._addresses = Addresses(label)
        self._sessions: dict[str, list[Session]] = {}
        self._round_robin: dict[str, itertools.cycle[Session]] = {}
        self._relogin: set[int] = set()
        self._tasks: set[asyncio.Task[object]] = set()
        self.phase = "setup"
        # time.time() - time.monotonic(): to place the logs' timestamps on the records' clock.
        self.clock_offset = time.time() - time.monotonic()

    # -- sessions -------------------------------------------------------------------------------

    def _client(self, ip: str) -> httpx.AsyncClient:
        pinned = self.profile.pinned_connections
        limits = httpx.Limits(max_connections=1 if pinned else 8,
                              max_keepalive_connections=1 if pinned else 8,
                              keepalive_expiry=300.0)
        transport = httpx.AsyncHTTPTransport(local_address=ip, limits=limits, retries=0)
        return httpx.AsyncClient(base_url=self.url, transport=transport, timeout=TIMEOUT,
                                 follow_redirects=False)

    async def prepare(self, streams: Iterable[Stream]) -> None:
        """Open (and log in) the sessions each stream sends from; logins are recorded too."""
        self.phase = "setup"
        pending = []
        for stream in streams:
            if stream.kind in self._sessions:
                continue
            identity = self.profile.kinds[stream.kind].identity
            sessions = []
            for _ in range(stream.clients):
                ip = self._addresses.next()
                sessions.append(Session(ip, identity, self._client(ip)))
            self._sessions[stream.kind] = sessions
            self._round_robin[stream.kind] = itertools.cycle(sessions)
            pending += sessions
        # A few at a time: logins are costly (password hashing) and not what is measured.
        semaphore = asyncio.Semaphore(4)

        async def start(session: Session) -> None:
            async with semaphore:
                await self._log_in(session)

        await asyncio.gather(*(start(session) for session in pending))

    async def _log_in(self, session: Session) -> None:
        steps = (self.profile.login_steps if session.identity is not None
                 else self.profile.anonymous_steps)
        for kind in steps:
            await self._send(kind, session, time.monotonic())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for sessions in self._sessions.values():
            for session in sessions:
                await session.client.aclose()

    # -- sending --------------------------------------------------------------------------------

    async def _send(self, kind: str, session: Session, intended: float) -> Record:
        spec = self.profile.kinds[kind]
        request = self.profile.request(kind, session)
        record = Record(f"{self.run_id}-{next(self._ids):07d}", kind, spec.benign, self.phase,
                        session.ip, session.identity, request.username, intended)
        self.records.append(record)
        headers = {**request.headers, REQUEST_ID_HEADER: record.id}
        record.sent = time.monotonic()
        try:
            response = await session.client.request(
                request.method, request.path, data=request.data, files=request.files,
                headers=headers)
            await response.aread()
        except httpx.TimeoutException:
            record.error = "timeout"
        except httpx.HTTPError as exc:
            record.error = type(exc).__name__
        else:
            record.status = response.status_code
            try:
                self.profile.absorb(kind, session, response)
            except Exception as exc:  # a page without what the session needed
                record.error = f"absorb: {type(exc).__name__}"
        record.done = time.monotonic()
        if record.status is not None and self.profile.needs_login(kind, record.status):
            self._spawn(self._relog(session))
        return record

    async def _relog(self, session: Session) -> None:
        if id(session) in self._relogin:
            return
        self._relogin.add(id(session))
        try:
            await self._log_in(session)
        finally:
            self._relogin.discard(id(session))

    def _spawn(self, coroutine: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the two ways to drive a server -----------------------------------------------------------

    async def run(self, streams: Sequence[Stream], duration: float, phase: str) -> list[Record]:
        """Open loop: each stream at its rate for ``duration`` seconds; wait for the answers."""
        await self.prepare(streams)
        self.phase = phase
        schedule = arrivals(streams, duration, phase)
        first = len(self.records)
        start = time.monotonic() + 0.05
        for offset, kind in schedule:
            due = start + offset
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(self._tasks) >= MAX_IN_FLIGHT:
                await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            self._spawn(self._send(kind, next(self._round_robin[kind]), due))
        await self.drain()
        return self.records[first:]

    async def saturate(self, kinds: Sequence[str], concurrency: int, duration: float,
                       phase: str) -> tuple[list[Record], float]:
        """Closed loop: ``concurrency`` clients back to back; (records, seconds taken)."""
        streams = [Stream(kind, 1.0, clients=max(1, concurrency // len(kinds))) for kind in kinds]
        await self.prepare(streams)
        self.phase = phase
        first = len(self.records)
        start = time.monotonic()
        deadline = start + duration
        mix = itertools.cycle(kinds)

        async def client(session_of: dict[str, itertools.cycle[Session]]) -> None:
            while time.monotonic() < deadline:
                kind = next(mix)
                await self._send(kind, next(session_of[kind]), time.monotonic())

        await asyncio.gather(*(client(self._round_robin) for _ in range(concurrency)))
        elapsed = time.monotonic() - start
        await self.drain()
        return self.records[first:], elapsed

    def save(self, path: Path) -> None:
        """The record as JSON lines (one request a line), for a closer look afterwards."""
        with path.open("wb") as out:
            for record in self.records:
                out.write(orjson.dumps({name: getattr(record, name)
                                        for name in Record.__slots__}) + b"\n")

    async def drain(self, timeout: float = TIMEOUT + 10) -> None:
        """Wait for requests still out (and logins they started)."""
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - time.monotonic()))
