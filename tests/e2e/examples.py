"""What the end-to-end tests of the example projects share: starting one, and the checks after."""

from __future__ import annotations

import gzip
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from bench.loadlib import checks
from bench.loadlib.servers import Server, ServerConfig

from ..conftest import read_lines

SPOOFED = "203.0.113.66"
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(500) + b"PE\x00\x00"
# The shop examples (Flask, FastAPI): a password per account, a card number not to be logged.
PASSWORDS = {user: f"e2e-{user}-{secrets.token_hex(8)}" for user in ("admin", "alice", "bob")}
CARD = "4111111111111111"


def example(framework: str, workdir: Path, *, workers: int,
            secmon_env: dict[str, str] | None = None,
            app_env: dict[str, str] | None = None, server: str | None = None) -> Server:
    """The example under its real server (``server``, else its default; not started yet):
    secmon in production, signing audit events with a key of its own; the shops' accounts
    with PASSWORDS."""
    shop_accounts = {f"SHOP_{user.upper()}_PASSWORD": password
                     for user, password in PASSWORDS.items()}
    return Server(ServerConfig(
        framework, workdir, workers=workers,
        secmon_env={"SECMON_ENVIRONMENT": "production", "SECMON_AUDIT_KEY": secrets.token_hex(32),
                    **(secmon_env or {})},
        app_env={**shop_accounts, **(app_env or {})}, server=server,
    ))


def csrf_token(client: httpx.Client, path: str, field: re.Pattern[str]) -> str:
    """The CSRF token of the form on ``path``."""
    match = field.search(client.get(path).text)
    assert match is not None, f"no CSRF token on {path}"
    return match.group(1)


def group_by_type(events: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        grouped.setdefault(event["event_type"], []).append(event)
    return grouped


def assert_not_logged(log_dir: Path, secrets_seen: Iterable[str]) -> None:
    """None of these strings is in any file of the log directory (rotated ones unpacked)."""
    texts = {}
    for path in sorted(log_dir.iterdir()):
        if path.is_file():
            raw = path.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            texts[path.name] = raw.decode("utf-8", "replace")
    assert texts, f"no logs in {log_dir}"
    for secret in secrets_seen:
        for name, text in texts.items():
            assert secret not in text, f"{secret!r} leaked into {name}"


def assert_audit_verifies(server: Server) -> None:
    """``secmon verify`` with the server's key passes over its audit log (and rotated files)."""
    verification = checks.verify(server.config.log_dir, server.env["SECMON_AUDIT_KEY"])
    assert verification.ok, verification.text


def assert_shop_logs(server: Server, *, app: str, login_path: str,
                     secrets_seen: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The logs of a shop (Flask, FastAPI) stopped after the attack script, in what is alike
    under both: the logins of alice (2) and the admin (1), six bad ones for bob, alice denied
    the user list twice (once with a spoofed address), her executable upload, three calls over
    the rate limit, the admin's audited read; no secret in any log; an audit trail that
    verifies. The security events by type, for each framework's own checks."""
    events = read_lines(server.config.log_dir / "security.log")
    by_type = group_by_type(events)
    assert {e["app"] for e in events} == {app}

    assert [(e["user_id"], e["source_ip"], e["path"]) for e in by_type["authn_login_success"]] == [
        (2, "127.0.0.1", login_path), (1, "127.0.0.1", login_path)]
    failures = by_type["authn_login_fail"]
    assert len(failures) == 6
    assert {f["username_hash"] for f in failures} == {failures[0]["username_hash"]}
    assert all(f["source_ip"] == "127.0.0.1" and f["reason"] == "bad credentials"
               and "user_id" not in f for f in failures)
    assert "authz_fail" not in {e["event_type"] for e in events if e.get("path") == login_path}
    assert by_type["authn_login_fail_max"], "brute force detection did not fire"

    denials = by_type["authz_fail"]
    assert [(d["status"], d["path"], d["user_id"], d["source_ip"]) for d in denials] == [
        (403, "/admin/users", 2, "127.0.0.1")] * 2
    assert "peer_ip" not in denials[1]

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

    # "hunter2": in each of bob's guessed passwords.
    assert_not_logged(server.config.log_dir, [*PASSWORDS.values(), CARD, SPOOFED, "hunter2",
                                              "alice", "bob", *secrets_seen])
    # The audit chains are intact and anchored: every worker wrote its final checkpoint.
    assert_audit_verifies(server)
    return by_type
