from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.test import Client

import secmon
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def alice() -> object:
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


def _login(browser: Client, username: str, password: str) -> int:
    page = browser.get("/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = browser.post("/login/", {"username": username, "password": password,
                                        "csrfmiddlewaretoken": token.group(1)})
    return response.status_code


def _all_output(log_dir: Path) -> str:
    secmon.flush()
    return "".join(path.read_text() for path in sorted(log_dir.glob("*.log")))


def test_login_logout_and_no_secret_in_the_output(
    configured: Pipeline, alice: object, browser: Client, log_dir: Path,
    secmon_events: CapturedEvents
) -> None:
    anonymous_session = browser.session.session_key  # e.g. a shopping cart before login
    assert _login(browser, "alice", "wrong-password-1") == 200
    assert _login(browser, "alice", PASSWORD) == 302
    session_id = browser.cookies[settings.SESSION_COOKIE_NAME].value
    csrf_cookie = browser.cookies[settings.CSRF_COOKIE_NAME].value
    browser.post("/logout/", {"csrfmiddlewaretoken": csrf_cookie})

    ours = secmon_events.of_type("authn_login_fail", "authn_login_success", "session_renewed",
                                 "session_created", "session_expired")
    assert [e["event_type"] for e in ours] == [
        "authn_login_fail", "authn_login_success", "session_renewed", "session_expired",
    ]
    failed, success, renewed, ended = ours
    assert "username" not in failed and len(failed["username_hash"]) == 16
    assert failed["reason"] == "invalid_credentials"
    assert "login_fields" not in failed
    assert success["user_id"] == alice.pk  # type: ignore[attr-defined]
    assert success["username_hash"] == failed["username_hash"]
    assert (renewed["user_id"], renewed["reason"]) == (alice.pk, "login")  # type: ignore[attr-defined]
    assert (ended["user_id"], ended["reason"]) == (alice.pk, "logout")  # type: ignore[attr-defined]
    assert all(e["path"] in ("/login/", "/logout/") for e in ours)

    output = _all_output(log_dir)
    assert "authn_login_success" in output and "session_expired" in output
    assert anonymous_session != session_id
    for secret in ("wrong-password-1", PASSWORD, anonymous_session, session_id, csrf_cookie,
                   "alice"):
        assert secret not in output


def test_first_session_is_created(configured: Pipeline, alice: object,
                                  secmon_events: CapturedEvents) -> None:
    client = Client()
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    [session] = secmon_events.of_type("session_created", "session_renewed")
    assert (session["event_type"], session["reason"]) == ("session_created", "login")


@pytest.mark.parametrize(("mode", "shown"), [("plain", "alice"), ("omit", None)])
def test_username_mode(log_dir: Path, secmon_events: CapturedEvents,
                       mode: str, shown: str | None) -> None:
    secmon.configure(environment="test", log_dir=log_dir, username_mode=mode)
    get_user_model().objects.create_user("alice", password=PASSWORD)
    secmon_events.clear()
    Client().post("/login/", {"username": "alice", "password": "nope"})
    [event] = secmon_events
    assert event.get("username") == shown
    assert "username_hash" not in event


def test_credentials_are_sanitized(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    authenticate(None, username="bob", password="s3cret-pw", api_key="AKIAIOSFODNN7EXAMPLE",
                 otp="123456", tenant="acme")
    [event] = secmon_events
    assert event["event_type"] == "authn_login_fail"
    assert event["login_fields"] == {
        "api_key": "[REDACTED]", "otp": "[REDACTED]", "tenant": "acme"}
    for secret in ("s3cret-pw", "AKIAIOSFODNN7EXAMPLE", "123456", "bob"):
        assert secret not in str(event)
