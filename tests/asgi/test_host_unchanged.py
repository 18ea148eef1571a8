"""Starlette and FastAPI apps answer every request the same with SecMonMiddleware as without.

The same requests go to two identical apps (sessions, authentication, uploads, streaming,
validation), one wrapped by ``SecMonMiddleware``, called as a server calls them: every
ASGI message the app sends (status, headers, body chunks, ``more_body``), every message
the app's code receives, the authentication backend's calls and any exception that
reaches the server must be equal, and the session cookie must hold the same data.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import itsdangerous
import pytest
from fastapi import FastAPI, HTTPException, UploadFile
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    SimpleUser,
    requires,
)
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from secmon.asgi import SecMonMiddleware
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents

from .asgi_calls import PNG, WINDOWS_EXE, http_scope

SECRET = "test-session-secret"
BOUNDARY = "secmonboundary"


class Host:
    """What one app did: the messages its code received, the authentication calls."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.authenticated: list[str | None] = []

    def backend(self) -> AuthenticationBackend:
        host = self

        class HeaderUser(AuthenticationBackend):
            async def authenticate(
                self, conn: HTTPConnection
            ) -> tuple[AuthCredentials, SimpleUser] | None:
                name = conn.headers.get("x-user") or conn.session.get("user")
                host.authenticated.append(name)
                if not name:
                    return None
                return AuthCredentials(["authenticated"]), SimpleUser(name)

        return HeaderUser()

    def recording(self, app: Any) -> Any:
        """Innermost middleware: the receive() messages the app's code sees."""
        async def record(scope: Any, receive: Any, send: Any) -> None:
            async def receive_recorded() -> dict[str, Any]:
                message = await receive()
                self.received.append(dict(message))
                return message  # type: ignore[no-any-return]
            await app(scope, receive_recorded, send)
        return record


# -- the two apps, each built with and without secmon ------------------------------------------


async def home(request: Request) -> Response:
    return PlainTextResponse("home")


async def log_in(request: Request) -> Response:
    form = await request.form()
    request.session["user"] = str(form.get("name"))
    return RedirectResponse("/private", status_code=303)


@requires("authenticated", status_code=403)
async def private(request: Request) -> Response:
    return PlainTextResponse(f"hello {request.user.display_name}")


@requires("authenticated", redirect="home")
async def private_redirect(request: Request) -> Response:
    return PlainTextResponse("private")


async def status(request: Request) -> Response:
    return PlainTextResponse("status", status_code=int(request.path_params["code"]))


async def store(request: Request) -> Response:
    form = await request.form()
    files = {name: [hashlib.sha256(await value.read()).hexdigest(), value.filename]
             for name, value in form.multi_items() if not isinstance(value, str)}
    return PlainTextResponse(json.dumps(files))


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"first,", b"second,", b"last"):
            await asyncio.sleep(0)
            yield part
    return StreamingResponse(chunks(), media_type="text/csv")


async def boom(request: Request) -> Response:
    raise RuntimeError("the app failed")


def starlette_app(host: Host, *, with_secmon: bool) -> Any:
    app = Starlette(routes=[
        Route("/", home, name="home"),
        Route("/login", log_in, methods=["POST"]),
        Route("/private", private),
        Route("/private-redirect", private_redirect),
        Route("/status/{code:int}", status),
        Route("/store", store, methods=["POST"]),
        Route("/stream", stream),
        Route("/boom", boom),
    ])
    app.add_middleware(host.recording)  # type: ignore[arg-type]
    app.add_middleware(AuthenticationMiddleware, backend=host.backend())
    app.add_middleware(SessionMiddleware, secret_key=SECRET)
    if with_secmon:
        app.add_middleware(SecMonMiddleware)
    return app


class Item(BaseModel):
    name: str
    price: float


def fastapi_app(host: Host, *, with_secmon: bool) -> Any:
    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"home": "yes"}

    @app.post("/items", status_code=201)
    async def create(item: Item) -> Item:
        return item

    @app.get("/private")
    async def private_route(request: Request) -> dict[str, str]:
        if not request.user.is_authenticated:
            raise HTTPException(status_code=401, detail="log in")
        return {"user": request.user.display_name}

    @app.get("/status/{code}")
    async def status_route(code: int) -> Response:
        return PlainTextResponse("status", status_code=code)

    @app.post("/store")
    async def store_route(file: UploadFile) -> dict[str, Any]:
        return {"sha256": hashlib.sha256(await file.read()).hexdigest(), "name": file.filename}

    @app.get("/stream")
    async def stream_route() -> Response:
        return await stream(None)  # type: ignore[arg-type]

    @app.get("/boom")
    async def boom_route() -> None:
        raise RuntimeError("the app failed")

    @app.post("/login")
    async def login_route(request: Request) -> Response:
        return await log_in(request)

    app.add_middleware(host.recording)  # type: ignore[arg-type]
    app.add_middleware(AuthenticationMiddleware, backend=host.backend())
    app.add_middleware(SessionMiddleware, secret_key=SECRET)
    if with_secmon:
        app.add_middleware(SecMonMiddleware)
    return app


APPS: dict[str, Callable[..., Any]] = {"starlette": starlette_app, "fastapi": fastapi_app}


# -- requests ----------------------------------------------------------------------------------


