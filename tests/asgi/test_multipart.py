from __future__ import annotations

import asyncio
import hashlib
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import secmon
from secmon.asgi import SecMonMiddleware
from secmon.asgi.multipart import MultipartInspector
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents, capture_events

from .asgi_calls import JPEG, PEER, PNG, WINDOWS_EXE, call, http_scope, status_of


def encode(
    files: dict[str, tuple[str, bytes, str]], data: dict[str, str] | None = None
) -> tuple[str, bytes]:
    """A multipart/form-data body as httpx (a real client) encodes it: (content type, body)."""
    request = httpx.Request("POST", "http://shop.example/upload", files=files, data=data)
    return request.headers["content-type"], request.read()


def split(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


class BodyRecorder:
    """An ASGI app that reads the whole body the way an app would, and keeps what it got."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.body = b""
        self.receive: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.receive = receive
        if scope["method"] != "GET":
            more = True
            while more:
                message = await receive()
                self.body += message.get("body", b"")
                more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def upload(app: Any, content_type: str, chunks: list[bytes], path: str = "/upload") -> int:
    scope = http_scope("POST", path, headers=[("content-type", content_type)])
    return status_of(asyncio.run(call(app, scope, chunks)))


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 4096, 1 << 20])
def test_app_gets_the_exact_bytes_and_files_are_reported(
    configured: Pipeline, secmon_events: CapturedEvents, chunk_size: int
) -> None:
    content_type, body = encode(
        {"photo": ("cat.jpg", JPEG, "image/jpeg"), "icon": ("dot.png", PNG, "image/png")},
        data={"title": "my cat", "password": "hunter2"},
    )
    app = BodyRecorder()
    assert upload(SecMonMiddleware(app), content_type, split(body, chunk_size)) == 200
    assert app.body == body
    assert secmon_events.types() == ["upload_complete", "upload_complete"]
    photo, icon = secmon_events
    assert (photo["filename"], photo["size"], photo["content_type"], photo["detected_type"]) == (
        "cat.jpg", len(JPEG), "image/jpeg", "image/jpeg")
    assert (icon["filename"], icon["size"], icon["detected_type"]) == ("dot.png", len(PNG),
                                                                      "image/png")
    assert photo["field"] == "photo"
    assert (photo["path"], photo["method"], photo["source_ip"], photo["status"]) == (
        "/upload", "POST", PEER, 200)
    assert "hunter2" not in str(list(secmon_events))


def test_a_renamed_executable_fails_validation(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    content_type, body = encode({"avatar": ("../../me.jpg", WINDOWS_EXE, "image/jpeg")})
    assert upload(SecMonMiddleware(BodyRecorder()), content_type, split(body, 100)) == 200
    complete, invalid = secmon_events
    assert complete["event_type"] == "upload_complete"
    assert invalid["event_type"] == "upload_validation"
    assert invalid["filename"] == "me.jpg"
    assert invalid["detected_type"] == "application/x-msdownload"
    assert {"executable", "type_mismatch"} <= set(invalid["problems"])


def test_too_large_by_the_configured_limit(secmon_events: CapturedEvents) -> None:
    secmon.configure(environment="test", outputs=["stderr"], upload_max_bytes=1000)
    content_type, body = encode({"doc": ("big.txt", b"x" * 5000, "text/plain")})
    upload(SecMonMiddleware(BodyRecorder()), content_type, [body])
    [invalid] = secmon_events.of_type("upload_validation")
    assert (invalid["size"], invalid["problems"]) == (5000, ["too_large"])


def test_form_fields_and_empty_file_inputs_are_not_uploads(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    content_type, body = encode({"attachment": ("", b"", "application/octet-stream")},
                                data={"comment": "hello"})
    upload(SecMonMiddleware(BodyRecorder()), content_type, [body])
    assert secmon_events == []


def test_events_come_after_the_response_started(configured: Pipeline) -> None:
    content_type, body = encode({"photo": ("cat.jpg", JPEG, "image/jpeg")})
    seen_at_start: list[int] = []

    async def run(events: CapturedEvents) -> None:
        chunks = iter([body])

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": next(chunks), "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                seen_at_start.append(len(events))

        scope = http_scope("POST", "/upload", headers=[("content-type", content_type)])
        await SecMonMiddleware(BodyRecorder())(scope, receive, send)

    with capture_events() as events:
        asyncio.run(run(events))
    assert seen_at_start == [0]
    assert events.types() == ["upload_complete"]


@pytest.mark.parametrize(
    ("method", "content_type"),
    [("GET", "multipart/form-data; boundary=x"), ("POST", "application/json"),
     ("POST", "application/x-www-form-urlencoded"), ("POST", "multipart/form-data"),
     ("PUT", "text/plain")],
)
def test_other_requests_keep_their_receive(
    configured: Pipeline, method: str, content_type: str
) -> None:
    app = BodyRecorder()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    scope = http_scope(method, headers=[("content-type", content_type)])
    asyncio.run(SecMonMiddleware(app)(scope, receive, send))
    assert app.receive is receive


def test_a_body_the_parser_cannot_read_is_left_alone(
    configured: Pipeline, secmon_events: CapturedEvents, capfd: pytest.CaptureFixture[str]
) -> None:
    garbage = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n" + (
        b"X-Header-" * 1000 + b": too long\r\n\r\nbody\r\n--b--\r\n")
    app = BodyRecorder()
    for _ in range(2):
        assert upload(SecMonMiddleware(app), "multipart/form-data; boundary=b", split(garbage, 50),
                      ) == 200
        assert app.body == garbage
        app.body = b""
    assert configured.counters["errors.asgi.multipart"] == 2
    assert secmon_events.types() == ["secmon_internal_error"]
    assert capfd.readouterr().err.count("asgi.multipart failed") == 1


def test_starlette_still_parses_the_form(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    async def receive_upload(request: Request) -> Response:
        form = await request.form()
        photo = form["photo"]
        assert isinstance(photo, UploadFile)
        content = await photo.read()
        return JSONResponse({"name": photo.filename, "sha": hashlib.sha256(content).hexdigest(),
                             "title": form["title"]})

    app = Starlette(routes=[Route("/upload", receive_upload, methods=["POST"])])
    app.add_middleware(SecMonMiddleware)

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            return await client.post("/upload", files={"photo": ("cat.jpg", JPEG, "image/jpeg")},
                                     data={"title": "cat"})

    response = asyncio.run(run())
    assert response.json() == {"name": "cat.jpg", "sha": hashlib.sha256(JPEG).hexdigest(),
                               "title": "cat"}
    [event] = secmon_events
    assert (event["filename"], event["size"]) == ("cat.jpg", len(JPEG))


def test_a_50_mb_upload_streams_through_in_bounded_memory(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    size = 50 * 1024 * 1024
    chunk = bytes(range(256)) * 256  # 64 KiB
    boundary = b"secmon-test-boundary-7d1f"
    head = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="video"; '
            b'filename="holiday.mp4"\r\nContent-Type: video/mp4\r\n\r\n')
    tail = b"\r\n--" + boundary + b"--\r\n"
    sent = hashlib.sha256()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(size // len(chunk)):
            yield chunk
        yield tail

    class Hasher:
        def __init__(self) -> None:
            self.digest = hashlib.sha256()
            self.length = 0

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            more = True
            while more:
                message = await receive()
                self.digest.update(message["body"])
                self.length += len(message["body"])
                more = message["more_body"]
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    async def run(app: Any) -> None:
        chunks = body()
        pending = next(chunks)

        async def receive() -> dict[str, Any]:
            nonlocal pending
            current, pending = pending, next(chunks, None)
            sent.update(current)
            return {"type": "http.request", "body": current, "more_body": pending is not None}

        async def send(message: dict[str, Any]) -> None:
            return None

        content_type = b"multipart/form-data; boundary=" + boundary
        scope = http_scope("POST", "/videos")
        scope["headers"].append((b"content-type", content_type))
        await app(scope, receive, send)

    hasher = Hasher()
    tracemalloc.start()
    try:
        asyncio.run(run(SecMonMiddleware(hasher)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert hasher.length == len(head) + size + len(tail)
    assert hasher.digest.digest() == sent.digest()
    assert peak < 4 * 1024 * 1024
    complete, too_large = secmon_events  # past the default UPLOAD_MAX_BYTES (10 MiB)
    assert (complete["filename"], complete["size"], complete["content_type"],
            complete["status"]) == ("holiday.mp4", size, "video/mp4", 201)
    assert (too_large["event_type"], too_large["problems"]) == ("upload_validation",
                                                                ["too_large"])


def test_inspector_ignores_bodies_that_are_not_multipart_form_data() -> None:
    assert MultipartInspector.for_content_type(b"multipart/mixed; boundary=x") is None
    assert MultipartInspector.for_content_type(b"multipart/form-data") is None
    inspector = MultipartInspector.for_content_type(b'multipart/form-data; boundary="a b"')
    assert inspector is not None
