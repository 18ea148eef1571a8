from __future__ import annotations

from typing import Any

import pytest
from starlette.authentication import BaseUser, SimpleUser, UnauthenticatedUser

from secmon.asgi.scope import ScopeContext
from secmon.config import Settings
from secmon.context import RequestContext

from .asgi_calls import PEER, http_scope

SETTINGS = Settings.build(env={})


class CountingHeaders(list[tuple[bytes, bytes]]):
    """Scope headers that count how often they are scanned."""

    scans = 0

    def __iter__(self) -> Any:
        type(self).scans += 1
        return super().__iter__()


class Member(BaseUser):
    """A user model that only has an ``id`` (``identity`` is left to the base class)."""

    def __init__(self, user_id: int) -> None:
        self.id = user_id

    @property
    def is_authenticated(self) -> bool:
        return True


def test_nothing_is_read_from_the_scope_until_an_event_needs_it() -> None:
    scope = http_scope(headers=[("user-agent", "curl/8")])
    scope["headers"] = CountingHeaders(scope["headers"])
    CountingHeaders.scans = 0
    context = ScopeContext(scope, None)
    context.status = 200
    assert CountingHeaders.scans == 0
    fields = context.fields(SETTINGS)
    assert CountingHeaders.scans > 0
    assert fields["user_agent"] == "curl/8"
    assert (fields["host"], fields["source_ip"], fields["status"]) == ("shop.example", PEER, 200)


def test_what_was_set_before_completion_is_kept() -> None:
    context = ScopeContext(http_scope(path="/a", query=b"page=2"), None)
    context.status = 403
    context.set_user(user_id=7, username="grace")
    context.bind(tenant="acme")
    fields = context.fields(SETTINGS)
    assert (fields["status"], fields["user_id"], fields["username"], fields["tenant"]) == (
        403, 7, "grace", "acme")
    assert (fields["path"], fields["method"]) == ("/a?page=2", "GET")


def test_every_request_context_slot_is_filled_and_nothing_is_shared() -> None:
    first, second = ScopeContext(http_scope(), None), ScopeContext(http_scope(), None)
    for slot in RequestContext.__slots__:
        getattr(first, slot)  # raises if a slot of the core's context were left unset
    first.emitted.add("authz_fail")
    first.bind(tenant="acme")
    assert (second.emitted, second.extra) == (set(), {})
    with pytest.raises(AttributeError):
        first.no_such_attribute  # noqa: B018


def test_repeated_headers_are_joined_in_order() -> None:
    scope = http_scope(headers=[("x-forwarded-for", "198.51.100.1"),
                                ("x-forwarded-for", "10.0.0.1")])
    assert ScopeContext(scope, None).header("x-forwarded-for") == "198.51.100.1, 10.0.0.1"
    assert ScopeContext(scope, None).header("X-Missing") is None


@pytest.mark.parametrize(
    ("user", "expected"),
    [(SimpleUser("bob"), ("bob", "bob")), (Member(42), (42, None)),
     (UnauthenticatedUser(), (None, None)), (None, (None, None))],
)
def test_user_from_the_scope(user: Any, expected: tuple[Any, Any]) -> None:
    scope = http_scope()
    if user is not None:
        scope["user"] = user
    context = ScopeContext(scope, None)
    fields = context.fields(SETTINGS)
    assert (fields.get("user_id"), fields.get("username")) == expected


def test_route_template_and_websocket_scope() -> None:
    class Route:
        path = "/items/{item_id}"

    scope = http_scope(path="/items/9")
    scope["route"] = Route()
    assert ScopeContext(scope, None).fields(SETTINGS)["route"] == "/items/{item_id}"
    websocket = {"type": "websocket", "path": "/ws", "headers": [], "client": (PEER, 1)}
    fields = ScopeContext(websocket, None).fields(SETTINGS)
    assert (fields["path"], fields["source_ip"]) == ("/ws", PEER)
    assert "method" not in fields


def test_a_scope_off_the_spec_still_gives_a_context() -> None:
    scope = http_scope(headers=[("user-agent", "odd")])
    scope["query_string"] = 12345
    fields = ScopeContext(scope, None).fields(SETTINGS)
    assert fields["user_agent"] == "odd"
