"""Each rule, on both state backends, at and around its threshold and window edges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import secmon
from secmon.pipeline import get_pipeline
from secmon.testing import CapturedEvents

from .conftest import Backend, deny, fail_login, request_from, respond, succeed_login

# Rule name -> (the event it emits, one triggering action for the i-th event).
TRIGGERS: dict[str, tuple[str, Callable[[int], None]]] = {
    "brute_force": ("authn_login_fail_max", lambda i: fail_login("alice")),
    "distributed_brute_force": (
        "secmon_distributed_brute_force", lambda i: fail_login("alice", ip=f"198.51.100.{i}")),
    "credential_stuffing": ("secmon_credential_stuffing", lambda i: fail_login(f"user{i}")),
    "privilege_probe": ("secmon_privilege_probe", lambda i: deny(user_id=7)),
    "excess_404": ("malicious_excess_404", lambda i: respond(404)),
    "excess_429": ("secmon_excess_429", lambda i: respond(429)),
}


def only(rule: str, **options: Any) -> dict[str, Any]:
    """DETECTION with just ``rule`` on (so one rule's events are tested at a time)."""
    names = [*TRIGGERS, "impossible_travel", "success_after_fail"]
    return {name: (options if name == rule else False) for name in names}


@pytest.mark.parametrize("rule", TRIGGERS)
def test_fires_at_the_threshold_once(backend: Backend, secmon_events: CapturedEvents,
                                     rule: str) -> None:
    event_type, trigger = TRIGGERS[rule]
    backend.configure(detection=only(rule, threshold=3, window=30))
    trigger(0)
    trigger(1)
    assert secmon_events.of_type(event_type) == []
    trigger(2)
    [fired] = secmon_events.of_type(event_type)
    assert fired["category"] == "intrusion_detection"
    assert fired["rule"] == rule
    assert fired["count"] == 3
    assert fired["threshold"] == 3
    assert fired["window"] == 30
    assert fired["subject"]
    trigger(3)  # same subject within the throttle: no second event
    assert len(secmon_events.of_type(event_type)) == 1


@pytest.mark.parametrize("rule", TRIGGERS)
@pytest.mark.parametrize(("pause", "fires"), [(0.3, True), (1.3, False)])
def test_window_edges(backend: Backend, secmon_events: CapturedEvents, rule: str, pause: float,
                      fires: bool) -> None:
    event_type, trigger = TRIGGERS[rule]
    backend.configure(detection=only(rule, threshold=3, window=1))
    trigger(0)
    trigger(1)
    backend.advance(pause)
    trigger(2)
    assert bool(secmon_events.of_type(event_type)) is fires


def test_exact_window_edge_on_the_memory_backend(memory: Backend,
                                                 secmon_events: CapturedEvents) -> None:
    memory.configure(detection=only("brute_force", threshold=2, window=60))
    fail_login("alice")
    memory.advance(60)  # exactly one window later: the first failure no longer counts
    fail_login("alice")
    assert secmon_events.of_type("authn_login_fail_max") == []
    memory.advance(59.999)
    fail_login("alice")
    assert len(secmon_events.of_type("authn_login_fail_max")) == 1


def test_brute_force_is_per_user_and_address(backend: Backend,
                                             secmon_events: CapturedEvents) -> None:
    backend.configure(detection=only("brute_force", threshold=3))
    for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        fail_login("alice", ip=ip)
    fail_login("bob")
    fail_login("carol")
    assert secmon_events.of_type("authn_login_fail_max") == []
    fail_login("alice", ip="203.0.113.1")
    fail_login("alice", ip="203.0.113.1")
    [fired] = secmon_events.of_type("authn_login_fail_max")
    assert fired["source_ip"] == "203.0.113.1"
    assert "username" not in fired  # hashed by default, never the typed name
    assert fired["username_hash"] == get_pipeline().hash_username("alice")
    assert fired["subject"] == f"username_hash={fired['username_hash']} source_ip=203.0.113.1"


def test_brute_force_keyed_by_user_alone(backend: Backend, secmon_events: CapturedEvents) -> None:
    backend.configure(detection=only("brute_force", threshold=3, key="user"))
    for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        fail_login("alice", ip=ip)
    [fired] = secmon_events.of_type("authn_login_fail_max")
    assert fired["subject"].startswith("username_hash=")
    assert "source_ip=" not in fired["subject"]


def test_distributed_brute_force_counts_distinct_addresses(
    backend: Backend, secmon_events: CapturedEvents
) -> None:
    backend.configure(detection=only("distributed_brute_force", threshold=3))
    for _ in range(5):
        fail_login("alice", ip="198.51.100.1")
    fail_login("alice", ip="198.51.100.2")
    assert secmon_events.of_type("secmon_distributed_brute_force") == []
    fail_login("alice", ip="198.51.100.3")
    [fired] = secmon_events.of_type("secmon_distributed_brute_force")
    assert fired["count"] == 3
    assert fired["level"] == "warning"


def test_credential_stuffing_counts_distinct_users(backend: Backend,
                                                   secmon_events: CapturedEvents) -> None:
    backend.configure(detection=only("credential_stuffing", threshold=3))
    for _ in range(5):
        fail_login("alice")
    fail_login("bob")
    assert secmon_events.of_type("secmon_credential_stuffing") == []
    fail_login("carol")
    [fired] = secmon_events.of_type("secmon_credential_stuffing")
    assert fired["level"] == "critical"
    assert fired["subject"] == "source_ip=203.0.113.9"


@pytest.mark.parametrize(
    ("ips", "network"),
    [
        (["203.0.113.1", "203.0.113.77", "203.0.113.200"], "203.0.113.0/24"),
        (["2001:db8:1:2::1", "2001:db8:1:2::ab", "2001:db8:1:2:ffff::9"], "2001:db8:1:2::/64"),
    ],
)
def test_credential_stuffing_from_one_network(backend: Backend, secmon_events: CapturedEvents,
                                              ips: list[str], network: str) -> None:
    backend.configure(detection=only("credential_stuffing", threshold=3, key="network"))
    for i, ip in enumerate(ips):
        fail_login(f"user{i}", ip=ip)
    [fired] = secmon_events.of_type("secmon_credential_stuffing")
    assert fired["source_network"] == network


def test_privilege_probe_needs_a_user(backend: Backend, secmon_events: CapturedEvents) -> None:
    backend.configure(detection=only("privilege_probe", threshold=2))
    respond(401)  # anonymous denials have no user to probe with
    respond(403)
    deny(user_id=7)
    deny(user_id=8)
    assert secmon_events.of_type("secmon_privilege_probe") == []
    deny(user_id=7)
    [fired] = secmon_events.of_type("secmon_privilege_probe")
    assert fired["user_id"] == 7
    assert fired["subject"] == "user_id=7"


def test_scanning_is_per_address(backend: Backend, secmon_events: CapturedEvents) -> None:
    backend.configure(detection=only("excess_404", threshold=2))
    respond(404, ip="192.0.2.1")
    respond(404, ip="192.0.2.2")
    respond(200, ip="192.0.2.1")
    assert secmon_events.of_type("malicious_excess_404") == []
    respond(404, ip="192.0.2.1")
    [fired] = secmon_events.of_type("malicious_excess_404")
    assert fired["source_ip"] == "192.0.2.1"
    assert fired["path"] == "/wp-admin.php"


def test_success_after_failures(backend: Backend, secmon_events: CapturedEvents) -> None:
    backend.configure(detection=only("success_after_fail"))
    succeed_login("alice")
    assert secmon_events.of_type("authn_login_successafterfail") == []
    fail_login("alice")
    fail_login("alice", ip="198.51.100.7")
    fail_login("bob")
    succeed_login("alice")
    [event] = secmon_events.of_type("authn_login_successafterfail")
    assert event["count"] == 2
    assert event["user_id"] == 1
    assert event["category"] == "authentication"
    succeed_login("alice")  # the failures were taken by the first success
    assert len(secmon_events.of_type("authn_login_successafterfail")) == 1


def test_success_after_failures_outside_the_window(backend: Backend,
                                                   secmon_events: CapturedEvents) -> None:
    backend.configure(detection=only("success_after_fail", window=1))
    fail_login("alice")
    backend.advance(1.3)
    succeed_login("alice")
    assert secmon_events.of_type("authn_login_successafterfail") == []


def test_success_after_failures_alerts_only_from_its_alert_threshold(
    memory: Backend, secmon_events: CapturedEvents
) -> None:
    pipeline = memory.configure(detection=only("success_after_fail", alert_threshold=3))
    fail_login("alice")
    succeed_login("alice")
    assert pipeline.stats().get("alerts", 0) == 0
    for _ in range(3):
        fail_login("alice")
    succeed_login("alice")
    assert pipeline.stats()["alerts"] == 1
    assert [e["count"] for e in secmon_events.of_type("authn_login_successafterfail")] == [1, 3]


def test_request_context_fields_reach_the_detection_event(
    memory: Backend, secmon_events: CapturedEvents
) -> None:
    memory.configure(detection=only("brute_force", threshold=1))
    with request_from("203.0.113.5") as ctx:
        secmon.login_failed(username="alice")
        request_id = ctx.request_id(get_pipeline().settings)
    [fired] = secmon_events.of_type("authn_login_fail_max")
    assert fired["request_id"] == request_id
    assert fired["method"] == "POST"
