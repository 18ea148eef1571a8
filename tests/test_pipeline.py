from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import secmon
from secmon.context import RequestContext, request_context
from secmon.pipeline import Pipeline, current_pipeline, get_pipeline
from secmon.testing import capture_events

from .conftest import read_lines

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _request(**kwargs: Any) -> RequestContext:
    headers = {"user-agent": "Mozilla/5.0"}
    kwargs.setdefault("method", "POST")
    kwargs.setdefault("path", "/login")
    kwargs.setdefault("peer", "203.0.113.9")
    return RequestContext(header=headers.get, **kwargs)


def test_event_shape(configured: Pipeline, log_dir: Path) -> None:
    with request_context(_request()):
        secmon.login_failed(username="bob", reason="bad password")
    [event] = read_lines(log_dir / "security.log")
    assert list(event)[:7] == ["timestamp", "level", "event_type", "category", "outcome",
                               "event", "app"]
    assert TIMESTAMP.match(event["timestamp"])
    assert event["level"] == "warning"
    assert event["event_type"] == "authn_login_fail"
    assert event["category"] == "authentication"
    assert event["outcome"] == "failure"
    assert event["source_ip"] == "203.0.113.9"
    assert event["method"] == "POST"
    assert event["path"] == "/login"
    assert event["user_agent"] == "Mozilla/5.0"
    assert event["reason"] == "bad password"
    assert event["event"].startswith("login failed for user #")
    assert event["event"].endswith("from 203.0.113.9 (reason: bad password)")
    assert "username" not in event
    assert len(event["username_hash"]) == 16


def test_audit_events_also_go_to_the_audit_log(configured: Pipeline, log_dir: Path) -> None:
    secmon.emit("user_created", user_id=1, target_user_id=2)
    secmon.emit("authz_fail", user_id=1)
    assert [e["event_type"] for e in read_lines(log_dir / "security.log")] == [
        "user_created", "authz_fail"]
    assert [e["event_type"] for e in read_lines(log_dir / "audit.log")] == ["user_created"]


def test_audit_helper_forces_the_audit_log(configured: Pipeline, log_dir: Path) -> None:
    secmon.audit("invoice_refunded", actor_id=3, resource_type="invoice", resource_id=9,
                 changes={"status": ["paid", "refunded"]})
    secmon.audit("authz_fail", actor_id=3)
    audit = read_lines(log_dir / "audit.log")
    assert [e["event_type"] for e in audit] == ["secmon_audit_record", "authz_fail"]
    assert audit[0]["action"] == "invoice_refunded"
    assert audit[0]["changes"] == {"status": ["paid", "refunded"]}


def test_explicit_fields_win_over_context_but_none_does_not_blank(
    configured: Pipeline,
) -> None:
    with capture_events() as events, request_context(_request()) as ctx:
        ctx.set_user(42, "alice")
        secmon.emit("authz_fail", user_id=None, source_ip="192.0.2.1")
    [event] = events
    assert event["user_id"] == 42
    assert event["source_ip"] == "192.0.2.1"


@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [("hash", "username_hash", "username"), ("plain", "username", "username_hash"),
     ("omit", None, "username")],
)
def test_username_modes(mode: str, present: str | None, absent: str) -> None:
    secmon.configure(outputs=["stderr"], username_mode=mode)
    with capture_events() as events:
        secmon.login_failed(username="bob")
    [event] = events
    assert absent not in event
    assert "username_hash" not in event or mode == "hash"
    if present:
        assert event[present] in ("bob", get_pipeline().hash_username("bob"))
    assert "bob" not in orjson.dumps(event).decode() or mode == "plain"


def test_username_hash_is_keyed_and_stable() -> None:
    first = secmon.configure(outputs=["stderr"], hash_key="one")
    a = first.hash_username("bob")
    assert a == first.hash_username("bob")
    second = secmon.configure(outputs=["stderr"], hash_key="two")
    assert second.hash_username("bob") != a


