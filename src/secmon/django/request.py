"""A Django request as secmon's request context: headers, peer and user, read only when needed."""

from __future__ import annotations

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
    """``(user id, None)`` of the request's user as far as the app has loaded it, or None.

    The user loader of a context, asked for each event. It never loads anything itself:
    evaluating ``request.user`` reads the session (a query, and ``Vary: Cookie`` on the
    response) and the user (another query), and may flush a session whose password hash
    no longer matches. So it takes the user the app evaluated, if it has; else the id the
    session holds, if the app read the session; else nobody.
    """
    user = request.__dict__.get("_acached_user")  # set by ``await request.auser()``
    if user is None:
        user = request.__dict__.get("user")
        if isinstance(user, SimpleLazyObject):
            user = user._wrapped
            if user is empty:
                return _session_user(request)
        elif user is None:
            return _session_user(request)
    if not getattr(user, "is_authenticated", False):
        return None
    return user.pk, None


def _session_user(request: Any) -> tuple[Any, Any] | None:
    """The id ``login()`` stored in the session, if the session was loaded already."""
    from django.contrib.auth import SESSION_KEY, get_user_model

    loaded = getattr(request.__dict__.get("session"), "__dict__", {}).get("_session_cache")
    stored = loaded.get(SESSION_KEY) if isinstance(loaded, dict) else None
    if stored is None:
        return None
    try:  # the session holds the key as a string; events name users by pk
        return get_user_model()._meta.pk.to_python(stored), None
    except Exception:
        return stored, None


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
