"""The detection engine: rules over each event, counters in the state backend, alerts out."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..alert import Alert
from ..clock import utc_timestamp
from ..config import ConfigError
from ..errors import ReportError
from ..events import Emit, EventSpec, lookup
from ..redact import Redactor
from ..state import Claim, Op, State, build_state
from .brute_force import BruteForce, DistributedBruteForce
from .privilege import PrivilegeProbe
from .rule import Detection, Rule, digest
from .scanning import Excess404, Excess429
from .stuffing import CredentialStuffing
from .success_after_fail import SuccessAfterFail
from .travel import ImpossibleTravel

if TYPE_CHECKING:
    from ..config import Settings

RULES: tuple[type[Rule], ...] = (
    BruteForce,
    DistributedBruteForce,
    CredentialStuffing,
    PrivilegeProbe,
    ImpossibleTravel,
    Excess404,
    Excess429,
    SuccessAfterFail,
)

# Fields of the triggering event that help whoever reads an alert.
_CONTEXT_FIELDS = ("source_ip", "request_id", "host", "method", "path", "user_agent")
# Claims this process knows to be held in shared state, remembered so an ongoing
# attack costs no extra round trip per request.
_MAX_HELD = 10_000


class AlertSink(Protocol):
    """Where alerts go (``secmon.outputs.alerts``): delivered off the request path."""

    name: str
    report: ReportError | None

    def wants(self, alert: Alert, spec: EventSpec) -> bool: ...

    def send(self, alert: Alert) -> bool: ...

    def stats(self) -> dict[str, int]: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def settle(self) -> None: ...

    def close(self, timeout: float = 5.0) -> None: ...


def build_rules(settings: Settings) -> list[Rule]:
    """The enabled rules with their options; bad ``DETECTION`` entries raise ConfigError."""
    config = settings.detection
    known = {rule.name: rule for rule in RULES}
    for name in config:
        if name not in known:
            raise ConfigError(f"DETECTION.{name}", f"unknown rule (known: {', '.join(known)})")
    rules = []
    for cls in RULES:
        key = f"DETECTION.{cls.name}"
        raw = config.get(cls.name, True)
        if raw is False:
            continue
        if raw is True:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(key, "expected a mapping of options, true or false")
        rule = cls(raw, settings)
        if not rule.options.get("enabled", True):
            continue
        if isinstance(rule, ImpossibleTravel) and rule.resolver is None:
            if cls.name in config:
                raise ConfigError(
                    key,
                    "needs a location resolver: set GEOIP_DATABASE to a GeoIP2/GeoLite2 .mmdb "
                    "file (pip install 'secmon[geo]') or GEO_RESOLVER to a callable",
                )
            continue
        rules.append(rule)
    return rules


class DetectionEngine:
    """Feeds events and signals to the rules that watch them; fires detections and alerts.

    A detection is deduplicated through the state backend: one event and one alert per
    (rule, subject) per ``ALERT_THROTTLE`` across every worker sharing the state. The
    engine never blocks anyone; ``LOCKOUT_HOOK`` lets the application decide to.
    """

    def __init__(
        self,
        settings: Settings,
        rules: Sequence[Rule],
        alerts: Sequence[AlertSink] = (),
        *,
        emit: Emit,
        report_error: ReportError,
        hash_username: Callable[[Any], str],
        redactor: Redactor,
        state: State | None = None,
        lockout_hook: Callable[[Alert], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.emit = emit
        self.report_error = report_error
        self.hash_username = hash_username
        self.redactor = redactor
        self.rules = list(rules)
        self.alerts = list(alerts)
        self.lockout_hook = lockout_hook
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._held: dict[str, float] = {}  # claim key -> monotonic time it runs out
        self._by_event: dict[str, list[Rule]] = {}
        self._by_signal: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for name in rule.triggers:
                self._by_event.setdefault(name, []).append(rule)
            for name in rule.signals:
                self._by_signal.setdefault(name, []).append(rule)
        self._signals_by_user = frozenset(
            name for name, watching in self._by_signal.items()
            if any("user" in rule.key.split("+") for rule in watching)
        )
        for output in self.alerts:
            output.report = report_error
        self.state: State = state if state is not None else build_state(
            self.settings, self._state_changed
        )

    # -- input --------------------------------------------------------------------------

    def observe(self, event: dict[str, Any], spec: EventSpec) -> None:
        rules = self._by_event.get(spec.name)
        if rules:
            self._evaluate(rules, event)

    def signal_needs_user(self, name: str) -> bool:
        """Whether a rule watching this signal counts by user (else by address, or none)."""
        return name in self._signals_by_user

    def signal(self, name: str, fields: dict[str, Any]) -> None:
        rules = self._by_signal.get(name)
        if not rules:
            return
        event = dict(fields)
        event["signal"] = name
        # Signal fields come straight from the request context: treat the username
        # as the pipeline would, so keys match those of real events.
        username = event.pop("username", None)
        if username is not None and username != "":
            if self.settings.username_mode == "hash":
                event["username_hash"] = self.hash_username(username)
            elif self.settings.username_mode == "plain":
                event["username"] = username
        self._evaluate(rules, event)

    def _evaluate(self, rules: Sequence[Rule], event: Mapping[str, Any]) -> None:
        plans: list[tuple[Rule, Sequence[Op], int]] = []
        ops: list[Op] = []
        for rule in rules:
            try:
                rule_ops = rule.ops(event)
            except Exception as exc:
                self.report_error(f"detection.{rule.name}", exc)
                continue
            if rule_ops:
                plans.append((rule, rule_ops, len(ops)))
                ops.extend(rule_ops)
        if not ops:
            return
        results = self.state.run(ops)
        for rule, rule_ops, start in plans:
            try:
                detection = rule.judge(event, rule_ops, results[start : start + len(rule_ops)])
                if detection is not None:
                    self._fire(rule, detection, event)
            except Exception as exc:
                self.report_error(f"detection.{rule.name}", exc)

    # -- output -------------------------------------------------------------------------

    def _fire(self, rule: Rule, detection: Detection, event: Mapping[str, Any]) -> None:
        claim = rule.state_key(detection.subject, ".alerted")
        if rule.throttle_event:
            if not self._claim(claim):
                self._count(f"detect.{rule.name}.suppressed")
                return
            alerting = detection.alert
        else:
            alerting = detection.alert and self._claim(claim)
        self._count(f"detect.{rule.name}.fired")
        self.emit(
            rule.event_type,
            level=rule.severity,
            message=detection.summary,
            rule=rule.name,
            subject=detection.subject,
            **detection.fields,
        )
        if not alerting:
            return
        alert = self._alert(rule, detection, event)
        self._count("alerts")
        for output in self.alerts:
            if output.wants(alert, lookup(alert.event_type)):
                output.send(alert)
        if self.lockout_hook is not None:
            try:
                self.lockout_hook(alert)
            except Exception as exc:
                self.report_error("lockout_hook", exc)

    def _claim(self, key: str) -> bool:
        if not self.state.shared:
            return bool(self.state.run([Claim(key, self.settings.alert_throttle)])[0][0])
        now = time.monotonic()
        until = self._held.get(key)
        if until is not None and now < until:
            return False
        claimed, remaining = self.state.run([Claim(key, self.settings.alert_throttle)])[0]
        if len(self._held) >= _MAX_HELD:
            self._held = {k: t for k, t in self._held.items() if t > now}
            if len(self._held) >= _MAX_HELD:
                self._held.clear()
        self._held[key] = now + remaining
        return bool(claimed)

    def _alert(self, rule: Rule, detection: Detection, event: Mapping[str, Any]) -> Alert:
        details: dict[str, Any] = {"rule": rule.name, **detection.fields}
        for name in _CONTEXT_FIELDS:
            if name not in details and event.get(name) is not None:
                details[name] = event[name]
        app = self.settings.app_name
        return Alert(
            id=os.urandom(12).hex(),
            rule=rule.name,
            event_type=rule.event_type,
            severity=rule.severity,
            summary=self.redactor.sanitize_str(detection.summary),
            subject=self.redactor.sanitize_str(detection.subject),
            dedup_key=f"secmon/{app}/{rule.name}/{digest(detection.subject)}",
            timestamp=utc_timestamp(),
            app=app,
            environment=self.settings.environment,
            details=self.redactor.sanitize(details),
        )

    def _state_changed(self, available: bool, reason: str) -> None:
        self._count("state.enabled" if available else "state.disabled")
        self.emit(
            "sys_monitor_enabled" if available else "sys_monitor_disabled",
            monitor="detection-state",
            backend=self.settings.state_backend.split(":", 1)[0],
            reason=reason,
        )

    def _count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    # -- lifecycle ----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._lock:
            result: dict[str, Any] = dict(self.counters)
        result["state.backend"] = self.state.name
        result.update(self.state.stats())
        for output in self.alerts:
            for name, value in output.stats().items():
                result[f"alert.{output.name}.{name}"] = value
        return result

    def flush(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for output in self.alerts:
            try:
                output.flush(max(0.0, deadline - time.monotonic()))
            except Exception as exc:
                self.report_error(f"alert.{output.name}", exc)

    def settle(self) -> None:
        """Alerts that could not be delivered go to ``SPOOL_PATH`` (the process may end)."""
        for output in self.alerts:
            try:
                output.settle()
            except Exception as exc:
                self.report_error(f"alert.{output.name}", exc)

    def close(self) -> None:
        for output in self.alerts:
            try:
                # The pipeline flushed just before: what still waits is kept (SPOOL_PATH)
                # or counted lost.
                output.close(timeout=0.1)
            except Exception as exc:
                self.report_error(f"alert.{output.name}", exc)
        self.state.close()
        for rule in self.rules:
            if isinstance(rule, ImpossibleTravel) and rule.resolver is not None:
                rule.resolver.close()

