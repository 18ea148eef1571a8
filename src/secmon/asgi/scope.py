"""The request context of one ASGI connection, built from its scope only when an event needs it."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ..context import LazyRequestContext, register_source

if TYPE_CHECKING:
    from .types import Scope

# Where a request's scope keeps what secmon knows of it: the context, once an event made
# one, and the response status (a plain store for a benign request, read by later events).
CONTEXT_KEY = "secmon.context"
STATUS_KEY = "secmon.status"


class ScopeContext(LazyRequestContext):
    """The context of one ASGI connection, built from its scope when an event first needs it.

    Besides what the scope says (method, path, peer, query, host, route), it
    reads headers from the scope on demand and the user from ``scope["user"]``
    (Starlette's ``AuthenticationMiddleware``). The response status lives in the
    scope, where the middleware puts it without making a context.
    """

    __slots__ = ()
    source: Scope

    @property
    def status(self) -> int | None:
        status: int | None = self.source.get(STATUS_KEY)
        return status

    @status.setter
    def status(self, value: int | None) -> None:
        self.source[STATUS_KEY] = value

    def resolve(self) -> dict[str, Any]:
        scope = self.source
        client = scope.get("client")
        route = scope.get("route")
        return {
            "method": scope.get("method"),
            "path": scope.get("path"),
            "query": bytes(scope.get("query_string") or b"").decode("latin-1") or None,
            "peer": str(client[0]) if client else None,
            "header": self._header_from_scope,
            "user_loader": self._user_from_scope,
            "host": self._header_from_scope("host"),
            # The route template ("/items/{item_id}") once the router has matched one.
            "route": getattr(route, "path", None) if route is not None else None,
        }

    def _header_from_scope(self, name: str) -> str | None:
        """A request header; repeated headers are joined with ", " (RFC 9110)."""
        key = name.lower().encode("latin-1")
        values = [value for field, value in self.source.get("headers") or () if field == key]
        return b", ".join(values).decode("latin-1") if values else None

    def _user_from_scope(self) -> tuple[Any, Any] | None:
        user = self.source.get("user")
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        return _attribute(user, "identity", "id"), _attribute(user, "display_name", "username")


def _attribute(user: Any, *names: str) -> Any:
    for name in names:
        value = None
        # Starlette's BaseUser raises NotImplementedError for what a subclass leaves out.
        with contextlib.suppress(Exception):
            value = getattr(user, name, None)
        if value is not None:
            return value
    return None


def context_of(scope: Scope) -> ScopeContext:
    """The context of the request ``scope`` belongs to: made on first use, then kept in it."""
    context = scope.get(CONTEXT_KEY)
    if context is None:
        # setdefault: two threads of one request (a sync endpoint's, a background task's)
        # that both get here first still end up with the same context.
        context = scope.setdefault(CONTEXT_KEY, ScopeContext(scope))
    if not isinstance(context, ScopeContext):  # something else took the key: ours wins
        context = scope[CONTEXT_KEY] = ScopeContext(scope)
    return context


# SecMonMiddleware binds the scope itself (a dict) as the current request.
register_source(dict, context_of)
