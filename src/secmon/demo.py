"""`secmon demo`: a scripted day of traffic, with the events secmon writes for it."""

from __future__ import annotations

from pathlib import Path

import orjson
from rich.console import Console

import secmon
from secmon.context import RequestContext, request_context


def _request(ip: str, path: str, method: str = "POST") -> RequestContext:
    headers = {"user-agent": "Mozilla/5.0 (demo)"}
    return RequestContext(method=method, path=path, peer=ip, header=headers.get)


def run_demo(directory: Path) -> int:
    console = Console()
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.log"):
        old.unlink()
    secmon.configure(log_dir=directory, app_name="demo", environment="development",
                     username_mode="plain")
    console.rule("secmon demo")
    with request_context(_request("198.51.100.7", "/login")):
        secmon.login_succeeded(user_id=1, username="alice")
    for _ in range(6):
        with request_context(_request("203.0.113.9", "/login")):
            secmon.login_failed(username="bob", reason="bad password", password="hunter2")
    with request_context(_request("203.0.113.9", "/admin/users", "GET")):
        secmon.access_denied(resource_type="admin_page", reason="not staff")
    with request_context(_request("198.51.100.7", "/profile?token=abc123secret")):
        secmon.validation_failed(field="birth_date", reason="not a date")
    secmon.flush()
    log = directory / "security.log"
    for line in log.read_bytes().splitlines():
        event = orjson.loads(line)
        style = {"warning": "yellow", "error": "red", "critical": "bold red"}.get(event["level"], "")
        console.print(f"[{style}]{event['level']:8}[/] {event['event_type']:28} {event['event']}")
    console.rule()
    console.print(f"logs: {log.resolve()} and {(directory / 'audit.log').resolve()}")
    return 0
