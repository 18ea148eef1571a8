"""A Flask app answers every request the same with SecMon as without it.

The same requests go to two identical apps (Flask-Login, Flask-WTF's CSRFProtect, a
request loader, uploads, streaming), one with ``SecMon(app)``: status, headers, body
bytes, the session written back, the signals Flask and Flask-Login send and the calls
to the app's user loaders must all be equal. Benign, denied, missing and malformed
requests, and secmon's events on some of them, must leave no trace in the response.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from typing import Any

import flask
import flask_login.signals
import pytest
from flask import Flask, Response, abort, redirect, request, session, stream_with_context
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import CSRFProtect
from werkzeug.test import TestResponse

from secmon.testing import CapturedEvents

from .conftest import AppFactory

FLASK_SIGNALS = ("request_started", "request_finished", "got_request_exception",
                 "message_flashed")
LOGIN_SIGNALS = ("user_logged_in", "user_logged_out", "user_loaded_from_cookie",
                 "user_loaded_from_request", "user_accessed", "user_unauthorized",
                 "user_needs_refresh", "session_protected")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(500) + b"PE\x00\x00"


class User(UserMixin):
    def __init__(self, user_id: int, name: str, admin: bool) -> None:
        self.id = user_id
        self.name = name
        self.admin = admin


USERS = {"1": User(1, "alice", True), "2": User(2, "bob", False)}  # by get_id()
TOKENS = {"token-of-bob": USERS["2"]}


class Host:
    """One app and what it did: signals sent and user loads, per request."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.trace: list[str] = []
        for name in FLASK_SIGNALS:
            getattr(flask, name).connect(self._recorder(name), app, weak=False)
        for name in LOGIN_SIGNALS:
            getattr(flask_login.signals, name).connect(self._recorder(name), app, weak=False)

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(sender: Any, **kwargs: Any) -> None:
            user = kwargs.get("user")
            self.trace.append(f"{name}({getattr(user, 'id', '')})")
        return record


def build(make_app: AppFactory, *, with_secmon: bool, stack: str) -> Host:
    app = make_app("shop", secmon=with_secmon, MAX_CONTENT_LENGTH=64 * 1024)
    host = Host(app)

    @app.route("/")
    def home() -> str:
        return "home"

    @app.route("/cart")
    def cart() -> str:
        session["cart"] = ["book"]
        return "added"

    @app.route("/forbidden")
    def forbidden() -> str:
        abort(403)  # never looks at the user

    @app.route("/bad")
    def bad() -> str:
        abort(400)

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("the app failed")

    @app.route("/moved")
    def moved() -> Response:
        return redirect("/", code=301)

    @app.post("/upload")
    def upload() -> dict[str, Any]:
        return {name: [hashlib.sha256(f.read()).hexdigest(), f.filename]
                for name, f in request.files.items(multi=True)}

    @app.route("/stream-plain")
    def stream_plain() -> Response:
        return Response(iter([b"a" * 10, b"b" * 10]), mimetype="application/octet-stream")

    if stack == "flask-login":
        add_login(app, host)
    return host


def add_login(app: Flask, host: Host) -> None:
    """Flask-Login (a user loader and a request loader) and Flask-WTF's CSRFProtect."""
    csrf = CSRFProtect(app)
    csrf.exempt(app.view_functions["upload"])
    manager = LoginManager(app)
    manager.login_view = "login"

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        host.trace.append(f"user_loader({user_id})")
        return USERS.get(user_id)

    @manager.request_loader
    def load_from_request(req: flask.Request) -> User | None:
        token = req.headers.get("X-Token")
        host.trace.append(f"request_loader({'token' if token else ''})")
        return TOKENS.get(token or "")

    @app.post("/login")
    @csrf.exempt
    def login() -> Response:
        user = USERS.get(request.form.get("id", ""))
        if user is None:
            abort(401)
        login_user(user, remember=bool(request.form.get("remember")))
        return redirect("/private")

    @app.route("/logout")
    def logout() -> Response:
        logout_user()
        return redirect("/")

    @app.route("/private")
    @login_required
    def private() -> str:
        return f"hello {current_user.name}"

    @app.route("/admin")
    @login_required
    def admin() -> str:
        if not current_user.admin:
            abort(403)
        return "admin"

    @app.post("/form")
    def form() -> str:  # CSRFProtect answers 400 without a token
        return "posted"

    @app.route("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            yield "first,"
            yield f"user={current_user.get_id()},"
            yield "last"
        return Response(stream_with_context(chunks()), mimetype="text/csv")


def upload_body(name: str, content: bytes, mimetype: str) -> dict[str, Any]:
    return {"data": {"file": (io.BytesIO(content), name, mimetype)},
            "content_type": "multipart/form-data"}


# (method, path, keyword arguments of the test client)
REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "200": ("GET", "/", {}),
    "200-user": ("GET", "/private", {}),
    "200-head": ("HEAD", "/", {}),
    "301": ("GET", "/moved", {}),
    "302-login": ("POST", "/login", {"data": {"id": "2"}}),
    "302-logout": ("GET", "/logout", {}),
    "401-bad-login": ("POST", "/login", {"data": {"id": "9"}}),
    "403-admin": ("GET", "/admin", {}),
    "403-not-looking": ("GET", "/forbidden", {}),
    "404": ("GET", "/no/such/page", {}),
    "404-static": ("GET", "/static/favicon.ico", {}),
    "405": ("DELETE", "/", {}),
    "500": ("GET", "/boom", {}),
    "400-abort": ("GET", "/bad", {}),
    "400-csrf": ("POST", "/form", {"data": {"name": "x"}}),
    "400-bad-multipart": ("POST", "/upload", {"data": b"--x\r\nbroken",
                                              "content_type": "multipart/form-data"}),
    "upload": ("POST", "/upload", upload_body("photo.png", PNG, "image/png")),
    "upload-mismatch": ("POST", "/upload", upload_body("photo.png", WINDOWS_EXE, "image/png")),
    "413-upload": ("POST", "/upload", upload_body("big.png", PNG + bytes(70_000), "image/png")),
    "stream": ("GET", "/stream", {}),
    "stream-plain": ("GET", "/stream-plain", {}),
}


