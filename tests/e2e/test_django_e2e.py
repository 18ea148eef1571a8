"""example_projects/django_site under gunicorn (2 workers) on loopback, driven over real HTTP."""

from __future__ import annotations

import hashlib
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.loadlib.servers import EXAMPLES, PASSWORD, PYTHON, Server, free_port

from ..conftest import read_lines
from .examples import (
    SPOOFED,
    WINDOWS_EXE,
    assert_audit_verifies,
    assert_not_logged,
    csrf_token,
    example,
    group_by_type,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Server]:
    with example("django", tmp_path, workers=2) as server:  # migrated and seeded with PASSWORD
        server.manage("check", "--tag", "secmon", "--fail-level", "WARNING")
        yield server


_token = partial(csrf_token, field=re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"'))


def _login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    token = _token(client, "/accounts/login/")
    return client.post("/accounts/login/", data={
        "username": username, "password": password, "csrfmiddlewaretoken": token})


def test_a_session_of_attacks_is_in_the_logs(site: Server) -> None:
    secrets_seen: list[str] = [PASSWORD]
    alice = httpx.Client(base_url=site.url, timeout=30)
    attacker = httpx.Client(base_url=site.url, timeout=30)
    with alice, attacker:
        # Login ok.
        assert _login(alice, "alice", PASSWORD).status_code == 302
        secrets_seen += [alice.cookies["sessionid"], alice.cookies["csrftoken"]]
        # Six bad logins.
        for attempt in range(6):
            wrong = f"wrong-password-{attempt}-{secrets.token_hex(4)}"
            secrets_seen.append(wrong)
            assert _login(attacker, "alice", wrong).status_code == 200
        secrets_seen.append(attacker.cookies["csrftoken"])
        # A forbidden page, asked with a spoofed X-Forwarded-For from an untrusted peer.
        denied = alice.get("/customers/", headers={"X-Forwarded-For": SPOOFED})
        assert denied.status_code == 403
        # A bad form, and one without a CSRF token.
        token = _token(alice, "/contact/")
        secrets_seen.append(token)
        bad_form = alice.post("/contact/", data={
            "email": "not-an-email", "subject": "hi", "message": "short",
            "csrfmiddlewaretoken": token})
        assert bad_form.status_code == 200
        assert attacker.post("/contact/", data={"email": "a@example.com"}).status_code == 403
        # A renamed executable uploaded as a .jpg: logged, and the view still reads all of it.
        token = _token(alice, "/upload/")
        uploaded = alice.post("/upload/", data={"csrfmiddlewaretoken": token},
                              files={"file": ("holiday.jpg", WINDOWS_EXE, "image/jpeg")})
        assert uploaded.status_code == 200
        assert hashlib.sha256(WINDOWS_EXE).hexdigest() in uploaded.text
        # A host the site does not serve.
        assert attacker.get("/", headers={"Host": "evil.example"}).status_code == 400
        # A rate-limit burst: 12 calls span at most two 1-minute windows of 5.
        codes = [attacker.get("/api/ping/").status_code for _ in range(12)]
        assert codes.count(403) >= 1 and set(codes) == {200, 403}
        # Logout.
        token = _token(alice, "/")
        assert alice.post("/accounts/logout/", data={"csrfmiddlewaretoken": token}
                          ).status_code == 302

    by_type = group_by_type(_wait_for(site, "session_expired"))

    [success] = by_type["authn_login_success"]
    assert success["source_ip"] == "127.0.0.1" and success["path"] == "/accounts/login/"
    assert [e["reason"] for e in by_type["session_created"]] == ["login"]

    failures = by_type["authn_login_fail"]
    assert len(failures) == 6
    assert {e["username_hash"] for e in failures} == {success["username_hash"]}
    assert all("username" not in e for e in failures)

    [denial] = by_type["authz_fail"]
    assert (denial["path"], denial["route"], denial["status"]) == ("/customers/", "customers/", 403)
    assert denial["source_ip"] == "127.0.0.1"  # not the spoofed address
    assert denial["user_id"] == success["user_id"]

    invalid = {e["reason"]: e for e in by_type["input_validation_fail"]}
    assert invalid["form_invalid"]["fields"] == ["email", "message"]
    assert invalid["csrf"]["path"] == "/contact/"
    assert "evil.example" in invalid["disallowed_host"]["detail"]

    [complete] = by_type["upload_complete"]
    [problem] = by_type["upload_validation"]
    assert complete["filename"] == problem["filename"] == "holiday.jpg"
    assert {"executable", "type_mismatch"} <= set(problem["problems"])
    assert problem["level"] == "warning"

    limited = by_type["excess_rate_limit_exceeded"]
    assert len(limited) == codes.count(403)
    assert all(e["route"] == "api/ping/" for e in limited)

    [ended] = by_type["session_expired"]
    assert (ended["reason"], ended["user_id"]) == ("logout", success["user_id"])

    audit_types = {e["event_type"] for e in read_lines(site.config.log_dir / "audit.log")}
    assert {"user_created", "authn_login_success", "authn_login_fail"} <= audit_types
    # Written by manage.py commands and both workers: still one verifiable audit trail.
    site.stop()
    assert_audit_verifies(site)

    # An untrusted peer's X-Forwarded-For is never believed.
    assert_not_logged(site.config.log_dir, [SPOOFED, *secrets_seen])


def _wait_for(site: Server, event_type: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = read_lines(site.config.log_dir / "security.log")
        if any(e["event_type"] == event_type for e in events):
            return events
        time.sleep(0.2)
    pytest.fail(f"no {event_type} in security.log")


@pytest.mark.parametrize(("server", "debug"), [("gunicorn", "0"), ("runserver", "1")])
def test_a_post_without_csrf_token_is_a_csrf_failure(tmp_path: Path, server: str,
                                                     debug: str) -> None:
    # runserver, as a newcomer starts it (DEBUG on), builds its request handler after a
    # second django.setup(), which configures logging again.
    with example("django", tmp_path, workers=1, server=server,
                 app_env={"DJANGO_DEBUG": debug}) as site, httpx.Client(
                     base_url=site.url, timeout=30) as client:
        login = {"username": "alice", "password": PASSWORD}
        assert client.post("/admin/login/", data=login).status_code == 403  # no cookie
        client.get("/admin/login/")
        assert "csrftoken" in client.cookies
        assert client.post("/admin/login/", data=login).status_code == 403  # no token
        events = read_lines(site.config.log_dir / "security.log")

    on_login = [e for e in events if e.get("path") == "/admin/login/"]
    assert [(e["event_type"], e["reason"], e["status"]) for e in on_login] == [
        ("input_validation_fail", "csrf", 403)] * 2
    assert ["CSRF cookie not set" in e["detail"] for e in on_login] == [True, False]
    assert "CSRF token missing" in on_login[1]["detail"]


def test_a_misspelled_setting_stops_the_servers_with_its_name(tmp_path: Path) -> None:
    site = example("django", tmp_path, workers=1, secmon_env={"SECMON_AUDIT_KY": "x" * 40})
    run = partial(subprocess.run, env=site.env, cwd=EXAMPLES / "django_site",
                  capture_output=True, text=True, timeout=120)
    # runserver performs the system checks first: Django's message, no traceback.
    runserver = run([PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{free_port()}"])
    assert runserver.returncode == 1
    assert "Traceback" not in runserver.stderr
    assert ("(secmon.E003) secmon setting SECMON_AUDIT_KY: unknown setting. secmon is off "
            "until this is fixed.\n\tHINT: Did you mean SECMON_AUDIT_KEY?") in runserver.stderr
    # gunicorn runs no checks: the worker does not boot, rather than serve unmonitored.
    gunicorn = run([PYTHON, "-m", "gunicorn", "--workers", "1", "--bind",
                    f"127.0.0.1:{free_port()}", "mysite.wsgi:application"])
    assert gunicorn.returncode != 0
    assert ("ImproperlyConfigured: secmon setting SECMON_AUDIT_KY: unknown setting; did you "
            "mean SECMON_AUDIT_KEY?") in gunicorn.stderr
