"""A Django request as secmon's request context: headers, peer and user, read only when needed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from typing import Any

from django.utils.functional import SimpleLazyObject, empty

from ..context import LazyRequestContext, RequestContext, bind_request, current, reset_request
from ..web import STATUS_EVENTS

_UNPREFIXED = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def check_name(name: str) -> str:
    """``DisallowedHost`` -> ``disallowed_host``: the reason naming a Django check."""
    return _WORD.sub("_", name).lower()


@lru_cache(maxsize=256)
def meta_key(header: str) -> str:
    """The ``request.META`` key of a lower-case header name."""
    return _UNPREFIXED.get(header) or "HTTP_" + header.upper().replace("-", "_")


class DjangoRequestContext(LazyRequestContext):
    """The context of one Django request, read from the request when an event first needs it."""

    __slots__ = ()

    def resolve(self) -> dict[str, Any]:
        request = self.source
        meta = request.META
        match = getattr(request, "resolver_match", None)
        return {
            "method": request.method,
            "path": request.path,
            "query": meta.get("QUERY_STRING") or None,
            "peer": meta.get("REMOTE_ADDR"),
            "header": partial(_header, meta),
            "user_loader": partial(load_user, request),
            "host": meta.get("HTTP_HOST") or meta.get("SERVER_NAME"),
            "route": (match.route or None) if match is not None else None,
        }


def _header(meta: Any, name: str) -> str | None:
    value: str | None = meta.get(meta_key(name))
    return value


def load_user(request: Any) -> tuple[Any, Any] | None:
    """``(user id, None)`` of the authenticated user, or None; the user loader of a context."""
    user = request.__dict__.get("_acached_user")  # set by ``await request.auser()``
    if user is None:
        user = request.__dict__.get("user")
        if user is None:
            return None
        if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
            if _in_event_loop():
                return None  # loading it would query the database from async code
            _evaluate(request, user)
    if not getattr(user, "is_authenticated", False):
        return None
    return user.pk, None


def _evaluate(request: Any, user: Any) -> None:
    # Loading the user reads the session, which makes SessionMiddleware add "Vary: Cookie".
    # Monitoring must not change the response, so the session is marked as read only when
    # the application itself reads request.user (the django-structlog approach).
    session = request.__dict__.get("session")
    untouched = session is not None and getattr(session, "accessed", None) is False
    getattr(user, "is_authenticated", None)
    if untouched:
        session.accessed = False
        request.user = SimpleLazyObject(partial(_read_by_app, session, user))


def _read_by_app(session: Any, user: Any) -> Any:
    session.accessed = True
    return user


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextmanager
def in_request(request: Any) -> Iterator[RequestContext | None]:
    """The current context, or one bound for ``request`` (when the middleware has not)."""
    ctx = current()
    if ctx is not None or request is None or not hasattr(request, "META"):
        yield ctx
        return
    ctx = DjangoRequestContext(request)
    token = bind_request(ctx)
    try:
        yield ctx
    finally:
        reset_request(token)


def explain(ctx: RequestContext | None, status: int | None) -> None:
    """Record that the response status is already explained by a more specific event."""
    mapping = STATUS_EVENTS.get(status) if status is not None else None
    if ctx is not None and mapping is not None:
        ctx.emitted.add(mapping[0])


def view_fields(request: Any) -> dict[str, Any]:
    """The resolved view, route and URL arguments of ``request`` (when URL resolution ran)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return {}
    fields: dict[str, Any] = {"view": match.view_name}
    if match.route:
        fields["route"] = match.route
    if match.kwargs:
        fields["url_kwargs"] = dict(match.kwargs)
    return fields
