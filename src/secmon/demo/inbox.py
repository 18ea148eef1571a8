"""A webhook receiver in this process: the alerts secmon sends, signature checked, kept."""

from __future__ import annotations

import hmac
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from .world import WEBHOOK_SECRET


class AlertInbox:
    """Receives the alert webhooks secmon sends, checks their signature, keeps them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from ..outputs.alerts import SIGNATURE_HEADER, sign

                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                expected = "sha256=" + sign(WEBHOOK_SECRET.encode(), body)
                signed = hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected)
                self.send_response(204 if signed else 401)
                self.end_headers()
                if signed:
                    inbox.keep(orjson.loads(body))

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="secmon-demo-webhook")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def keep(self, alert: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(alert)
            with self.path.open("ab") as handle:
                handle.write(orjson.dumps(alert) + b"\n")

    def __enter__(self) -> AlertInbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
