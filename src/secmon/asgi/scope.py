"""The request context of one ASGI connection, built from its scope only when an event needs it."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ..context import LazyRequestContext

if TYPE_CHECKING:
    from .types import Scope


class ScopeContext(LazyRequestContext):
    """The context of one ASGI connection, built from its scope when an event first needs it.

    Besides what the scope says (method, path, peer, query, host, route), it
    reads headers from the scope on demand and the user from ``scope["user"]``
    (Starlette's ``AuthenticationMiddleware``).
    """

    __slots__ = ()
    source: Scope

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
