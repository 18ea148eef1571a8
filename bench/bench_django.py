"""Django: a hello-world request, bare, behind SecurityMiddleware and behind django-structlog.

Each variant is a real WSGIHandler (URL resolution, request and response objects, the
middleware chain) called with a WSGI environ; no test client, no server, no network.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from collections.abc import Callable
from typing import Any

import django
import structlog
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import path

import secmon

from .common import Result, interleaved_ns

# Many short, interleaved samples: on a busy machine drift then hits every variant alike.
NUMBER = 2_000
REPEATS = 41
SECMON_MIDDLEWARE = "secmon.django.SecurityMiddleware"
STRUCTLOG_MIDDLEWARE = "django_structlog.middlewares.RequestMiddleware"


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"Hello, world")


urlpatterns = [path("", hello)]


def _setup(log_dir: str) -> None:
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="bench-only-" + "k" * 50,
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                            "secmon.django"],
            MIDDLEWARE=[],
            DATABASES={},
            USE_TZ=True,
            SECMON={"LOG_DIR": log_dir, "ENVIRONMENT": "test"},
        )
        django.setup()
    else:
        secmon.configure(log_dir=log_dir, environment="test")
    # django-structlog logs two lines per request; give it a realistic JSON chain into devnull.
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars,
                    structlog.processors.TimeStamper(fmt="iso"),
                    structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(file=open(os.devnull, "w")),  # noqa: SIM115
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )


def _handler(middleware: list[str]) -> Callable[[], Any]:
    with override_settings(MIDDLEWARE=middleware):
        handler = WSGIHandler()  # loads the middleware chain once, as at server start
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "bench", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9", "HTTP_HOST": "bench",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO(),
    }

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        assert status.startswith("200")

    def call() -> None:
        response = handler(dict(environ), start_response)
        b"".join(response)
        response.close()

    return call


VARIANTS = {"bare": [], "secmon": [SECMON_MIDDLEWARE], "structlog": [STRUCTLOG_MIDDLEWARE],
            "bare A/A": []}
INSTRUCTIONS = [
    ("hello-world request behind SecurityMiddleware", "secmon",
     "the bare view (no middleware)", "bare", "<= 1.03x"),
    ("hello-world request behind django-structlog RequestMiddleware", "structlog",
     "the bare view (no middleware)", "bare", ""),
]
_LOG_DIR = tempfile.TemporaryDirectory()


def workload(variant: str) -> Callable[[int], None]:
    """``n`` hello-world requests through the handler of ``variant``, for bench_instructions."""
    _setup(_LOG_DIR.name)
    call = _handler(VARIANTS[variant])

    def requests(n: int) -> None:
        for _ in range(n):
            call()

    return requests


def run(quick: bool = False) -> list[Result]:
    number, repeats = (NUMBER // 5, 15) if quick else (NUMBER, REPEATS)
    with tempfile.TemporaryDirectory() as log_dir:
        _setup(log_dir)
        variants = {name: _handler(middleware) for name, middleware in VARIANTS.items()}
        for call in variants.values():  # warm up caches (URL resolver, loggers)
            for _ in range(200):
                call()
        timings = interleaved_ns(variants, number, repeats)
        secmon.configure(outputs=["stderr"], enabled=False)
        structlog.reset_defaults()
    bare, ours, theirs = (timings[name] / 1000 for name in ("bare", "secmon", "structlog"))
    return [
        Result("django", "hello-world request behind SecurityMiddleware", ours, "us/request",
               "the bare view (no middleware)", bare, target="<= 1.03x", better="lower"),
        Result("django", "hello-world request behind django-structlog RequestMiddleware",
               theirs, "us/request", "the bare view (no middleware)", bare, better="lower"),
        Result("django", "SecurityMiddleware against django-structlog", ours, "us/request",
               "django-structlog RequestMiddleware", theirs, target="ratio < 1", better="lower"),
        Result("django", "A/A control: a second bare handler", timings["bare A/A"] / 1000,
               "us/request", "the bare view (no middleware)", bare, target="(1.00x ± noise)",
               better="lower", control=True),
    ]
