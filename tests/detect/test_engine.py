"""The engine: configuration, deduplication and throttling, alerts, the lockout hook."""

from __future__ import annotations

from typing import Any

import pytest

import secmon
from secmon import web
from secmon.config import ConfigError
from secmon.context import RequestContext, request_context
from secmon.detect import Alert
from secmon.detect.engine import DetectionEngine
from secmon.detect.rule import WindowRule
from secmon.testing import CapturedEvents

from .conftest import Backend, fail_login, respond
from .receiver import Receiver


@pytest.mark.parametrize(
    ("detection", "key"),
    [
        ({"brute_forse": {}}, "DETECTION.brute_forse"),
        ({"brute_force": {"threshold": 0}}, "DETECTION.brute_force.threshold"),
        ({"brute_force": {"threshold": "five"}}, "DETECTION.brute_force.threshold"),
        ({"brute_force": {"window": "soon"}}, "DETECTION.brute_force.window"),
        ({"brute_force": {"window": -5}}, "DETECTION.brute_force.window"),
        ({"brute_force": {"key": "session"}}, "DETECTION.brute_force.key"),
        ({"brute_force": {"treshold": 5}}, "DETECTION.brute_force.treshold"),
        ({"brute_force": {"severity": "loud"}}, "DETECTION.brute_force.severity"),
        ({"brute_force": "yes"}, "DETECTION.brute_force"),
        ({"credential_stuffing": {"ipv4_prefix": 33}}, "DETECTION.credential_stuffing.ipv4_prefix"),
        ({"success_after_fail": {"alert_threshold": 0}},
         "DETECTION.success_after_fail.alert_threshold"),
        ({"impossible_travel": {"speed": -1}}, "DETECTION.impossible_travel.speed"),
        # Options that mean nothing for a rule are refused, not ignored.
        ({"brute_force": {"ipv4_prefix": 16}}, "DETECTION.brute_force.ipv4_prefix"),
        ({"impossible_travel": {"threshold": 3}}, "DETECTION.impossible_travel.threshold"),
    ],
)
def test_bad_detection_settings_fail_at_configure(detection: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        secmon.configure(detection=detection, geo_resolver=lambda ip: None)
    assert caught.value.key == key


def test_detection_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECMON_DETECTION", '{"brute_force": {"threshold": 3, "window": "2m"}}')
    pipeline = secmon.configure(environment="test", outputs=["stderr"])
    assert pipeline.engine is not None
    [rule] = [r for r in pipeline.engine.rules if r.name == "brute_force"]  # type: ignore[attr-defined]
    assert (rule.threshold, rule.window) == (3, 120.0)


def test_all_rules_off_means_no_engine() -> None:
    names = ["brute_force", "distributed_brute_force", "credential_stuffing", "privilege_probe",
             "impossible_travel", "excess_404", "excess_429", "success_after_fail"]
    pipeline = secmon.configure(detection={name: False for name in names}, outputs=["stderr"])
    assert pipeline.engine is None
    pipeline = secmon.configure(detection={"brute_force": {"enabled": False}}, outputs=["stderr"])
    assert pipeline.engine is not None
    assert "brute_force" not in [r.name for r in pipeline.engine.rules]  # type: ignore[attr-defined]


def test_one_detection_per_subject_per_throttle(backend: Backend,
                                                secmon_events: CapturedEvents) -> None:
    pipeline = backend.configure(detection={"brute_force": {"threshold": 2}}, alert_throttle=1)
    for _ in range(6):
        fail_login("alice")
    fail_login("bob")
    fail_login("bob")
    fired = secmon_events.of_type("authn_login_fail_max")
    assert len(fired) == 2  # alice once, bob once
    stats = pipeline.stats()
    assert stats["detect.brute_force.fired"] == 2
    assert stats["detect.brute_force.suppressed"] == 4
    assert stats["alerts"] == 2
    backend.advance(1.2)  # the throttle is over; the attack goes on
    fail_login("alice")
    assert len(secmon_events.of_type("authn_login_fail_max")) == 3


def test_alerts_go_to_destinations_that_want_them(memory: Backend, receiver: Receiver) -> None:
    pipeline = memory.configure(
        detection={"brute_force": {"threshold": 1}, "credential_stuffing": {"threshold": 1}},
        alerts=[
            {"type": "webhook", "name": "all", "url": receiver.url + "/all", "secret": "s"},
            {"type": "webhook", "name": "critical", "url": receiver.url + "/critical",
             "secret": "s", "min_level": "critical"},
        ],
    )
    fail_login("alice")  # brute force (warning) and credential stuffing (critical)
    secmon.flush()
    paths = sorted((r.path, r.json()["rule"]) for r in receiver.wait_for(3))
    assert paths == [("/all", "brute_force"), ("/all", "credential_stuffing"),
                     ("/critical", "credential_stuffing")]
    stats = pipeline.stats()
    assert stats["alert.all.sent"] == 2
    assert stats["alert.critical.sent"] == 1


def test_the_lockout_hook_gets_the_alert_and_its_failures_are_contained(
    memory: Backend, secmon_events: CapturedEvents
) -> None:
    seen: list[Alert] = []

    def hook(alert: Alert) -> None:
        seen.append(alert)
        raise RuntimeError("lock service down")

    pipeline = memory.configure(detection={"brute_force": {"threshold": 2}}, lockout_hook=hook)
    fail_login("alice")
    fail_login("alice")
    fail_login("alice")
    [alert] = seen
    assert alert.rule == "brute_force"
    assert alert.details["count"] == 2
    assert alert.details["source_ip"] == "203.0.113.9"
    assert alert.dedup_key.startswith("secmon/app/brute_force/")
    assert pipeline.stats()["errors.lockout_hook"] == 1
    # Nobody was locked out by secmon: every failure was just logged.
    assert secmon_events.types().count("authn_login_fail") == 3


def test_a_bad_lockout_hook_path_fails_at_configure() -> None:
    with pytest.raises(ConfigError) as caught:
        secmon.configure(lockout_hook="myapp.security:nothing_here")
    assert caught.value.key == "LOCKOUT_HOOK"


def test_severity_override(memory: Backend, secmon_events: CapturedEvents) -> None:
    memory.configure(detection={"excess_404": {"threshold": 1, "severity": "critical"}})
    respond(404)
    [event] = secmon_events.of_type("malicious_excess_404")
    assert event["level"] == "critical"


def test_usernames_in_signals_are_hashed_like_events(memory: Backend) -> None:
    pipeline = memory.configure(username_mode="hash")
    assert pipeline.engine is not None
    seen: list[dict[str, Any]] = []
    engine: Any = pipeline.engine
    engine._evaluate = lambda rules, event: seen.append(event)
    pipeline.signal("http_404", username="alice", source_ip="192.0.2.1")
    assert seen[0]["username_hash"] == pipeline.hash_username("alice")
    assert "username" not in seen[0]


def test_a_404_asks_for_the_user_only_when_detection_writes_an_event(
    memory: Backend, secmon_events: CapturedEvents
) -> None:
    # Scanning counts by address: a 404 that only feeds the count must not load a user.
    memory.configure(detection={"excess_404": {"threshold": 2}})
    asked: list[int] = []

    def load() -> tuple[int, None]:
        asked.append(1)
        return 5, None

    def not_found() -> None:
        with request_context(RequestContext(method="GET", path="/x", peer="192.0.2.1",
                                            user_loader=load)):
            web.report_status(404)

    not_found()
    assert asked == []
    not_found()
    [fired] = secmon_events.of_type("malicious_excess_404")
    assert fired["user_id"] == 5
    assert asked == [1]


class NotFoundPerUser(WindowRule):
    """A signal rule that counts by user, as an application's own rule may."""

    name = "not_found_per_user"
    event_type = "malicious_excess_404"
    signals = frozenset({"http_404"})
    keys = ("user",)
    defaults = {"threshold": 1, "window": 60.0}


def test_a_signal_rule_counting_by_user_gets_the_user(
    memory: Backend, secmon_events: CapturedEvents
) -> None:
    pipeline = memory.configure(detection={"excess_404": False})
    assert pipeline.engine is not None
    engine = DetectionEngine(
        pipeline.settings, [NotFoundPerUser({}, pipeline.settings)], [],
        emit=pipeline.emit, report_error=pipeline.report_error,
        hash_username=pipeline.hash_username, redactor=pipeline.redactor,
        state=pipeline.engine.state,
    )
    pipeline.engine = engine
    assert engine.signal_needs_user("http_404")
    with request_context(RequestContext(method="GET", path="/x", peer="192.0.2.1",
                                        user_loader=lambda: (5, None))):
        web.report_status(404)
    [fired] = secmon_events.of_type("malicious_excess_404")
    assert fired["subject"] == "user_id=5"


def test_alert_destinations_do_not_belong_in_outputs(receiver: Receiver) -> None:
    with pytest.raises(ConfigError) as caught:
        secmon.configure(outputs=[{"type": "slack", "url": receiver.url}])
    assert caught.value.key == "OUTPUTS[0].type"
    assert "ALERTS" in str(caught.value)
