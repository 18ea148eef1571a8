"""A local alert webhook: records what secmon delivers, and can answer 500 or hang on demand."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

MODES = ("ok", "error", "hang")


@dataclass(frozen=True)
class Delivery:
    received: float  # time.time() it arrived
    status: int  # what the receiver answered (503: it hung until the client gave up)
    signed: bool  # the X-Secmon-Signature matched
    alert: dict[str, Any]


class AlertReceiver:
    """``http.server`` in a thread; ``mode`` is ``ok`` (204), ``error`` (500) or ``hang``."""

    def __init__(self) -> None:
        self.secret = secrets.token_hex(16)
        self.deliveries: list[Delivery] = []
        self.mode = "ok"
        self._lock = threading.Lock()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver._handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="alert-receiver")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def destination(self, timeout: float = 2.0) -> dict[str, Any]:
        """The ``ALERTS`` entry pointing secmon here."""
        return {"type": "webhook", "url": self.url, "secret": self.secret, "timeout": timeout}

    def start(self) -> AlertReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        self.mode = mode
        if mode == "hang":
            self._release.clear()
        else:
            self._release.set()  # let hung deliveries go (their client gave up long ago)

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        arrived = time.time()
        mode = self.mode
        if mode == "hang":
            self._release.wait(120)
            status = 503
        else:
            status = 204 if mode == "ok" else 500
        signature = handler.headers.get("x-secmon-signature", "")
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        try:
            alert = orjson.loads(body)
        except orjson.JSONDecodeError:
            alert = {}
        with self._lock:
            self.deliveries.append(Delivery(arrived, status, hmac.compare_digest(
                signature, expected), alert if isinstance(alert, dict) else {}))
        try:
            handler.send_response(status)
            handler.send_header("content-length", "0")
            handler.end_headers()
        except OSError:
            pass  # the client gave up (hang)

    def accepted(self) -> list[Delivery]:
        """Deliveries answered 2xx: the alerts a real endpoint would have taken."""
        with self._lock:
            return [d for d in self.deliveries if 200 <= d.status < 300]
