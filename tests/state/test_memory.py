from __future__ import annotations

import gc
import os
import threading

import pytest

from secmon.config import ConfigError, Settings
from secmon.state import Claim, Hit, Replace, Take, build_state
from secmon.state.memory import ENTRIES_PER_KEY, MemoryState

from .conftest import FakeClock


@pytest.fixture
def state(clock: FakeClock) -> MemoryState:
    return MemoryState(max_keys=1000, clock=clock)


def hit(state: MemoryState, key: str = "k", window: float = 10.0, member: bytes | None = None,
        cap: int = 10_000) -> tuple[int, bool]:
    result: tuple[int, bool] = state.run([Hit(key, window, member, cap)])[0]
    return result


def test_window_is_half_open(state: MemoryState, clock: FakeClock) -> None:
    assert hit(state) == (1, True)
    clock.advance(4)
    assert hit(state) == (2, True)
    clock.advance(5.999)  # the first hit is 9.999 s old: still inside a 10 s window
    assert hit(state)[0] == 3
    clock.advance(0.001)  # now exactly 10 s old: out
    assert hit(state)[0] == 3
    clock.advance(10)  # everything before is out
    assert hit(state)[0] == 1


def test_distinct_members_count_once_and_refresh(state: MemoryState, clock: FakeClock) -> None:
    assert hit(state, member=b"alice") == (1, True)
    assert hit(state, member=b"bob") == (2, True)
    assert hit(state, member=b"alice") == (2, False)
    clock.advance(6)
    assert hit(state, member=b"alice") == (2, False)  # refreshed: alice seen at t=6
    clock.advance(5)  # bob (t=0) is out, alice (t=6) still in
    assert hit(state, member=b"carol") == (2, True)
    assert hit(state, member=b"bob") == (3, True)


def test_counts_saturate_at_the_cap_keeping_the_newest(state: MemoryState) -> None:
    for _ in range(10):
        count, _ = hit(state, cap=4)
    assert count == 4
    for name in (b"a", b"b", b"c", b"d"):
        hit(state, "d", member=name, cap=3)
    assert hit(state, "d", member=b"d", cap=3) == (3, False)  # d is one of the newest three
    assert hit(state, "d", member=b"a", cap=3) == (3, True)  # a was dropped as the oldest


def test_take_counts_the_window_and_clears(state: MemoryState, clock: FakeClock) -> None:
    hit(state)
    clock.advance(5)
    hit(state)
    hit(state)
    clock.advance(6)  # the first is out
    assert state.run([Take("k", 10.0)]) == [2]
    assert state.run([Take("k", 10.0)]) == [0]
    assert hit(state) == (1, True)


def test_replace_returns_the_previous_value_and_its_age(state: MemoryState,
                                                        clock: FakeClock) -> None:
    assert state.run([Replace("v", b"one", 100)]) == [None]
    clock.advance(42)
    assert state.run([Replace("v", b"two", 100)]) == [(b"one", 42)]
    clock.advance(100)  # expired
    assert state.run([Replace("v", b"three", 100)]) == [None]


def test_claim_once_per_ttl(state: MemoryState, clock: FakeClock) -> None:
    assert state.run([Claim("c", 60), Claim("c", 60), Claim("other", 60)]) == [
        (True, 60), (False, 60), (True, 60)]
    clock.advance(59.5)
    assert state.run([Claim("c", 60)]) == [(False, 0.5)]
    clock.advance(0.5)
    assert state.run([Claim("c", 60)]) == [(True, 60)]


def test_least_recently_used_keys_go_first_and_are_counted(clock: FakeClock) -> None:
    state = MemoryState(max_keys=100, clock=clock)
    for i in range(100):
        hit(state, f"k{i}")
    hit(state, "k0")  # k0 is now the most recently used
    for i in range(100, 150):
        hit(state, f"k{i}")
    stats = state.stats()
    assert stats["state.keys"] == 100
    assert stats["state.evictions"] == 50
    assert hit(state, "k0")[0] == 3  # survived, with its two earlier hits
    assert hit(state, "k1")[0] == 1  # evicted earlier


def test_expired_keys_are_not_counted_as_evictions(clock: FakeClock) -> None:
    state = MemoryState(max_keys=10, clock=clock)
    for i in range(10):
        hit(state, f"old{i}", window=1)
    clock.advance(2)
    for i in range(10):
        hit(state, f"new{i}", window=1)
    assert state.stats()["state.evictions"] == 0
    assert state.stats()["state.expired"] == 10


def test_total_entries_are_bounded_too(clock: FakeClock) -> None:
    state = MemoryState(max_keys=10, clock=clock)
    budget = 10 * ENTRIES_PER_KEY
    for key in ("a", "b", "c"):
        for i in range(budget // 2):
            hit(state, key, member=str(i).encode(), cap=1000)
    stats = state.stats()
    assert stats["state.entries"] <= budget
    assert stats["state.evictions"] >= 1
    # The key being written is never the one evicted, whatever its size.
    assert hit(state, "c", member=b"0", cap=1000) == (budget // 2, False)


def test_a_million_distinct_usernames_stay_under_the_cap(clock: FakeClock) -> None:
    max_keys = 5000
    state = MemoryState(max_keys=max_keys, clock=clock)
    for i in range(1_000_000):
        name = f"user{i}".encode()
        state.run([
            Hit(f"per-user:{i}", 900, None, 10),
            Hit("per-ip:203.0.113.9", 3600, name, 40),
        ])
    stats = state.stats()
    assert stats["state.keys"] == max_keys
    assert stats["state.entries"] <= max_keys * ENTRIES_PER_KEY
    assert stats["state.evictions"] >= 1_000_000 - max_keys
    # The stuffing window kept counting while old keys went.
    assert state.run([Hit("per-ip:203.0.113.9", 3600, b"x", 40)])[0] == (40, True)


def test_a_full_state_adds_nothing_for_the_garbage_collector(state: MemoryState) -> None:
    state.run([Hit("count", 60), Hit("distinct", 60, b"alice"), Replace("value", b"v", 60),
               Claim("claim", 60)])
    gc.collect()  # tuples of plain values are untracked by a collection
    assert not any(gc.is_tracked(entry) for entry in state._data.values())


def test_threads_do_not_lose_updates(state: MemoryState) -> None:
    def worker() -> None:
        for _ in range(500):
            state.run([Hit("shared", 60.0)])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.run([Take("shared", 60.0)]) == [4000]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_usable_in_a_forked_child_even_if_the_lock_was_held(state: MemoryState) -> None:
    hit(state)
    state._lock.acquire()  # as if another thread held it at fork time
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        try:
            os._exit(0 if hit(state)[0] == 2 else 1)
        finally:
            os._exit(2)
    state._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_build_state_from_the_setting() -> None:
    settings = Settings.build(env={}, state_backend="memory://", state_memory_max_keys=77)
    state = build_state(settings, lambda up, reason: None)
    assert isinstance(state, MemoryState)
    assert state.max_keys == 77


@pytest.mark.parametrize("url", ["memcached://localhost", "localhost:6379", "postgres://x"])
def test_unknown_backends_name_the_setting(url: str) -> None:
    settings = Settings.build(env={}, state_backend=url)
    with pytest.raises(ConfigError) as caught:
        build_state(settings, lambda up, reason: None)
    assert caught.value.key == "STATE_BACKEND"
