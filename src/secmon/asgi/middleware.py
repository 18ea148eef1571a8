"""SecMonMiddleware: security events from any ASGI app (Starlette, FastAPI, ...), plain ASGI."""

from __future__ import annotations

import asyncio
import atexit
import weakref
from collections.abc import Awaitable, Mapping
from typing import Any

from ..config import ConfigError, Settings
from ..context import _current, reset_request
from ..pipeline import Pipeline, current_pipeline, emit_once, get_pipeline
from ..web import STATUS_EVENTS, report_exception, report_status
from .multipart import MultipartInspector
from .ratelimit import limit_fields
from .scope import STATUS_KEY, ScopeContext
from .types import ASGIApp, Message, Receive, Scope, Send

# Statuses worth a look: the ones that map to events, and 404 (a scanning signal).
_REPORTED_STATUSES = frozenset({*STATUS_EVENTS, 404})
# Requests whose body is never a form upload, so their `receive` is never wrapped.
_WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS"})
WS_POLICY_VIOLATION = 1008
# How long the app's shutdown may wait for secmon to deliver what is queued.
SHUTDOWN_TIMEOUT = 5.0


class SecMonMiddleware:
    """Security events for an ASGI app: ``app.add_middleware(SecMonMiddleware)``.

    Binds a request context that handlers, background tasks and the helpers
    (``secmon.login_failed(...)``) see; turns response statuses into events
    (400/422 input validation, 401/403 denials, 413, 429, 404 as a scanning
    signal); inspects multipart uploads as they stream past; reports unhandled
    exceptions once and re-raises them; treats a WebSocket close with code 1008
    as a denial. ``lifespan`` and unknown scope types pass through untouched.

    With ``settings`` (a dict, a :class:`~secmon.Settings`, or keywords) the app
    gets its own pipeline; without, events go to the process-wide one that
    ``secmon.configure()`` or ``SECMON_*`` environment variables set up.
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        settings: Settings | Mapping[str, Any] | None = None,
        **settings_kwargs: Any,
    ) -> None:
        self.app = app
        self.pipeline: Pipeline | None = None
        self.config_error: ConfigError | None = None
        if settings is not None or settings_kwargs:
            try:
                self.pipeline = Pipeline(Settings.build(settings, **settings_kwargs))
            except ConfigError as exc:
                if not _in_event_loop():
                    raise
                # Starlette builds its middleware at the first call, inside the server,
                # where uvicorn would take an error for "lifespan unsupported" and serve
                # 500s: fail the startup instead, with the message.
                self.config_error = exc
            else:
                atexit.register(_close_at_exit, weakref.ref(self.pipeline))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.config_error is not None:
            await _refuse(self.config_error, scope, receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
            elif scope["type"] == "lifespan":
                await self.app(scope, receive, self._watch_shutdown(send))
            else:
                await self.app(scope, receive, send)
            return

        # The hot path. A benign request binds its scope as the current request (one
        # contextvar set/reset, no object made: the context is built from the scope only
        # when an event needs one) and stores the status in the scope.

        # A plain function that returns the server's awaitable: one coroutine fewer per
        # message than an `async def` wrapper, and the same to whoever awaits it.
        def send_watching_status(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                status = scope[STATUS_KEY] = message["status"]
                if status in _REPORTED_STATUSES:
                    _report_status(scope, status)
            return send(message)

        # An app with settings of its own binds a context that carries its pipeline.
        pipeline = self.pipeline
        token = _current.set(scope if pipeline is None else ScopeContext(scope, pipeline))
        inspector = None
        try:
            if scope["method"] not in _WITHOUT_BODY:
                inspector = _inspector_for(scope)
                if inspector is not None:
                    receive = inspector.wrap(receive)
            await self.app(scope, receive, send_watching_status)
        except Exception as exc:
            report_exception(exc)
            raise
        finally:
            if inspector is not None:
                inspector.report()
            try:
                _current.reset(token)
            except ValueError:  # reset from another context; clear rather than leak
                _current.set(None)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = ScopeContext(scope, self.pipeline)
        context.bind(protocol="websocket")

        def send_watching_close(message: Message) -> Awaitable[None]:
            kind = message["type"]
            if kind == "websocket.close":
                if message.get("code", 1000) == WS_POLICY_VIOLATION:
                    _report_policy_close()
            elif kind == "websocket.http.response.start":
                status = context.status = message["status"]
                if status in _REPORTED_STATUSES:
                    _report_status(scope, status)
            return send(message)

        token = _current.set(context)
        try:
            await self.app(scope, receive, send_watching_close)
        except Exception as exc:
            report_exception(exc)
            raise
        finally:
            reset_request(token)

    def _watch_shutdown(self, send: Send) -> Send:
        """``send`` for the lifespan scope: settle secmon once the app has shut down.

        uvicorn ends a worker by re-raising SIGTERM after the shutdown, so ``atexit``
        never runs there: this is the last moment to checkpoint the audit chain and
        deliver queued alerts. The messages themselves pass unchanged.
        """

        async def send_after_settling(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                pipeline = self.pipeline or current_pipeline()
                if pipeline is not None:
                    await _settle(pipeline)
            await send(message)

        return send_after_settling

    def close(self, timeout: float = 5.0) -> None:
        """Flush and close this app's own pipeline (if it has one)."""
        if self.pipeline is not None:
            self.pipeline.close(timeout)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _refuse(error: ConfigError, scope: Scope, receive: Receive, send: Send) -> None:
    """Fail the lifespan startup with the error's message; raise it in any other scope."""
    if scope["type"] != "lifespan":
        raise error
    message = await receive()
    if message["type"] == "lifespan.startup":
        await send({"type": "lifespan.startup.failed", "message": str(error)})


async def _settle(pipeline: Pipeline) -> None:
    """``pipeline.settle()`` in a thread under asyncio; in place under another event loop.

    Under trio (hypercorn, for one) there is no asyncio loop to lend a thread: the app
    has shut down by now, so waiting here holds up nobody. It never raises: the server
    gets its shutdown message either way.
    """
    try:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            pipeline.settle(SHUTDOWN_TIMEOUT)
        else:
            await loop.run_in_executor(None, pipeline.settle, SHUTDOWN_TIMEOUT)
    except Exception as exc:
        pipeline.report_error("asgi.lifespan", exc)


def _inspector_for(scope: Scope) -> MultipartInspector | None:
    try:
        for name, value in scope.get("headers") or ():
            if name == b"content-type":
                if value[:19].lower() == b"multipart/form-data":
                    return MultipartInspector.for_content_type(value)
                return None
    except Exception as exc:
        get_pipeline().report_error("asgi.multipart", exc)
    return None


def _report_status(scope: Scope, status: int) -> None:
    if status == 429:
        try:
            fields = limit_fields(scope)
        except Exception as exc:
            get_pipeline().report_error("asgi.ratelimit", exc)
            fields = {}
        report_status(status, **fields)
    else:
        report_status(status)


def _report_policy_close() -> None:
    # The close reason is left out: FastAPI, for one, puts the rejected input values in it.
    emit_once("authz_fail", reason="policy_violation", close_code=WS_POLICY_VIOLATION)


def _close_at_exit(pipeline_ref: weakref.ref[Pipeline]) -> None:
    pipeline = pipeline_ref()
    if pipeline is not None:
        pipeline.close(timeout=5.0)
