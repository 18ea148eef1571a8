"""HTTP outcomes, unhandled exceptions and the request context of events in a Flask app."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, abort, request
from werkzeug.middleware.proxy_fix import ProxyFix

import secmon
from secmon.flask import SecMon
from secmon.testing import CapturedEvents

from .conftest import AppFactory, log_text

STATUS_EVENTS = [
    (400, "input_validation_fail", "bad_request"),
    (401, "authz_fail", "unauthenticated"),
    (403, "authz_fail", "forbidden"),
    (413, "upload_validation", "too_large"),
    (429, "excess_rate_limit_exceeded", "rate_limited"),
]


def add_routes(app: Flask) -> None:
    @app.route("/status/<int:code>", methods=["GET", "POST"])
    def status(code: int) -> str:
        abort(code)

    @app.route("/hello")
    def hello() -> str:
        return "hello"

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("database down; password=hunter2")

    @app.route("/login", methods=["POST"])
    def login() -> tuple[str, int]:
        if request.form.get("password") != "correct horse":
            secmon.login_failed(username=request.form.get("username"), reason="bad_password")
            return "invalid credentials", 401
        return "welcome", 200


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    app = make_app()
    add_routes(app)
    return app


@pytest.mark.parametrize(("status", "event_type", "reason"), STATUS_EVENTS)
def test_status_becomes_one_event(
    app: Flask, secmon_events: CapturedEvents, status: int, event_type: str, reason: str
) -> None:
    response = app.test_client().get(f"/status/{status}")

    assert response.status_code == status
    (event,) = secmon_events
    assert event["event_type"] == event_type
    assert event["reason"] == reason
    assert event["status"] == status
    assert event["method"] == "GET"
    assert event["path"] == f"/status/{status}"


@pytest.mark.parametrize("path", ["/hello", "/status/404", "/nowhere"])
def test_benign_and_missing_pages_emit_nothing(
    app: Flask, secmon_events: CapturedEvents, path: str
) -> None:
    app.test_client().get(path)

    assert secmon_events == []


def test_event_context(app: Flask, secmon_events: CapturedEvents) -> None:
    app.test_client().get(
        "/status/403?page=2",
        headers={"User-Agent": "curl/8.5", "Host": "shop.example"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )

    (event,) = secmon_events
    assert event["source_ip"] == "198.51.100.7"
    assert "peer_ip" not in event
    assert event["user_agent"] == "curl/8.5"
    assert event["host"] == "shop.example"
    assert event["path"] == "/status/403?page=2"
    assert event["route"] == "/status/<int:code>"
    assert len(event["request_id"]) == 24
    assert event["event"] == "access denied from 198.51.100.7 (reason: forbidden)"


def test_request_id_from_a_configured_header(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = make_app(SECMON_REQUEST_ID_HEADER="X-Request-ID")
    add_routes(app)

    app.test_client().get("/status/403", headers={"X-Request-ID": "req-42"})

    assert secmon_events[0]["request_id"] == "req-42"


def test_own_login_code_with_the_helper_gets_the_request_context(
    app: Flask, secmon_events: CapturedEvents, log_dir: Path
) -> None:
    response = app.test_client().post(
        "/login?next=/account&token=abc123secret",
        data={"username": "alice", "password": "Tr0ub4dor&3"},
        headers={"Cookie": "session=eyJzZXNzaW9uIjoic2VjcmV0In0.sig",
                 "Authorization": "Bearer sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
    )

    assert response.status_code == 401
    # The helper's event wins; the 401 does not add a second one.
    (event,) = secmon_events
    assert event["event_type"] == "authn_login_fail"
    assert event["reason"] == "bad_password"
    assert event["source_ip"] == "127.0.0.1"
    assert event["method"] == "POST"
    assert event["path"].startswith("/login?next=/account&token=")
    assert "username" not in event and len(event["username_hash"]) == 16
    written = log_text(log_dir)
    for secret in ("Tr0ub4dor&3", "abc123secret", "eyJzZXNzaW9uIjoic2VjcmV0In0",
                   "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "alice"):
        assert secret not in written


def test_unhandled_exception_is_one_sanitized_event_and_the_app_handler_answers(
    app: Flask, secmon_events: CapturedEvents, log_dir: Path
) -> None:
    @app.errorhandler(500)
    def oops(error: Exception) -> tuple[str, int]:
        return "sorry, our fault", 500

    response = app.test_client().get("/boom")

    assert response.status_code == 500
    assert response.get_data(as_text=True) == "sorry, our fault"
    (event,) = secmon_events
    assert event["event_type"] == "secmon_app_exception"
    assert event["error_type"] == "builtins.RuntimeError"
    assert event["status"] == 500
    assert event["path"] == "/boom"
    assert any("in boom" in frame for frame in event["stack"])
    assert "hunter2" not in log_text(log_dir)


def test_exception_propagating_in_testing_mode_is_reported_once(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = make_app(TESTING=True)
    add_routes(app)

    with pytest.raises(RuntimeError):
        app.test_client().get("/boom")

    assert secmon_events.types() == ["secmon_app_exception"]
    secmon.emit("sys_startup")  # after the request: no stale request context
    assert "path" not in secmon_events[-1]


def test_app_error_handlers_keep_their_responses(
    app: Flask, secmon_events: CapturedEvents
) -> None:
    @app.errorhandler(403)
    def forbidden(error: Exception) -> tuple[str, int]:
        return "custom forbidden page", 403

    @app.errorhandler(400)
    def bad(error: Exception) -> tuple[dict[str, str], int]:
        return {"error": "bad input"}, 400

    client = app.test_client()
    denied = client.get("/status/403")
    bad_request = client.post("/status/400")

    assert denied.get_data(as_text=True) == "custom forbidden page"
    assert bad_request.get_json() == {"error": "bad input"}
    assert secmon_events.types() == ["authz_fail", "input_validation_fail"]


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    app: Flask, secmon_events: CapturedEvents
) -> None:
    app.test_client().get("/status/403", headers={"X-Forwarded-For": "6.6.6.6"})

    assert secmon_events[0]["source_ip"] == "127.0.0.1"


def test_forwarded_for_from_a_trusted_proxy(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = make_app(SECMON_TRUSTED_PROXIES=["10.0.0.0/8"])
    add_routes(app)

    app.test_client().get(
        "/status/403",
        headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9, 10.0.0.3"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )

    (event,) = secmon_events
    assert event["source_ip"] == "203.0.113.9"
    assert event["peer_ip"] == "10.0.0.2"


@pytest.mark.parametrize("proxy_fix_first", [True, False])
def test_with_proxy_fix_secmon_sees_the_address_flask_sees(
    make_app: AppFactory, secmon_events: CapturedEvents, proxy_fix_first: bool
) -> None:
    app = make_app(secmon=False)
    add_routes(app)
    seen: list[str | None] = []

    @app.route("/whoami")
    def whoami() -> str:
        seen.append(request.remote_addr)
        abort(403)

    if proxy_fix_first:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
        SecMon(app)
    else:
        SecMon(app)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]

    app.test_client().get(
        "/whoami",
        headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )

    assert seen == ["203.0.113.9"]
    (event,) = secmon_events
    assert event["source_ip"] == "203.0.113.9"
    assert event["peer_ip"] == "10.0.0.2"


def test_a_failure_inside_secmon_never_breaks_the_response(
    app: Flask, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secmon bug")

    monkeypatch.setattr("secmon.flask.extension.report_status", broken)

    response = app.test_client().get("/status/403")

    assert response.status_code == 403
    assert secmon.stats()["errors.flask.response"] == 1
    assert "the application is not affected" in capfd.readouterr().err