def log_in(client: Any, *, remember: bool = False) -> None:
    client.post("/login", data={"id": "1", **({"remember": "y"} if remember else {})})


def remember_only(client: Any) -> None:
    log_in(client, remember=True)
    client.delete_cookie("session")  # a new browser session: only the remember cookie is left


def by_token(client: Any) -> None:
    client.environ_base["HTTP_X_TOKEN"] = "token-of-bob"


def shopping(client: Any) -> None:
    client.get("/cart")


IDENTITIES: dict[str, Callable[[Any], None]] = {
    "anonymous": lambda client: None,
    "session": log_in,
    "remember-cookie": remember_only,
    "request-loader": by_token,
    "cart": shopping,
}
# What each stack is asked: the plain app has no login, CSRF protection or user.
STACKS = {
    "flask-login": (sorted(REQUESTS), ["anonymous", "session", "remember-cookie",
                                       "request-loader"]),
    "plain": (sorted(name for name, (_, path, _) in REQUESTS.items()
                     if path not in {"/private", "/login", "/logout", "/admin", "/form",
                                     "/stream"}),
              ["anonymous", "cart"]),
}
CASES = [(stack, identity, name) for stack, (names, identities) in STACKS.items()
         for identity in identities for name in names]


def observe(host: Host, identity: str, name: str) -> list[dict[str, Any]]:
    """What the app did for: the identity set up, the request, then one more request."""
    client = host.app.test_client()
    seen = []
    IDENTITIES[identity](client)
    after = "/private" if "login_manager" in vars(host.app) else "/cart"
    for method, path, kwargs in [REQUESTS[name], ("GET", after, {})]:
        host.trace.clear()
        response = client.open(path, method=method, buffered=False, **_fresh(kwargs))
        seen.append(describe(host.app, response) | {"trace": list(host.trace)})
    return seen


def _fresh(kwargs: dict[str, Any]) -> dict[str, Any]:
    # Upload bodies are streams: each run needs its own.
    data = kwargs.get("data")
    if isinstance(data, dict):
        data = {key: (io.BytesIO(value[0].getvalue()), *value[1:]) if isinstance(value, tuple)
                else value for key, value in data.items()}
        return {**kwargs, "data": data}
    return kwargs


def describe(app: Flask, response: TestResponse) -> dict[str, Any]:
    chunks = [bytes(chunk) for chunk in response.iter_encoded()]
    response.close()
    headers = []
    for key, value in response.headers.items():
        if key == "Set-Cookie":
            value = _cookie(app, value)
        headers.append((key, value))
    return {"status": response.status, "headers": headers, "body": chunks}


def _cookie(app: Flask, header: str) -> str:
    """A Set-Cookie header with the session decoded (its signature holds a timestamp)."""
    cookie, _, attributes = header.partition(";")
    name, _, value = cookie.partition("=")
    if name == app.config["SESSION_COOKIE_NAME"] and value:
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        value = repr(sorted(serializer.loads(value).items()))
    attributes = ";".join(part for part in attributes.split(";")
                          if not part.strip().lower().startswith("expires="))
    return f"{name}={value};{attributes}"


@pytest.mark.parametrize(("stack", "identity", "name"), CASES)
def test_the_app_answers_the_same_with_secmon(
    make_app: AppFactory, secmon_events: CapturedEvents, stack: str, identity: str, name: str
) -> None:
    without = build(make_app, with_secmon=False, stack=stack)
    with_secmon = build(make_app, with_secmon=True, stack=stack)
    expected = observe(without, identity, name)
    assert secmon_events == []  # the baseline app has no secmon
    assert observe(with_secmon, identity, name) == expected


def test_the_requests_do_make_secmon_write_events(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    # The comparison above is only worth something if secmon had work to do there.
    with_secmon = build(make_app, with_secmon=True, stack="flask-login")
    for name in REQUESTS:
        observe(with_secmon, "session", name)
    written = set(secmon_events.types())
    assert {"authn_login_success", "session_expired", "authz_fail", "input_validation_fail",
            "upload_complete", "upload_validation", "secmon_app_exception"} <= written
    denial = next(e for e in secmon_events if e.get("path") == "/forbidden")
    assert denial["user_id"] == 1  # read from the session, without loading the user
