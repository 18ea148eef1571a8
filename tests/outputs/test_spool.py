"""The spool: order kept across memory and SPOOL_PATH, bounds, retries, exit, other processes."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from secmon.outputs.health import OutputHealth
from secmon.outputs.spool import Entry, Partial, Rejected, Spool, SpoolLimits

from .filesystems import fill, small_filesystem


class Sink:
    """A destination that is down until told otherwise, and records what it got."""

    def __init__(self) -> None:
        self.up = False
        self.got: list[bytes] = []
        self.attempts = 0
        self.fail_after: int | None = None  # deliver this many, then fail (a partial write)
        self.refuse: set[bytes] = set()

    def __call__(self, entries: Sequence[Entry]) -> None:
        self.attempts += 1
        if not self.up:
            raise OSError(28, "No space left on device")
        if any(e.data in self.refuse for e in entries):
            raise Rejected("refused")
        for done, entry in enumerate(entries):
            if self.fail_after is not None and done == self.fail_after:
                self.fail_after = None
                raise Partial(done, OSError(5, "Input/output error"))
            self.got.append(entry.data)


class Told:
    """What the output's health said, as events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event_type: str, /, **fields: Any) -> None:
        self.events.append((event_type, fields))

    def of(self, event_type: str) -> list[dict[str, Any]]:
        return [fields for kind, fields in self.events if kind == event_type]


def make(sink: Sink, told: Told | None = None, name: str = "audit", key: str = "/var/a.log",
         **limits: Any) -> Spool:
    health = OutputHealth(name, key)
    health.emit = told
    spool = Spool(name, key, health, sink, SpoolLimits(**limits), batch=4,
                  retry=(0.02, 0.05))
    return spool


def records(*numbers: int, chain: str = "c1") -> list[Entry]:
    return [Entry("r", b"%d" % n, chain, n) for n in numbers]