def test_secrets_never_reach_any_output(configured: Pipeline, log_dir: Path) -> None:
    with request_context(_request(query="next=/&session=abc123def456")):
        secmon.login_failed(username="bob", password="hunter2",
                            credentials={"username": "bob", "password": "hunter2"},
                            headers={"Authorization": "Bearer abcdefghijklmnop1234",
                                     "Cookie": "sessionid=s3cr3ts3ss10n"},
                            note="card 4111 1111 1111 1111")
    text = (log_dir / "security.log").read_text() + (log_dir / "audit.log").read_text()
    for secret in ("hunter2", "abcdefghijklmnop1234", "s3cr3ts3ss10n", "abc123def456",
                   "4111 1111 1111 1111"):
        assert secret not in text
    assert "[REDACTED]" in text


def test_level_override_and_minimum_level() -> None:
    secmon.configure(outputs=["stderr"], min_level="warning")
    with capture_events() as events:
        secmon.emit("session_created")
        secmon.emit("session_created", level="error")
        secmon.emit("upload_validation", level="info", outcome="success")
        secmon.emit("authz_fail")
    assert [(e["event_type"], e["level"]) for e in events] == [
        ("session_created", "error"), ("authz_fail", "warning")]


def test_disabled_emits_nothing() -> None:
    secmon.configure(outputs=["stderr"], enabled=False)
    with capture_events() as events:
        secmon.emit("authz_fail")
    assert events == []


def test_typo_raises_at_the_call(configured: Pipeline) -> None:
    with pytest.raises(secmon.UnknownEventError):
        secmon.emit("authz_fial")


@pytest.mark.parametrize(
    "helper", [
        (secmon.login_succeeded, {"user_id": 1}, "authn_login_success"),
        (secmon.login_failed, {"username": "x"}, "authn_login_fail"),
        (secmon.logged_out, {"user_id": 1}, "session_expired"),
        (secmon.access_denied, {"resource_type": "invoice", "resource_id": 7},
         "authz_fail"),
        (secmon.validation_failed, {"field": "zip"}, "input_validation_fail"),
        (secmon.rate_limited, {"limit": "5/minute"}, "excess_rate_limit_exceeded"),
        (secmon.sensitive_read, {"resource_type": "ssn_record"}, "sensitive_read"),
    ],
    ids=lambda h: h[2],
)
def test_helpers(configured: Pipeline, helper: tuple[Any, dict[str, Any], str]) -> None:
    function, kwargs, event_type = helper
    with capture_events() as events:
        function(**kwargs)
    assert events.types() == [event_type]


def test_logged_out_reason(configured: Pipeline) -> None:
    with capture_events() as events:
        secmon.logged_out(user_id=1)
    assert events[0]["reason"] == "logout"


def test_access_denied_message(configured: Pipeline) -> None:
    with capture_events() as events:
        secmon.access_denied(resource_type="invoice", resource_id=7, reason="not owner",
                             user_id=3)
    assert events[0]["event"] == "access denied for user id 3 on invoice 7 (reason: not owner)"


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    __repr__ = __str__


@pytest.mark.parametrize(
    "value",
    [
        _Unprintable(),
        b"\xff\xfebytes\n",
        10**5000,
        {1: "int key", (1, 2): "tuple key", None: "none key"},
        float("nan"),
        {"deep": [[[[[[[[[[[[[[["too deep"]]]]]]]]]]]]]]]},
        object(),
        Path("/etc/passwd"),
    ],
    ids=["unprintable", "bytes", "huge_int", "odd_keys", "nan", "deep", "object", "path"],
)
def test_odd_field_values_never_raise(configured: Pipeline, log_dir: Path, value: Any) -> None:
    secmon.emit("authz_fail", odd=value)
    [event] = [e for e in read_lines(log_dir / "security.log") if e["event_type"] == "authz_fail"]
    assert "odd" in event


def test_cyclic_structures(configured: Pipeline, log_dir: Path) -> None:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    items: list[Any] = [1]
    items.append(items)
    secmon.emit("authz_fail", loop=loop, items=items)
    [event] = read_lines(log_dir / "security.log")
    assert event["loop"]["name"] == "loop"


