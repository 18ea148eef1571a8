"""Redis closed, stopped mid-run or mute: requests go on, detection degrades, one event says so."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

import secmon
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents

from ..state.servers import PrivateRedis, mute_port
from .conftest import fail_login

pytestmark = pytest.mark.redis

TIMEOUT = 0.05


@contextmanager
def timed_detection(pipeline: Pipeline) -> Iterator[list[tuple[float, bool]]]:
    """Records the time detection adds to each event (what a request waits for), and
    whether the circuit breaker was already open when the event came."""
    engine: Any = pipeline.engine
    observe = engine.observe
    added: list[tuple[float, bool]] = []

    def timed(event: dict[str, Any], spec: Any) -> None:
        was_open = engine.state.is_open
        started = time.perf_counter()
        try:
            observe(event, spec)
        finally:
            added.append((time.perf_counter() - started, was_open))

    engine.observe = timed
    yield added


@pytest.mark.parametrize("outage", ["stopped mid-run", "closed port", "mute port"])
def test_requests_go_on_and_one_event_tells(outage: str, tmp_path: Path,
                                            secmon_events: CapturedEvents) -> None:
    with ExitStack() as stack:
        server = PrivateRedis()
        if outage == "stopped mid-run":
            server.start()
            stack.callback(server.stop)
            url = server.url
        elif outage == "closed port":
            url = f"redis://127.0.0.1:{server.port}/0"  # nothing listens there
        else:
            url = f"redis://127.0.0.1:{stack.enter_context(mute_port())}/0"
        pipeline = secmon.configure(
            environment="test", state_backend=url, state_timeout=TIMEOUT,
            outputs=[{"type": "file", "path": str(tmp_path / "security.log")}],
            detection={"brute_force": {"threshold": 5}},
        )
        with timed_detection(pipeline) as added:
            for i in range(300):
                if i == 100 and outage == "stopped mid-run":
                    server.stop()
                fail_login(f"user{i}")  # a new user each time: no detection fires
            for _ in range(5):
                fail_login("bob")  # detection still works, per process
        if outage == "stopped mid-run":
            server.start()
        disabled = secmon_events.of_type("sys_monitor_disabled")
        if outage == "stopped mid-run":
            deadline = time.monotonic() + 30
            while not secmon_events.of_type("sys_monitor_enabled"):
                assert time.monotonic() < deadline, "no sys_monitor_enabled after recovery"
                time.sleep(0.05)
            [enabled] = secmon_events.of_type("sys_monitor_enabled")
            assert enabled["monitor"] == "detection-state"
    assert secmon_events.types().count("authn_login_fail") == 305  # every request logged
    [event] = disabled
    assert event["monitor"] == "detection-state"
    assert event["backend"] == "redis"
    assert event["reason"]
    assert len(secmon_events.of_type("authn_login_fail_max")) == 1  # bob, from memory
    slowest = max(seconds for seconds, _ in added)
    after_open = [seconds for seconds, was_open in added if was_open]
    assert slowest < 1.0  # one short timeout at most, never redis-py's default seconds
    assert len(after_open) >= 200
    assert statistics.median(after_open) < 0.001
    print(f"{outage}: slowest {slowest * 1000:.1f} ms, median once open "
          f"{statistics.median(after_open) * 1e6:.0f} us")
    stats = pipeline.stats()
    assert stats["state.breaker_opened"] == 1
    assert stats["state.fallback_ops"] > 0
