"""Per-request context in a contextvar; the costly parts resolve only when an event needs them."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from . import clientip

if TYPE_CHECKING:
    from .config import Settings

HeaderGetter = Callable[[str], "str | None"]
UserLoader = Callable[[], "tuple[Any, Any] | None"]

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def new_request_id() -> str:
    return os.urandom(12).hex()


class RequestContext:
    """What an event needs to know about the request it happens in.

    Adapters create one per request with the raw pieces they already hold
    (a header getter, the peer address, a user loader); the request id,
    client address and user are worked out on first use, so a benign request
    that emits nothing pays only for creating this object.

    ``pipeline`` is the :class:`secmon.pipeline.Pipeline` an adapter binds to its
    requests (several Flask apps in one process). The pipeline reads the context,
    not the other way round: to this module it is an opaque reference.

    The user loader reports only what the app itself has loaded by then (it must
    not load anything: that would change what the app does), so it is asked
    again for each event until :meth:`set_user` says who the user is.
    """

    __slots__ = (
        "_client_ip",
        "_fields",
        "_header",
        "_request_id",
        "_user_loader",
        "_user_set",
        "emitted",
        "extra",
        "host",
        "method",
        "path",
        "peer",
        "pipeline",
        "query",
        "route",
        "status",
        "user_id",
        "username",
    )

    def __init__(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        query: str | None = None,
        peer: str | None = None,
        header: HeaderGetter | None = None,
        user_loader: UserLoader | None = None,
        host: str | None = None,
        route: str | None = None,
        pipeline: object | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.peer = peer
        self.host = host
        self.route = route
        self.status: int | None = None
        self.pipeline = pipeline
        self.user_id: Any = None
        self.username: Any = None
        self.extra: dict[str, Any] = {}
        self.emitted: set[str] = set()
        self._header = header
        self._user_loader = user_loader
        self._user_set = False
        self._request_id: str | None = None
        self._client_ip: str | None = None
        self._fields: dict[str, Any] | None = None

    def header(self, name: str) -> str | None:
        """A request header by lower-case name, or None."""
        if self._header is None:
            return None
        try:
            return self._header(name)
        except Exception:
            return None

    def request_id(self, settings: Settings) -> str:
        if self._request_id is None:
            incoming = (
                self.header(settings.request_id_header) if settings.request_id_header else None
            )
            if incoming and _VALID_REQUEST_ID.fullmatch(incoming):
                self._request_id = incoming
            else:
                self._request_id = new_request_id()
        return self._request_id

    def client_ip(self, settings: Settings) -> str:
        if self._client_ip is None:
            header = None
            if settings.trusted_proxies:
                header = self.header(settings.client_ip_header)
            self._client_ip = clientip.resolve(
                self.peer,
                header,
                settings.trusted_proxies,
                forwarded=settings.client_ip_header == "forwarded",
            )
        return self._client_ip

    def set_user(self, user_id: Any = None, username: Any = None) -> None:
        self.user_id = user_id
        self.username = username
        self._user_set = True

    def _loaded_user(self) -> tuple[Any, Any]:
        if self._user_set or self._user_loader is None:
            return self.user_id, self.username
        try:
            loaded = self._user_loader()
        except Exception:
            loaded = None
        return loaded if loaded is not None else (None, None)

    def fields(self, settings: Settings, *, user: bool = True) -> dict[str, Any]:
        """The context's event fields (raw: the pipeline sanitizes them with the event).

        ``user=False`` leaves the user loader alone (detection signals keyed by address).
        """
        if self._fields is None:
            fields: dict[str, Any] = {}
            if self.method is not None or self.path is not None or self.peer is not None:
                source_ip = self.client_ip(settings)
                fields["source_ip"] = source_ip
                if self.peer and source_ip != self.peer:
                    fields["peer_ip"] = self.peer
                user_agent = self.header("user-agent")
                if user_agent:
                    fields["user_agent"] = user_agent
                fields["request_id"] = self.request_id(settings)
            if self.method is not None:
                fields["method"] = self.method
            if self.path is not None:
                fields["path"] = f"{self.path}?{self.query}" if self.query else self.path
            if self.host is not None:
                fields["host"] = self.host
            if self.route is not None:
                fields["route"] = self.route
            fields.update(self.extra)
            self._fields = fields
        user_id, username = self._loaded_user() if user else (self.user_id, self.username)
        if user_id is None and username is None and self.status is None:
            return self._fields
        result: dict[str, Any] = {}
        if user_id is not None:
            result["user_id"] = user_id
        if username is not None:
            result["username"] = username
        result.update(self._fields)
        if self.status is not None:
            result["status"] = self.status
        return result

    def bind(self, **fields: Any) -> None:
        self.extra.update(fields)
        self._fields = None


_SLOTS = frozenset(RequestContext.__slots__)


class LazyRequestContext(RequestContext):
    """A :class:`RequestContext` over a framework's request, completed on first use.

    Adapters subclass it and implement :meth:`resolve`. Creating one stores the
    framework object (``source``) and the pipeline, nothing else, so a benign
    request pays for two attribute stores. The first read of any other field
    (an event, ``secmon.bind()``) lands in ``__getattr__`` (an unset slot) and
    fills every field from ``resolve()``, keeping what was set before (a
    status, ``set_user()``).
    """

    __slots__ = ("source",)

    def __init__(self, source: Any, pipeline: object | None = None) -> None:
        self.source = source
        self.pipeline = pipeline

    def resolve(self) -> dict[str, Any]:
        """The keyword arguments of :class:`RequestContext` for ``source``."""
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        # Reached only for a slot not set yet: every other lookup finds its value first.
        if name not in _SLOTS:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self._complete()
        return object.__getattribute__(self, name)

    def _complete(self) -> None:
        try:
            full = RequestContext(**self.resolve())
        except Exception:  # a request object off its framework's spec: keep what we have
            full = RequestContext()
        for slot in _SLOTS:
            try:
                object.__getattribute__(self, slot)
            except AttributeError:
                object.__setattr__(self, slot, object.__getattribute__(full, slot))


# The request being handled in this thread or task: its RequestContext, or the framework's
# own per-request object (an ASGI scope) when the adapter registered a way to make the
# context from it. Binding the framework's object allocates nothing, so a request that
# emits no event never builds a context; read it through current(), never directly.
_current: ContextVar[object] = ContextVar("secmon_request", default=None)
_sources: dict[type, Callable[[Any], RequestContext]] = {}


def register_source(kind: type, context_of: Callable[[Any], RequestContext]) -> None:
    """Let an adapter bind objects of type ``kind``; ``context_of(obj)`` makes (and keeps,
    in ``obj``) the request's context the first time an event needs it."""
    _sources[kind] = context_of


