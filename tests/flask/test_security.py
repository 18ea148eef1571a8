"""Flask-Security-Too's signals as events: logins, failures, password changes, registration, 2FA."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from flask import Flask
from flask_login import login_user as flask_login_user
from flask_security import Security, auth_required, current_user, hash_password
from flask_security.signals import tf_profile_changed, tf_security_token_sent
from flask_security.twofactor import tf_disable

from secmon.flask import SecMon
from secmon.testing import CapturedEvents

from .conftest import AppFactory, log_text
from .memory_store import MemoryUserDatastore

PASSWORD = "alice-Pa55word!"
SECURITY_CONFIG = {
    "SECURITY_PASSWORD_HASH": "pbkdf2_sha512",
    "SECURITY_PASSWORD_SALT": "test-salt",
    "SECURITY_REGISTERABLE": True,
    "SECURITY_CHANGEABLE": True,
    "SECURITY_SEND_REGISTER_EMAIL": False,
    "SECURITY_SEND_PASSWORD_CHANGE_EMAIL": False,
    "SECURITY_EMAIL_VALIDATOR_ARGS": {"check_deliverability": False},
    "WTF_CSRF_ENABLED": False,
}


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    app = make_app(**SECURITY_CONFIG)
    store = MemoryUserDatastore()
    Security(app, store)

    @app.route("/vault")
    @auth_required()
    def vault() -> str:
        return "gold"

    @app.route("/2fa/disable", methods=["POST"])
    @auth_required()
    def disable_two_factor() -> str:
        tf_disable(current_user)
        return "disabled"

    @app.route("/2fa/changed", methods=["POST"])
    @auth_required()
    def two_factor_changed() -> str:
        tf_profile_changed.send(app, user=current_user, method="authenticator")
        tf_security_token_sent.send(app, user=current_user, method="sms", token="918273",
                                    login_token="918273", phone_number="+15555550100")
        return "changed"

    @app.route("/login-directly", methods=["POST"])
    def login_directly() -> str:
        flask_login_user(store.find_user(email="alice@example.com"))
        return "in"

    with app.app_context():
        store.create_user(email="alice@example.com", password=hash_password(PASSWORD))
    return app


def log_in(app: Flask, password: str = PASSWORD) -> tuple[object, int]:
    client = app.test_client()
    response = client.post("/login", json={"email": "alice@example.com", "password": password})
    return client, response.status_code


def test_login_is_one_success_event_with_how(app: Flask, secmon_events: CapturedEvents) -> None:
    _, status = log_in(app)

    assert status == 200
    (event,) = secmon_events.of_type("authn_login_success")
    assert event["user_id"] == 1
    assert event["authn_via"] == ["password"]
    assert event["path"] == "/login"


def test_wrong_password_is_one_failure_event(
    app: Flask, secmon_events: CapturedEvents, log_dir: Path
) -> None:
    _, status = log_in(app, password="not-the-Pa55word")

    assert status == 400
    # The 400 of the JSON login says nothing more: one failure, one event.
    assert secmon_events.types() == ["authn_login_fail"]
    event = secmon_events[0]
    assert event["user_id"] == 1
    assert event["reason"] == "invalid_password"
    assert event["second_factor"] is False
    assert "not-the-Pa55word" not in log_text(log_dir)


def test_anonymous_on_a_protected_view(app: Flask, secmon_events: CapturedEvents) -> None:
    response = app.test_client().get("/vault", headers={"Accept": "application/json"})

    assert response.status_code == 401
    (event,) = secmon_events
    assert event["event_type"] == "authz_fail"
    assert event["reason"] == "unauthenticated"


def test_password_change(app: Flask, secmon_events: CapturedEvents, log_dir: Path) -> None:
    client, _ = log_in(app)

    response = client.post(  # type: ignore[attr-defined]
        "/change",
        json={"password": PASSWORD, "new_password": "N3w-Pa55word!!",
              "new_password_confirm": "N3w-Pa55word!!"},
    )

    assert response.status_code == 200
    (change,) = secmon_events.of_type("authn_password_change")
    assert change["user_id"] == 1
    assert change["reason"] == "changed"
    written = log_text(log_dir)
    assert PASSWORD not in written and "N3w-Pa55word!!" not in written


def test_registration_creates_a_user(
    app: Flask, secmon_events: CapturedEvents, log_dir: Path
) -> None:
    response = app.test_client().post(
        "/register",
        json={"email": "bob@example.com", "password": "B0b-Pa55word!!",
              "password_confirm": "B0b-Pa55word!!"},
    )

    assert response.status_code == 200
    (created,) = secmon_events.of_type("user_created")
    assert created["resource_type"] == "user"
    assert created["resource_id"] == 2
    assert created["reason"] == "registered"
    written = log_text(log_dir)
    assert "B0b-Pa55word!!" not in written
    assert "bob@example.com" not in written


def test_two_factor_changes_and_no_one_time_code_in_the_logs(
    app: Flask, secmon_events: CapturedEvents, log_dir: Path
) -> None:
    client, _ = log_in(app)

    client.post("/2fa/changed")  # type: ignore[attr-defined]
    client.post("/2fa/disable")  # type: ignore[attr-defined]

    updates = secmon_events.of_type("user_updated")
    assert [e["reason"] for e in updates] == ["two_factor_changed", "two_factor_disabled"]
    assert all(e["user_id"] == 1 and e["resource_id"] == 1 for e in updates)
    written = log_text(log_dir)
    assert "918273" not in written and "+15555550100" not in written


def test_plain_flask_login_call_in_a_security_app_still_logs_the_login(
    app: Flask, secmon_events: CapturedEvents
) -> None:
    app.test_client().post("/login-directly")

    (event,) = secmon_events
    assert event["event_type"] == "authn_login_success"
    assert event["user_id"] == 1
    assert "authn_via" not in event


def test_without_flask_security_installed(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, secmon_events: CapturedEvents
) -> None:
    monkeypatch.setitem(sys.modules, "flask_security", None)
    app = make_app(secmon=False)
    SecMon(app)

    assert app.extensions["secmon"].integrations == ["flask_login"]
    app.test_client().get("/nowhere")
    assert secmon_events == []