def multipart(filename: str, content: bytes, content_type: str) -> tuple[list[tuple[str, str]],
                                                                        list[bytes]]:
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
    body += content + f"\r\n--{BOUNDARY}--\r\n".encode()
    headers = [("content-type", f"multipart/form-data; boundary={BOUNDARY}"),
               ("content-length", str(len(body)))]
    # In chunks, as a server hands them over.
    return headers, [body[i:i + 97] for i in range(0, len(body), 97)]


def form(data: str) -> tuple[list[tuple[str, str]], list[bytes]]:
    return ([("content-type", "application/x-www-form-urlencoded"),
             ("content-length", str(len(data)))], [data.encode()])


def json_body(data: str) -> tuple[list[tuple[str, str]], list[bytes]]:
    return [("content-type", "application/json"), ("content-length", str(len(data)))], [
        data.encode()]


NO_BODY: tuple[list[tuple[str, str]], list[bytes]] = ([], [b""])
# name -> (method, path, (headers, body chunks), apps it applies to)
REQUESTS: dict[str, tuple[str, str, tuple[list[tuple[str, str]], list[bytes]], set[str]]] = {
    "200": ("GET", "/", NO_BODY, {"starlette", "fastapi"}),
    "200-user": ("GET", "/private", NO_BODY, {"starlette", "fastapi"}),
    "200-head": ("HEAD", "/", NO_BODY, {"starlette"}),
    "201": ("POST", "/items", json_body('{"name": "book", "price": 9.5}'), {"fastapi"}),
    "303-login": ("POST", "/login", form("name=alice"), {"starlette", "fastapi"}),
    "307-redirect": ("GET", "/private-redirect", NO_BODY, {"starlette"}),
    "400": ("GET", "/status/400", NO_BODY, {"starlette", "fastapi"}),
    "401-403": ("GET", "/private", NO_BODY, {"starlette", "fastapi"}),
    "404": ("GET", "/no/such/page", NO_BODY, {"starlette", "fastapi"}),
    "405": ("DELETE", "/", NO_BODY, {"starlette", "fastapi"}),
    "413": ("GET", "/status/413", NO_BODY, {"starlette", "fastapi"}),
    "422": ("POST", "/items", json_body('{"name": "book", "price": "free"}'), {"fastapi"}),
    "429": ("GET", "/status/429", NO_BODY, {"starlette", "fastapi"}),
    "500": ("GET", "/boom", NO_BODY, {"starlette", "fastapi"}),
    "upload": ("POST", "/store", multipart("photo.png", PNG, "image/png"),
               {"starlette", "fastapi"}),
    "upload-mismatch": ("POST", "/store", multipart("photo.png", WINDOWS_EXE, "image/png"),
                        {"starlette", "fastapi"}),
    "stream": ("GET", "/stream", NO_BODY, {"starlette", "fastapi"}),
}
IDENTITIES = {"anonymous": [], "header": [("x-user", "bob")]}
CASES = [(app, identity, name) for app in APPS for identity in IDENTITIES
         for name, (*_, apps) in REQUESTS.items() if app in apps]


async def serve(app: Any, scope: dict[str, Any], chunks: list[bytes]) -> dict[str, Any]:
    """One request as a server makes it: what was sent, and what reached the server."""
    sent: list[dict[str, Any]] = []
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if not pending:
            await asyncio.sleep(0)
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(_comparable(message))

    raised = None
    try:
        await app(scope, receive, send)
    except Exception as exc:  # what the server would log
        raised = f"{type(exc).__name__}: {exc}"
    return {"sent": sent, "raised": raised}


def _comparable(message: dict[str, Any]) -> dict[str, Any]:
    message = dict(message)
    if "headers" in message:
        message["headers"] = [_session_decoded(name, value) for name, value in message["headers"]]
    return message


def _session_decoded(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    """Set-Cookie with the session's data instead of its signed, timestamped form."""
    if name.lower() == b"set-cookie" and value.startswith(b"session="):
        cookie, _, attributes = value.partition(b";")
        signed = cookie.split(b"=", 1)[1]
        data = itsdangerous.TimestampSigner(SECRET).unsign(signed)
        return name, b"session=" + base64.b64decode(data) + b";" + attributes
    return name, value


def observe(kind: str, identity: str, name: str, *, with_secmon: bool) -> dict[str, Any]:
    host = Host()
    app = APPS[kind](host, with_secmon=with_secmon)
    method, path, (headers, chunks), _ = REQUESTS[name]
    scope = http_scope(method, path, headers=[*IDENTITIES[identity], *headers])
    served = asyncio.run(serve(app, scope, chunks))
    return served | {"received": host.received, "authenticated": host.authenticated}


@pytest.mark.parametrize(("kind", "identity", "name"), CASES)
def test_the_app_answers_the_same_with_secmon(
    configured: Pipeline, secmon_events: CapturedEvents, kind: str, identity: str, name: str
) -> None:
    expected = observe(kind, identity, name, with_secmon=False)
    assert secmon_events == []
    assert observe(kind, identity, name, with_secmon=True) == expected


def test_the_requests_do_make_secmon_write_events(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    # The comparison above is only worth something if secmon had work to do there.
    for kind, identity, name in CASES:
        observe(kind, identity, name, with_secmon=True)
    written = set(secmon_events.types())
    assert {"authz_fail", "input_validation_fail", "upload_complete", "upload_validation",
            "secmon_app_exception", "excess_rate_limit_exceeded"} <= written
    # Events name the user Starlette's AuthenticationMiddleware put in the scope.
    named = [e for e in secmon_events if e.get("username_hash") == configured.hash_username("bob")]
    assert {e["path"] for e in named} >= {"/status/400", "/boom"}
