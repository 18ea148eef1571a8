"""Calling ASGI apps directly in tests: scopes, scripted bodies, recorded messages, sample files."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PEER = "203.0.113.9"
# The first bytes of real files, as magic-byte sniffing sees them.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(300)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(500) + b"PE\x00\x00"


def http_scope(
    method: str = "GET",
    path: str = "/",
    *,
    headers: Iterable[tuple[str, str]] = (),
    client: tuple[str, int] | None = (PEER, 50123),
    query: bytes = b"",
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"shop.example")]
        + [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        "client": client,
        "server": ("127.0.0.1", 8000),
    }


async def call(
    app: Any, scope: dict[str, Any], body: Iterable[bytes] = (b"",)
) -> list[dict[str, Any]]:
    """Run one request through ``app``; the body arrives in the given chunks."""
    chunks = list(body) or [b""]
    messages: list[dict[str, Any]] = []
    index = 0

    async def receive() -> dict[str, Any]:
        nonlocal index
        if index >= len(chunks):
            return {"type": "http.disconnect"}
        chunk = chunks[index]
        index += 1
        return {"type": "http.request", "body": chunk, "more_body": index < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


def status_of(messages: list[dict[str, Any]]) -> int:
    return int(next(m["status"] for m in messages if m["type"] == "http.response.start"))
