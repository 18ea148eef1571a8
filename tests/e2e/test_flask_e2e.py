"""example_projects/flask_app under gunicorn (2 workers) on loopback, attacked over real HTTP."""

from __future__ import annotations

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
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from ..conftest import read_lines

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "example_projects" / "flask_app"
# Detection counters and rate limits shared by both workers; this suite's Redis database.
REDIS_URL = "redis://127.0.0.1:6379/11"
PASSWORDS = {"admin": "e2e-admin-" + secrets.token_hex(8),
             "alice": "e2e-alice-" + secrets.token_hex(8),
             "bob": "e2e-bob-" + secrets.token_hex(8)}
CARD = "4111111111111111"
SPOOFED = "203.0.113.66"
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(500) + b"PE\x00\x00"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"')


@dataclass
class Server:
    url: str
    log_dir: Path
    audit_key: str
    process: subprocess.Popen[bytes]
    output: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@pytest.fixture
def redis_db() -> Iterator[None]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is needed (make services): {exc}")
    client.flushdb()
    try:
        yield
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def server(tmp_path: Path, redis_db: None) -> Iterator[Server]:
    log_dir = tmp_path / "logs"
    audit_key = secrets.token_hex(32)
    # The listening socket is ours (port 0: the OS picks a free one), handed to gunicorn.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SECMON_", "SHOP_"))},
        "SECMON_LOG_DIR": str(log_dir),
        "SECMON_AUDIT_KEY": audit_key,
        "SECMON_ENVIRONMENT": "production",
        "SECMON_STATE_BACKEND": REDIS_URL,
        "SHOP_RATELIMIT_STORAGE_URI": REDIS_URL,
        "SHOP_SECRET_KEY": secrets.token_hex(32),
        "SHOP_ADMIN_PASSWORD": PASSWORDS["admin"],
        "SHOP_ALICE_PASSWORD": PASSWORDS["alice"],
        "SHOP_BOB_PASSWORD": PASSWORDS["bob"],
    }
    output = tmp_path / "gunicorn.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2",
             "--bind", f"fd://{listener.fileno()}", "--chdir", str(APP_DIR),
             "--graceful-timeout", "30", "--log-level", "warning", "app:app"],
            env=env, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
        )
    listener.close()
    handle = Server(f"http://127.0.0.1:{port}", log_dir, audit_key, process, output)
    try:
        _wait_until_up(handle)
        yield handle
    finally:
        handle.stop()


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{server.output.read_text()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer within 90 s:\n{server.output.read_text()}")


def _csrf_token(client: httpx.Client, path: str) -> str:
    match = CSRF_FIELD.search(client.get(path).text)
    assert match is not None, f"no CSRF token on {path}"
    return match.group(1)


def _login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    token = _csrf_token(client, "/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def test_attack_script_against_flask_app(server: Server) -> None:
    secrets_seen: list[str] = []
    new_client = lambda: httpx.Client(base_url=server.url, timeout=30)  # noqa: E731
    with new_client() as alice, new_client() as attacker, new_client() as admin:
        # 1. a good login
        assert _login(alice, "alice", PASSWORDS["alice"]).status_code == 302
        # 2. password guessing: six bad logins for bob
        for attempt in range(6):
            assert _login(attacker, "bob", f"guess-{attempt}-hunter2").status_code == 401
        # 3. a page only admins may see, once plainly, once with a spoofed client address
        assert alice.get("/admin/users").status_code == 403
        spoofed = {"x-forwarded-for": SPOOFED, "x-real-ip": SPOOFED, "forwarded": f"for={SPOOFED}"}
        assert alice.get("/admin/users", headers=spoofed).status_code == 403
        # 4. a bad form (with a card number that must not be logged), and one without CSRF token
        token = _csrf_token(alice, "/orders")
        order = {"product_id": "twelve", "quantity": "0", "card_number": f"{CARD} ",
                 "csrf_token": token}
        assert alice.post("/orders", data=order).status_code == 400
        assert alice.post("/orders", data={"product_id": "1", "quantity": "1"}).status_code == 400
        # 5. a Windows executable renamed to .jpg, which the app's extension check lets in
        files = {"avatar": ("cat.jpg", WINDOWS_EXE, "image/jpeg")}
        response = alice.post("/avatar", files=files,
                              data={"csrf_token": _csrf_token(alice, "/avatar")})
        assert response.status_code == 201
        assert response.json()["size"] == len(WINDOWS_EXE)  # the view read the whole file
        # 6. a burst over the rate limit
        statuses = [attacker.get("/search", params={"q": "shoes"}).status_code for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        # an admin for contrast: allowed, and the read is audited
        assert _login(admin, "admin", PASSWORDS["admin"]).status_code == 302
        assert admin.get("/admin/users").status_code == 200
        # 7. log out
        logout = alice.post("/logout", data={"csrf_token": _csrf_token(alice, "/")})
        assert logout.status_code == 302
        for client in (alice, attacker, admin):
            secrets_seen.extend(cookie.value for cookie in client.cookies.jar if cookie.value)
        secrets_seen.append(token)
    server.stop()  # graceful: each worker's secmon flushes and writes its final checkpoint

    events = read_lines(server.log_dir / "security.log")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["event_type"], []).append(event)
    assert {e["app"] for e in events} == {"flask-shop"}

    assert [(e["user_id"], e["source_ip"], e["path"]) for e in by_type["authn_login_success"]] == [
        (2, "127.0.0.1", "/login"), (1, "127.0.0.1", "/login")]
    failures = by_type["authn_login_fail"]
    assert len(failures) == 6
    assert {f["username_hash"] for f in failures} == {failures[0]["username_hash"]}
    assert all(f["source_ip"] == "127.0.0.1" and f["reason"] == "bad credentials"
               and "user_id" not in f for f in failures)
    assert "authz_fail" not in {e["event_type"] for e in events if e.get("path") == "/login"}
    # The failures landed on both workers; Redis-backed counters still saw all six.
    assert by_type["authn_login_fail_max"], "brute force detection did not fire"

    denials = by_type["authz_fail"]
    assert [(d["status"], d["path"], d["user_id"], d["source_ip"]) for d in denials] == [
        (403, "/admin/users", 2, "127.0.0.1")] * 2
    assert "peer_ip" not in denials[1]

    invalid, csrf = by_type["input_validation_fail"]
    assert set(invalid["fields"]) == {"product_id", "quantity", "card_number"}
    assert (invalid["path"], invalid["user_id"], invalid["source_ip"]) == ("/orders", 2,
                                                                           "127.0.0.1")
    assert (csrf["reason"], csrf["status"], csrf["path"]) == ("csrf", 400, "/orders")

    [upload] = by_type["upload_complete"]
    [bad_upload] = by_type["upload_validation"]
    assert (upload["filename"], upload["size"], upload["user_id"]) == ("cat.jpg",
                                                                      len(WINDOWS_EXE), 2)
    assert {"executable", "type_mismatch"} <= set(bad_upload["problems"])

    limited = by_type["excess_rate_limit_exceeded"]
    assert len(limited) == 3
    assert all(e["limit"] == "5 per 1 minute" and e["status"] == 429 and e["route"] == "/search"
               for e in limited)
    assert [e["user_id"] for e in by_type["sensitive_read"]] == [1]
    # Flask-Login builds its session identifier from X-Forwarded-For: the spoofed header
    # tripped its session protection, which secmon reports from the real address.
    [protected] = by_type["session_renewed"]
    assert (protected["reason"], protected["user_id"], protected["source_ip"]) == (
        "session_protection", 2, "127.0.0.1")
    [logout_event] = by_type["session_expired"]
    assert (logout_event["user_id"], logout_event["reason"]) == (2, "logout")

    everything = "".join(path.read_text() for path in server.log_dir.iterdir() if path.is_file())
    assert len(secrets_seen) >= 4  # session cookies of all three clients, a CSRF token
    for secret in [*PASSWORDS.values(), *secrets_seen, CARD, SPOOFED, "hunter2", "alice", "bob"]:
        assert secret not in everything

    # The audit chains are intact and anchored: every worker wrote its final checkpoint.
    verified = subprocess.run(
        [str(Path(sys.executable).with_name("secmon")), "verify",
         str(server.log_dir / "audit.log")],
        env={**os.environ, "SECMON_AUDIT_KEY": server.audit_key}, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
