"""The scenarios: each example with and without secmon, under attack, and with faults injected."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import secrets
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from . import checks
from .generator import LoadGenerator, Record, Stream
from .profiles import Profile, profile_for
from .receiver import AlertReceiver
from .servers import PrivateRedis, Server, ServerConfig

# Detection state of load runs: this database only, flushed before each run.
REDIS_URL = os.environ.get("LOAD_SECMON_REDIS_URL", "redis://127.0.0.1:6379/14")
# Lower than secmon's defaults so that a short run crosses them; the rest are defaults.
DETECTION: dict[str, dict[str, Any]] = {
    "credential_stuffing": {"threshold": 10}, "distributed_brute_force": {"threshold": 5}}
# The smoke test's few seconds cross these.
SMOKE_DETECTION: dict[str, dict[str, Any]] = {
    rule: {"threshold": n} for rule, n in (
        ("brute_force", 3), ("distributed_brute_force", 3), ("credential_stuffing", 4),
        ("privilege_probe", 3), ("excess_404", 5), ("excess_429", 3))}
# Redis may take this long per round trip before detection fails open (secmon's default is
# 50 ms; a 2-core machine running servers and the load generator stalls longer than that).
STATE_TIMEOUT = 0.25
# Per event: one batch of counter updates, and one claim when a rule fires.
STATE_ROUND_TRIPS = 2
BENIGN = ("home", "page", "sensitive")


@dataclass(frozen=True)
class Plan:
    """How hard and how long each phase drives one example."""

    benign: tuple[Stream, ...]
    mixed: tuple[Stream, ...]
    latency_seconds: float = 3.5
    latency_repeats: int = 4  # even: each order (with first, without first) equally often
    warmup_seconds: float = 2.0
    saturate_seconds: float = 3.0
    saturate_repeats: int = 2
    concurrency: int = 8
    mixed_seconds: float = 20.0

    def scaled(self, factor: float) -> Plan:
        return Plan(self.benign, self.mixed, self.latency_seconds * factor,
                    max(1, round(self.latency_repeats * factor)), self.warmup_seconds,
                    self.saturate_seconds * factor,
                    max(1, round(self.saturate_repeats * factor)), self.concurrency,
                    self.mixed_seconds * factor)


def _attacks(brute: float, stuffing: float, spray: float, scan: float = 2.0, flood: float = 1.0,
             probe: float = 1.0, bad_upload: float = 0.5) -> tuple[Stream, ...]:
    return (Stream("brute_force", brute), Stream("stuffing", stuffing),
            Stream("spray", spray, clients=8), Stream("probe_403", probe),
            Stream("scan_404", scan), Stream("flood_429", flood),
            Stream("bad_upload", bad_upload), Stream("upload", 1.0))


# Rates for a 2-core machine shared with the generator; a login attempt costs the app a
# password hash (Django's PBKDF2 about 0.5 s of CPU, Flask's scrypt 0.25 s, FastAPI's 0.1 s).
PLANS = {
    "django": Plan(
        benign=(Stream("home", 14, 4), Stream("page", 10, 4), Stream("sensitive", 6, 2)),
        mixed=(Stream("home", 6, 4), Stream("page", 4, 4), Stream("sensitive", 2, 2),
               *_attacks(brute=0.35, stuffing=0.7, spray=0.4))),
    "flask": Plan(
        benign=(Stream("home", 20, 4), Stream("page", 15, 4), Stream("sensitive", 10, 2)),
        mixed=(Stream("home", 8, 4), Stream("page", 6, 4), Stream("sensitive", 3, 2),
               *_attacks(brute=0.6, stuffing=1.8, spray=0.8)), mixed_seconds=12.0),
    "fastapi": Plan(
        benign=(Stream("home", 20, 4), Stream("page", 20, 8), Stream("sensitive", 10, 4)),
        mixed=(Stream("home", 10, 4), Stream("page", 8, 8), Stream("sensitive", 3, 4),
               *_attacks(brute=0.6, stuffing=2.0, spray=0.8)), concurrency=16,
        mixed_seconds=12.0),
}


def thresholds(detection: dict[str, dict[str, Any]] = DETECTION) -> dict[str, int]:
    result = dict(checks.DEFAULT_THRESHOLDS)
    for rule, options in detection.items():
        result[rule] = int(options["threshold"])
    return result


def flush_state(url: str = REDIS_URL) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def secmon_env(log_dir: Path, audit_key: str, receiver: AlertReceiver, *,
               state: str = REDIS_URL, max_bytes: int = 64 * 1024,
               detection: dict[str, dict[str, Any]] = DETECTION,
               state_timeout: float = STATE_TIMEOUT) -> dict[str, str]:
    """secmon's settings for a load run, all through SECMON_* variables as a deployment would."""
    outputs = [
        {"type": "file", "name": "security", "path": str(log_dir / "security.log"),
         "max_bytes": max_bytes},
        {"type": "file", "name": "audit", "path": str(log_dir / "audit.log"),
         "categories": ["audit"], "max_bytes": max_bytes // 2},
    ]
    return {
        "SECMON_ENVIRONMENT": "production",
        "SECMON_AUDIT_KEY": audit_key,
        "SECMON_LOG_DIR": str(log_dir),
        "SECMON_OUTPUTS": json.dumps(outputs),
        "SECMON_STATE_BACKEND": state,
        "SECMON_REQUEST_ID_HEADER": "x-request-id",
        "SECMON_ALERTS": json.dumps([receiver.destination()]),
        "SECMON_STATE_TIMEOUT": str(state_timeout),
        "SECMON_DETECTION": json.dumps(detection),
    }


def app_env(framework: str) -> dict[str, str]:
    # Flask-Limiter's counters shared by the workers (FastAPI's slowapi counts per worker).
    return {"SHOP_RATELIMIT_STORAGE_URI": REDIS_URL} if framework == "flask" else {}


# -- figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    count: int
    p50: float  # seconds
    p99: float
    worst: float

    @classmethod
    def of(cls, records: Sequence[Record]) -> Latency:
        values = sorted(r.latency for r in records if r.answered)
        if not values:
            return cls(0, float("nan"), float("nan"), float("nan"))
        if len(values) == 1:
            return cls(1, values[0], values[0], values[0])
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return cls(len(values), cuts[49], cuts[98], values[-1])


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- after a run: every check over one server's logs -----------------------------------------------


@dataclass
class RunCheck:
    """Everything checked after one server with secmon was driven and stopped."""

    traffic: checks.Traffic
    security: checks.EventCheck
    audit: checks.EventCheck
    verification: checks.Verification
    detections: checks.DetectionCheck
    rotated: dict[str, int]
    unreadable: list[tuple[str, int]]
    internal_errors: int
    close_checkpoints: int  # written by workers that stopped gracefully
    monitor_events: list[dict[str, Any]]
    reports: list[str]
    exit_code: int | None

    @property
    def state_outages(self) -> int:
        """Workers that found the detection state unreachable (and failed open) in the run."""
        return sum(e.get("event_type") == "sys_monitor_disabled" and bool(e.get("monitor"))
                   for e in self.monitor_events)

    @property
    def secmon_server_errors(self) -> int:
        return len(self.traffic.server_errors)

    @property
    def invariants_hold(self) -> bool:
        return (not self.traffic.server_errors and self.security.ok and self.audit.ok
                and not self.security.unexpected and self.verification.ok
                and self.detections.ok)


def check_run(server: Server, records: Sequence[Record], profile: Profile, audit_key: str,
              receiver: AlertReceiver, *, log_dir: Path | None = None,
              detection: dict[str, dict[str, Any]] = DETECTION) -> RunCheck:
    log_dir = log_dir or server.config.log_dir
    security = checks.read_family(log_dir, "security.log")
    audit = checks.read_family(log_dir, "audit.log")
    return RunCheck(
        traffic=checks.traffic_of(records, profile),
        security=checks.check_events(records, profile, security.events, "security.log"),
        audit=checks.check_events(records, profile, audit.events, "audit.log", audit_only=True),
        verification=checks.verify(log_dir, audit_key),
        detections=checks.check_detections(records, profile, security.events,
                                           receiver.accepted(), thresholds(detection)),
        rotated={"security.log": len(security.files) - 1, "audit.log": len(audit.files) - 1},
        unreadable=security.unreadable + audit.unreadable,
        internal_errors=sum(e.get("event_type") == "secmon_internal_error"
                            for e in security.events),
        close_checkpoints=checks.close_checkpoints(log_dir / "audit.checkpoints"),
        monitor_events=_monitor_events(security.events + audit.events),
        reports=server.secmon_reports(),
        exit_code=server.process.returncode if server.process else None,
    )


def _monitor_events(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """secmon's reports about itself (an output or the state failing, recovering), once each:
    one written while an output was down may be in the other log only."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for event in events:
        if event.get("event_type") in ("sys_monitor_disabled", "sys_monitor_enabled"):
            key = (event.get("timestamp"), event.get("event_type"), event.get("output"),
                   event.get("monitor"), str(event.get("lost")))
            seen.setdefault(key, event)
    return sorted(seen.values(), key=lambda e: str(e.get("timestamp")))


# -- with and without secmon ---------------------------------------------------------------------


@dataclass
class Comparison:
    framework: str
    workers: int
    benign_with: list[Latency] = field(default_factory=list)
    benign_without: list[Latency] = field(default_factory=list)
    throughput_with: list[float] = field(default_factory=list)
    throughput_without: list[float] = field(default_factory=list)
    mixed_with: dict[str, Latency] = field(default_factory=dict)  # "benign", "attack"
    mixed_without: dict[str, Latency] = field(default_factory=dict)
    mixed_requests: int = 0
    mixed_seconds: float = 0.0
    baseline_server_errors: int = 0
    check: RunCheck | None = None


def _of_kinds(records: Sequence[Record], streams: Sequence[Stream]) -> list[Record]:
    """The requests of these streams (not the logins a session needed on the way)."""
    kinds = {stream.kind for stream in streams}
    return [record for record in records if record.kind in kinds]


async def _start(server: Server) -> Server:
    return await asyncio.to_thread(server.start)


async def _stop(server: Server) -> None:
    await asyncio.to_thread(server.stop)


async def compare(framework: str, workdir: Path, plan: Plan,
                  say: Callable[[str], None] = print) -> Comparison:
    """Drive the example with secmon and without it, alike and interleaved; check the logs."""
    profile = profile_for(framework)
    flush_state()
    audit_key = secrets.token_hex(32)
    receiver = AlertReceiver().start()
    with_secmon = Server(ServerConfig(framework, workdir / "with", True,
                                      secmon_env(workdir / "with" / "logs", audit_key, receiver),
                                      app_env(framework)))
    without = Server(ServerConfig(framework, workdir / "without", False,
                                  app_env=app_env(framework)))
    result = Comparison(framework, with_secmon.workers)
    generators: list[LoadGenerator] = []
    try:
        say(f"  starting {with_secmon.name} and {without.name}")
        await asyncio.gather(_start(with_secmon), _start(without))
        ours = LoadGenerator(with_secmon.url, profile, label=10)
        theirs = LoadGenerator(without.url, profile, label=20)
        generators = [ours, theirs]
        pair = {True: ours, False: theirs}
        for generator in generators:  # logged in, and past every first-request cost
            await generator.run(plan.benign, plan.warmup_seconds, "warmup")
        for repeat in range(plan.latency_repeats):
            for secmon_on in (True, False) if repeat % 2 else (False, True):
                records = await pair[secmon_on].run(plan.benign, plan.latency_seconds,
                                                    f"benign-{repeat}")
                (result.benign_with if secmon_on else result.benign_without).append(
                    Latency.of(_of_kinds(records, plan.benign)))
        say(f"  benign latency: {plan.latency_repeats} x {plan.latency_seconds:g} s each")
        for repeat in range(plan.saturate_repeats):
            for secmon_on in (True, False) if repeat % 2 else (False, True):
                records, elapsed = await pair[secmon_on].saturate(
                    BENIGN, plan.concurrency, plan.saturate_seconds, f"saturate-{repeat}")
                rate = sum(r.answered for r in _of_kinds(records, plan.benign)) / elapsed
                (result.throughput_with if secmon_on else result.throughput_without).append(rate)
        say(f"  throughput: {plan.saturate_repeats} x {plan.saturate_seconds:g} s, "
            f"{plan.concurrency} clients")
        for secmon_on in (False, True):
            records = await pair[secmon_on].run(plan.mixed, plan.mixed_seconds, "mixed")
            split = {"benign": [r for r in _of_kinds(records, plan.mixed) if r.benign],
                     "attack": [r for r in records if not r.benign]}
            figures = {name: Latency.of(part) for name, part in split.items()}
            if secmon_on:
                result.mixed_with = figures
                result.mixed_requests = len(records)
            else:
                result.mixed_without = figures
                result.baseline_server_errors = sum((r.status or 0) >= 500 for r in records)
        result.mixed_seconds = plan.mixed_seconds
        say(f"  attack mix: {plan.mixed_seconds:g} s each, {result.mixed_requests} requests")
        await _settle(receiver, with_secmon.config.log_dir)
    finally:
        for generator in generators:
            await generator.close()
        await asyncio.gather(_stop(with_secmon), _stop(without))
        receiver.stop()
        flush_state()
    ours.save(with_secmon.config.workdir / "records.jsonl")
    theirs.save(without.config.workdir / "records.jsonl")
    result.check = check_run(with_secmon, ours.records, profile, audit_key, receiver)
    return result


async def _settle(receiver: AlertReceiver, log_dir: Path, limit: float = 40.0) -> None:
    """Let queued and retried alerts arrive: one accepted delivery per detection logged."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        fired = await asyncio.to_thread(checks.detections_logged, log_dir)
        if len(receiver.accepted()) >= fired:
            await asyncio.sleep(0.5)  # and a moment for any that is late
            return
        await asyncio.sleep(0.5)


# -- the smoke version (tests/e2e/test_load_smoke.py) ---------------------------------------------


def smoke_streams(framework: str) -> tuple[Stream, ...]:
    """A few seconds of everything, slow enough for a busy 2-core machine."""
    logins = 0.5 if framework == "django" else 1.0  # Django's PBKDF2 is the costly one
    return (Stream("home", 4, 2), Stream("page", 3, 2), Stream("sensitive", 2, 2),
            Stream("brute_force", 2 * logins), Stream("stuffing", 2 * logins),
            Stream("spray", 1.5 * logins, clients=3), Stream("probe_403", 1.5),
            Stream("scan_404", 2.5), Stream("flood_429", 2.0), Stream("upload", 0.5),
            Stream("bad_upload", 0.5))


async def smoke(framework: str, workdir: Path, seconds: float = 5.0) -> RunCheck:
    """The load run in brief: one server with secmon, every kind of traffic, every check."""
    profile = profile_for(framework)
    flush_state()
    audit_key = secrets.token_hex(32)
    receiver = AlertReceiver().start()
    server = Server(ServerConfig(framework, workdir, True,
                                 # A generous Redis timeout: the smoke test checks what
                                 # is logged and detected, on however busy a machine.
                                 secmon_env(workdir / "logs", audit_key, receiver,
                                            max_bytes=16 * 1024, detection=SMOKE_DETECTION,
                                            state_timeout=2.0),
                                 app_env(framework)))
    generator: LoadGenerator | None = None
    try:
        await _start(server)
        generator = LoadGenerator(server.url, profile)
        await generator.run(smoke_streams(framework), seconds, "smoke")
        await _settle(receiver, server.config.log_dir)
    finally:
        if generator is not None:
            await generator.close()
        await _stop(server)
        receiver.stop()
        flush_state()
    return check_run(server, generator.records, profile, audit_key, receiver,
                     detection=SMOKE_DETECTION)


# -- faults ----------------------------------------------------------------------------------------


@dataclass
class FaultResult:
    name: str
    framework: str
    description: str
    window: tuple[float, float] = (0.0, 0.0)  # seconds from the start of the run
    before: Latency | None = None
    during: Latency | None = None
    after: Latency | None = None
    during_requests: int = 0
    check: RunCheck | None = None
    notes: list[str] = field(default_factory=list)
    skipped: str = ""
    killed_pid: int | None = None
    lost_reported: dict[str, int] = field(default_factory=dict)  # by output, secmon's own count
    lost_during: int = 0  # lost events whose request was due while the fault lasted
    glued: list[str] = field(default_factory=list)  # whole records stuck to a torn fragment
    deliveries_refused: int = 0  # alert deliveries the webhook answered 5xx or let hang
    alert_delay: float = 0.0  # the longest an alert took to arrive, seconds
    recovered_at: float | None = None  # when the state backend was back (seconds into run)
    missed_in_outage: set[tuple[str, str]] = field(default_factory=set)
    unanswered_logged: int = 0  # requests without an answer whose events are in the log


FaultStep = Callable[["FaultContext"], Awaitable[None]]


@dataclass
class Fault:
    name: str
    framework: str
    description: str
    start: FaultStep
    end: FaultStep
    window: tuple[float, float] = (4.0, 11.0)  # start and end, seconds into the run
    state: str = "shared"  # "private": the state backend is a redis-server of our own
    tmpfs: bool = False


@dataclass
class FaultContext:
    server: Server
    receiver: AlertReceiver
    redis: PrivateRedis | None
    log_dir: Path
    result: FaultResult
    filler: Path | None = None


async def _webhook_error(context: FaultContext) -> None:
    context.receiver.set_mode("error")


async def _webhook_hang(context: FaultContext) -> None:
    context.receiver.set_mode("hang")


async def _webhook_ok(context: FaultContext) -> None:
    context.receiver.set_mode("ok")


async def _redis_stop(context: FaultContext) -> None:
    assert context.redis is not None
    await asyncio.to_thread(context.redis.stop)


async def _redis_start(context: FaultContext) -> None:
    assert context.redis is not None
    await asyncio.to_thread(context.redis.start)


async def _fill_disk(context: FaultContext) -> None:
    context.filler = context.log_dir / "filler"
    await asyncio.to_thread(_fill, context.filler)


def _fill(path: Path) -> None:
    block = bytes(1 << 16)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                if os.write(fd, block) < len(block):
                    break
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    break
                raise
    finally:
        os.close(fd)


async def _free_disk(context: FaultContext) -> None:
    if context.filler is not None:
        context.filler.unlink(missing_ok=True)


async def _kill_worker(context: FaultContext) -> None:
    context.result.killed_pid = await asyncio.to_thread(context.server.kill_worker)


async def _nothing(context: FaultContext) -> None:
    return None


FAULTS = {
    "webhook-500": Fault("webhook-500", "django", "the alert webhook answers 500",
                         _webhook_error, _webhook_ok),
    "webhook-hang": Fault("webhook-hang", "fastapi", "the alert webhook hangs (never answers)",
                          _webhook_hang, _webhook_ok),
    # Short, and early: the breaker probes Redis with growing pauses (0.5 s, 1 s, 2 s, 4 s, ...)
    # and the run must go on long enough after it is back to show detection working again.
    "redis-restart": Fault("redis-restart", "flask",
                           "Redis (the detection state) stopped, then restarted empty",
                           _redis_stop, _redis_start, window=(3.0, 8.0), state="private"),
    "disk-full": Fault("disk-full", "fastapi",
                       "the log directory's file system is full, then has room again",
                       _fill_disk, _free_disk, tmpfs=True),
    "worker-kill": Fault("worker-kill", "django", "a worker is killed with SIGKILL",
                         _kill_worker, _nothing, window=(6.0, 6.0)),
}
# For a fault that is over at once (a kill), "during" is this long after it.
AFTERMATH = 3.0


def fault_plan(framework: str) -> tuple[Stream, ...]:
    """Benign traffic and attacks cheap enough to keep up (no password-hashing storm)."""
    benign = PLANS[framework].benign
    brute = 0.6 if framework == "django" else 1.0
    return (*benign, Stream("brute_force", brute), Stream("probe_403", 1.5),
            Stream("scan_404", 4.0), Stream("flood_429", 1.0), Stream("bad_upload", 0.5))


async def run_fault(fault: Fault, workdir: Path, *, framework: str | None = None,
                    seconds: float = 20.0, say: Callable[[str], None] = print) -> FaultResult:
    framework = framework or fault.framework
    result = FaultResult(fault.name, framework, fault.description, fault.window)
    profile = profile_for(framework)
    log_dir = workdir / "logs"
    kept = workdir / "logs-kept"
    if fault.tmpfs:
        reason = _mount_tmpfs(log_dir)
        if reason:
            result.skipped = reason
            return result
    private = PrivateRedis(workdir / "redis") if fault.state == "private" else None
    flush_state()
    audit_key = secrets.token_hex(32)
    receiver = AlertReceiver().start()
    server: Server | None = None
    generator: LoadGenerator | None = None
    try:
        if private is not None:
            await asyncio.to_thread(private.start)
        state = private.url if private is not None else REDIS_URL
        server = Server(ServerConfig(framework, workdir, True,
                                     secmon_env(log_dir, audit_key, receiver, state=state),
                                     app_env(framework)))
        say(f"  {fault.name}: {fault.description} ({server.name})")
        await _start(server)
        generator = LoadGenerator(server.url, profile, label=30)
        streams = fault_plan(framework)
        await generator.prepare(streams)
        context = FaultContext(server, receiver, private, log_dir, result)
        started = time.monotonic()

        async def inject() -> tuple[float, float]:
            await asyncio.sleep(fault.window[0])
            begin = time.monotonic()
            await fault.start(context)
            if fault.window[1] == fault.window[0]:
                begin = time.monotonic()  # a fault that is over at once: when it happened
            await asyncio.sleep(fault.window[1] - fault.window[0])
            await fault.end(context)
            return begin, time.monotonic()

        _, (begin, end) = await asyncio.gather(
            generator.run(streams, seconds, "fault"), inject())
        await _settle(receiver, log_dir)
        result.window = (begin - started, end - started)
    finally:
        if generator is not None:
            await generator.close()
        if server is not None:
            await _stop(server)
        receiver.stop()
        flush_state()
        if private is not None:
            private.stop()
        if fault.tmpfs:
            _unmount(log_dir, kept)
    assert server is not None and generator is not None
    _judge_fault(result, server, generator, profile, audit_key, receiver,
                 log_dir=kept if fault.tmpfs else log_dir, begin=begin, end=end,
                 started=started)
    return result


def _judge_fault(result: FaultResult, server: Server, generator: LoadGenerator,
                 profile: Profile, audit_key: str, receiver: AlertReceiver, *, log_dir: Path,
                 begin: float, end: float, started: float) -> None:
    records = [r for r in generator.records if r.phase == "fault"]
    if end - begin < AFTERMATH:
        end = begin + AFTERMATH
    benign = [r for r in _of_kinds(records, fault_plan(result.framework)) if r.benign]
    result.before = Latency.of([r for r in benign if r.intended < begin])
    result.during = Latency.of([r for r in benign if begin <= r.intended <= end])
    result.after = Latency.of([r for r in benign if r.intended > end])
    result.during_requests = sum(begin <= r.intended <= end for r in records)
    check = check_run(server, generator.records, profile, audit_key, receiver, log_dir=log_dir)
    result.check = check
    for event in check.monitor_events:
        if event.get("event_type") == "sys_monitor_enabled" and event.get("output"):
            name = str(event["output"])
            result.lost_reported[name] = (result.lost_reported.get(name, 0)
                                          + int(event.get("lost_records") or 0))
    result.lost_during = sum(begin - 1.5 <= r.intended <= end + 1.5
                             for r, _ in check.security.lost)
    result.glued = checks.glued_records(log_dir)
    logged = {e.get("request_id") for e in checks.read_family(log_dir, "security.log").events}
    result.unanswered_logged = sum(r.id in logged for r in check.traffic.no_answer)
    accepted = receiver.accepted()
    result.deliveries_refused = len(receiver.deliveries) - len(accepted)
    delays = [d.received - _epoch(str(d.alert.get("timestamp"))) for d in accepted]
    result.alert_delay = max(delays, default=0.0)
    if result.name == "redis-restart":
        _judge_outage(result, check, generator, profile)


def _judge_outage(result: FaultResult, check: RunCheck, generator: LoadGenerator,
                  profile: Profile) -> None:
    """With Redis gone each worker counts alone, and Redis comes back empty; what each
    counted meanwhile is merged into it when it answers. Detection is judged on the traffic
    after the last worker saw it back, and what the whole run should have fired but did
    not is told (and is a violation)."""
    back = [_epoch(str(e.get("timestamp"))) - generator.clock_offset
            for e in check.monitor_events
            if e.get("event_type") == "sys_monitor_enabled" and e.get("monitor")]
    if not back:
        result.notes.append("the detection state never reported itself back")
        return
    recovered = max(back)
    first = min(r.intended for r in generator.records if r.phase == "fault")
    result.recovered_at = recovered - first
    after = [r for r in generator.records if r.phase == "fault" and r.intended > recovered]
    whole = check.detections.expected
    check.detections.expected = checks.expected_detections(after, profile, thresholds())
    result.missed_in_outage = whole - set(check.detections.events) - set(
        check.detections.alerts)


def _epoch(timestamp: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("nan")


def _mount_tmpfs(path: Path, size: str = "16m") -> str:
    """Mount a small tmpfs at ``path``; the reason it cannot be done, or ""."""
    if os.geteuid() != 0:
        return "needs root (mounts a small tmpfs to fill)"
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                           str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        return f"cannot mount a tmpfs here: {done.stderr.strip()}"
    return ""


def _unmount(path: Path, keep: Path) -> None:
    """Keep what the tmpfs holds (for the checks), then unmount it."""
    keep.mkdir(parents=True, exist_ok=True)
    for item in path.iterdir():
        if item.is_file() and item.name != "filler":
            (keep / item.name).write_bytes(item.read_bytes())
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "--lazy", str(path)], capture_output=True)


def fault_violations(result: FaultResult) -> list[str]:
    """What this fault must not do, and did: 5xx, stalls, lost or unexplained records."""
    check = result.check
    if result.skipped or check is None:
        return []
    out = []
    traffic = check.traffic
    if traffic.server_errors:
        out.append(f"{len(traffic.server_errors)} requests answered 5xx")
    if traffic.no_answer and result.name != "worker-kill":
        out.append(f"{len(traffic.no_answer)} requests got no answer")
    if result.glued:
        out.append(f"{len(result.glued)} records written whole after the disk had room "
                   "again are unreadable: glued to another worker's torn fragment")
    # A full disk too: what could not be written waits in the spool, far longer than this.
    if check.security.lost or check.audit.lost:
        out.append(f"{len(check.security.lost) + len(check.audit.lost)} events lost")
    if check.security.duplicated or check.audit.duplicated:
        out.append("events duplicated")
    failures = [f for f in check.verification.findings if f["failure"]]
    if result.name == "worker-kill":
        killed = f":{result.killed_pid}:"
        failures = [f for f in failures
                    if not (f["kind"] == "unanchored" and killed in str(f.get("chain")))]
    if failures:
        out.append("secmon verify: " + ", ".join(sorted({f["kind"] for f in failures})))
    detections = check.detections
    if detections.missing:
        out.append(f"{len(detections.missing)} detections did not fire")
    if result.missed_in_outage:
        out.append(f"{len(result.missed_in_outage)} detections missed because of the outage: "
                   + ", ".join(sorted(rule for rule, _ in result.missed_in_outage)))
    if detections.undelivered:
        out.append(f"{len(detections.undelivered)} alerts never delivered")
    if result.name != "redis-restart" and (detections.repeated_events
                                           or detections.repeated_alerts):
        out.append("detections repeated within a throttle window")
    return out
