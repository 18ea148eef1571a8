"""A Django site answers every request the same with secmon installed as without it.

The same requests go through the site twice: once with ``secmon.django`` as configured in
these tests (middleware, signal receivers, the ``django.security`` log handler), once with
all of that taken out. Status, headers, cookies, the session stored, body bytes, the
signals Django sends and the SQL it runs must be equal: for benign requests, logins and
logouts, denials, bad input, 404s, 500s, uploads, streaming and the admin, where secmon
writes events on many of them.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import connection
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import Signal
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client, override_settings
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.test.utils import CaptureQueriesContext

from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents

PASSWORD = "correct horse battery"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(500) + b"PE\x00\x00"
TRACED = {"user_logged_in": user_logged_in, "user_logged_out": user_logged_out,
          "user_login_failed": user_login_failed, "got_request_exception": got_request_exception,
          "request_started": request_started, "request_finished": request_finished,
          "pre_save": pre_save, "post_save": post_save, "post_delete": post_delete,
          "m2m_changed": m2m_changed}
_CSRF_VALUE = re.compile(rb'value="[A-Za-z0-9]{64}"')
_SQL_LITERAL = re.compile(r"'[^']*'")
_SAVEPOINT = re.compile(r'"s\d+_x\d+"')


# -- taking secmon out ---------------------------------------------------------------------


@cache
def every_signal() -> tuple[Signal, ...]:
    """Every Signal defined by a loaded module (secmon may connect to any of them)."""
    found: dict[int, Signal] = {}
    for module in list(sys.modules.values()):
        for value in list(getattr(module, "__dict__", {}).values()):
            if issubclass(type(value), Signal):  # type(): lazy objects stay unevaluated
                found[id(value)] = value
    return tuple(found.values())


def _is_secmon(receiver: Any) -> bool:
    if isinstance(receiver, weakref.ReferenceType):
        receiver = receiver()
    return str(getattr(receiver, "__module__", "")).startswith("secmon")


@contextmanager
def secmon_taken_out() -> Iterator[None]:
    """The site as if ``secmon.django`` were not installed: no middleware, receivers, handler."""
    saved = []
    for signal in every_signal():
        kept = [entry for entry in signal.receivers if not _is_secmon(entry[1])]
        if len(kept) != len(signal.receivers):
            saved.append((signal, signal.receivers))
            signal.receivers = kept
            signal.sender_receivers_cache.clear()
    loggers = [logging.getLogger(), *(logger for logger in logging.root.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    handlers = [(logger, handler) for logger in loggers for handler in logger.handlers
                if type(handler).__module__.startswith("secmon")]
    for logger, handler in handlers:
        logger.removeHandler(handler)
    middleware = [name for name in settings.MIDDLEWARE if not name.startswith("secmon")]
    try:
        with override_settings(MIDDLEWARE=middleware):
            yield
    finally:
        for logger, handler in handlers:
            logger.addHandler(handler)
        for signal, receivers in saved:
            signal.receivers = receivers
            signal.sender_receivers_cache.clear()


# -- what the site did ----------------------------------------------------------------------


class Trace:
    """The signals sent while it is open: name and sender."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._receivers = {name: self._recorder(name) for name in TRACED}

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(sender: Any, **kwargs: Any) -> None:
            label = getattr(getattr(sender, "_meta", None), "label", None)
            self.sent.append(f"{name}({label or getattr(sender, '__name__', '')})")
        return record

    @contextmanager
    def open(self) -> Iterator[list[str]]:
        self.sent = []
        for name, receiver in self._receivers.items():
            TRACED[name].connect(receiver, dispatch_uid=f"host-trace-{name}")
        try:
            yield self.sent
        finally:
            for name in TRACED:
                TRACED[name].disconnect(dispatch_uid=f"host-trace-{name}")


def describe(client: Client, response: HttpResponse | StreamingHttpResponse) -> dict[str, Any]:
    if response.streaming:
        body = [bytes(chunk) for chunk in response.streaming_content]  # type: ignore[union-attr]
    else:
        body = [_CSRF_VALUE.sub(b'value="<csrf token>"', response.content)]
    cookies = {}
    for name, morsel in response.cookies.items():
        attributes = {key: value for key, value in morsel.items() if value and key != "expires"}
        cookies[name] = (bool(morsel.value), attributes)
    session = None
    key = client.cookies.get(settings.SESSION_COOKIE_NAME)
    if key is not None and key.value:
        session = SessionStore(key.value).load()
    headers = [(key, "<date>" if key == "Expires" else value)  # never_cache: now
               for key, value in response.headers.items()]
    return {"status": response.status_code, "headers": headers,
            "cookies": cookies, "session": session, "body": body}


