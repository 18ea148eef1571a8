"""example_projects/fastapi_app under uvicorn on loopback, attacked over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.loadlib.servers import Server

from .examples import CARD, PASSWORDS, SPOOFED, WINDOWS_EXE, assert_shop_logs, example

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with example("fastapi", tmp_path, workers=1) as server:
        yield server


def _login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/token", data={"username": username, "password": password})


def test_attack_script_against_fastapi_app(server: Server) -> None:
    tokens = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        # 1. a good login
        response = _login(client, "alice", PASSWORDS["alice"])
        assert response.status_code == 200
        alice = response.json()["access_token"]
        tokens.append(alice)
        auth = {"authorization": f"Bearer {alice}"}
        # 2. password guessing: six bad logins for bob
        for attempt in range(6):
            assert _login(client, "bob", f"guess-{attempt}-hunter2").status_code == 401
        # 3. a page the dependency denies, once plainly, once with a spoofed client address
        assert client.get("/admin/users", headers=auth).status_code == 403
        spoofed = {**auth, "x-forwarded-for": SPOOFED, "x-real-ip": SPOOFED}
        assert client.get("/admin/users", headers=spoofed).status_code == 403
        # 4. bad input that pydantic rejects (with a card number that must not be logged)
        order = {"product_id": "twelve", "quantity": 0, "card_number": f"{CARD} "}
        assert client.post("/orders", json=order, headers=auth).status_code == 422
        # 5. a Windows executable renamed to .jpg, which the app's extension check lets in
        files = {"file": ("cat.jpg", WINDOWS_EXE, "image/jpeg")}
        assert client.post("/avatar", files=files, headers=auth).status_code == 201
        # 6. a burst over the rate limit
        statuses = [client.get("/search", params={"q": "shoes"}).status_code for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        # an admin for contrast: allowed, and the read is audited
        admin = _login(client, "admin", PASSWORDS["admin"]).json()["access_token"]
        tokens.append(admin)
        assert client.get("/admin/users", headers={"authorization": f"Bearer {admin}"}
                          ).status_code == 200
    server.stop()  # graceful: secmon flushes and writes its final checkpoint

    by_type = assert_shop_logs(server, app="fastapi-shop", login_path="/token",
                               secrets_seen=tokens)

    [invalid] = by_type["input_validation_fail"]
    assert set(invalid["fields"]) == {"body.product_id", "body.quantity", "body.card_number"}
    assert (invalid["status"], invalid["path"], invalid["source_ip"]) == (422, "/orders",
                                                                          "127.0.0.1")
