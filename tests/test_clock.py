from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from secmon import clock
from secmon.state.memory import MemoryState


class Frozen:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def frozen() -> Iterator[Frozen]:
    source = Frozen(1772445600.25)  # 2026-03-02 10:00:00.25 UTC
    clock.use(source)
    yield source
    clock.use(None)


def test_event_time_and_windows_read_the_process_clock(frozen: Frozen) -> None:
    state = MemoryState()
    assert clock.utc_timestamp() == "2026-03-02T10:00:00.250000Z"
    assert state.clock() == clock.monotonic() == frozen.now
    frozen.now += 61
    assert clock.utc_timestamp() == "2026-03-02T10:01:01.250000Z"  # not the cached second
    assert state.clock() == frozen.now


def test_the_system_clock_by_default() -> None:
    clock.use(None)
    assert abs(clock.monotonic() - time.monotonic()) < 1
    stamp = datetime.fromisoformat(clock.utc_timestamp().replace("Z", "+00:00"))
    assert abs(stamp.timestamp() - time.time()) < 1
