"""A small, known day of security events as secmon writes them, for the log-reading tests."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson

DAY = "2026-03-02"


def _event(minute: int, event_type: str, level: str, category: str, outcome: str,
           **fields: Any) -> dict[str, Any]:
    hour, minute = divmod(minute, 60)
    return {
        "timestamp": f"{DAY}T{hour:02d}:{minute:02d}:00.000000Z",
        "level": level,
        "event_type": event_type,
        "category": category,
        "outcome": outcome,
        "event": f"{event_type.replace('_', ' ')}",
        "app": "shop",
        **fields,
    }


def events() -> list[dict[str, Any]]:
    """In time order: logins, a brute force on bob, stuffing from one IP, admin probing,
    two detections, and a nested audit change."""
    found: list[dict[str, Any]] = []
    for i in range(6):  # 08:00.. normal logins
        found.append(_event(480 + i, "authn_login_success", "info", "authentication", "success",
                            user_id=1 + i % 2, username=["alice", "bob"][i % 2],
                            source_ip="198.51.100.7", method="POST", path="/login"))
    for i in range(8):  # 09:00.. brute force against bob
        found.append(_event(540 + i, "authn_login_fail", "warning", "authentication", "failure",
                            username="bob", source_ip="203.0.113.9", method="POST",
                            path="/login", reason="bad password"))
    found.append(_event(548, "authn_login_fail_max", "warning", "intrusion_detection", "failure",
                        username="bob", source_ip="203.0.113.9", count=8, window=300,
                        threshold=5))
    for i in range(20):  # 10:00.. credential stuffing: many users, one IP
        found.append(_event(600 + i // 4, "authn_login_fail", "warning", "authentication",
                            "failure", username_hash=f"{i:016x}", source_ip="203.0.113.50",
                            method="POST", path="/login", reason="unknown user"))
    found.append(_event(606, "secmon_credential_stuffing", "critical", "intrusion_detection",
                        "failure", source_ip="203.0.113.50", distinct_users=20, window=600))
    for i, page in enumerate(["/admin/", "/admin/users", "/admin/audit", "/admin/keys"]):
        found.append(_event(720 + i, "authz_fail", "warning", "web", "failure", user_id=7,
                            username="mallory", source_ip="192.0.2.33", method="GET",
                            path=page, resource_type="admin_page", reason="not staff"))
    found.append(_event(780, "privilege_permissions_changed", "warning", "iam", "success",
                        user_id=1, username="alice", actor_id=1, resource_type="user",
                        resource_id=7, changes={"role": {"old": "viewer", "new": "admin"}},
                        seq=1, chain="main", prev="0" * 64, mac="ab" * 32, key_id="k1"))
    return found


def write_log(path: Path, records: list[dict[str, Any]], *, gz: bool = False,
              torn: bool = False) -> Path:
    data = b"".join(orjson.dumps(record) + b"\n" for record in records)
    if torn:
        data += b'{"timestamp": "2026-03-02T23:59:00.000000Z", "level": "inf'
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path
