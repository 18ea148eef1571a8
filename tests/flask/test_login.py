"""Flask-Login's signals as events, the current user in every event, and the path without it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from flask import Flask, abort, g, request, session
from flask.globals import request_ctx
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    fresh_login_required,
    login_required,
    login_user,
    logout_user,
    user_logged_in,
)

import secmon
from secmon.flask import SecMon
from secmon.flask.login import as_logged, current_user_fields
from secmon.testing import CapturedEvents

from ..conftest import read_lines
from .conftest import AppFactory, log_text

PASSWORDS = {"alice": "alice-Pa55word!", "bob": "bob-Pa55word!"}


class User(UserMixin):
    def __init__(self, user_id: int, name: str, role: str) -> None:
        self.id = user_id
        self.name = name
        self.role = role


USERS = {"1": User(1, "alice", "admin"), "2": User(2, "bob", "staff")}  # by get_id()
BY_NAME = {user.name: user for user in USERS.values()}


def wire_login(app: Flask, *, login_view: str | None = None) -> LoginManager:
    manager = LoginManager(app)
    manager.user_loader(USERS.get)
    manager.login_view = login_view  # type: ignore[assignment]

    @app.route("/login", methods=["GET", "POST"])
    def login() -> tuple[str, int]:
        if request.method == "GET":
            return "login form", 200
        name = request.form.get("username", "")
        user = BY_NAME.get(name)
        if user is None or request.form.get("password") != PASSWORDS[name]:
            secmon.login_failed(username=name, reason="bad_credentials")
            return "invalid credentials", 401
        login_user(user, remember=request.form.get("remember") == "y")
        return "welcome", 200

    @app.route("/logout")
    def logout() -> str:
        logout_user()
        return "bye"

    @app.route("/private")
    @login_required
    def private() -> str:
        return f"hello {current_user.name}"

    @app.route("/admin")
    @login_required
    def admin() -> str:
        if current_user.role != "admin":
            abort(403)
        return "admin"

    @app.route("/fresh")
    @fresh_login_required
    def fresh() -> str:
        return "fresh"

    return manager


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    app = make_app()
    wire_login(app)
    return app


def log_in(client: object, name: str, **extra: str) -> None:
    response = client.post(  # type: ignore[attr-defined]
        "/login", data={"username": name, "password": PASSWORDS[name], **extra}
    )
    assert response.status_code == 200


def test_login_success_is_a_signed_audit_event(
    make_app: AppFactory, secmon_events: CapturedEvents, log_dir: Path
) -> None:
    app = make_app(SECMON_AUDIT_KEY="k" * 32)
    wire_login(app)

    log_in(app.test_client(), "alice")

    (event,) = secmon_events
    assert event["event_type"] == "authn_login_success"
    assert event["user_id"] == 1
    assert event["source_ip"] == "127.0.0.1"
    (audited,) = read_lines(log_dir / "audit.log")
    assert audited["event_type"] == "authn_login_success"
    assert audited["mac"]


def test_events_after_login_carry_the_current_user(
    app: Flask, secmon_events: CapturedEvents
) -> None:
    client = app.test_client()
    log_in(client, "bob")

    assert client.get("/admin").status_code == 403

    denial = secmon_events.of_type("authz_fail")[0]
    assert denial["user_id"] == 2
    assert denial["event"] == "access denied for user id 2 from 127.0.0.1 (reason: forbidden)"


def test_events_never_load_the_user(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = make_app()
    manager = wire_login(app)
    loads: list[str] = []

    @manager.user_loader
    def load(user_id: str) -> User | None:
        loads.append(user_id)
        return USERS.get(user_id)

    @app.route("/deny")
    def deny() -> str:
        abort(403)  # the view never looks at current_user

    client = app.test_client()
    log_in(client, "alice")
    secmon_events.clear()

    response = client.get("/deny")

    assert response.status_code == 403
    assert loads == []
    (event,) = secmon_events
    assert event["user_id"] == 1  # the id the session was logged in with


def test_reading_the_session_user_leaves_the_session_unread(app: Flask) -> None:
    client = app.test_client()
    log_in(client, "alice")
    cookie = client.get_cookie("session")
    assert cookie is not None

    with app.test_request_context(headers={"Cookie": f"session={cookie.value}"}):
        opened = vars(request_ctx._get_current_object())
        stored = opened.get("_session", opened.get("session"))
        assert current_user_fields() == (1, None)
        assert stored.accessed is False  # no "Vary: Cookie" on account of secmon
        assert "_login_user" not in g  # and Flask-Login has not loaded anyone


def test_events_take_the_user_the_app_loaded(
    app: Flask, secmon_events: CapturedEvents
) -> None:
    @app.route("/profile")
    def profile() -> str:
        name = current_user.name
        secmon.sensitive_read(resource_type="profile", resource_id=name)
        return name

    client = app.test_client()
    log_in(client, "bob")
    client.get("/profile")

    assert secmon_events[-1]["user_id"] == 2


def test_a_remember_cookie_names_the_user_before_it_is_loaded(
    app: Flask, secmon_events: CapturedEvents
) -> None:
    @app.route("/deny")
    def deny() -> str:
        abort(403)

    first = app.test_client()
    log_in(first, "alice", remember="y")
    remember = first.get_cookie("remember_token")
    assert remember is not None
    later = app.test_client()
    later.set_cookie("remember_token", remember.value)
    forged = app.test_client()
    forged.set_cookie("remember_token", "2|not-the-signature")

    later.get("/deny")
    forged.get("/deny")

    named, unnamed = secmon_events.of_type("authz_fail")
    assert named["user_id"] == 1
    assert "user_id" not in unnamed


def test_signals_outside_a_request_go_to_the_apps_own_pipeline(
    make_app: AppFactory, tmp_path: Path
) -> None:
    make_app("first")
    other = make_app("other", SECMON_LOG_DIR=str(tmp_path / "other"))
    wire_login(other)

    with other.app_context():  # e.g. a CLI command logging a user in programmatically
        user_logged_in.send(other, user=USERS["2"])

    (event,) = read_lines(tmp_path / "other" / "security.log")
    assert (event["event_type"], event["user_id"], event["app"]) == (
        "authn_login_success", 2, "other")


def test_logout_ends_the_session(app: Flask, secmon_events: CapturedEvents) -> None:
    client = app.test_client()
    log_in(client, "alice")
    client.get("/logout")

    logout = secmon_events[-1]
    assert logout["event_type"] == "session_expired"
    assert logout["reason"] == "logout"
    assert logout["user_id"] == 1


def test_failed_login_through_the_helper(app: Flask, secmon_events: CapturedEvents) -> None:
    response = app.test_client().post(
        "/login", data={"username": "alice", "password": "guess"}
    )

    assert response.status_code == 401
    (event,) = secmon_events
    assert event["event_type"] == "authn_login_fail"
    assert "user_id" not in event
    assert event["username_hash"]


@pytest.mark.parametrize(("login_view", "status"), [(None, 401), ("login", 302)])
def test_anonymous_user_on_a_protected_page(
    make_app: AppFactory, secmon_events: CapturedEvents, login_view: str | None, status: int
) -> None:
    app = make_app()
    wire_login(app, login_view=login_view)

    assert app.test_client().get("/private").status_code == status

    (event,) = secmon_events
    assert event["event_type"] == "authz_fail"
    assert event["reason"] == "unauthenticated"
    assert event["path"] == "/private"


def test_remember_cookie_renews_the_session(
    app: Flask, secmon_events: CapturedEvents
) -> None:
    first = app.test_client()
    log_in(first, "alice", remember="y")
    remember = first.get_cookie("remember_token")
    assert remember is not None

    later = app.test_client()  # a new browser session: only the remember cookie is left
    later.set_cookie("remember_token", remember.value)
    assert later.get("/private").get_data(as_text=True) == "hello alice"

    renewed = secmon_events[-1]
    assert renewed["event_type"] == "session_renewed"
    assert renewed["reason"] == "remember_cookie"
    assert renewed["user_id"] == 1


def test_strong_session_protection_ends_a_session_used_from_elsewhere(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = make_app(SESSION_PROTECTION="strong")
    wire_login(app)
    client = app.test_client()
    client.post("/login", data={"username": "bob", "password": PASSWORDS["bob"]},
                headers={"User-Agent": "Firefox"})

    response = client.get("/private", headers={"User-Agent": "curl/8.5"})

    assert response.status_code == 401
    assert secmon_events.types()[1:] == ["session_expired", "authz_fail"]
    protected = secmon_events[1]
    assert protected["reason"] == "session_protection"
    assert protected["level"] == "warning"
    assert protected["user_agent"] == "curl/8.5"


def test_basic_session_protection_marks_the_session_non_fresh(
    app: Flask, secmon_events: CapturedEvents
) -> None:
    client = app.test_client()
    client.post("/login", data={"username": "bob", "password": PASSWORDS["bob"]},
                headers={"User-Agent": "Firefox"})

    response = client.get("/fresh", headers={"User-Agent": "curl/8.5"})

    assert response.status_code == 401
    assert secmon_events.types()[1:] == ["session_renewed", "authz_fail"]
    assert secmon_events[1]["reason"] == "session_protection"
    assert secmon_events[1]["session_fresh"] is False
    assert secmon_events[2]["reason"] == "reauthentication_required"


@pytest.mark.parametrize("mode", ["basic", "strong"])
def test_session_protection_is_quiet_for_sessions_without_a_user(
    make_app: AppFactory, secmon_events: CapturedEvents, mode: str
) -> None:
    app = make_app(SESSION_PROTECTION=mode)
    wire_login(app)

    @app.route("/cart")
    def cart() -> str:
        session["cart"] = ["book"]
        return "added"

    client = app.test_client()
    client.get("/cart", headers={"User-Agent": "Firefox"})
    client.get("/cart", headers={"User-Agent": "curl/8.5"})
    log_in(client, "alice")
    client.get("/logout")
    client.get("/cart", headers={"User-Agent": "Firefox"})

    assert secmon_events.types() == ["authn_login_success", "session_expired"]


def test_no_password_session_or_remember_cookie_is_logged(
    app: Flask, log_dir: Path
) -> None:
    client = app.test_client()
    client.post("/login", data={"username": "alice", "password": "wrong-Pa55word"})
    log_in(client, "alice", remember="y")
    client.get("/admin")
    client.get("/logout")
    session = client.get_cookie("session")
    remember = client.get_cookie("remember_token")

    written = log_text(log_dir)
    assert written.count("\n") >= 3
    assert "wrong-Pa55word" not in written and PASSWORDS["alice"] not in written
    for cookie in (session, remember):
        if cookie is not None and cookie.value:
            assert cookie.value not in written


def test_without_flask_login_installed(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, secmon_events: CapturedEvents
) -> None:
    monkeypatch.setitem(sys.modules, "flask_login", None)  # import flask_login -> ImportError
    monkeypatch.setitem(sys.modules, "flask_login.signals", None)
    app = make_app(secmon=False)
    SecMon(app)

    @app.route("/admin")
    def admin() -> str:
        abort(403)

    assert app.test_client().get("/admin").status_code == 403

    state = app.extensions["secmon"]
    assert "flask_login" not in state.integrations
    assert state.user_loader is None
    (event,) = secmon_events
    assert event["event_type"] == "authz_fail"
    assert "user_id" not in event


@pytest.mark.parametrize(("stored", "logged"), [
    ("42", 42), ("0", 0), ("007", "007"), ("a1f3-uuid", "a1f3-uuid"), ("\u0663", "\u0663"),
])
def test_a_stored_id_is_logged_as_user_ids_are(stored: str, logged: object) -> None:
    assert as_logged(stored) == logged
    assert type(as_logged(stored)) is type(logged)
