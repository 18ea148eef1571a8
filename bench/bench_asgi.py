"""ASGI adapter overhead: a Starlette hello-world route, called directly, per middleware."""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import secmon
from secmon.asgi import SecMonMiddleware

from .common import Result

NUMBER = 1_000
REPEATS = 101

async def hello(request: Request) -> Response:
    return PlainTextResponse("Hello, world!")


class SendWrappingMiddleware:
    """The floor for any middleware that looks at the response: wraps ``send``, nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped_send(message: Message) -> None:
            await send(message)

        await self.app(scope, receive, wrapped_send)


class NoOpBaseHTTPMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)


def _app(*middleware: Middleware) -> Starlette:
    return Starlette(routes=[Route("/", hello)], middleware=list(middleware))


# Each variant is a Starlette app of its own; "bare A/A" is a second copy of "bare", the
# control that shows how far two identical apps drift apart in one run.
VARIANTS: dict[str, tuple[Middleware, ...]] = {
    "bare": (),
    "floor": (Middleware(SendWrappingMiddleware),),
    "secmon": (Middleware(SecMonMiddleware),),
    "base_http": (Middleware(NoOpBaseHTTPMiddleware),),
    "bare A/A": (),
}
INSTRUCTIONS = [
    ("+ do-nothing send-wrapping ASGI middleware", "floor", "no middleware", "bare",
     "(the floor)"),
    ("+ SecMonMiddleware (benign request)", "secmon", "send-wrapping floor", "floor",
     "<= 1.06x"),
    ("+ SecMonMiddleware (benign request)", "secmon", "no middleware", "bare", "<= 1.10x"),
]


SCOPE: Scope = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"example.com"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
        (b"accept", b"text/html,application/xhtml+xml"),
        (b"accept-language", b"en-US,en;q=0.5"),
        (b"accept-encoding", b"gzip, deflate"),
        (b"connection", b"keep-alive"),
    ],
    "client": ("203.0.113.9", 51234),
    "server": ("127.0.0.1", 8000),
}


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


async def _per_request_ns(apps: dict[str, ASGIApp], number: int, repeats: int) -> dict[str, float]:
    """Per-request medians, the variants interleaved so machine noise hits all alike."""
    for app in apps.values():
        await app(dict(SCOPE), _receive, _send)  # build Starlette's middleware stack
    samples: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(repeats):
        for name, app in apps.items():
            gc.collect()
            start = time.perf_counter_ns()
            for _ in range(number):
                await app(dict(SCOPE), _receive, _send)
            samples[name].append((time.perf_counter_ns() - start) / number)
    return {name: statistics.median(values) for name, values in samples.items()}


def measure(number: int = NUMBER, repeats: int = REPEATS) -> dict[str, float]:
    secmon.configure(outputs=["stderr"], environment="test")
    apps: dict[str, ASGIApp] = {name: _app(*layers) for name, layers in VARIANTS.items()}
    return asyncio.run(_per_request_ns(apps, number, repeats))


def workload(variant: str) -> Callable[[int], None]:
    """``n`` benign requests through the app of ``variant``, for bench_instructions."""
    secmon.configure(outputs=["stderr"], environment="test")
    app = _app(*VARIANTS[variant])
    loop = asyncio.new_event_loop()

    async def requests(n: int) -> None:
        for _ in range(n):
            await app(dict(SCOPE), _receive, _send)

    return lambda n: loop.run_until_complete(requests(n))


def run(quick: bool = False) -> list[Result]:
    timings = measure(NUMBER // 10 if quick else NUMBER, 5 if quick else REPEATS)
    bare, floor = timings["bare"], timings["floor"]
    group = "asgi"
    return [
        Result(group, "Starlette hello world, no middleware", bare, "ns/request",
               better="lower"),
        Result(group, "+ do-nothing send-wrapping ASGI middleware", floor, "ns/request",
               "no middleware", bare, target="(the floor)", better="lower"),
        Result(group, "+ SecMonMiddleware (benign request)", timings["secmon"], "ns/request",
               "send-wrapping floor", floor, target="<= 1.06x", better="lower"),
        Result(group, "+ SecMonMiddleware (benign request)", timings["secmon"], "ns/request",
               "no middleware", bare, target="<= 1.10x", better="lower"),
        Result(group, "+ no-op BaseHTTPMiddleware", timings["base_http"], "ns/request",
               "no middleware", bare, target="(about 12x)", better="lower"),
        Result(group, "A/A control: a second bare app", timings["bare A/A"], "ns/request",
               "no middleware", bare, target="(1.00x ± noise)", better="lower", control=True),
    ]


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:10} {value:10.0f} ns")
