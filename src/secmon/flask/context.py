"""The context of one Flask request, read from its WSGI environ only when an event needs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from flask import has_request_context, request

from ..context import LazyRequestContext, UserLoader

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ..pipeline import Pipeline

# Werkzeug's ProxyFix keeps the values it rewrote under this environ key.
PROXY_FIX_ORIGINAL = "werkzeug.proxy_fix.orig"
_UNPREFIXED_HEADERS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


class StatusWatcher(Protocol):
    """What an :class:`EnvironContext` reports the response status to (the middleware).

    ``extensions`` is the app's: with Flask-Limiter in it, every status gets a look.
    """

    extensions: dict[str, Any]
    pipeline: Pipeline | None
    user_loader: UserLoader | None

    def observe(self, ctx: EnvironContext, status_line: str) -> None: ...


class EnvironContext(LazyRequestContext):
    """The context of one Flask request, built from its WSGI environ when an event needs it.

    Built on the first event, not when the request starts: by then any ``ProxyFix``
    has rewritten ``REMOTE_ADDR`` in the same environ, whichever side of secmon it
    wraps, so secmon sees the address Flask sees (and keeps the proxy's as
    ``peer_ip``). It is also the ``start_response`` the app is called with: the
    response status arrives where the request's context is, in one object.
    """

    __slots__ = ("start_response", "watcher")
    source: WSGIEnvironment

    def __init__(
        self, environ: WSGIEnvironment, start_response: StartResponse, watcher: StatusWatcher
    ) -> None:
        self.source = environ
        self.pipeline = watcher.pipeline
        self.start_response = start_response
        self.watcher = watcher

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None = None,
    ) -> Callable[[bytes], object]:
        # Only 4xx statuses map to events; any status may follow a rate-limit breach.
        if status[0] == "4" or "limiter" in self.watcher.extensions:
            self.watcher.observe(self, status)
        return self.start_response(status, headers, exc_info)

    def resolve(self) -> dict[str, Any]:
        environ = self.source
        return {
            "method": environ.get("REQUEST_METHOD"),
            "path": _decode(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/",
            "query": environ.get("QUERY_STRING") or None,
            "peer": environ.get("REMOTE_ADDR") or None,
            "header": self._header_from_environ,
            "user_loader": self.watcher.user_loader,
            "host": environ.get("HTTP_HOST") or None,
            "route": self._route(),
        }

    def _complete(self) -> None:
        super()._complete()
        original = self.source.get(PROXY_FIX_ORIGINAL)
        proxy = original.get("REMOTE_ADDR") if isinstance(original, dict) else None
        if proxy and proxy != self.peer:
            # ProxyFix replaced the TCP peer with a forwarded address: keep both.
            self.extra.setdefault("peer_ip", proxy)

    def _header_from_environ(self, name: str) -> str | None:
        """A request header by name (CGI-style environ key)."""
        key = name.upper().replace("-", "_")
        if key not in _UNPREFIXED_HEADERS:
            key = "HTTP_" + key
        value = self.source.get(key)
        return value if isinstance(value, str) else None

    def _route(self) -> str | None:
        """The URL rule ("/users/<int:user_id>") Flask matched, while the request is on."""
        if not has_request_context() or request.environ is not self.source:
            return None
        rule = request.url_rule
        return rule.rule if rule is not None else None


def _decode(wsgi_text: str) -> str:
    # WSGI carries the path as latin-1-decoded bytes; the URL itself is UTF-8 (as in Werkzeug).
    try:
        return wsgi_text.encode("latin-1").decode("utf-8", "replace")
    except UnicodeError:
        return wsgi_text
