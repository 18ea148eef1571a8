from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

import secmon
from secmon import context as _context
from secmon.asgi import SecMonMiddleware
from secmon.asgi.scope import CONTEXT_KEY, STATUS_KEY
from secmon.config import ConfigError
from secmon.context import current
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents, capture_events

from ..conftest import read_lines
from .asgi_calls import PEER, call, http_scope, status_of


class HeaderUser(AuthenticationBackend):
    """Starlette authentication from an ``X-User`` header (enough for tests)."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        name = conn.headers.get("x-user")
        if not name:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(name)


async def status_page(request: Request) -> Response:
    return PlainTextResponse("status", status_code=int(request.path_params["code"]))


async def deny_with_reason(request: Request) -> Response:
    secmon.access_denied(resource_type="invoice", resource_id=7, reason="not owner")
    return PlainTextResponse("no", status_code=403)


async def login(request: Request) -> Response:
    form = await request.form()
    secmon.login_failed(username=form.get("username"), reason="bad password")
    return PlainTextResponse("bad credentials", status_code=200)


async def whoami(request: Request) -> Response:
    secmon.set_user(user_id=42, username="alice")
    secmon.sensitive_read(resource_type="profile", resource_id=42)
    return PlainTextResponse("alice")


async def crash(request: Request) -> Response:
    raise ValueError("boom token=abcdef0123456789abcdef")


async def with_background(request: Request) -> Response:
    async def later() -> None:
        secmon.sensitive_read(resource_type="report", resource_id="bg")

    return PlainTextResponse("ok", background=BackgroundTask(later))


async def spawn_task(request: Request) -> Response:
    async def side() -> None:
        secmon.sensitive_read(resource_type="report", resource_id="task")

    await asyncio.create_task(side())
    return PlainTextResponse("ok")


async def slow_audit(request: Request) -> Response:
    await asyncio.sleep(int(request.query_params["delay"]) / 1000)
    secmon.login_failed(username=request.headers["x-name"], reason="bad password")
    await asyncio.sleep(0)
    return PlainTextResponse("no", status_code=403)


async def ws_policy(websocket: WebSocket) -> None:
    await websocket.accept()
    secmon.sensitive_read(resource_type="channel", resource_id="ops")
    await websocket.close(code=1008, reason="not a member of ops")


async def ws_normal(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close(code=1000)


async def ws_denied_by_app(websocket: WebSocket) -> None:
    await websocket.accept()
    secmon.access_denied(resource_type="channel", resource_id="ops", reason="not a member")
    await websocket.close(code=1008)


ROUTES = [
    Route("/status/{code:int}", status_page),
    Route("/deny", deny_with_reason),
    Route("/login", login, methods=["POST"]),
    Route("/me", whoami),
    Route("/crash", crash),
    Route("/background", with_background),
    Route("/task", spawn_task),
    Route("/slow", slow_audit),
    Route("/items/{item_id}", status_page),
    WebSocketRoute("/ws/policy", ws_policy),
    WebSocketRoute("/ws/normal", ws_normal),
    WebSocketRoute("/ws/denied", ws_denied_by_app),
]


def make_app(**settings: Any) -> Starlette:
    app = Starlette(routes=ROUTES)
    app.add_middleware(AuthenticationMiddleware, backend=HeaderUser())
    app.add_middleware(SecMonMiddleware, **settings)
    return app


@pytest.fixture
def client(configured: Pipeline) -> TestClient:
    return TestClient(make_app(), client=(PEER, 50123))


@pytest.mark.parametrize(
    ("status", "event_type", "reason"),
    [
        (400, "input_validation_fail", "bad_request"),
        (401, "authz_fail", "unauthenticated"),
        (403, "authz_fail", "forbidden"),
        (413, "upload_validation", "too_large"),
        (422, "input_validation_fail", "unprocessable"),
        (429, "excess_rate_limit_exceeded", "rate_limited"),
    ],
)
def test_status_becomes_an_event(
    client: TestClient, secmon_events: CapturedEvents, status: int, event_type: str, reason: str
) -> None:
    response = client.get(f"/status/{status}?next=/home", headers={"user-agent": "curl/8.5"})
    assert response.status_code == status
    [event] = secmon_events
    assert event["event_type"] == event_type
    assert event["reason"] == reason
    assert event["status"] == status
    assert event["method"] == "GET"
    assert event["path"] == f"/status/{status}?next=/home"
    assert event["route"] == "/status/{code:int}"
    assert event["source_ip"] == PEER
    assert event["user_agent"] == "curl/8.5"
    assert event["host"] == "testserver"
    assert len(event["request_id"]) == 24


@pytest.mark.parametrize("status", [200, 201, 302, 500, 503])
def test_other_statuses_are_quiet(
    client: TestClient, secmon_events: CapturedEvents, status: int
) -> None:
    assert client.get(f"/status/{status}", follow_redirects=False).status_code == status
    assert secmon_events == []


def test_404_is_a_detection_signal_not_an_event(
    client: TestClient, configured: Pipeline, secmon_events: CapturedEvents,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signals: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(configured, "signal", lambda name, **fields: signals.append((name, fields)))
    assert client.get("/wp-admin/setup.php").status_code == 404
    assert secmon_events == []
    assert signals == [("http_404", {"status": 404})]


def test_the_apps_own_event_wins_over_the_status(
    client: TestClient, secmon_events: CapturedEvents
) -> None:
    assert client.get("/deny").status_code == 403
    [event] = secmon_events
    assert (event["event_type"], event["reason"], event["resource_id"]) == (
        "authz_fail", "not owner", 7)
    assert event["path"] == "/deny"


def test_helpers_in_handlers_get_the_request_context(
    client: TestClient, secmon_events: CapturedEvents
) -> None:
    response = client.post("/login", data={"username": "mallory", "password": "hunter2"},
                           headers={"user-agent": "evil-bot"})
    assert response.status_code == 200
    [event] = secmon_events
    assert event["event_type"] == "authn_login_fail"
    assert event["source_ip"] == PEER
    assert event["path"] == "/login"
    assert event["method"] == "POST"
    assert event["user_agent"] == "evil-bot"
    assert "username_hash" in event
    assert "mallory" not in str(event)
    assert "hunter2" not in str(event)


def test_user_from_starlette_authentication(
    client: TestClient, secmon_events: CapturedEvents
) -> None:
    assert client.get("/status/403", headers={"x-user": "bob"}).status_code == 403
    [event] = secmon_events
    assert event["user_id"] == "bob"
    assert "username_hash" in event


def test_user_set_by_app_code(client: TestClient, secmon_events: CapturedEvents) -> None:
    assert client.get("/me", headers={"x-user": "bob"}).status_code == 200
    [event] = secmon_events
    assert (event["event_type"], event["user_id"]) == ("sensitive_read", 42)


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    spoofed = {"x-forwarded-for": "198.51.100.77"}
    TestClient(make_app(), client=("127.0.0.1", 5000)).get("/status/403", headers=spoofed)
    trusting = make_app(settings={"environment": "test", "trusted_proxies": ["127.0.0.1/32"]})
    TestClient(trusting, client=("127.0.0.1", 5000)).get("/status/403", headers=spoofed)
    assert [e["source_ip"] for e in secmon_events] == ["127.0.0.1", "198.51.100.77"]
    assert secmon_events[1]["peer_ip"] == "127.0.0.1"


def test_unhandled_exception_is_one_event_and_reraised(
    client: TestClient, secmon_events: CapturedEvents
) -> None:
    with pytest.raises(ValueError, match="boom"):
        client.get("/crash")
    [event] = secmon_events
    assert event["event_type"] == "secmon_app_exception"
    assert event["error_type"] == "builtins.ValueError"
    assert event["path"] == "/crash"
    assert any("in crash" in frame for frame in event["stack"])
    assert "abcdef0123456789abcdef" not in str(event)


def test_exception_object_passes_through_unchanged(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    error = KeyError("original")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise error

    with pytest.raises(KeyError) as raised:
        asyncio.run(call(SecMonMiddleware(app), http_scope()))
    assert raised.value is error
    assert secmon_events.types() == ["secmon_app_exception"]


def test_background_tasks_and_spawned_tasks_see_the_request(
    client: TestClient, secmon_events: CapturedEvents
) -> None:
    client.get("/background", headers={"x-user": "carol"})
    client.get("/task", headers={"x-user": "dave"})
    assert [(e["resource_id"], e["path"], e["user_id"], e["source_ip"]) for e in secmon_events] == [
        ("bg", "/background", "carol", PEER), ("task", "/task", "dave", PEER)]


def test_lifespan_and_unknown_scopes_pass_through_untouched(configured: Pipeline) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        return None

    middleware = SecMonMiddleware(app)
    for scope in ({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                  {"type": "telepathy"}):
        asyncio.run(middleware(scope, receive, send))
        [(got_scope, got_receive, got_send)] = seen
        assert got_scope is scope and got_receive is receive
        # lifespan's send is watched for the shutdown (see below); nothing else is.
        assert (got_send is send) == (scope["type"] != "lifespan")
        assert got_scope == dict(scope)
        seen.clear()


def test_shutdown_checkpoints_the_audit_chain_before_the_server_exits(tmp_path: Path) -> None:
    """uvicorn ends workers without atexit: the lifespan shutdown is secmon's last word."""
    secmon.configure(log_dir=tmp_path, environment="test", audit_key="k" * 32)
    secmon.emit("user_created", user_id=1)
    checkpoints = tmp_path / "audit.checkpoints"
    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                assert not checkpoints.exists() or not checkpoints.read_text()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    asyncio.run(SecMonMiddleware(app)(scope, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    [checkpoint] = [orjson.loads(line) for line in checkpoints.read_bytes().splitlines()]
    assert checkpoint["seq"] == 1


def test_shutdown_under_another_event_loop_settles_in_place(tmp_path: Path) -> None:
    # trio (under hypercorn) runs no asyncio loop: the shutdown must still go through.
    secmon.configure(log_dir=tmp_path, environment="test", audit_key="k" * 32)
    secmon.emit("user_created", user_id=1)
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "lifespan.shutdown.complete"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    running = SecMonMiddleware(app)(scope, None, send)  # type: ignore[arg-type]
    with pytest.raises(StopIteration):
        running.send(None)  # driven by hand, as a loop other than asyncio would
    assert sent == [{"type": "lifespan.shutdown.complete"}]
    assert (tmp_path / "audit.checkpoints").read_text()


def test_lifespan_of_a_starlette_app_runs(configured: Pipeline) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"greeting": "hello from lifespan"}
        events.append("shutdown")

    async def greet(request: Request) -> Response:
        return PlainTextResponse(request.state.greeting)

    app = Starlette(routes=[Route("/", greet)], lifespan=lifespan)
    app.add_middleware(SecMonMiddleware)
    with TestClient(app) as client:
        assert client.get("/").text == "hello from lifespan"
    assert events == ["startup", "shutdown"]


def test_streaming_response_is_not_buffered(configured: Pipeline) -> None:
    first_chunk_sent = asyncio.Event()
    produced: list[str] = []

    async def numbers() -> AsyncIterator[bytes]:
        produced.append("first")
        yield b"data: 1\n\n"
        # Only a middleware that passes the first chunk on lets the stream go on.
        await asyncio.wait_for(first_chunk_sent.wait(), timeout=10)
        produced.append("second")
        yield b"data: 2\n\n"

    async def events_route(request: Request) -> Response:
        return StreamingResponse(numbers(), media_type="text/event-stream")

    app = SecMonMiddleware(Starlette(routes=[Route("/events", events_route)]))
    received: list[tuple[bytes, list[str]]] = []

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            await asyncio.Event().wait()  # the client never sends anything more
            return {}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                received.append((message["body"], list(produced)))
                first_chunk_sent.set()

        await asyncio.wait_for(app(http_scope(path="/events"), receive, send), timeout=20)

    asyncio.run(run())
    assert received == [(b"data: 1\n\n", ["first"]), (b"data: 2\n\n", ["first", "second"])]


def test_context_is_per_request_under_concurrency(configured: Pipeline) -> None:
    app = make_app(settings={"environment": "test", "trusted_proxies": ["127.0.0.1/32"]})
    count = 200

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            return await asyncio.gather(*(
                client.get(f"/slow?delay={(i * 7) % 13}", headers={
                    "x-forwarded-for": f"198.51.{i // 100}.{i % 100}",
                    "x-user": f"user{i}",
                    "x-name": f"name{i}",
                }) for i in range(count)))

    with capture_events() as events:
        responses = asyncio.run(run())
    assert {r.status_code for r in responses} == {403}
    failures = events.of_type("authn_login_fail")
    denials = events.of_type("authz_fail")
    assert len(failures) == len(denials) == count
    for event in failures + denials:
        i = int(event["user_id"].removeprefix("user"))
        assert event["source_ip"] == f"198.51.{i // 100}.{i % 100}"
        assert event["path"] == f"/slow?delay={(i * 7) % 13}"
    by_request = {e["request_id"]: e["user_id"] for e in failures}
    assert len(by_request) == count
    assert all(by_request[e["request_id"]] == e["user_id"] for e in denials)
    failure = failures[0]
    assert failure["username_hash"] == configured.hash_username(f"name{failure['user_id'][4:]}")


def test_a_benign_request_makes_no_context(configured: Pipeline) -> None:
    """Only the scope is bound; the status is kept in it for any later event."""
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(_context._current.get())
        await PlainTextResponse("ok")(scope, receive, send)

    scope = http_scope()
    assert status_of(asyncio.run(call(SecMonMiddleware(app), scope))) == 200
    assert seen == [scope]
    assert CONTEXT_KEY not in scope
    assert scope[STATUS_KEY] == 200


def test_one_context_per_request_made_by_the_first_event(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    """The handler, a task it spawns, a sync endpoint's thread and an event after the
    response all see one context, made from the scope when the first of them needs it."""
    contexts: list[Any] = []

    def in_thread() -> None:
        contexts.append(current())
        secmon.sensitive_read(resource_type="report", resource_id="thread")

    async def after_response() -> None:
        contexts.append(current())
        secmon.sensitive_read(resource_type="report", resource_id="after")

    async def endpoint(request: Request) -> Response:
        contexts.append(current())
        secmon.set_user("erin")
        await asyncio.create_task(asyncio.to_thread(in_thread))
        return PlainTextResponse("ok", status_code=201, background=BackgroundTask(after_response))

    app = Starlette(routes=[Route("/", endpoint)], middleware=[Middleware(SecMonMiddleware)])
    scope = http_scope()
    asyncio.run(call(app, scope))
    assert len({id(context) for context in contexts}) == 1
    assert contexts[0] is scope[CONTEXT_KEY]
    thread, after = secmon_events
    assert (thread["resource_id"], thread["user_id"], "status" in thread) == (
        "thread", "erin", False)
    assert (after["resource_id"], after["user_id"], after["status"]) == ("after", "erin", 201)


def test_a_scope_off_the_spec_gives_no_context_and_no_failure(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope[CONTEXT_KEY] = "not a context"  # what a misbehaving layer might leave
        secmon.sensitive_read(resource_type="report", resource_id=1)
        await PlainTextResponse("ok")(scope, receive, send)

    assert status_of(asyncio.run(call(SecMonMiddleware(app), http_scope()))) == 200
    [event] = secmon_events
    assert (event["resource_id"], event["path"]) == (1, "/")


def test_context_is_unbound_after_each_request(configured: Pipeline) -> None:
    app = make_app()

    async def run() -> list[Any]:
        after = []
        for path in ("/status/403", "/status/200", "/crash"):
            try:
                await call(app, http_scope(path=path))
            except ValueError:
                pass
            after.append(current())
        return after

    assert asyncio.run(run()) == [None, None, None]


def test_per_app_settings_get_their_own_pipeline(
    configured: Pipeline, log_dir: Path, tmp_path: Path
) -> None:
    own_dir = tmp_path / "shop-logs"
    app = Starlette(routes=ROUTES)
    middleware = SecMonMiddleware(app, {"LOG_DIR": own_dir, "ENVIRONMENT": "test"},
                                  app_name="shop")
    try:
        assert middleware.pipeline is not None
        assert status_of(asyncio.run(call(middleware, http_scope(path="/status/401")))) == 401
        [event] = read_lines(own_dir / "security.log")
        assert (event["event_type"], event["app"]) == ("authz_fail", "shop")
        assert read_lines(log_dir / "security.log") == []
    finally:
        middleware.close()


def test_a_bad_setting_fails_at_startup_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        SecMonMiddleware(Starlette(), trusted_proxies="not-a-network")
    with pytest.raises(ConfigError, match=r"^secmon setting logdir: unknown setting; did you "
                                          r"mean log_dir\?$"):
        SecMonMiddleware(Starlette(), logdir="logs")


APP_WITH_A_TYPO = """
from starlette.applications import Starlette
from secmon.asgi import SecMonMiddleware

app = Starlette()
app.add_middleware(SecMonMiddleware, settings={"LOGDIR": "logs"})
"""


@pytest.mark.e2e
def test_add_middleware_with_a_bad_setting_fails_the_servers_startup(tmp_path: Path) -> None:
    # Starlette builds the middleware at the first call, under the server: uvicorn would
    # take an error there for "lifespan unsupported", start, and answer every request 500.
    (tmp_path / "typo_app.py").write_text(APP_WITH_A_TYPO)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECMON_")}
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "typo_app:app", "--port", "0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 3  # uvicorn: startup failed
    assert "ERROR:    secmon setting LOGDIR: unknown setting; did you mean LOG_DIR?\n" \
           "ERROR:    Application startup failed. Exiting." in done.stderr
    assert "Traceback" not in done.stderr


def test_a_failing_output_never_breaks_the_request(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    pipeline = secmon.configure(log_dir=blocker, environment="test")
    client = TestClient(make_app(), client=(PEER, 1))
    with capture_events() as events:
        assert client.get("/status/403").status_code == 403
        assert client.get("/status/403").text == "status"
    assert events.types().count("authz_fail") == 2
    stats = pipeline.stats()
    # The events wait in the outputs' spools for the directory to be writable.
    assert sum(v for k, v in stats.items() if k.startswith("output.") and k.endswith("spooled"))


def test_websocket_policy_violation_close_is_a_denial(
    client: TestClient, secmon_events: CapturedEvents
) -> None:
    with client.websocket_connect("/ws/policy", headers={"x-user": "erin"}) as ws:
        message = ws.receive()
    assert message == {"type": "websocket.close", "code": 1008, "reason": "not a member of ops"}
    read, denied = secmon_events
    assert (read["event_type"], read["path"], read["user_id"]) == ("sensitive_read", "/ws/policy",
                                                                   "erin")
    assert read["protocol"] == "websocket"
    assert (denied["event_type"], denied["reason"], denied["close_code"]) == (
        "authz_fail", "policy_violation", 1008)
    assert denied["source_ip"] == PEER
    assert denied["request_id"] == read["request_id"]
    assert "not a member of ops" not in str(denied)


def test_websocket_normal_close_is_quiet(client: TestClient, secmon_events: CapturedEvents) -> None:
    with client.websocket_connect("/ws/normal") as ws:
        assert ws.receive_text() == "hello"
    assert secmon_events == []


def test_websocket_denial_reported_by_the_app_is_not_doubled(
    client: TestClient, secmon_events: CapturedEvents
) -> None:
    with client.websocket_connect("/ws/denied") as ws:
        ws.receive()
    [event] = secmon_events
    assert (event["event_type"], event["reason"]) == ("authz_fail", "not a member")
