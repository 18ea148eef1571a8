from __future__ import annotations

import asyncio
import ipaddress

import pytest

import secmon
from secmon import context as _context
from secmon.config import Settings
from secmon.context import RequestContext, current, request_context

SETTINGS = Settings.build(env={})


def _headers(**values: str) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in values.items()}


def test_fields_of_a_request() -> None:
    ctx = RequestContext(method="GET", path="/a", query="b=1", peer="198.51.100.4",
                         header=_headers(user_agent="curl/8").get, host="example.com")
    fields = ctx.fields(SETTINGS)
    assert fields["method"] == "GET"
    assert fields["path"] == "/a?b=1"
    assert fields["source_ip"] == "198.51.100.4"
    assert "peer_ip" not in fields
    assert fields["user_agent"] == "curl/8"
    assert fields["host"] == "example.com"
    assert len(fields["request_id"]) == 24


def test_request_id_is_stable_and_generated_lazily() -> None:
    ctx = RequestContext(method="GET", path="/")
    assert ctx._request_id is None
    assert ctx.request_id(SETTINGS) == ctx.request_id(SETTINGS)


def test_incoming_request_id_only_when_trusted() -> None:
    headers = _headers(x_request_id="abc-123").get
    untrusted = RequestContext(method="GET", header=headers)
    assert untrusted.request_id(SETTINGS) != "abc-123"
    trusting = SETTINGS.with_changes(request_id_header="X-Request-ID")
    assert RequestContext(method="GET", header=headers).request_id(trusting) == "abc-123"
    forged = RequestContext(method="GET", header=_headers(x_request_id="a\nb").get)
    assert forged.request_id(trusting) != "a\nb"


def test_client_ip_behind_trusted_proxy_keeps_the_peer_too() -> None:
    settings = SETTINGS.with_changes(trusted_proxies=["10.0.0.0/8"])
    ctx = RequestContext(method="GET", peer="10.0.0.2",
                         header=_headers(x_forwarded_for="203.0.113.9").get)
    fields = ctx.fields(settings)
    assert fields["source_ip"] == "203.0.113.9"
    assert fields["peer_ip"] == "10.0.0.2"
    assert settings.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"),)


def test_user_loader_is_asked_per_event_until_the_user_is_set() -> None:
    # The loader reports what the app has loaded so far: later events may know more.
    known: list[tuple[int, str] | None] = [None]
    calls = []

    def load() -> tuple[int, str] | None:
        calls.append(1)
        return known[0]

    ctx = RequestContext(method="GET", user_loader=load)
    assert calls == []
    assert "user_id" not in ctx.fields(SETTINGS)
    known[0] = (7, "alice")
    assert ctx.fields(SETTINGS)["user_id"] == 7
    assert "user_id" not in ctx.fields(SETTINGS, user=False)
    assert len(calls) == 2
    ctx.set_user(8)
    assert ctx.fields(SETTINGS)["user_id"] == 8
    assert ctx.fields(SETTINGS, user=False)["user_id"] == 8
    assert len(calls) == 2


def test_failing_user_loader_and_header_getter_do_not_raise() -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("db down")

    ctx = RequestContext(method="GET", peer="1.2.3.4", header=boom, user_loader=boom)
    fields = ctx.fields(SETTINGS)
    assert "user_id" not in fields
    assert fields["source_ip"] == "1.2.3.4"


def test_set_user_and_bind_outside_a_request() -> None:
    with request_context(RequestContext()):
        secmon.set_user(5, "eve")
        secmon.bind(tenant="acme")
        fields = current().fields(SETTINGS)  # type: ignore[union-attr]
        assert fields["user_id"] == 5
        assert fields["tenant"] == "acme"
    assert current() is None


def test_context_does_not_leak_between_concurrent_tasks() -> None:
    async def handle(index: int) -> tuple[int, object]:
        with request_context(RequestContext(method="GET", peer=f"10.0.0.{index}")):
            secmon.set_user(index)
            await asyncio.sleep(0.001 * (index % 3))
            ctx = current()
            assert ctx is not None
            return index, ctx.fields(SETTINGS)["user_id"]

    async def main() -> list[tuple[int, object]]:
        return await asyncio.gather(*(handle(i) for i in range(50)))

    for index, user_id in asyncio.run(main()):
        assert index == user_id


class Source:
    """A framework's own request object, as an adapter may bind it instead of a context."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.context: RequestContext | None = None


def _context_of(source: Source) -> RequestContext:
    if source.fail:
        raise KeyError("off spec")
    if source.context is None:
        source.context = RequestContext(method="PUT", path="/src")
    return source.context


def test_a_bound_source_becomes_its_context_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_context._sources, Source, _context_of)
    source = Source()
    token = _context._current.set(source)
    try:
        assert source.context is None  # binding made nothing
        secmon.bind(tenant="acme")
        ctx = current()
        assert ctx is source.context is not None
        assert ctx.fields(SETTINGS)["tenant"] == "acme"
    finally:
        _context.reset_request(token)
    assert current() is None


@pytest.mark.parametrize("bound", [Source(fail=True), object()], ids=["failing", "unregistered"])
def test_a_source_without_a_context_is_no_request(
    monkeypatch: pytest.MonkeyPatch, bound: object
) -> None:
    monkeypatch.setitem(_context._sources, Source, _context_of)
    token = _context._current.set(bound)
    try:
        assert current() is None
    finally:
        _context.reset_request(token)
