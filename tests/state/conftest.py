from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from .servers import delete_keys, shared_redis


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def redis_app(request: pytest.FixtureRequest) -> Iterator[str]:
    """An app name of this test's own: its keys in the shared Redis database are removed."""
    app = "test-" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    client = shared_redis()
    delete_keys(client, f"secmon:{app}:*")
    yield app
    delete_keys(client, f"secmon:{app}:*")
    client.close()
