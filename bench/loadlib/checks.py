"""After a run: the generator's record against the logs, the audit chains, and the alerts."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from secmon.events import lookup

from .generator import Record
from .profiles import Profile
from .receiver import Delivery

# Detection rules checked here, with secmon's default thresholds (DETECTION may change them).
DEFAULT_THRESHOLDS = {
    "brute_force": 5, "distributed_brute_force": 10, "credential_stuffing": 20,
    "privilege_probe": 10, "excess_404": 20, "excess_429": 10,
}


# -- reading the logs --------------------------------------------------------------------------


@dataclass
class LogFamily:
    """Every line of one log (the live file and its rotated, maybe compressed, files)."""

    files: list[Path]
    events: list[dict[str, Any]]
    unreadable: list[tuple[str, int]]  # (file, line) of lines that are not JSON records


def log_files(log_dir: Path, name: str) -> list[Path]:
    """``name`` and its rotated files, oldest first (rotated names sort by time of rotation)."""
    rotated = sorted(p for p in log_dir.glob(f"{name}.*")
                     if p.name[len(name) + 1:][:1].isdigit())
    live = log_dir / name
    return rotated + ([live] if live.exists() else [])


def read_family(log_dir: Path, name: str) -> LogFamily:
    files = log_files(log_dir, name)
    events: list[dict[str, Any]] = []
    unreadable: list[tuple[str, int]] = []
    for path in files:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        for number, line in enumerate(raw.split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                unreadable.append((path.name, number))
                continue
            if isinstance(event, dict):
                events.append(event)
            else:
                unreadable.append((path.name, number))
    return LogFamily(files, events, unreadable)


# -- events: expected against found ------------------------------------------------------------


@dataclass
class EventCheck:
    """Each answered request's expected events, found once, in one log."""

    log: str
    expected: int = 0
    found: int = 0
    lost: list[tuple[Record, str]] = field(default_factory=list)
    duplicated: list[tuple[Record, str, int]] = field(default_factory=list)
    unexpected: Counter[str] = field(default_factory=Counter)  # event types nobody expected

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated


@dataclass
class Traffic:
    """What the generator saw: answers by status, 5xx, failures to get an answer."""

    sent: int = 0
    answered: int = 0
    server_errors: list[Record] = field(default_factory=list)
    no_answer: list[Record] = field(default_factory=list)
    odd_status: Counter[tuple[str, int]] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)


def traffic_of(records: Sequence[Record], profile: Profile) -> Traffic:
    traffic = Traffic(sent=len(records))
    for record in records:
        if record.status is None:
            traffic.no_answer.append(record)
            continue
        traffic.answered += 1
        traffic.by_status[record.status] += 1
        if record.status >= 500:
            traffic.server_errors.append(record)
        elif record.status not in profile.kinds[record.kind].expect:
            traffic.odd_status[(record.kind, record.status)] += 1
    return traffic


def expected_events(record: Record, profile: Profile) -> tuple[str, ...] | None:
    """The events a request must have produced; None if its answer tells nothing sure."""
    if record.status is None:
        return None
    return profile.kinds[record.kind].expect.get(record.status)


def check_events(records: Sequence[Record], profile: Profile, events: Iterable[dict[str, Any]],
                 log: str, *, audit_only: bool = False) -> EventCheck:
    """Lost: an expected event not in the log; duplicated: in it more than once."""
    result = EventCheck(log)
    ours = {record.id for record in records}
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        request_id = event.get("request_id")
        if request_id in ours:
            found[request_id][str(event.get("event_type"))] += 1
    for record in records:
        expected = expected_events(record, profile)
        if expected is None:
            continue
        if audit_only:
            expected = tuple(name for name in expected if lookup(name).audit)
        seen = found.get(record.id, Counter())
        for name in expected:
            result.expected += 1
            count = seen[name]
            if count == 0:
                result.lost.append((record, name))
            else:
                result.found += 1
                if count > 1:
                    result.duplicated.append((record, name, count))
        for name, count in seen.items():
            if name not in expected and not _is_detection(name) and not (
                audit_only and not lookup(name).audit
            ):
                result.unexpected[name] += count
    return result


def _is_detection(event_type: str) -> bool:
    try:
        return lookup(event_type).detection
    except KeyError:
        return False


# -- detections and alerts ---------------------------------------------------------------------


@dataclass
class DetectionCheck:
    """Which rules should have fired for whom, which did, and how often."""

    expected: set[tuple[str, str]] = field(default_factory=set)  # (rule, subject)
    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    unsigned_alerts: int = 0
    unknown: list[str] = field(default_factory=list)  # detections naming no request of ours
    other: Counter[str] = field(default_factory=Counter)  # rules not checked here

    @property
    def missing(self) -> set[tuple[str, str]]:
        # Fired shows in the log or at the receiver (a full disk may have cost the event).
        return self.expected - set(self.events) - set(self.alerts)

    @property
    def unexplained(self) -> set[tuple[str, str]]:
        return set(self.events) - self.expected

    @property
    def repeated_events(self) -> dict[tuple[str, str], int]:
        return {key: n for key, n in self.events.items() if n > 1}

    @property
    def undelivered(self) -> set[tuple[str, str]]:
        return {key for key in self.events if self.alerts[key] == 0}

    @property
    def repeated_alerts(self) -> dict[tuple[str, str], int]:
        return {key: n for key, n in self.alerts.items() if n > 1}

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexplained or self.repeated_events
                    or self.undelivered or self.repeated_alerts or self.unsigned_alerts)