def current() -> RequestContext | None:
    """The context of the request being handled in this thread or task, if any."""
    value = _current.get()
    if value is None or isinstance(value, RequestContext):
        return value
    context_of = _sources.get(type(value))
    if context_of is None:
        return None
    try:
        context = context_of(value)
    except Exception:  # a request object off its framework's spec: no context, no failure
        return None
    return context if isinstance(context, RequestContext) else None


def bind_request(context: RequestContext) -> Token[object]:
    return _current.set(context)


def reset_request(token: Token[object]) -> None:
    try:
        _current.reset(token)
    except ValueError:
        # Reset from another context (e.g. a generator finished elsewhere): clear instead.
        _current.set(None)


@contextmanager
def request_context(context: RequestContext) -> Iterator[RequestContext]:
    token = bind_request(context)
    try:
        yield context
    finally:
        reset_request(token)


def set_user(user_id: Any = None, username: Any = None) -> None:
    """Tell secmon who the current request's user is (for apps with their own auth).

    Outside a request this binds a context for the current thread or task.
    """
    context = current()
    if context is None:
        context = RequestContext()
        _current.set(context)
    context.set_user(user_id, username)


def bind(**fields: Any) -> None:
    """Add fields to every event of the current request (or thread/task)."""
    context = current()
    if context is None:
        context = RequestContext()
        _current.set(context)
    context.bind(**fields)