def wait(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_records_wait_then_land_in_order_found_by_the_spools_own_retries() -> None:
    sink, told = Sink(), Told()
    spool = make(sink, told)
    spool.put(records(1), OSError(28, "No space left on device"))
    spool.put(records(2, 3, 4, 5, 6))
    assert spool.waiting() and len(spool) == 6
    time.sleep(0.3)
    assert sink.got == [] and sink.attempts <= 10  # a try every 20-50 ms, not per record
    sink.up = True  # no new record comes: the thread notices
    wait(lambda: not spool.waiting())
    assert sink.got == [b"1", b"2", b"3", b"4", b"5", b"6"]
    wait(lambda: told.of("sys_monitor_enabled"))  # told from a thread, after
    [disabled] = told.of("sys_monitor_disabled")
    assert disabled["error"] == "No space left on device"
    [enabled] = told.of("sys_monitor_enabled")
    assert (enabled["spooled_records"], enabled["lost_records"]) == (6, 0)
    spool.close()


def test_past_the_bound_the_oldest_are_dropped_and_declared_lost_by_seq() -> None:
    sink, told = Sink(), Told()
    spool = make(sink, told, max_records=3)
    spool.put(records(*range(1, 9)), OSError(28, "full"))
    assert len(spool) == 3
    sink.up = True
    assert spool.flush()
    assert sink.got == [b"6", b"7", b"8"]
    spool.health.join()
    [enabled] = told.of("sys_monitor_enabled")
    assert enabled["lost_records"] == 5
    assert enabled["lost"] == [{"chain": "c1", "first": 1, "last": 5}]
    assert spool.stats() == {"spooled": 0, "spool_dropped": 5}
    spool.close()


def test_the_memory_bound_is_in_bytes_too() -> None:
    sink = Sink()
    spool = make(sink, max_bytes=25)
    spool.put([Entry("r", b"x" * 10) for _ in range(5)], OSError(28, "full"))
    assert len(spool) == 2  # 2 x 11 bytes (data and kind) fit in 25
    spool.close(attempt=False)


def test_past_memory_records_go_to_spool_path_and_keep_their_order(tmp_path: Path) -> None:
    sink = Sink()
    spool = make(sink, max_records=3, path=tmp_path)
    spool.retry = (60.0, 60.0)  # only the flushes below try
    spool.put(records(*range(1, 11)), OSError(28, "full"))
    [file] = list(tmp_path.iterdir())
    header, *lines = file.read_bytes().splitlines()
    assert header.startswith(b"#secmon spool, delivered up to ")
    assert lines == [b"r %d" % n for n in range(4, 11)]
    assert len(spool) == 10
    spool.put(records(11))  # after the file: it keeps taking the newest
    sink.up = True
    sink.fail_after = 2  # one try stops half-way: nothing is sent twice
    assert not spool.flush()
    assert spool.flush()
    assert sink.got == [b"%d" % n for n in range(1, 12)]
    assert file.read_bytes().splitlines() == [header]  # all delivered: emptied
    spool.close()
    assert list(tmp_path.iterdir()) == []


def test_a_refused_record_is_dropped_and_the_rest_go_on() -> None:
    sink, told = Sink(), Told()
    spool = make(sink, told)
    spool.put(records(1, 2, 3), OSError(28, "full"))
    sink.up = True
    sink.refuse = {b"2"}
    assert spool.flush()
    # Refused with its batch (one delivery is all or nothing), the rest delivered.
    assert sink.got == []
    spool.put(records(4, 5), OSError(28, "full"))
    sink.refuse = set()
    assert spool.flush()
    assert sink.got == [b"4", b"5"]
    spool.health.join()
    assert told.of("sys_monitor_enabled")[0]["lost"] == [{"chain": "c1", "first": 1,
                                                          "last": 3}]
    spool.close()


def test_put_never_waits_for_a_delivery_in_progress() -> None:
    release = threading.Event()

    def slow(entries: Sequence[Entry]) -> None:
        release.wait(10)
        raise OSError(110, "Connection timed out")

    health = OutputHealth("siem", "syslog tcp 192.0.2.1:514")
    spool = Spool("siem", "siem", health, slow, retry=(0.0, 0.0))
    spool.put(records(1), OSError(110, "Connection timed out"))
    time.sleep(0.05)  # the spool's thread is now stuck in the delivery
    started = time.perf_counter()
    for n in range(2, 1000):
        spool.put(records(n))
    assert time.perf_counter() - started < 0.5
    release.set()
    spool.close(timeout=0.1, attempt=False)


def test_at_exit_what_waits_is_lost_without_spool_path_and_said_so(
    capfd: pytest.CaptureFixture[str],
) -> None:
    spool = make(Sink())
    spool.put(records(4, 5, 6, 9), OSError(28, "full"))
    spool.put(Entry("r", b"not signed"))
    spool.close()
    err = capfd.readouterr().err
    assert ("output audit exits with 5 records it could not write to /var/a.log "
            "(audit seq 4-6, 9 of chain c1): they are lost") in err
    assert spool.stats()["spool_dropped"] == 5


def test_at_exit_what_waits_is_kept_and_the_next_process_delivers_it_first(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    first = make(Sink(), max_records=2, path=tmp_path)
    first.put(records(1, 2, 3, 4, 5), OSError(28, "full"))
    first.close()
    assert "exits with 5 records" in capfd.readouterr().err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n.rsplit(".", 2)[-2] for n in names] == ["0", "1"]  # memory (older), then file
    other = make(Sink(), name="security", max_records=2, path=tmp_path)
    assert not other.waiting()  # another output's files are not its own
    sink, told = Sink(), Told()
    sink.up = True
    after = make(sink, told, max_records=2, path=tmp_path)
    after.put(records(1, chain="c2"))  # this process's own: behind the earlier ones
    wait(lambda: not after.waiting())
    assert sink.got == [b"1", b"2", b"3", b"4", b"5", b"1"]
    assert list(tmp_path.iterdir()) == []
    wait(lambda: told.of("sys_monitor_enabled"))  # told from a thread, after
    [enabled] = told.of("sys_monitor_enabled")
    assert enabled["earlier_records"] == 5
    for spool in (other, after):
        spool.close()


def test_a_living_processs_spool_file_is_not_taken(tmp_path: Path) -> None:
    living = make(Sink(), max_records=1, path=tmp_path)
    living.put(records(1, 2, 3), OSError(28, "full"))  # holds its file, locked
    sink = Sink()
    sink.up = True
    other = make(sink, path=tmp_path)
    assert not other.waiting() and other.flush() and sink.got == []
    living.close(attempt=False)
    other.close()


def test_a_spool_file_cut_short_loses_only_its_last_line(tmp_path: Path) -> None:
    prefix = make(Sink())._prefix
    (tmp_path / f"{prefix}1234-abcd.0.1.spool").write_bytes(b"r 1\nr 2\nr 3 cut sho")
    sink, told = Sink(), Told()
    sink.up = True
    spool = make(sink, told, path=tmp_path)
    wait(lambda: not spool.waiting())
    assert sink.got == [b"1", b"2"]
    wait(lambda: told.of("sys_monitor_enabled"))  # told from a thread, after
    [enabled] = told.of("sys_monitor_enabled")
    assert (enabled["earlier_records"], enabled["lost_records"]) == (2, 1)
    spool.close()


def test_a_process_that_died_mid_delivery_is_taken_over_from_where_it_was(
    tmp_path: Path,
) -> None:
    dying = make(Sink(), max_records=1, path=tmp_path)
    dying.put(records(1, 2, 3, 4), OSError(28, "full"))  # 1 in memory, 2-4 in its file
    [file] = list(tmp_path.iterdir())
    data = file.read_bytes()
    header = data.split(b"\n", 1)[0] + b"\n"
    # It delivered 2 (its header says so) and died: its file is all that is left of it.
    delivered = len(header) + len(b"r 2\n")
    file.write_bytes(b"#secmon spool, delivered up to %019d\n" % delivered + data[len(header):])
    dying.after_fork()  # lets go of its file as a dead process would
    sink = Sink()
    sink.up = True
    after = make(sink, path=tmp_path)
    wait(lambda: not after.waiting())
    assert sink.got == [b"3", b"4"]
    assert list(tmp_path.iterdir()) == []
    after.close()


def test_settle_keeps_what_waits_in_spool_path_and_goes_on_delivering(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sink = Sink()
    spool = make(sink, max_records=2, path=tmp_path)
    spool.put(records(1, 2, 3, 4), OSError(28, "full"))  # 1-2 in memory, 3-4 in its file
    spool.settle()
    assert "has 4 records it could not write to /var/a.log yet: kept in" in \
        capfd.readouterr().err
    assert sorted(p.name.rsplit(".", 3)[1:3] for p in tmp_path.iterdir()) == [
        ["0", "0"], ["0", "1"]]  # memory (older), then the file that took the rest
    spool.put(records(5))  # after them
    sink.up = True
    wait(lambda: not spool.waiting())
    assert sink.got == [b"1", b"2", b"3", b"4", b"5"]
    assert list(tmp_path.iterdir()) == []
    spool.close()


def test_settle_without_spool_path_says_what_a_sudden_end_would_lose(
    capfd: pytest.CaptureFixture[str],
) -> None:
    sink = Sink()
    spool = make(sink)
    spool.put(records(7, 8), OSError(28, "full"))
    spool.settle()
    assert ("output audit has 2 records it could not write to /var/a.log (audit seq 7-8 of "
            "chain c1): they are lost if this process ends now") in capfd.readouterr().err
    sink.up = True
    assert spool.flush() and sink.got == [b"7", b"8"]  # still held, and delivered
    spool.close()


def test_a_full_spool_path_falls_back_to_memory_alone(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "tiny", size="64k") as tiny:
        fill(tiny / "filler")
        sink = Sink()
        spool = make(sink, max_records=3, path=tiny)
        spool.put(records(*range(1, 8)), OSError(28, "full"))
        assert len(spool) == 3  # the newest three: the file could take none
        sink.up = True
        assert spool.flush()
        assert sink.got == [b"5", b"6", b"7"]
        spool.close()


def test_a_forked_child_starts_with_an_empty_spool() -> None:
    sink = Sink()
    spool = make(sink)
    spool.put(records(1, 2), OSError(28, "full"))
    pid = os.fork()
    if pid == 0:
        code = 0 if (len(spool), spool.waiting()) == (0, False) else 1
        os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
    assert len(spool) == 2
    sink.up = True
    assert spool.flush() and sink.got == [b"1", b"2"]
    spool.close()
