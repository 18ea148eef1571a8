from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

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
        # Back on Redis (a restarted server without persistence: it starts empty), with the
        # hit counted while it was away merged into it.
        assert "1 updates made meanwhile merged" in status.calls[1][1]
        assert state.run([Hit("k", 60)]) == [(2, True)]
        assert redis.Redis(port=server.port).keys("secmon:*") == [b"secmon:test:{k}"]
        assert state.stats()["state.recovered"] == 1
        assert state.stats()["state.journal"] == 0
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


# -- merging back what each worker counted while Redis was away ----------------------------


@pytest.fixture
def restarted() -> Iterator[tuple[PrivateRedis, list[RedisState], list[Status]]]:
    """Two workers' states on a private Redis; the test stops it and restarts it empty."""
    server = PrivateRedis()
    server.start()
    statuses = [Status(), Status()]
    states = [make_state(server.url, status) for status in statuses]
    try:
        yield server, states, statuses
    finally:
        for state in states:
            state.close()
        server.stop()


def _outage(server: PrivateRedis, states: list[RedisState], statuses: list[Status],
            during: Any) -> None:
    """Stop Redis, run ``during`` while it is away, start it again (empty); wait until
    every state that found it away has merged and closed its breaker."""
    server.stop()
    during()
    away = [i for i, state in enumerate(states) if state.is_open]
    assert away
    server.start()
    for i in away:
        statuses[i].wait(2)
    assert not any(state.is_open for state in states)


def test_hits_counted_by_each_worker_meanwhile_are_merged_once(restarted: Any) -> None:
    server, (a, b), statuses = restarted
    a.run([Hit("k", 60), Hit("k", 60)])  # before: gone with the restart

    def meanwhile() -> None:
        for _ in range(3):
            a.run([Hit("k", 60)])
        for _ in range(4):
            b.run([Hit("k", 60)])

    _outage(server, [a, b], statuses, meanwhile)
    assert a.run([Hit("k", 60)]) == [(8, True)]  # 3 + 4 from the outage, and this one
    assert b.run([Hit("k", 60)]) == [(9, True)]
    assert a.stats()["state.merged"] == 3 and b.stats()["state.merged"] == 4


def test_distinct_members_stay_distinct_across_workers(restarted: Any) -> None:
    server, (a, b), statuses = restarted

    def meanwhile() -> None:
        a.run([Hit("d", 60, b"alice")])
        b.run([Hit("d", 60, b"alice"), Hit("d", 60, b"bob")])

    _outage(server, [a, b], statuses, meanwhile)
    assert a.run([Hit("d", 60, b"carol")]) == [(3, True)]
    assert b.run([Hit("d", 60, b"alice")]) == [(3, False)]


def test_a_take_meanwhile_removes_what_came_before_it_only(restarted: Any) -> None:
    server, (a, b), statuses = restarted

    def meanwhile() -> None:
        a.run([Hit("t", 60), Hit("t", 60), Hit("t", 60)])
        a.run([Take("t", 60)])  # a successful login: the failures before it are taken
        time.sleep(0.01)
        b.run([Hit("t", 60)])  # after the take, by another worker

    _outage(server, [a, b], statuses, meanwhile)
    assert a.run([Take("t", 60)]) == [1]


def test_a_claim_meanwhile_keeps_the_subject_throttled_for_every_worker(
    restarted: Any,
) -> None:
    server, (a, b), statuses = restarted
    _outage(server, [a, b], statuses, lambda: a.run([Claim("alerted", 60)]))
    [(claimed, remaining)] = b.run([Claim("alerted", 60)])
    assert claimed is False and 55 < remaining <= 60


def test_a_replace_meanwhile_is_what_the_others_see_next(restarted: Any) -> None:
    server, (a, b), statuses = restarted
    _outage(server, [a, b], statuses, lambda: a.run([Replace("where", b"Lisbon", 60)]))
    [(value, age)] = b.run([Replace("where", b"Oslo", 60)])
    assert value == b"Lisbon" and 0 < age < 30


def test_what_expired_during_the_outage_is_not_merged(restarted: Any) -> None:
    server, (a, b), statuses = restarted

    def meanwhile() -> None:
        a.run([Hit("short", 0.3), Hit("long", 60)])
        time.sleep(0.5)

    _outage(server, [a, b], statuses, meanwhile)
    assert a.run([Hit("short", 0.3), Hit("long", 60)]) == [(1, True), (2, True)]
    assert a.stats()["state.merged"] == 1


def test_a_hit_that_reached_redis_before_the_timeout_counts_once() -> None:
    """Redis paused: the hit is sent, the reply times out (so it goes to memory and the
    journal too), and Redis applies it once the pause is over. Merged, it is the same entry."""
    with private_redis() as server:
        status = Status()
        state = make_state(server.url, status)
        assert state.run([Hit("k", 60)]) == [(1, True)]
        admin = redis.Redis(port=server.port)
        admin.execute_command("CLIENT", "PAUSE", "400", "ALL")
        assert state.run([Hit("k", 60)]) == [(1, True)]  # memory alone: it timed out
        assert state.is_open
        status.wait(2)
        assert state.stats()["state.merged"] == 1
        assert admin.zcard("secmon:test:{k}") == 2  # applied by Redis, merged: one entry
        assert state.run([Hit("k", 60)]) == [(3, True)]
        state.close()


def test_the_journal_is_bounded() -> None:
    with private_redis() as server:
        port = server.port
    state = RedisState(f"redis://127.0.0.1:{port}/0", timeout=0.05, prefix="secmon:t:",
                       max_keys=10, on_status=Status(), probe_interval=(30, 30))
    for i in range(25):
        state.run([Hit(f"k{i}", 60)])
    stats = state.stats()
    assert (stats["state.journal"], stats["state.merge_dropped"]) == (10, 15)
    state.close()