# name -> (method, path, keyword arguments of the test client)
REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "200": ("GET", "/hello/", {}),
    "200-user": ("GET", "/who/", {}),
    "200-head": ("HEAD", "/hello/", {}),
    "200-login-form": ("GET", "/login/", {}),
    "200-login-failed": ("POST", "/login/", {"data": {"username": "bob", "password": "guess"}}),
    "302-login": ("POST", "/login/", {"data": {"username": "bob", "password": PASSWORD}}),
    "302-logout": ("POST", "/logout/", {}),
    "302-login-required": ("GET", "/private/", {}),
    "302-admin": ("GET", "/admin/", {}),
    "200-admin-change": ("GET", "/admin/auth/user/{bob}/change/", {}),
    "302-admin-save": ("POST", "/admin/auth/user/{bob}/change/", {"data": {
        "username": "bob", "first_name": "Robert", "is_active": "on", "is_staff": "on",
        "last_login_0": "", "last_login_1": "", "date_joined_0": "2024-01-01",
        "date_joined_1": "10:00:00", "initial-date_joined_0": "2024-01-01",
        "initial-date_joined_1": "10:00:00", "_save": "Save"}}),
    "403-permission-denied": ("GET", "/invoices/3/", {}),
    "403-response": ("GET", "/forbidden-response/", {}),
    "403-csrf": ("POST", "/post-only/", {"enforce_csrf_checks": True}),
    "405": ("GET", "/post-only/", {}),
    "400-bad-request": ("GET", "/bad-request/", {}),
    "400-suspicious": ("GET", "/suspicious/", {}),
    "400-disallowed-host": ("GET", "/hello/", {"HTTP_HOST": "evil.example"}),
    "404": ("GET", "/no/such/page/", {}),
    "404-admin": ("GET", "/admin/auth/user/999999/change/", {}),
    "500": ("GET", "/boom/", {}),
    "upload": ("POST", "/store/", {"files": {"file": ("photo.png", PNG)}}),
    "upload-mismatch": ("POST", "/store/", {"files": {"file": ("photo.png", WINDOWS_EXE)}}),
    "stream": ("GET", "/stream/", {}),
}
IDENTITIES = ("anonymous", "alice", "bob")


@pytest.fixture
def users() -> dict[str, Any]:
    model = get_user_model()
    alice = model.objects.create_superuser("alice", "alice@example.com", PASSWORD)
    bob = model.objects.create_user("bob", "bob@example.com", PASSWORD)
    # Fixed for both runs (Django re-hashes passwords at login when hashers change).
    model.objects.filter(pk=bob.pk).update(date_joined="2024-01-01T10:00:00Z")
    return {"alice": alice, "bob": bob}


def observe(identity: str, name: str, users: dict[str, Any]) -> list[dict[str, Any]]:
    """The setup for the identity, then the request, then a look at who is logged in."""
    ContentType.objects.clear_cache()  # each run starts as cold as the other
    client = Client(raise_request_exception=False)
    if identity != "anonymous":
        client.post("/login/", {"username": identity, "password": PASSWORD})
    method, path, options = REQUESTS[name]
    options = dict(options)
    if options.pop("enforce_csrf_checks", False):
        strict = Client(enforce_csrf_checks=True, raise_request_exception=False)
        strict.cookies = client.cookies
        client = strict
    requests = [(method, path.format(bob=users["bob"].pk), options), ("GET", "/who/", {})]
    seen = []
    trace = Trace()
    for method, path, options in requests:
        with trace.open() as sent, CaptureQueriesContext(connection) as queries:
            response = client.generic(method, path, **_arguments(options))
            described = describe(client, response)
        sql = [_SAVEPOINT.sub("savepoint", _SQL_LITERAL.sub("'?'", query["sql"]))
               for query in queries.captured_queries]
        seen.append(described | {"signals": list(sent), "sql": sql})
    return seen


def _arguments(options: dict[str, Any]) -> dict[str, Any]:
    """``Client.generic`` arguments: form data and files as a multipart body."""
    arguments = {key: value for key, value in options.items() if key not in {"data", "files"}}
    if "data" in options or "files" in options:
        fields: dict[str, Any] = dict(options.get("data", {}))
        for field, (filename, content) in options.get("files", {}).items():
            fields[field] = io.BytesIO(content)
            fields[field].name = filename
        arguments["data"] = encode_multipart(BOUNDARY, fields)
        arguments["content_type"] = MULTIPART_CONTENT
    return arguments


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_the_site_answers_the_same_with_secmon(
    configured: Pipeline, secmon_events: CapturedEvents, users: dict[str, Any],
    identity: str, name: str,
) -> None:
    secmon_events.clear()  # the users' creation
    with secmon_taken_out():
        expected = observe(identity, name, users)
    assert secmon_events == []  # secmon was out
    assert observe(identity, name, users) == expected


def test_the_requests_do_make_secmon_write_events(
    configured: Pipeline, secmon_events: CapturedEvents, users: dict[str, Any]
) -> None:
    # The comparison above is only worth something if secmon had work to do there.
    for name in REQUESTS:
        observe("alice", name, users)
    written = set(secmon_events.types())
    assert {"authn_login_success", "authn_login_fail", "session_expired", "authz_fail",
            "input_validation_fail", "upload_complete", "upload_validation",
            "secmon_app_exception", "user_updated", "authz_admin"} <= written