def test_unwritable_file_output_waits_and_is_reported_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    pipeline = secmon.configure(outputs=[{"type": "file", "path": str(blocker / "s.log")},
                                         {"type": "file", "path": str(tmp_path / "ok.log")}],
                                environment="test")
    for _ in range(5):
        secmon.emit("authz_fail")
    pipeline.flush()
    # The output degrades: five events, plus the degraded report it also could not take,
    # wait in its spool.
    assert pipeline.stats()["output.s.log.spooled"] == 6
    assert pipeline.stats()["output.s.log.dropped"] == 0
    err = capfd.readouterr().err
    assert err.count("secmon: output s.log cannot write") == 1
    # The healthy output got everything, plus one sys_monitor_disabled report.
    types = [e["event_type"] for e in read_lines(tmp_path / "ok.log")]
    assert types.count("authz_fail") == 5
    assert types.count("sys_monitor_disabled") == 1


def test_disk_full_is_contained(capfd: pytest.CaptureFixture[str]) -> None:
    pipeline = secmon.configure(outputs=[{"type": "file", "path": "/dev/full"}])
    secmon.emit("authz_fail")
    secmon.emit("authz_fail")
    assert pipeline.stats()["output.full.spooled"] >= 2
    assert "No space left" in capfd.readouterr().err


def test_failing_output_does_not_starve_the_others(configured: Pipeline, log_dir: Path) -> None:
    class Broken:
        name = "broken"

        def accepts(self, *_: Any) -> bool:
            return True

        def handle(self, *_: Any) -> None:
            raise RuntimeError("sink down")

        def stats(self) -> dict[str, int]:
            return {}

        def flush(self, timeout: float | None = None) -> None:
            pass

        def close(self) -> None:
            pass

    configured.outputs.insert(0, Broken())  # type: ignore[arg-type]
    secmon.emit("authz_fail")
    assert len(read_lines(log_dir / "security.log")) == 2  # the event + the error report
    assert configured.stats()["errors.output.broken"] == 2


def test_stdlib_logging_bridge(caplog: pytest.LogCaptureFixture) -> None:
    secmon.configure(outputs=[{"type": "logging", "logger": "secmon"}], environment="test")
    with caplog.at_level(logging.INFO, logger="secmon"):
        secmon.emit("authz_fail", reason="nope")
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert orjson.loads(record.getMessage())["event_type"] == "authz_fail"
    assert record.secmon["reason"] == "nope"  # type: ignore[attr-defined]


def test_secmon_events_fixture(configured: Pipeline, secmon_events: list[dict[str, Any]]) -> None:
    secmon.emit("session_created", user_id=1)
    assert [e["event_type"] for e in secmon_events] == ["session_created"]


def test_sanitize_is_public() -> None:
    secmon.configure(outputs=["stderr"])
    assert secmon.sanitize({"password": "x", "ok": "y"}) == {"password": "[REDACTED]", "ok": "y"}


def _raw_controls(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.text(min_size=1, max_size=20),
    value=st.text(),
    path=st.text(),
    agent=st.text(),
)
def test_any_text_renders_as_exactly_one_line(key: str, value: str, path: str, agent: str) -> None:
    pipeline = current_pipeline() or secmon.configure(outputs=["stderr"], min_level="critical")
    lines: list[bytes] = []
    with capture_events() as events:
        ctx = RequestContext(method="GET", path=path, header={"user-agent": agent}.get)
        with request_context(ctx):
            pipeline.emit("input_validation_fail", reason=value, extra={key: value},
                          level="critical")
    for event in events:
        line = pipeline.outputs[0].render(event)
        lines.append(line)
        text = line.decode()
        assert "\n" not in text and "\r" not in text
        assert _raw_controls(text) == []
    assert len(lines) == 1


def test_detection_sees_events_below_the_minimum_level() -> None:
    secmon.configure(outputs=["stderr"], min_level="critical")
    with capture_events() as events:
        for _ in range(10):
            secmon.emit("authz_fail", user_id=7)
    # The denials themselves are below MIN_LEVEL; the probe they add up to is not.
    assert events.types() == ["secmon_privilege_probe"]


def test_emit_once_per_request(configured: Pipeline) -> None:
    with capture_events() as events:
        with request_context(_request()):
            secmon.access_denied(resource_type="invoice", reason="not owner")
            configured.emit_once("authz_fail", reason="forbidden")
            configured.emit_once("input_validation_fail", reason="bad")
        with request_context(_request()):
            configured.emit_once("authz_fail", reason="forbidden")
    assert [(e["event_type"], e["reason"]) for e in events] == [
        ("authz_fail", "not owner"), ("input_validation_fail", "bad"),
        ("authz_fail", "forbidden")]
