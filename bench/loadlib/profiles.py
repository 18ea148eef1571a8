"""What each example is sent, and which events each request must produce, by status.

A request kind names one thing a visitor or an attacker does (read the home page, guess a
password, probe a forbidden page, ...). Its ``expect`` maps each status the app may answer
with to the event types that answer must produce in ``security.log``, exactly once each;
a status missing from the map is an unexpected answer and is reported as such.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

import httpx

from .servers import PASSWORD

# A Windows program renamed to .jpg, and a real (tiny) PNG.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(500) + b"PE\x00\x00"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")

NONE: tuple[str, ...] = ()
LOGIN_FAIL = ("authn_login_fail",)
LIMITED = ("excess_rate_limit_exceeded",)
DENIED = ("authz_fail",)
READ = ("sensitive_read",)
UPLOADED = ("upload_complete",)
BAD_UPLOAD = ("upload_complete", "upload_validation")


@dataclass(frozen=True)
class Kind:
    """One kind of request: who sends it and what each answer must have logged."""

    name: str
    benign: bool
    expect: dict[int, tuple[str, ...]]
    identity: str | None = None  # the demo user whose session sends it; None: anonymous
    target: str | None = None  # the one username an attack tries (brute force, spraying)


@dataclass
class Request:
    method: str
    path: str
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    username: str | None = None  # the username a login attempt names


@dataclass
class Session:
    """One client: its own source address, cookies, and whatever login gave it."""

    ip: str
    identity: str | None
    client: httpx.AsyncClient
    csrf: str = ""
    token: str = ""
    logged_in: bool = False


class Profile:
    """How to talk to one example: its kinds, logins and requests."""

    framework = ""
    login_path = ""
    kinds: dict[str, Kind] = {}
    # The attacks' targets: an existing account no benign session uses, and a made-up one.
    brute_target = "bob"
    spray_target = "root"
    # One connection per session when the app keeps logins in process memory.
    pinned_connections = False

    def request(self, kind: str, session: Session) -> Request:
        raise NotImplementedError

    # The kinds of request that log a session in, in order; ``absorb`` reads each answer.
    login_steps: tuple[str, ...] = ()
    # What an anonymous session does first (fetch the login form for its CSRF token).
    anonymous_steps: tuple[str, ...] = ()

    def absorb(self, kind: str, session: Session, response: httpx.Response) -> None:
        """Keep what an answer gives the session (a CSRF token, a bearer token)."""

    def needs_login(self, kind: str, status: int) -> bool:
        """Whether an answer shows the session lost its login (and should log in again)."""
        return False


def _stuffing_name() -> str:
    return f"user{secrets.token_hex(4)}@example.net"


def _wrong_password() -> str:
    return "guess-" + secrets.token_hex(6)


# -- Django: django_site ------------------------------------------------------------------------

_DJANGO_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class DjangoProfile(Profile):
    framework = "django"
    login_path = "/accounts/login/"
    brute_target = "admin"
    kinds = {
        "login_page": Kind("login_page", True, {200: NONE}),
        "login": Kind("login", True, {302: ("authn_login_success", "session_created")}),
        "form_page": Kind("form_page", True, {200: NONE}, identity="alice"),
        "home": Kind("home", True, {200: NONE}),
        "page": Kind("page", True, {200: NONE}, identity="alice"),
        "sensitive": Kind("sensitive", True, {200: READ}, identity="manager"),
        "upload": Kind("upload", True, {200: UPLOADED}, identity="alice"),
        "brute_force": Kind("brute_force", False, {200: LOGIN_FAIL}, target="admin"),
        "stuffing": Kind("stuffing", False, {200: LOGIN_FAIL}),
        "spray": Kind("spray", False, {200: LOGIN_FAIL}, target="root"),
        "probe_403": Kind("probe_403", False, {403: DENIED}, identity="alice"),
        "scan_404": Kind("scan_404", False, {404: NONE}),
        # django-ratelimit refuses with 403 (its Ratelimited is a PermissionDenied).
        "flood_429": Kind("flood_429", False, {200: NONE, 403: LIMITED}),
        "bad_upload": Kind("bad_upload", False, {200: BAD_UPLOAD}, identity="alice"),
    }

    # After the login, a form page: the login rotated the CSRF token.
    login_steps = ("login_page", "login", "form_page")
    anonymous_steps = ("login_page",)

    def absorb(self, kind: str, session: Session, response: httpx.Response) -> None:
        match = _DJANGO_CSRF.search(response.text) if response.status_code == 200 else None
        if match:
            session.csrf = match.group(1)
        if kind == "login" and response.status_code == 302:
            session.logged_in = True

    def _form(self, session: Session, **fields: str) -> dict[str, str]:
        return {"csrfmiddlewaretoken": session.csrf, **fields}

    def request(self, kind: str, session: Session) -> Request:
        if kind == "login":
            assert session.identity is not None
            return Request("POST", self.login_path, self._form(
                session, username=session.identity, password=PASSWORD),
                username=session.identity)
        if kind in ("brute_force", "stuffing", "spray"):
            target = _stuffing_name() if kind == "stuffing" else self.kinds[kind].target
            assert target is not None
            return Request("POST", self.login_path, self._form(
                session, username=target, password=_wrong_password()), username=target)
        simple = {"login_page": self.login_path, "form_page": "/upload/", "home": "/",
                  "page": "/contact/", "sensitive": "/customers/", "probe_403": "/customers/",
                  "flood_429": "/api/ping/"}
        if kind in simple:
            return Request("GET", simple[kind])
        if kind == "scan_404":
            return Request("GET", _scan_path())
        if kind in ("upload", "bad_upload"):
            name, data, ctype = (("photo.png", PNG, "image/png") if kind == "upload"
                                 else ("holiday.jpg", EXE, "image/jpeg"))
            return Request("POST", "/upload/", self._form(session),
                           files={"file": (name, data, ctype)})
        raise KeyError(kind)


# -- Flask: flask_app ----------------------------------------------------------------------------

_FLASK_CSRF = re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"')


class FlaskProfile(Profile):
    framework = "flask"
    login_path = "/login"
    kinds = {
        "login_page": Kind("login_page", True, {200: NONE}),
        "login": Kind("login", True, {302: ("authn_login_success",),
                                      429: LIMITED}),
        "home": Kind("home", True, {200: NONE}),
        "page": Kind("page", True, {200: NONE}, identity="alice"),
        "sensitive": Kind("sensitive", True, {200: READ}, identity="admin"),
        "upload": Kind("upload", True, {201: UPLOADED}, identity="alice"),
        # /login allows 30 a minute per address (Flask-Limiter): beyond, 429.
        "brute_force": Kind("brute_force", False, {401: LOGIN_FAIL, 429: LIMITED},
                            target="bob"),
        "stuffing": Kind("stuffing", False, {401: LOGIN_FAIL, 429: LIMITED}),
        "spray": Kind("spray", False, {401: LOGIN_FAIL, 429: LIMITED}, target="root"),
        "probe_403": Kind("probe_403", False, {403: DENIED}, identity="alice"),
        "scan_404": Kind("scan_404", False, {404: NONE}),
        "flood_429": Kind("flood_429", False, {200: NONE, 429: LIMITED}),
        "bad_upload": Kind("bad_upload", False, {201: BAD_UPLOAD}, identity="alice"),
    }

    login_steps = ("login_page", "login")
    anonymous_steps = ("login_page",)

    def absorb(self, kind: str, session: Session, response: httpx.Response) -> None:
        match = _FLASK_CSRF.search(response.text) if response.status_code in (200, 401) else None
        if match:
            session.csrf = match.group(1)
        if kind == "login" and response.status_code == 302:
            session.logged_in = True

    def request(self, kind: str, session: Session) -> Request:
        if kind == "login":
            assert session.identity is not None
            return Request("POST", self.login_path, {
                "csrf_token": session.csrf, "username": session.identity,
                "password": PASSWORD}, username=session.identity)
        if kind in ("brute_force", "stuffing", "spray"):
            target = _stuffing_name() if kind == "stuffing" else self.kinds[kind].target
            assert target is not None
            return Request("POST", self.login_path, {
                "csrf_token": session.csrf, "username": target,
                "password": _wrong_password()}, username=target)
        simple = {"login_page": self.login_path, "home": "/", "page": "/orders",
                  "sensitive": "/admin/users", "probe_403": "/admin/users"}
        if kind in simple:
            return Request("GET", simple[kind])
        if kind == "flood_429":
            return Request("GET", "/search?q=shoes")
        if kind == "scan_404":
            return Request("GET", _scan_path())
        if kind in ("upload", "bad_upload"):
            name, data, ctype = (("photo.png", PNG, "image/png") if kind == "upload"
                                 else ("holiday.jpg", EXE, "image/jpeg"))
            return Request("POST", "/avatar", {"csrf_token": session.csrf},
                           files={"avatar": (name, data, ctype)})
        raise KeyError(kind)


# -- FastAPI: fastapi_app ------------------------------------------------------------------------


class FastAPIProfile(Profile):
    framework = "fastapi"
    login_path = "/token"
    # Its bearer tokens live in the memory of the worker that issued them: a session keeps
    # one connection, so its requests reach that worker; a 401 means it must log in again.
    pinned_connections = True
    _authed = {200: NONE, 401: DENIED}
    kinds = {
        "login": Kind("login", True, {200: ("authn_login_success",), 429: LIMITED}),
        "home": Kind("home", True, {200: NONE}),
        "page": Kind("page", True, _authed, identity="alice"),
        "sensitive": Kind("sensitive", True, {200: READ, 401: DENIED}, identity="admin"),
        "upload": Kind("upload", True, {201: UPLOADED, 401: DENIED}, identity="alice"),
        # /token allows 30 a minute per address in each worker (slowapi, memory storage).
        "brute_force": Kind("brute_force", False, {401: LOGIN_FAIL, 429: LIMITED},
                            target="bob"),
        "stuffing": Kind("stuffing", False, {401: LOGIN_FAIL, 429: LIMITED}),
        "spray": Kind("spray", False, {401: LOGIN_FAIL, 429: LIMITED}, target="root"),
        "probe_403": Kind("probe_403", False, {403: DENIED, 401: DENIED}, identity="alice"),
        "scan_404": Kind("scan_404", False, {404: NONE}),
        "flood_429": Kind("flood_429", False, {200: NONE, 429: LIMITED}),
        "bad_upload": Kind("bad_upload", False, {201: BAD_UPLOAD, 401: DENIED},
                           identity="alice"),
    }

    login_steps = ("login",)

    def absorb(self, kind: str, session: Session, response: httpx.Response) -> None:
        if kind == "login" and response.status_code == 200:
            session.token = response.json()["access_token"]
            session.logged_in = True

    def needs_login(self, kind: str, status: int) -> bool:
        return status == 401 and self.kinds[kind].identity is not None

    def request(self, kind: str, session: Session) -> Request:
        auth = {"authorization": f"Bearer {session.token}"} if session.token else {}
        if kind == "login":
            assert session.identity is not None
            return Request("POST", "/token", {"username": session.identity,
                                              "password": PASSWORD},
                           username=session.identity)
        if kind in ("brute_force", "stuffing", "spray"):
            target = _stuffing_name() if kind == "stuffing" else self.kinds[kind].target
            assert target is not None
            return Request("POST", "/token", {"username": target, "password": _wrong_password()},
                           username=target)
        simple = {"home": "/health", "page": "/me", "sensitive": "/admin/users",
                  "probe_403": "/admin/users"}
        if kind in simple:
            return Request("GET", simple[kind], headers=auth)
        if kind == "flood_429":
            return Request("GET", "/search?q=shoes")
        if kind == "scan_404":
            return Request("GET", _scan_path())
        if kind in ("upload", "bad_upload"):
            name, data, ctype = (("photo.png", PNG, "image/png") if kind == "upload"
                                 else ("holiday.jpg", EXE, "image/jpeg"))
            return Request("POST", "/avatar", files={"file": (name, data, ctype)}, headers=auth)
        raise KeyError(kind)


_SCAN = ("/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/", "/backup.zip",
         "/admin.php", "/config.json", "/server-status", "/.aws/credentials", "/cgi-bin/test")


def _scan_path() -> str:
    return f"{secrets.choice(_SCAN)}?x={secrets.token_hex(3)}"


PROFILES: dict[str, type[Profile]] = {
    "django": DjangoProfile, "flask": FlaskProfile, "fastapi": FastAPIProfile}


def profile_for(framework: str) -> Profile:
    return PROFILES[framework]()
