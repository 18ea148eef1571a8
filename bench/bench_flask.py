"""Flask adapter overhead: a hello-world route with and without ``SecMon``, WSGI called directly."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask, abort

import secmon
from secmon import pipeline as _pipeline
from secmon.flask import SecMon

from .common import Result, interleaved_ns

NUMBER = 20_000

ENVIRON = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/",
    "QUERY_STRING": "",
    "SERVER_NAME": "localhost",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "203.0.113.9",
    "HTTP_HOST": "localhost",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "wsgi.url_scheme": "http",
    "wsgi.version": (1, 0),
    "wsgi.errors": io.StringIO(),
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}


def hello_app(name: str) -> Flask:
    app = Flask(name)

    @app.route("/")
    def index() -> str:
        return "Hello, World!"

    @app.route("/admin")
    def admin() -> str:
        abort(403)

    return app


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def request_once(app: Flask, path: str = "/") -> Callable[[], None]:
    def call() -> None:
        environ = dict(ENVIRON)
        environ["PATH_INFO"] = path
        environ["wsgi.input"] = io.BytesIO()
        body: Iterable[bytes] = app(environ, _start_response)  # what a WSGI server calls
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    return call


def monitored_app(log_dir: str) -> Flask:
    app = hello_app("monitored")
    app.config["SECMON_LOG_DIR"] = str(Path(log_dir) / "logs")
    app.config["SECMON_ENVIRONMENT"] = "test"
    SecMon(app)
    return app


INSTRUCTIONS = [
    ("hello-world request with SecMon (WSGI, in-process)", "secmon",
     "same app without SecMon", "bare", "<= 1.03x"),
]
_LOG_DIR = tempfile.TemporaryDirectory()


def workload(variant: str) -> Callable[[int], None]:
    """``n`` hello-world requests through the app of ``variant``, for bench_instructions."""
    call = request_once(monitored_app(_LOG_DIR.name) if variant == "secmon"
                        else hello_app("bare"))

    def requests(n: int) -> None:
        for _ in range(n):
            call()

    return requests


def run(quick: bool = False) -> list[Result]:
    number = NUMBER // 10 if quick else NUMBER
    with tempfile.TemporaryDirectory() as tmp:
        bare = hello_app("bare")
        monitored = monitored_app(tmp)
        calls = {
            "bare": request_once(bare),
            "secmon": request_once(monitored),
            "bare 403": request_once(bare, "/admin"),
            "secmon 403": request_once(monitored, "/admin"),
            "bare A/A": request_once(hello_app("bare A/A")),
        }
        for call in calls.values():  # warm up: first-request setup, caches
            for _ in range(200):
                call()
        timings = interleaved_ns(calls, number, repeats=5 if quick else 11)
        current = _pipeline.current_pipeline()
        if current is not None:
            current.close(timeout=2.0)
        secmon.configure(outputs=["stderr"], enabled=False)
    return [
        Result("flask", "hello-world request with SecMon (WSGI, in-process)",
               timings["secmon"] / 1000, "us/request", "same app without SecMon",
               timings["bare"] / 1000, target="<= 1.03x", better="lower"),
        Result("flask", "403 request: one authz_fail event to security.log",
               timings["secmon 403"] / 1000, "us/request", "same 403 without SecMon",
               timings["bare 403"] / 1000, better="lower"),
        Result("flask", "A/A control: a second bare app", timings["bare A/A"] / 1000,
               "us/request", "same app without SecMon", timings["bare"] / 1000,
               target="(1.00x ± noise)", better="lower", control=True),
    ]
