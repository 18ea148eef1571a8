"""example_projects/django_site under gunicorn (2 workers) on loopback, driven over real HTTP."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import read_lines

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SITE_DIR = ROOT / "example_projects" / "django_site"
PASSWORD = "e2e-" + secrets.token_hex(12)
SPOOFED = "203.0.113.66"
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(500) + b"PE\x00\x00"
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Site:
    url: str
    log_dir: Path
    process: subprocess.Popen[bytes]
    output: Path
    env: dict[str, str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def events(self, name: str = "security.log") -> list[dict[str, Any]]:
        return read_lines(self.log_dir / name)


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=SITE_DIR, env=env, check=True,
                   capture_output=True, timeout=300)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    data = tmp_path / "site"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SECMON_", "DJANGO_"))},
        "DJANGO_SITE_DATA": str(data),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_hex(32),
        "SECMON_AUDIT_KEY": secrets.token_hex(32),
    }
    _manage(env, "migrate", "--noinput")
    _manage(env, "seed_demo", "--password", PASSWORD)
    _manage(env, "check", "--tag", "secmon", "--fail-level", "WARNING")
    # The listening socket is ours (port 0: the OS picks a free one), handed to gunicorn.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    extra = ["--no-control-socket"] if int(version("gunicorn").split(".")[0]) >= 27 else []
    output = tmp_path / "gunicorn.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2",
             "--bind", f"fd://{listener.fileno()}", "--graceful-timeout", "30", *extra,
             "mysite.wsgi:application"],
            env=env, cwd=SITE_DIR, stdout=sink, stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
        )
    listener.close()
    handle = Site(f"http://127.0.0.1:{port}", data / "logs", process, output, env)
    try:
        _wait_until_up(handle)
        yield handle
    finally:
        handle.stop()


def _wait_until_up(site: Site) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if site.process.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{site.output.read_text()}")
        try:
            if httpx.get(f"{site.url}/", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the site did not come up:\n{site.output.read_text()}")


def _token(client: httpx.Client, path: str) -> str:
    match = CSRF_FIELD.search(client.get(path).text)
    assert match is not None, f"no CSRF token on {path}"
    return match.group(1)


def _login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    token = _token(client, "/accounts/login/")
    return client.post("/accounts/login/", data={
        "username": username, "password": password, "csrfmiddlewaretoken": token})


def test_a_session_of_attacks_is_in_the_logs(site: Site) -> None:
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

    events = _wait_for(site, "session_expired")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["event_type"], []).append(event)

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

    audit_types = {e["event_type"] for e in site.events("audit.log")}
    assert {"user_created", "authn_login_success", "authn_login_fail"} <= audit_types
    # Written by manage.py commands and both workers: still one verifiable audit trail.
    site.stop()
    verify = subprocess.run([sys.executable, "-c", "from secmon.cli import main; main()",
                             "verify", str(site.log_dir / "audit.log")],
                            env=site.env, capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    for path in site.log_dir.iterdir():
        text = path.read_bytes().decode("utf-8", "replace")
        assert SPOOFED not in text  # an untrusted peer's X-Forwarded-For is never believed
        for secret in secrets_seen:
            assert secret not in text, f"a secret leaked into {path.name}"


def _wait_for(site: Site, event_type: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = site.events()
        if any(e["event_type"] == event_type for e in events):
            return events
        time.sleep(0.2)
    pytest.fail(f"no {event_type} in security.log")
