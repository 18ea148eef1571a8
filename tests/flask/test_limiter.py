"""Flask-Limiter breaches as rate-limit events carrying the breached limit."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, Response, abort, redirect
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from secmon.flask import SecMon
from secmon.testing import CapturedEvents

from .conftest import AppFactory


def limited_app(
    make_app: AppFactory,
    *,
    limiter_first: bool = False,
    on_breach: Callable[[RequestLimit], Response | None] | None = None,
    **limiter_options: Any,
) -> Flask:
    app = make_app(secmon=False, RATELIMIT_STORAGE_URI="memory://")
    if not limiter_first:
        SecMon(app)
    limiter = Limiter(get_remote_address, app=app, on_breach=on_breach, **limiter_options)
    if limiter_first:
        SecMon(app)

    @app.route("/search")
    @limiter.limit("2 per minute")
    def search() -> str:
        return "results"

    @app.route("/home")
    def home() -> str:
        return "home"

    return app


@pytest.mark.parametrize("limiter_first", [False, True])
def test_breach_is_one_event_with_the_limit(
    make_app: AppFactory, secmon_events: CapturedEvents, limiter_first: bool
) -> None:
    app = limited_app(make_app, limiter_first=limiter_first)
    client = app.test_client()

    statuses = [client.get("/search").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    (event,) = secmon_events
    assert event["event_type"] == "excess_rate_limit_exceeded"
    assert event["limit"] == "2 per 1 minute"
    assert event["scope"].endswith("search")
    assert event["status"] == 429
    assert event["source_ip"] == "127.0.0.1"
    assert "127.0.0.1" not in event["scope"]


def test_the_apps_breach_hook_still_answers(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    seen: list[str] = []

    def on_breach(limit: RequestLimit) -> Response:
        seen.append(str(limit.limit))
        return Response("slow down, please", status=429)

    app = limited_app(make_app, on_breach=on_breach)
    client = app.test_client()
    responses = [client.get("/search") for _ in range(3)]

    assert seen == ["2 per 1 minute"]
    assert responses[-1].get_data(as_text=True) == "slow down, please"
    assert secmon_events.types() == ["excess_rate_limit_exceeded"]


def test_breach_answered_with_another_status_is_still_reported(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = limited_app(make_app)

    @app.errorhandler(429)
    def too_many(error: Exception) -> Response:
        return redirect("/home")  # type: ignore[return-value]

    client = app.test_client()
    responses = [client.get("/search") for _ in range(3)]

    assert responses[-1].status_code == 302
    (event,) = secmon_events
    assert event["limit"] == "2 per 1 minute"
    assert event["status"] == 302


def test_default_limits_are_reported_too(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = limited_app(make_app, default_limits=["1 per minute"])
    client = app.test_client()

    assert [client.get("/home").status_code for _ in range(2)] == [200, 429]
    (event,) = secmon_events
    assert event["limit"] == "1 per 1 minute"


def test_requests_within_the_limit_emit_nothing(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = limited_app(make_app)
    client = app.test_client()

    client.get("/search")
    client.get("/home")

    assert secmon_events == []


def test_without_flask_limiter_a_429_is_still_an_event(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, secmon_events: CapturedEvents
) -> None:
    monkeypatch.setitem(sys.modules, "flask_limiter", None)
    app = make_app()

    @app.route("/api")
    def api() -> str:
        abort(429)

    assert app.test_client().get("/api").status_code == 429
    (event,) = secmon_events
    assert event["event_type"] == "excess_rate_limit_exceeded"
    assert event["reason"] == "rate_limited"
    assert "limit" not in event
