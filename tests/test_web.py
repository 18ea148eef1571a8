from __future__ import annotations

import pytest

import secmon
from secmon.context import RequestContext, request_context
from secmon.pipeline import Pipeline
from secmon.testing import capture_events
from secmon.web import exception_fields, report_exception, report_status


@pytest.mark.parametrize(
    ("status", "event_type", "reason"),
    [(400, "input_validation_fail", "bad_request"), (401, "authz_fail", "unauthenticated"),
     (403, "authz_fail", "forbidden"), (413, "upload_validation", "too_large"),
     (422, "input_validation_fail", "unprocessable"),
     (429, "excess_rate_limit_exceeded", "rate_limited")],
)
def test_status_events(configured: Pipeline, status: int, event_type: str, reason: str) -> None:
    with capture_events() as events, request_context(RequestContext(method="GET", path="/x")):
        report_status(status)
    [event] = events
    assert (event["event_type"], event["reason"], event["status"]) == (event_type, reason, status)


@pytest.mark.parametrize("status", [200, 201, 302, 404, 500])
def test_no_event_for_other_statuses(configured: Pipeline, status: int) -> None:
    with capture_events() as events, request_context(RequestContext(method="GET", path="/x")):
        report_status(status)
    assert events == []


def test_specific_hook_wins_over_the_status(configured: Pipeline) -> None:
    with capture_events() as events, request_context(RequestContext(method="GET", path="/x")):
        secmon.access_denied(resource_type="invoice", reason="not owner")
        report_status(403)
    assert events.types() == ["authz_fail"]
    assert events[0]["reason"] == "not owner"


def _raise() -> None:
    password = "hunter2"  # noqa: F841 - locals must never be logged
    raise ValueError("token=abcdef0123456789abcdef leaked in a message")


def test_exception_event_is_sanitized(configured: Pipeline) -> None:
    try:
        _raise()
    except ValueError as exc:
        assert exception_fields(exc)["error_type"] == "builtins.ValueError"
        with capture_events() as events, request_context(RequestContext(method="GET")):
            report_exception(exc)
            report_exception(exc)
    [event] = events
    assert event["event_type"] == "secmon_app_exception"
    assert event["level"] == "error"
    assert "abcdef0123456789abcdef" not in str(event)
    assert "hunter2" not in str(event)
    assert any("in _raise" in frame for frame in event["stack"])
