"""example_projects/fastapi_app under uvicorn on loopback, attacked over real HTTP."""

from __future__ import annotations

import os
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

from ..conftest import read_lines

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "example_projects" / "fastapi_app"
PASSWORDS = {"admin": "e2e-admin-" + secrets.token_hex(8),
             "alice": "e2e-alice-" + secrets.token_hex(8),
             "bob": "e2e-bob-" + secrets.token_hex(8)}
CARD = "4111111111111111"
SPOOFED = "203.0.113.66"
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(500) + b"PE\x00\x00"


@dataclass
class Server:
    url: str
    log_dir: Path
    audit_key: str
    process: subprocess.Popen[bytes]
    output: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # uvicorn's graceful shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    log_dir = tmp_path / "logs"
    audit_key = secrets.token_hex(32)
    # The listening socket is ours (port 0: the OS picks a free one) and handed to uvicorn.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SECMON_")},
        "SECMON_LOG_DIR": str(log_dir),
        "SECMON_AUDIT_KEY": audit_key,
        "SECMON_ENVIRONMENT": "production",
        "SHOP_ADMIN_PASSWORD": PASSWORDS["admin"],
        "SHOP_ALICE_PASSWORD": PASSWORDS["alice"],
        "SHOP_BOB_PASSWORD": PASSWORDS["bob"],
    }
    output = tmp_path / "uvicorn.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "main:app", "--app-dir", str(APP_DIR),
             "--fd", str(listener.fileno()), "--no-proxy-headers", "--log-level", "warning"],
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
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"uvicorn exited:\n{server.output.read_text()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"uvicorn did not answer within 60 s:\n{server.output.read_text()}")


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

    events = read_lines(server.log_dir / "security.log")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["event_type"], []).append(event)

    assert [(e["user_id"], e["source_ip"], e["path"]) for e in by_type["authn_login_success"]] == [
        (2, "127.0.0.1", "/token"), (1, "127.0.0.1", "/token")]
    failures = by_type["authn_login_fail"]
    assert len(failures) == 6
    assert {f["username_hash"] for f in failures} == {failures[0]["username_hash"]}
    assert all(f["source_ip"] == "127.0.0.1" and f["reason"] == "bad credentials"
               for f in failures)
    assert "authz_fail" not in {e["event_type"] for e in events if e.get("path") == "/token"}
    assert by_type["authn_login_fail_max"], "brute force detection did not fire"

    denials = by_type["authz_fail"]
    assert [(d["status"], d["path"], d["user_id"], d["source_ip"]) for d in denials] == [
        (403, "/admin/users", 2, "127.0.0.1")] * 2
    assert "peer_ip" not in denials[1]

    [invalid] = by_type["input_validation_fail"]
    assert set(invalid["fields"]) == {"body.product_id", "body.quantity", "body.card_number"}
    assert (invalid["status"], invalid["path"], invalid["source_ip"]) == (422, "/orders",
                                                                          "127.0.0.1")

    [upload] = by_type["upload_complete"]
    [bad_upload] = by_type["upload_validation"]
    assert (upload["filename"], upload["size"], upload["user_id"]) == ("cat.jpg",
                                                                      len(WINDOWS_EXE), 2)
    assert {"executable", "type_mismatch"} <= set(bad_upload["problems"])

    limited = by_type["excess_rate_limit_exceeded"]
    assert len(limited) == 3
    assert all(e["limit"] == "5 per 1 minute" and e["status"] == 429 for e in limited)
    assert [e["user_id"] for e in by_type["sensitive_read"]] == [1]

    everything = "".join(path.read_text() for path in server.log_dir.iterdir() if path.is_file())
    for secret in [*PASSWORDS.values(), *tokens, CARD, SPOOFED, "hunter2", "alice", "bob"]:
        assert secret not in everything

    # The audit chains are intact and anchored: every worker wrote its final checkpoint.
    verified = subprocess.run(
        [str(Path(sys.executable).with_name("secmon")), "verify",
         str(server.log_dir / "audit.log")],
        env={**os.environ, "SECMON_AUDIT_KEY": server.audit_key}, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
