from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import secmon
from secmon import web
from secmon.context import RequestContext, request_context
from secmon.pipeline import Pipeline
from secmon.state.memory import MemoryState

from ..state.conftest import FakeClock, redis_app  # noqa: F401 - fixture
from ..state.servers import SHARED_REDIS_URL
from .receiver import Receiver, running_receiver


@contextmanager
def request_from(ip: str, user_id: Any = None, path: str = "/login") -> Iterator[RequestContext]:
    ctx = RequestContext(method="POST", path=path, peer=ip)
    if user_id is not None:
        ctx.set_user(user_id)
    with request_context(ctx):
        yield ctx


def fail_login(username: str, ip: str = "203.0.113.9") -> None:
    with request_from(ip):
        secmon.login_failed(username=username, reason="bad password")


def succeed_login(username: str, ip: str = "203.0.113.9", user_id: Any = 1) -> None:
    with request_from(ip):
        secmon.login_succeeded(user_id=user_id, username=username)


def deny(user_id: Any, ip: str = "203.0.113.9") -> None:
    with request_from(ip, user_id=user_id, path="/admin"):
        secmon.access_denied(resource_type="invoice", resource_id=1, reason="not owner")


def respond(status: int, ip: str = "203.0.113.9") -> None:
    with request_from(ip, path="/wp-admin.php"):
        web.report_status(status)


class Backend:
    """Builds pipelines whose detection state is memory (with a fake clock) or real Redis."""

    def __init__(self, kind: str, tmp_path: Path, clock: FakeClock, app: str) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.clock = clock
        self.app = app

    def configure(self, **settings: Any) -> Pipeline:
        settings.setdefault("environment", "test")
        settings.setdefault("outputs", [{"type": "file", "path": str(self.tmp_path / "sec.log")}])
        if self.kind == "redis":
            pipeline = secmon.configure(state_backend=SHARED_REDIS_URL, app_name=self.app,
                                        **settings)
        else:
            pipeline = secmon.configure(state_backend="memory://", **settings)
            assert pipeline.engine is not None
            pipeline.engine.state = MemoryState(clock=self.clock)  # type: ignore[attr-defined]
        return pipeline

    def advance(self, seconds: float) -> None:
        if self.kind == "redis":
            time.sleep(seconds)  # Redis windows run on the server's clock
        else:
            self.clock.advance(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Backend:
    app = request.getfixturevalue("redis_app") if request.param == "redis" else "app"
    return Backend(request.param, tmp_path, clock, app)


@pytest.fixture
def memory(tmp_path: Path, clock: FakeClock) -> Backend:
    return Backend("memory", tmp_path, clock, "app")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


Trigger = Callable[[int], None]
