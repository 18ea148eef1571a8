from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from secmon.config import ConfigError, Settings
from secmon.state import Claim, Hit, Replace, Take, build_state
from secmon.state.redis import RedisState

from .servers import SHARED_REDIS_URL, PrivateRedis, mute_port, private_redis, shared_redis

pytestmark = pytest.mark.redis


class Status:
    """Records what the state tells the engine about its backend."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, str]] = []
        self.changed = threading.Event()

    def __call__(self, available: bool, reason: str) -> None:
        self.calls.append((available, reason))
        self.changed.set()

    def wait(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count:
            assert time.monotonic() < deadline, f"status calls: {self.calls}"
            self.changed.wait(0.05)
            self.changed.clear()


def make_state(url: str, status: Status, app: str = "test", timeout: float = 0.05) -> RedisState:
    return RedisState(url, timeout=timeout, prefix=f"secmon:{app}:", max_keys=1000,
                      on_status=status, probe_interval=(0.05, 0.2))


@pytest.fixture
def state(redis_app: str) -> Iterator[RedisState]:
    state = make_state(SHARED_REDIS_URL, Status(), redis_app, timeout=2.0)
    yield state
    state.close()


def test_counts_exactly_and_expires_by_the_server_clock(state: RedisState, redis_app: str) -> None:
    assert state.run([Hit("k", 1.0)]) == [(1, True)]
    assert state.run([Hit("k", 1.0), Hit("k", 1.0)]) == [(2, True), (3, True)]
    client = shared_redis()
    key = f"secmon:{redis_app}:{{k}}"  # hash-tagged: one Cluster slot per key
    assert client.zcard(key) == 3
    assert 0 < client.pttl(key) <= 1000
    time.sleep(1.2)  # past the window: the old hits no longer count
    assert state.run([Hit("k", 1.0)]) == [(1, True)]


def test_inside_the_window_still_counts(state: RedisState) -> None:
    state.run([Hit("k", 3.0)])
    time.sleep(0.5)
    assert state.run([Hit("k", 3.0)]) == [(2, True)]


def test_distinct_members(state: RedisState) -> None:
    results = state.run([Hit("d", 60, b"alice"), Hit("d", 60, b"bob"), Hit("d", 60, b"alice")])
    assert results == [(1, True), (2, True), (2, False)]
    for i in range(10):
        state.run([Hit("capped", 60, str(i).encode(), 4)])
    assert state.run([Hit("capped", 60, b"9", 4)]) == [(4, False)]  # the newest were kept
    assert state.run([Hit("capped", 60, b"0", 4)]) == [(4, True)]


def test_take_replace_claim(state: RedisState) -> None:
    state.run([Hit("t", 60), Hit("t", 60)])
    assert state.run([Take("t", 60), Take("t", 60)]) == [2, 0]
    assert state.run([Replace("r", b"one", 60)]) == [None]
    time.sleep(0.2)
    [(value, age)] = state.run([Replace("r", b"two", 60)])
    assert value == b"one"
    assert 0.15 < age < 5
    [first, (claimed, remaining)] = state.run([Claim("c", 60), Claim("c", 60)])
    assert first == (True, 60)
    assert claimed is False and 59 < remaining <= 60


def test_concurrent_updates_are_atomic(state: RedisState) -> None:
    counts: list[int] = []

    def worker() -> None:
        for _ in range(100):
            counts.append(state.run([Hit("shared", 60)])[0][0])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 801))  # every hit saw its own, distinct count


def test_scripts_are_reloaded_after_a_flush() -> None:
    with private_redis() as server:
        state = make_state(server.url, Status())
        assert state.run([Hit("k", 60)]) == [(1, True)]
        redis.Redis(port=server.port).script_flush()
        assert state.run([Hit("k", 60), Claim("c", 60)]) == [(2, True), (True, 60)]
        assert not state.is_open
        state.close()


def test_closed_port_falls_back_at_once_and_reports_once() -> None:
    with private_redis() as server:
        port = server.port
    status = Status()
    state = make_state(f"redis://127.0.0.1:{port}/0", status)
    assert state.run([Hit("k", 60)]) == [(1, True)]  # from per-process memory
    assert state.is_open
    for _ in range(50):
        state.run([Hit("k", 60)])
    assert [available for available, _ in status.calls] == [False]
    assert "ConnectionError" in status.calls[0][1]
    stats = state.stats()
    assert stats["state.breaker"] == "open"
    assert stats["state.breaker_opened"] == 1
    assert stats["state.fallback_ops"] == 51
    state.close()


def test_a_server_that_never_answers_costs_one_timeout_then_nothing() -> None:
    with mute_port() as port:
        status = Status()
        state = make_state(f"redis://127.0.0.1:{port}/0", status, timeout=0.05)
        started = time.perf_counter()
        assert state.run([Hit("k", 60)]) == [(1, True)]
        first = time.perf_counter() - started
        later = []
        for _ in range(200):
            started = time.perf_counter()
            state.run([Hit("k", 60)])
            later.append(time.perf_counter() - started)
        state.close()
    assert first < 1.0  # one short timeout, not redis-py's default of seconds
    assert statistics.median(later) < 0.001  # the breaker is open: memory only
    assert [available for available, _ in status.calls] == [False]
    assert "Timeout" in status.calls[0][1]


def test_recovers_when_redis_is_back() -> None:
    server = PrivateRedis()
    server.start()
    try:
        status = Status()
        state = make_state(server.url, status)
        assert state.run([Hit("k", 60)]) == [(1, True)]
        server.stop()
        state.run([Hit("k", 60)])
        assert state.is_open
        server.start()  # same port
        status.wait(2)
        assert status.calls[0][0] is False and status.calls[1][0] is True
        assert not state.is_open
        # Back on Redis (a restarted server without persistence: it starts empty).
        assert state.run([Hit("k", 60)]) == [(1, True)]
        assert redis.Redis(port=server.port).keys("secmon:*") == [b"secmon:test:{k}"]
        assert state.stats()["state.recovered"] == 1
        state.close()
    finally:
        server.stop()


def test_repr_and_errors_never_show_the_password() -> None:
    status = Status()
    with mute_port() as port:
        state = make_state(f"redis://:hunter2secret@127.0.0.1:{port}/0", status)
        state.run([Hit("k", 60)])
        state.close()
    assert "hunter2secret" not in repr(state)
    assert "hunter2secret" not in str(state.stats())
    assert all("hunter2secret" not in reason for _, reason in status.calls)
    settings = Settings.build(env={}, state_backend=f"redis://:hunter2secret@127.0.0.1:{port}/0")
    assert "hunter2secret" not in repr(settings)
    assert settings.public_dict()["STATE_BACKEND"] == f"redis://(credentials)@127.0.0.1:{port}/0"


def test_bad_urls_name_the_setting_without_echoing_them() -> None:
    settings = Settings.build(env={}, state_backend="redis://:pw-xyz@127.0.0.1:6379/notadb")
    with pytest.raises(ConfigError) as caught:
        build_state(settings, Status())
    assert caught.value.key == "STATE_BACKEND"
    assert "pw-xyz" not in str(caught.value)
