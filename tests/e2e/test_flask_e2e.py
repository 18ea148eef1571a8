"""example_projects/flask_app under gunicorn (2 workers) on loopback, attacked over real HTTP."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import redis
from bench.loadlib.servers import Server

from .examples import CARD, PASSWORDS, SPOOFED, WINDOWS_EXE, assert_shop_logs, csrf_token, example

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

# Detection counters and rate limits shared by both workers; this suite's Redis database.
REDIS_URL = os.environ.get("TEST_SECMON_E2E_REDIS_URL", "redis://127.0.0.1:6379/11")


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
    with example("flask", tmp_path, workers=2,
                 secmon_env={"SECMON_STATE_BACKEND": REDIS_URL},
                 app_env={"SHOP_RATELIMIT_STORAGE_URI": REDIS_URL}) as server:
        yield server


_csrf_token = partial(csrf_token, field=re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"'))


def _login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    token = _csrf_token(client, "/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def test_attack_script_against_flask_app(server: Server) -> None:
    secrets_seen: list[str] = []
    new_client = partial(httpx.Client, base_url=server.url, timeout=30)
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

    assert len(secrets_seen) >= 4  # session cookies of all three clients, a CSRF token
    # The six bad logins landed on both workers; Redis-backed counters still saw them all
    # (brute-force detection fired).
    by_type = assert_shop_logs(server, app="flask-shop", login_path="/login",
                               secrets_seen=secrets_seen)

    invalid, csrf = by_type["input_validation_fail"]
    assert set(invalid["fields"]) == {"product_id", "quantity", "card_number"}
    assert (invalid["path"], invalid["user_id"], invalid["source_ip"]) == ("/orders", 2,
                                                                           "127.0.0.1")
    assert (csrf["reason"], csrf["status"], csrf["path"]) == ("csrf", 400, "/orders")

    # Flask-Login builds its session identifier from X-Forwarded-For: the spoofed header
    # tripped its session protection, which secmon reports from the real address.
    [protected] = by_type["session_renewed"]
    assert (protected["reason"], protected["user_id"], protected["source_ip"]) == (
        "session_protection", 2, "127.0.0.1")
    [logout_event] = by_type["session_expired"]
    assert (logout_event["user_id"], logout_event["reason"]) == (2, "logout")
