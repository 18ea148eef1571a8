"""The request context of one ASGI connection, built from its scope only when an event needs it."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ..context import RequestContext

if TYPE_CHECKING:
    from ..pipeline import Pipeline
    from .types import Scope

_SLOTS = frozenset(RequestContext.__slots__)


class ScopeContext(RequestContext):
    """A :class:`~secmon.context.RequestContext` over an ASGI scope, completed on first use.

    Creating one stores the scope and nothing else. The first time anything
    reads a field of the context (an event, ``secmon.bind()``), the rest is
    built from the scope: method, path, peer, query, host, route, a header
    getter and a loader for ``scope["user"]`` (Starlette's
    ``AuthenticationMiddleware``). A request that emits nothing pays for two
    attribute stores. What was set before that (the status, ``set_user()``)
    is kept.
    """

    __slots__ = ("scope",)

    def __init__(self, scope: Scope, pipeline: Pipeline | None) -> None:
        self.scope = scope
        self.pipeline = pipeline

    def __getattr__(self, name: str) -> Any:
        # Reached only for a slot not set yet: every other lookup finds its value first.
        if name not in _SLOTS:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self._complete()
        return object.__getattribute__(self, name)

    def _complete(self) -> None:
        try:
            full = self._from_scope()
        except Exception:  # a scope off the ASGI spec: keep what can be kept
            full = RequestContext(header=self._header_from_scope)
        for slot in _SLOTS:
            try:
                object.__getattribute__(self, slot)
            except AttributeError:
                object.__setattr__(self, slot, object.__getattribute__(full, slot))

    def _from_scope(self) -> RequestContext:
        scope = self.scope
        client = scope.get("client")
        route = scope.get("route")
        return RequestContext(
            method=scope.get("method"),
            path=scope.get("path"),
            query=bytes(scope.get("query_string") or b"").decode("latin-1") or None,
            peer=str(client[0]) if client else None,
            header=self._header_from_scope,
            user_loader=self._user_from_scope,
            host=self._header_from_scope("host"),
            # The route template ("/items/{item_id}") once the router has matched one.
            route=getattr(route, "path", None) if route is not None else None,
        )

    def _header_from_scope(self, name: str) -> str | None:
        """A request header; repeated headers are joined with ", " (RFC 9110)."""
        key = name.lower().encode("latin-1")
        values = [value for field, value in self.scope.get("headers") or () if field == key]
        return b", ".join(values).decode("latin-1") if values else None

    def _user_from_scope(self) -> tuple[Any, Any] | None:
        user = self.scope.get("user")
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