def _subject(rule: str, record: Record) -> str | None:
    """The generator's name for a rule's subject (who or where the rule counts)."""
    if rule == "brute_force":
        return f"{record.username}@{record.ip}"
    if rule == "distributed_brute_force":
        return str(record.username)
    if rule == "privilege_probe":
        return str(record.identity)
    if rule in ("credential_stuffing", "excess_404", "excess_429"):
        return record.ip
    return None


def expected_detections(records: Sequence[Record], profile: Profile,
                        thresholds: Mapping[str, int]) -> set[tuple[str, str]]:
    """The (rule, subject) pairs the traffic sent must fire (every run fits in the windows)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    distinct: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for record in records:
        expected = expected_events(record, profile) or ()
        if "authn_login_fail" in expected:
            counts["brute_force"][f"{record.username}@{record.ip}"] += 1
            distinct["distributed_brute_force"][str(record.username)].add(record.ip)
            distinct["credential_stuffing"][record.ip].add(str(record.username))
        if "authz_fail" in expected and record.status == 403 and record.identity:
            counts["privilege_probe"][record.identity] += 1
        if "excess_rate_limit_exceeded" in expected:
            counts["excess_429"][record.ip] += 1
        if record.status == 404:
            counts["excess_404"][record.ip] += 1
    expected_set = set()
    for rule, per_subject in counts.items():
        expected_set |= {(rule, s) for s, n in per_subject.items() if n >= thresholds[rule]}
    for rule, members in distinct.items():
        expected_set |= {(rule, s) for s, m in members.items() if len(m) >= thresholds[rule]}
    return expected_set


def detections_logged(log_dir: Path) -> int:
    """Detection events in the security log so far (each one raised an alert)."""
    events = read_family(log_dir, "security.log").events
    return sum(_is_detection(str(e.get("event_type"))) for e in events)


def check_detections(records: Sequence[Record], profile: Profile,
                     events: Iterable[dict[str, Any]], deliveries: Sequence[Delivery],
                     thresholds: Mapping[str, int]) -> DetectionCheck:
    by_id = {record.id: record for record in records}
    result = DetectionCheck(expected=expected_detections(records, profile, thresholds))
    for event in events:
        rule = event.get("rule")
        if not _is_detection(str(event.get("event_type"))):
            continue
        if rule not in thresholds:
            result.other[str(rule)] += 1
            continue
        record = by_id.get(str(event.get("request_id")))
        subject = _subject(str(rule), record) if record is not None else None
        if subject is None:
            result.unknown.append(f"{rule}: {event.get('subject')}")
            continue
        result.events[(str(rule), subject)] += 1
    for delivery in deliveries:
        alert = delivery.alert
        rule = alert.get("rule")
        if rule not in thresholds:
            continue
        if not delivery.signed:
            result.unsigned_alerts += 1
        details = alert.get("details") or {}
        record = by_id.get(str(details.get("request_id")))
        subject = _subject(str(rule), record) if record is not None else None
        if subject is None:
            result.unknown.append(f"alert {rule}: {alert.get('subject')}")
            continue
        result.alerts[(str(rule), subject)] += 1
    return result


# -- the audit chains --------------------------------------------------------------------------


@dataclass
class Verification:
    exit_code: int
    status: str
    records: int
    chains: int
    findings: list[dict[str, Any]]
    text: str

    def kinds(self, *, failures: bool | None = None) -> Counter[str]:
        return Counter(f["kind"] for f in self.findings
                       if failures is None or f["failure"] == failures)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def verify(log_dir: Path, audit_key: str, name: str = "audit.log") -> Verification:
    """``secmon verify`` over the audit log and its rotated files, as an operator runs it."""
    files = [str(p) for p in log_files(log_dir, name)]
    env = {**os.environ, "SECMON_AUDIT_KEY": audit_key}
    command = [sys.executable, "-c", "from secmon.cli import main; main()", "verify", "--json",
               *files]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    try:
        report = orjson.loads(done.stdout)
    except orjson.JSONDecodeError:
        return Verification(done.returncode, "error", 0, 0, [], done.stdout + done.stderr)
    return Verification(done.returncode, report["status"], report["records"], report["chains"],
                        report["findings"], done.stdout)


def glued_records(log_dir: Path) -> list[str]:
    """Whole records found inside unreadable lines: written after a torn fragment of another
    writer, so they continue its line. Named by event type and request id."""
    found = []
    for name in ("security.log", "audit.log"):
        for path in log_files(log_dir, name):
            raw = path.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            for line in raw.split(b"\n"):
                if not line.strip() or _parses(line):
                    continue
                start = line.find(b'{"', 1)
                while start > 0:
                    tail = line[start:]
                    if _parses(tail):
                        event = orjson.loads(tail)
                        found.append(f"{name}: {event.get('event_type')} "
                                     f"{event.get('request_id') or event.get('seq')}")
                        break
                    start = line.find(b'{"', start + 1)
    return found


def _parses(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


# A final checkpoint: secmon closed at exit, or settled at the app's shutdown (ASGI servers
# such as uvicorn end their workers without running atexit).
FINAL_CHECKPOINTS = ("close", "shutdown")


def close_checkpoints(path: Path) -> int:
    """Chains anchored by a final checkpoint (one per gracefully stopped worker)."""
    if not path.exists():
        return 0
    chains = set()
    for line in path.read_bytes().splitlines():
        if _parses(line):
            checkpoint = orjson.loads(line)
            if checkpoint.get("reason") in FINAL_CHECKPOINTS:
                chains.add(checkpoint.get("chain"))
    return len(chains)
