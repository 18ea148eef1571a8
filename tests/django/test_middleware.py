from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.handlers.asgi import ASGIHandler
from django.db import connection
from django.http import HttpRequest
from django.test import AsyncClient, Client, RequestFactory
from django.test.utils import CaptureQueriesContext

import secmon
from secmon.config import Settings
from secmon.django import SecurityMiddleware
from secmon.django.request import DjangoRequestContext, load_user
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents

from ..conftest import read_lines


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


def test_context_of_events_emitted_by_the_app(
    configured: Pipeline, client: Client, secmon_events: CapturedEvents
) -> None:
    response = client.get("/invoices/7/emit/?q=shoes&password=hunter2",
                          HTTP_USER_AGENT="pytest-ua", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 200
    [event] = secmon_events
    assert event["event_type"] == "sensitive_read"
    assert event["route"] == "invoices/<int:pk>/emit/"
    assert event["method"] == "GET"
    assert event["path"].startswith("/invoices/7/emit/?q=shoes&password=")
    assert "hunter2" not in str(event)
    assert event["user_agent"] == "pytest-ua"
    assert event["source_ip"] == "127.0.0.1"  # X-Forwarded-For from an untrusted peer
    assert "user_id" not in event
    assert len(event["request_id"]) == 24


def test_trusted_proxy_names_the_client(client: Client, log_dir: Path,
                                       secmon_events: CapturedEvents) -> None:
    secmon.configure(environment="test", log_dir=log_dir, trusted_proxies=["127.0.0.0/8"])
    client.get("/invoices/7/", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9")
    [event] = secmon_events
    assert event["source_ip"] == "203.0.113.9"
    assert event["peer_ip"] == "127.0.0.1"


def test_permission_denied_is_one_authz_fail_with_the_view(
    configured: Pipeline, client: Client, secmon_events: CapturedEvents
) -> None:
    assert client.get("/invoices/42/").status_code == 403
    [event] = secmon_events
    assert event["event_type"] == "authz_fail"
    assert event["reason"] == "permission_denied"
    assert event["detail"] == "not your invoice"
    assert event["view"] == "invoice"
    assert event["route"] == "invoices/<int:pk>/"
    assert event["url_kwargs"] == {"pk": 42}
    assert event["status"] == 403


def test_403_response_is_authz_fail(client: Client, configured: Pipeline,
                                    secmon_events: CapturedEvents) -> None:
    client.get("/forbidden-response/")
    assert [(e["event_type"], e["reason"]) for e in secmon_events] == [("authz_fail", "forbidden")]


def test_the_apps_own_denial_wins(client: Client, configured: Pipeline,
                                  secmon_events: CapturedEvents) -> None:
    client.get("/denied-by-app/")
    [event] = secmon_events
    assert (event["reason"], event["resource_id"]) == ("not owner", 7)


def test_ratelimited_is_a_rate_limit_not_a_denial(
    client: Client, configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    codes = [client.get("/limited/").status_code for _ in range(4)]
    assert codes == [200, 200, 403, 403]
    assert secmon_events.types() == ["excess_rate_limit_exceeded"] * 2
    assert secmon_events[0]["route"] == "limited/"


@pytest.mark.parametrize(
    ("code", "event_type", "reason"),
    [(401, "authz_fail", "unauthenticated"), (429, "excess_rate_limit_exceeded", "rate_limited"),
     (400, "input_validation_fail", "bad_request")],
)
def test_status_codes(client: Client, configured: Pipeline, secmon_events: CapturedEvents,
                      code: int, event_type: str, reason: str) -> None:
    client.get(f"/status/{code}/")
    assert [(e["event_type"], e["reason"], e["status"]) for e in secmon_events] == [
        (event_type, reason, code)
    ]


@pytest.mark.parametrize("code", [200, 302, 404, 500])
def test_no_event_for_other_statuses(client: Client, configured: Pipeline,
                                     secmon_events: CapturedEvents, code: int) -> None:
    client.get(f"/status/{code}/")
    assert secmon_events == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [("/suspicious/", "suspicious_file_operation"), ("/bad-request/", "bad_request")],
)
def test_bad_input_exceptions(client: Client, configured: Pipeline,
                              secmon_events: CapturedEvents, url: str, reason: str) -> None:
    assert client.get(url).status_code == 400
    [event] = secmon_events
    assert (event["event_type"], event["reason"], event["status"]) == (
        "input_validation_fail", reason, 400)


def test_unhandled_exception_is_one_sanitized_error(
    client: Client, configured: Pipeline, log_dir: Path, secmon_events: CapturedEvents
) -> None:
    assert client.get("/boom/").status_code == 500
    [event] = secmon_events
    assert event["event_type"] == "secmon_app_exception"
    assert event["error_type"] == "builtins.ValueError"
    assert event["status"] == 500
    assert any(" in boom" in frame for frame in event["stack"])
    secmon.flush()
    text = (log_dir / "security.log").read_text()
    assert "abcdef0123456789abcdef0123" not in text
    assert "hunter2" not in text


def test_events_name_the_user_the_app_loaded_and_load_nobody(
    client: Client, configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    user = get_user_model().objects.create_user("mallory", password="x" * 12)
    client.force_login(user)
    secmon_events.clear()

    with CaptureQueriesContext(connection) as queries:
        denied = client.get("/invoices/3/")  # the view never looks at request.user
    assert len(queries) == 0
    assert "Cookie" not in denied.get("Vary", "")
    assert "user_id" not in secmon_events[-1]  # nobody loaded it: secmon does not either

    client.get("/denied-after-looking/user/")
    client.get("/denied-after-looking/session/")
    events = secmon_events.of_type("authz_fail")
    assert [e.get("user_id") for e in events] == [None, user.pk, user.pk]


def make_request(client: Client) -> HttpRequest:
    request = RequestFactory().get("/who/")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = client.cookies[
        settings.SESSION_COOKIE_NAME].value
    SessionMiddleware(lambda r: None).process_request(request)
    AuthenticationMiddleware(lambda r: None).process_request(request)
    return request


def test_the_user_loader_reads_only_what_the_app_loaded(client: Client) -> None:
    user = get_user_model().objects.create_user("trudy", password="x" * 12)
    client.force_login(user)

    untouched = make_request(client)
    with CaptureQueriesContext(connection) as queries:
        assert load_user(untouched) is None
    assert len(queries) == 0
    assert untouched.session.accessed is False

    session_read = make_request(client)
    session_read.session.get("cart")  # the app looked at the session, not at the user
    with CaptureQueriesContext(connection) as queries:
        assert load_user(session_read) == (user.pk, None)
    assert len(queries) == 0

    user_read = make_request(client)
    assert user_read.user.is_authenticated
    assert load_user(user_read) == (user.pk, None)

    anonymous = RequestFactory().get("/who/")
    SessionMiddleware(lambda r: None).process_request(anonymous)
    AuthenticationMiddleware(lambda r: None).process_request(anonymous)
    assert not anonymous.user.is_authenticated
    assert load_user(anonymous) is None


def test_async_handler_runs_the_async_path(configured: Pipeline,
                                           secmon_events: CapturedEvents) -> None:
    async def call() -> tuple[int, int]:
        client = AsyncClient(raise_request_exception=False)
        ok = await client.get("/async/hello/")
        denied = await client.get("/async/forbidden/", HTTP_X_FORWARDED_FOR="203.0.113.9")
        return ok.status_code, denied.status_code

    assert asyncio.run(call()) == (200, 403)
    [event] = secmon_events
    assert (event["event_type"], event["reason"], event["detail"]) == (
        "authz_fail", "permission_denied", "async denial")
    assert event["route"] == "async/forbidden/"
    assert event["source_ip"] == "127.0.0.1"


def test_both_modes_without_thread_hops() -> None:
    async def view(request: object) -> None:
        return None

    def sync_view(request: object) -> None:
        return None

    async_mw = SecurityMiddleware(view)
    assert iscoroutinefunction(async_mw)
    assert iscoroutinefunction(async_mw.process_view)  # Django awaits it; no sync_to_async
    sync_mw = SecurityMiddleware(sync_view)
    assert not iscoroutinefunction(sync_mw)
    assert not iscoroutinefunction(sync_mw.process_view)


def test_django_runs_it_async_under_asgi() -> None:
    handler = ASGIHandler()  # loads the settings' middleware chain in async mode
    [hook] = [m for m in handler._view_middleware
              if isinstance(getattr(m, "__self__", None), SecurityMiddleware)]
    assert hook.__self__.is_async  # built for an async chain: no adapter around it
    assert iscoroutinefunction(hook)


def test_events_reach_the_log_file(client: Client, configured: Pipeline, log_dir: Path) -> None:
    client.get("/invoices/5/")
    secmon.flush()
    [line] = read_lines(log_dir / "security.log")
    assert (line["event_type"], line["path"]) == ("authz_fail", "/invoices/5/")


def test_monitoring_failure_never_breaks_the_request(
    client: Client, configured: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secmon bug")

    monkeypatch.setattr("secmon.django.middleware.report_status", broken)
    monkeypatch.setattr("secmon.django.middleware.emit_once", broken)
    assert client.get("/forbidden-response/").status_code == 403
    assert client.get("/invoices/1/").status_code == 403
    assert configured.counters["errors.django.middleware"] == 3


def test_the_context_reads_the_request_on_first_use_only() -> None:
    request = RequestFactory().get("/a/?b=1", HTTP_USER_AGENT="ua")
    ctx = DjangoRequestContext(request)
    ctx.status = 403  # as report_status does, before any event
    with pytest.raises(AttributeError):
        object.__getattribute__(ctx, "method")  # nothing was read from the request yet
    fields = ctx.fields(Settings.build(env={}))
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", "/a/?b=1", 403)
    assert fields["user_agent"] == "ua"
    with pytest.raises(AttributeError):
        ctx.no_such_attribute  # noqa: B018
