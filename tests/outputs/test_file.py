"""The file output: rotation, compression, retention, many writers, and a disk that fills up."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

import secmon
from secmon.config import ConfigError, Settings
from secmon.outputs import build
from secmon.outputs.file import FileOutput, log_family, sort_in_rotation_order
from secmon.verify import verify_files

from ..conftest import read_lines
from .filesystems import fill, small_filesystem

KEY = b"f" * 32
DAY = 86400


def _output(path: Path, **spec: Any) -> FileOutput:
    output = build("OUTPUTS[0]", {"type": "file", "path": str(path), **spec},
                   Settings.build(env={}))
    assert isinstance(output, FileOutput)
    return output


def _all_lines(directory: Path, name: str) -> list[bytes]:
    """Every line of a log and its rotated files, in rotation order."""
    lines: list[bytes] = []
    for path in sort_in_rotation_order(_family(directory, name)):
        data = path.read_bytes()
        lines += (gzip.decompress(data) if path.suffix == ".gz" else data).splitlines()
    return lines


def _family(directory: Path, name: str) -> list[Path]:
    return [p for p in directory.iterdir()
            if log_family(p)[0].name == name and not p.name.endswith((".lock", ".checkpoints"))]


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "key"), [
    ({"max_bytes": "lots"}, "OUTPUTS[0].max_bytes"),
    ({"max_bytes": 0}, "OUTPUTS[0].max_bytes"),
    ({"when": "fortnightly"}, "OUTPUTS[0].when"),
    ({"when": -5}, "OUTPUTS[0].when"),
    ({"log_class": "forever"}, "OUTPUTS[0].log_class"),
    ({"retention_days": 0}, "OUTPUTS[0].retention_days"),
    ({"retention_days": 10**6}, "OUTPUTS[0].retention_days"),
    ({"backup_count": -1}, "OUTPUTS[0].backup_count"),
    ({"compress": "yes"}, "OUTPUTS[0].compress"),
    ({"checkpoints": 5}, "OUTPUTS[0].checkpoints"),
    ({"path": "/dev/full", "max_bytes": 1000}, "OUTPUTS[0].path"),
])
def test_bad_options_name_the_key(tmp_path: Path, spec: dict[str, Any], key: str) -> None:
    path = Path(spec.pop("path", tmp_path / "x.log"))
    with pytest.raises(ConfigError) as caught:
        _output(path, **spec)
    assert caught.value.key == key


def test_options(tmp_path: Path) -> None:
    output = _output(tmp_path / "x.log", max_bytes="10MB", when="daily", retention_days=3650,
                     backup_count=20, compress=False, log_class="debug")
    assert (output.max_bytes, output.when, output.retention_days) == (10 << 20, DAY, 3650)
    assert (output.backup_count, output.compress, output.log_class) == (20, False, "debug")
    assert _output(tmp_path / "x.log", max_bytes="512 KiB").max_bytes == 512 * 1024
    assert _output(tmp_path / "x.log", when=300).when == 300


@pytest.mark.parametrize(("spec", "log_class", "days"), [
    ({}, "security", 90),
    ({"categories": ["audit"]}, "audit", 365),
    ({"log_class": "application"}, "application", 30),
    ({"log_class": "debug"}, "debug", 7),
    ({"categories": ["audit"], "retention_days": 7 * 365}, "audit", 7 * 365),
])
def test_retention_defaults_by_log_class(tmp_path: Path, spec: dict[str, Any], log_class: str,
                                         days: int) -> None:
    output = _output(tmp_path / "x.log", **spec)
    assert (output.log_class, output.retention_days) == (log_class, days)


def test_audit_logs_get_a_checkpoint_file_beside_them(tmp_path: Path) -> None:
    sink = _output(tmp_path / "audit.log", categories=["audit"]).checkpoint_sink
    assert sink is not None and sink.path == tmp_path / "audit.checkpoints"  # type: ignore[attr-defined]
    assert _output(tmp_path / "security.log").checkpoint_sink is None
    assert _output(tmp_path / "audit.log", categories=["audit"],
                   checkpoints=False).checkpoint_sink is None
    chosen = _output(tmp_path / "security.log", checkpoints="cp/all.checkpoints").checkpoint_sink
    assert chosen.path == tmp_path / "cp" / "all.checkpoints"  # type: ignore[union-attr]


def test_rotation_order_of_file_names() -> None:
    names = ["audit.log", "audit.log.20260102T000000.000000Z.gz",
             "audit.log.20260101T000000.000000Z.gz", "audit.log.20260101T000000.000000Z-1",
             "audit.log.2.gz", "audit.log.1"]
    ordered = [p.name for p in sort_in_rotation_order(Path(n) for n in names)]
    assert ordered == ["audit.log.2.gz", "audit.log.1", "audit.log.20260101T000000.000000Z.gz",
                       "audit.log.20260101T000000.000000Z-1",
                       "audit.log.20260102T000000.000000Z.gz", "audit.log"]
    assert {log_family(Path(n))[0] for n in names} == {Path("audit.log")}


# -- rotation --------------------------------------------------------------------------------


def test_rotation_by_size_keeps_every_line_in_order(tmp_path: Path) -> None:
    pipeline = secmon.configure(environment="test", outputs=[
        {"type": "file", "path": str(tmp_path / "s.log"), "max_bytes": 4096}])
    for i in range(300):
        secmon.emit("authz_fail", i=i)
    pipeline.close()
    rotated = [p for p in _family(tmp_path, "s.log") if p.name != "s.log"]
    assert len(rotated) >= 10 and all(p.suffix == ".gz" for p in rotated)
    assert all(len(gzip.decompress(p.read_bytes())) <= 4096 for p in rotated)
    events = [orjson.loads(line) for line in _all_lines(tmp_path, "s.log")]
    assert [e["i"] for e in events] == list(range(300))
    assert pipeline.stats()["output.s.log.rotations"] == len(rotated)


def test_rotation_by_time(tmp_path: Path) -> None:
    """The file rotates at the first write of a new period (its last write was in an older one)."""
    path = tmp_path / "t.log"
    midnight = datetime(2026, 3, 2, tzinfo=timezone.utc).timestamp()
    now = [midnight - 60]
    output = _output(path, when="daily", compress=False)
    output.clock = lambda: now[0]
    output.write(b'{"n": 1}')
    os.utime(path, (now[0], now[0]))
    output.write(b'{"n": 2}')  # same day: same file
    os.utime(path, (now[0], now[0]))
    now[0] = midnight + 60
    output.write(b'{"n": 3}')
    output.close()
    [rotated] = [p for p in _family(tmp_path, "t.log") if p.name != "t.log"]
    assert rotated.name == "t.log.20260302T000100.000000Z"
    assert rotated.read_bytes().splitlines() == [b'{"n": 1}', b'{"n": 2}']
    assert path.read_bytes().splitlines() == [b'{"n": 3}']


def test_a_file_left_from_an_earlier_period_is_rotated_at_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    path.write_bytes(b'{"n": 0}\n')
    yesterday = time.time() - DAY
    os.utime(path, (yesterday, yesterday))
    output = _output(path, when="daily")
    output.write(b'{"n": 1}')
    output.close()
    assert _all_lines(tmp_path, "t.log") == [b'{"n": 0}', b'{"n": 1}']
    assert path.read_bytes() == b'{"n": 1}\n'


def test_a_writer_follows_a_rotation_by_another_process(tmp_path: Path) -> None:
    """Two outputs on one path have separate descriptors and locks, like two processes."""
    path = tmp_path / "m.log"
    first, second = _output(path, max_bytes=10**6), _output(path, max_bytes=10**6)
    first.write(b'{"n": 1}')
    second.write(b'{"n": 2}')
    first.max_bytes = 20
    first.write(b'{"n": 3}')  # rotates, then writes to the new file
    second.write(b'{"n": 4}')  # sees the new inode before writing
    first.close()
    second.close()
    [rotated] = [p for p in _family(tmp_path, "m.log") if p.name != "m.log"]
    assert gzip.decompress(rotated.read_bytes()).splitlines() == [b'{"n": 1}', b'{"n": 2}']
    assert path.read_bytes().splitlines() == [b'{"n": 3}', b'{"n": 4}']


def _cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write from now on lands only half of its bytes, as on a disk that fills up."""
    real_write = os.write

    def short_write(fd: int, data: bytes) -> int:
        return real_write(fd, data[: len(data) // 2])

    monkeypatch.setattr("secmon.outputs.file.writer.os.write", short_write)


def test_a_write_cut_short_is_taken_back_and_written_whole_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.log"
    first, second = _output(path, when="daily"), _output(path, when="daily")
    first.write(b'{"n": 1}')
    with monkeypatch.context() as patched:
        _cut_short(patched)
        first.write(b'{"n": 2, "padding": "xxxxxxxx"}')  # spooled, not raised
    assert path.read_bytes() == b'{"n": 1}\n'  # no fragment left
    second.write(b'{"n": 3}')
    first.flush()  # the spool writes it now (or its thread, half a second later)
    second.write(b'{"n": 4}')
    first.close()
    second.close()
    assert path.read_bytes().splitlines() == [
        b'{"n": 1}', b'{"n": 3}', b'{"n": 2, "padding": "xxxxxxxx"}', b'{"n": 4}']


def test_a_line_torn_by_one_writer_is_ended_by_the_next_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full: one process's write is cut short, and another writes after the fragment
    before it can be taken back; that next writer ends the fragment on its own line."""
    path = tmp_path / "t.log"
    first, second = _output(path, when="daily"), _output(path, when="daily")
    first.write(b'{"n": 1}')
    with monkeypatch.context() as patched:
        _cut_short(patched)
        patched.setattr(FileOutput, "_take_back", lambda self, fd, short: None)
        first.write(b'{"n": 2, "padding": "xxxxxxxx"}')
    second.write(b'{"n": 3}')
    second.write(b'{"n": 4}')
    second.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[0] == b'{"n": 1}'
    assert lines[1].startswith(b'{"n": 2') and not lines[1].endswith(b"}")  # the fragment
    assert lines[2:] == [b'{"n": 3}', b'{"n": 4}', b""]
    first.close()  # and the record itself, whole, from the spool
    assert path.read_bytes().split(b"\n")[-2] == b'{"n": 2, "padding": "xxxxxxxx"}'


def test_an_external_rotation_is_followed_too(tmp_path: Path) -> None:
    path = tmp_path / "plain.log"
    output = _output(path)
    output.write(b'{"n": 1}')
    path.rename(tmp_path / "plain.log.1")  # logrotate without copytruncate
    output.write(b'{"n": 2}')
    output.close()
    assert path.read_bytes() == b'{"n": 2}\n'


MULTI_WRITER = r"""
import sys
import secmon
path, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pipeline = secmon.configure(
    environment="test", audit_key=b"f" * 32, checkpoint_every=1000,
    outputs=[{"type": "file", "path": path, "categories": ["audit"], "max_bytes": 1_000_000}],
)
print("ready", flush=True)
sys.stdin.readline()
for i in range(count):
    secmon.audit("invoice_refunded", actor_id=worker, resource_id=i, note="x" * (i % 50))
pipeline.close()
print(pipeline.stats()["output.audit.log.written"], flush=True)
"""


def test_eight_processes_one_rotating_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    workers, count = 8, 10_000
    processes = [
        subprocess.Popen([sys.executable, "-c", MULTI_WRITER, str(path), str(w), str(count)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for w in range(workers)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == b"ready"
        for process in processes:  # start them together
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            process.stdin.flush()
        results = [process.communicate(timeout=280) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [p.returncode for p in processes] == [0] * workers, [r[1][-500:] for r in results]
    assert [int(out.strip()) for out, _ in results] == [count] * workers
    lines = _all_lines(tmp_path, "audit.log")
    assert len(lines) == workers * count
    records = [orjson.loads(line) for line in lines]  # none torn or interleaved
    assert {(r["actor_id"], r["resource_id"]) for r in records} == {
        (w, i) for w in range(workers) for i in range(count)}
    rotated = [p for p in _family(tmp_path, "audit.log") if p.name != "audit.log"]
    assert len(rotated) >= 20 and all(p.suffix == ".gz" for p in rotated)
    report = verify_files(_family(tmp_path, "audit.log"), {"k1": KEY})
    assert report.ok, report.lines()
    assert report.chains == workers and report.records == workers * count


# -- housekeeping ----------------------------------------------------------------------------


def _rotated(directory: Path, age_days: float, index: int = 0, gz: bool = True) -> Path:
    moment = time.time() - age_days * DAY
    stamp = datetime.fromtimestamp(moment, timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    path = directory / f"audit.log.{stamp}{'-' + str(index) if index else ''}"
    data = f'{{"age": {age_days}}}\n'.encode()
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    os.utime(path, (moment, moment))
    return path


@pytest.mark.parametrize(("spec", "kept_ages"), [
    ({"categories": ["audit"]}, [400 - 36, 100, 60, 2]),          # audit: 365 days
    ({}, [2, 60]),                                                  # security: 90 days
    ({"log_class": "debug"}, [2]),                                  # debug: 7 days
    ({"retention_days": 3650}, [400, 400 - 36, 100, 60, 2]),        # years, if asked
])
def test_retention_deletes_rotated_files_past_their_class(tmp_path: Path, spec: dict[str, Any],
                                                          kept_ages: list[int]) -> None:
    ages = [400, 400 - 36, 100, 60, 2]
    paths = {age: _rotated(tmp_path, age) for age in ages}
    (tmp_path / "audit.log").write_bytes(b"live\n")
    (tmp_path / "audit.log.notours.gz").write_bytes(b"")
    output = _output(tmp_path / "audit.log", max_bytes=10**6, **spec)
    output.housekeep()
    assert sorted(age for age, path in paths.items() if path.exists()) == sorted(kept_ages)
    assert (tmp_path / "audit.log").exists() and (tmp_path / "audit.log.notours.gz").exists()
    assert output.stats()["expired"] == len(ages) - len(kept_ages)


def test_backup_count_keeps_the_newest(tmp_path: Path) -> None:
    paths = [_rotated(tmp_path, age) for age in (5, 4, 3, 2, 1)]
    _output(tmp_path / "audit.log", max_bytes=10**6, backup_count=2).housekeep()
    assert [p.exists() for p in paths] == [False, False, False, True, True]


def test_housekeeping_compresses_leftovers_and_keeps_their_time(tmp_path: Path) -> None:
    plain = _rotated(tmp_path, 3, gz=False)
    stale = tmp_path / f"{plain.name}.gz.999.abcd1234.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200,) * 2)
    mtime = plain.stat().st_mtime
    _output(tmp_path / "audit.log", max_bytes=10**6).housekeep()
    packed = plain.with_name(plain.name + ".gz")
    assert not plain.exists() and not stale.exists()
    assert gzip.decompress(packed.read_bytes()) == b'{"age": 3}\n'
    assert packed.stat().st_mtime == pytest.approx(mtime, abs=1e-3)


# -- degraded: a full disk, an unwritable directory: records wait, then land in order ---------


def _records(path: Path) -> list[dict[str, Any] | None]:
    """Every line of a log, parsed; None for a line that is no JSON record."""
    parsed: list[dict[str, Any] | None] = []
    for line in path.read_bytes().splitlines():
        try:
            parsed.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            parsed.append(None)
    return parsed


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_full_disk_is_one_report_and_requests_go_on(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pipeline = secmon.configure(environment="test", outputs=[
        {"type": "file", "path": "/dev/full", "name": "full"},
        {"type": "file", "path": str(tmp_path / "other.log"), "name": "other"},
    ])
    for _ in range(50):
        secmon.access_denied(resource_type="invoice")
    pipeline.flush()
    other = read_lines(tmp_path / "other.log")
    [disabled] = [e for e in other if e["event_type"] == "sys_monitor_disabled"]
    assert (disabled["output"], disabled["target"]) == ("full", "/dev/full")
    assert disabled["error"] == "No space left on device"
    assert [e["event_type"] for e in other].count("authz_fail") == 50
    err = capfd.readouterr().err
    assert err.count("secmon: output full cannot write to /dev/full") == 1
    assert "wait (up to 10000 records / 16 MB in memory)" in err
    assert "Traceback" not in err and err.count("\n") == 1
    stats = pipeline.stats()
    assert stats["output.full.spooled"] == 51  # the 50 events and the report itself
    assert stats["output.full.dropped"] == 0
    assert stats["output.full.degraded"] == 1 and stats.get("errors", 0) == 0
    pipeline.close()
    err = capfd.readouterr().err
    assert "output full exits with 51 records it could not write to /dev/full" in err
    assert "they are lost (SPOOL_PATH would keep them" in err


def test_an_unwritable_directory_recovers_and_nothing_is_lost(tmp_path: Path) -> None:
    blocked = tmp_path / "logs"
    blocked.write_text("a file where the log directory should be")
    pipeline = secmon.configure(environment="test", audit_key=KEY, outputs=[
        {"type": "file", "path": str(blocked / "audit.log"), "categories": ["audit"],
         "checkpoints": str(tmp_path / "audit.checkpoints")},
        {"type": "file", "path": str(tmp_path / "other.log")},
    ])
    for i in range(5):
        secmon.audit("invoice_refunded", resource_id=i)
    pipeline.flush()
    blocked.unlink()
    blocked.mkdir()
    for i in range(5, 10):
        secmon.audit("invoice_refunded", resource_id=i)  # behind the five: not tried yet
    pipeline.flush()
    pipeline.close()
    records = read_lines(blocked / "audit.log")
    assert [r["seq"] for r in records] == list(range(1, 11))
    assert [r["resource_id"] for r in records] == list(range(10))
    other = read_lines(tmp_path / "other.log")
    [enabled] = [e for e in other if e["event_type"] == "sys_monitor_enabled"]
    assert (enabled["spooled_records"], enabled["lost_records"]) == (10, 0)
    assert "lost" not in enabled and "mac" not in enabled  # nothing lost: not an audit event
    assert [e["event_type"] for e in other].count("sys_monitor_disabled") == 1
    report = verify_files([blocked / "audit.log"], {"k1": KEY},
                          checkpoints=[tmp_path / "audit.checkpoints"])
    assert report.ok and not report.findings, report.lines()


def test_past_the_bound_the_oldest_are_dropped_and_the_chain_records_the_gap(
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "logs"
    blocked.write_text("a file where the log directory should be")
    pipeline = secmon.configure(environment="test", audit_key=KEY, spool_max_records=3,
                                outputs=[
        {"type": "file", "path": str(blocked / "audit.log"), "categories": ["audit"],
         "checkpoints": str(tmp_path / "audit.checkpoints")},
        {"type": "file", "path": str(tmp_path / "other.log")},
    ])
    for i in range(5):
        secmon.audit("invoice_refunded", resource_id=i)
    blocked.unlink()
    blocked.mkdir()
    pipeline.flush()
    for i in range(5, 7):
        secmon.audit("invoice_refunded", resource_id=i)
    pipeline.close()
    records = read_lines(blocked / "audit.log")
    # 3, 4, 5 waited; the report of the gap is signed into the chain after them.
    assert [r["seq"] for r in records] == [3, 4, 5, 6, 7, 8]
    [enabled] = [r for r in records if r["event_type"] == "sys_monitor_enabled"]
    assert enabled["seq"] == 6
    assert (enabled["spooled_records"], enabled["lost_records"]) == (3, 2)
    assert enabled["lost"] == [{"chain": records[0]["chain"], "first": 1, "last": 2}]
    assert pipeline.stats()["output.audit.log.dropped"] == 2
    report = verify_files([blocked / "audit.log"], {"k1": KEY},
                          checkpoints=[tmp_path / "audit.checkpoints"])
    assert report.ok, report.lines()
    [lost] = report.findings
    assert (lost.kind, lost.seq, lost.last_seq, lost.failure) == ("lost", 1, 2, False)
    # Without the writer's own record of the gap, the same hole is a deletion.
    (blocked / "audit.log").write_bytes(b"".join(
        orjson.dumps(r) + b"\n" for r in records if r is not enabled))
    assert "missing_head" in [f.kind for f in verify_files(
        [blocked / "audit.log"], {"k1": KEY}, checkpoints=[tmp_path / "audit.checkpoints"]
    ).findings if f.failure]


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    with small_filesystem(tmp_path / "tiny") as mount:
        yield mount


@pytest.mark.parametrize("rotating", [True, False], ids=["rotating", "plain"])
def test_a_filesystem_that_fills_up_loses_nothing(tiny_filesystem: Path, tmp_path: Path,
                                                  rotating: bool) -> None:
    """A real full disk: every record arrives once there is room again, in order, whole,
    found by the spool's own retries (no event comes after), and the chain verifies."""
    log = tiny_filesystem / "audit.log"
    pipeline = secmon.configure(environment="test", audit_key=KEY, checkpoint_every=10,
                                outputs=[
        {"type": "file", "path": str(log), "categories": ["audit"],
         **({"max_bytes": "10MB"} if rotating else {})},
        {"type": "file", "path": str(tmp_path / "other.log")},
    ])
    output = pipeline.outputs[0]
    assert isinstance(output, FileOutput)
    for i in range(5):
        secmon.audit("invoice_refunded", resource_id=i, padding="p" * 300)
    filler = fill(tiny_filesystem / "filler")
    for i in range(5, 60):
        secmon.audit("invoice_refunded", resource_id=i, padding="p" * 300)
    pipeline.flush()
    assert output.health.degraded and len(output.spool) > 0
    filler.unlink()  # and no event comes: the spool's own retries find the room
    _wait_for(lambda: any(e["event_type"] == "sys_monitor_enabled"
                          for e in read_lines(tmp_path / "other.log")))
    pipeline.close()
    parsed = _records(log)
    torn = parsed.count(None)
    assert torn == 0 if rotating else torn <= 1  # taken back where the writers share a lock
    records = [r for r in parsed if r is not None]
    assert [r["resource_id"] for r in records] == list(range(60))
    assert [r["seq"] for r in records] == list(range(1, 61))
    other = read_lines(tmp_path / "other.log")
    [enabled] = [e for e in other if e["event_type"] == "sys_monitor_enabled"]
    assert enabled["lost_records"] == 0 and enabled["spooled_records"] >= 55
    report = verify_files([log], {"k1": KEY}, checkpoints=[tiny_filesystem / "audit.checkpoints"])
    assert report.ok, report.lines()
    assert [f.kind for f in report.findings] == ([] if torn == 0 else ["unreadable"])
    assert report.checkpoints >= 6  # those of the outage waited with the records too


def test_threads_writing_through_an_outage_lose_nothing_and_keep_their_order(
    tiny_filesystem: Path,
) -> None:
    log = tiny_filesystem / "security.log"
    pipeline = secmon.configure(environment="test", outputs=[
        {"type": "file", "path": str(log), "max_bytes": "10MB"}])
    output = pipeline.outputs[0]
    assert isinstance(output, FileOutput)
    started = threading.Barrier(5)

    def worker(n: int) -> None:
        started.wait()
        for i in range(300):
            secmon.emit("authz_fail", resource_type="t", resource_id=f"{n}:{i}")
            if i % 50 == 0:
                time.sleep(0.01)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    started.wait()
    filler = fill(tiny_filesystem / "filler")
    time.sleep(0.1)
    filler.unlink()
    for thread in threads:
        thread.join()
    _wait_for(lambda: not output.spool.waiting())
    pipeline.close()
    ids = [r["resource_id"] for r in _records(log) if r and r["event_type"] == "authz_fail"]
    assert sorted(ids) == sorted(f"{n}:{i}" for n in range(4) for i in range(300))
    for n in range(4):
        mine = [int(x.split(":")[1]) for x in ids if x.startswith(f"{n}:")]
        assert mine == list(range(300))


def test_past_the_memory_bound_records_wait_in_spool_path(tiny_filesystem: Path,
                                                          tmp_path: Path) -> None:
    log = tiny_filesystem / "audit.log"
    spool = tmp_path / "spool"  # another file system: the test's own directory
    pipeline = secmon.configure(environment="test", audit_key=KEY, spool_max_records=5,
                                spool_path=spool, outputs=[
        {"type": "file", "path": str(log), "categories": ["audit"], "max_bytes": "10MB"}])
    output = pipeline.outputs[0]
    assert isinstance(output, FileOutput)
    filler = fill(tiny_filesystem / "filler")
    for i in range(40):
        secmon.audit("invoice_refunded", resource_id=i, padding="p" * 300)
    [waiting] = list(spool.iterdir())
    header, *lines = waiting.read_bytes().splitlines()
    assert len(lines) == 35  # the five oldest are in memory
    assert oct(waiting.stat().st_mode & 0o777) == "0o600"
    filler.unlink()
    _wait_for(lambda: not output.spool.waiting())
    assert waiting.read_bytes().splitlines() == [header]  # delivered; removed at exit
    pipeline.close()
    assert list(spool.iterdir()) == []
    records = [r for r in _records(log) if r is not None]
    assert [r["resource_id"] for r in records] == list(range(40))
    report = verify_files([log], {"k1": KEY}, checkpoints=[tiny_filesystem / "audit.checkpoints"])
    assert report.ok and not report.findings, report.lines()


_EXIT_WHILE_FULL = """
import sys
import secmon
secmon.configure(environment="test", audit_key=sys.argv[1], spool_path=sys.argv[2],
                 outputs=[{"type": "file", "path": sys.argv[3], "categories": ["audit"],
                           "max_bytes": "10MB"}])
for i in range(20):
    secmon.audit("invoice_refunded", resource_id=i, padding="p" * 300)
# the disk is full: these wait, and go to SPOOL_PATH at exit
"""


def test_what_waits_at_exit_is_kept_and_the_next_process_delivers_it_first(
    tiny_filesystem: Path, tmp_path: Path
) -> None:
    log = tiny_filesystem / "audit.log"
    spool = tmp_path / "spool"
    filler = fill(tiny_filesystem / "filler")
    done = subprocess.run([sys.executable, "-c", _EXIT_WHILE_FULL, KEY.decode(), str(spool),
                           str(log)], capture_output=True, text=True, timeout=60, check=True)
    assert "exits with 21 records it could not write" in done.stderr  # 20 and the checkpoint
    assert f"kept in {spool}" in done.stderr
    assert len(list(spool.iterdir())) == 1
    filler.unlink()
    pipeline = secmon.configure(environment="test", audit_key=KEY, spool_path=spool, outputs=[
        {"type": "file", "path": str(log), "categories": ["audit"], "max_bytes": "10MB"},
        {"type": "file", "path": str(tmp_path / "other.log")}])
    secmon.audit("invoice_refunded", resource_id=100)
    pipeline.flush()
    pipeline.close()
    assert list(spool.iterdir()) == []
    records = [r for r in _records(log) if r is not None]
    assert [r["resource_id"] for r in records] == [*range(20), 100]
    assert len({r["chain"] for r in records}) == 2
    [enabled] = [e for e in read_lines(tmp_path / "other.log")
                 if e["event_type"] == "sys_monitor_enabled"]
    assert enabled["earlier_records"] == 21
    report = verify_files([log], {"k1": KEY}, checkpoints=[tiny_filesystem / "audit.checkpoints"])
    assert report.ok and not report.findings, report.lines()  # both chains anchored


def test_a_forked_worker_leaves_the_parents_records_to_the_parent(tmp_path: Path) -> None:
    blocked = tmp_path / "logs"
    blocked.write_text("not a directory yet")
    pipeline = secmon.configure(environment="test", audit_key=KEY, outputs=[
        {"type": "file", "path": str(blocked / "audit.log"), "categories": ["audit"],
         "max_bytes": "10MB"}])
    for i in range(3):
        secmon.audit("invoice_refunded", resource_id=i)
    blocked.unlink()
    blocked.mkdir()
    pid = os.fork()
    if pid == 0:  # a gunicorn worker: its own chain, and none of the parent's records
        try:
            secmon.audit("invoice_refunded", resource_id=100)
            secmon.flush()
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    pipeline.close()
    records = read_lines(blocked / "audit.log")
    assert sorted(r["resource_id"] for r in records) == [0, 1, 2, 100]
    report = verify_files([blocked / "audit.log"], {"k1": KEY})
    assert "lost" not in [f.kind for f in report.findings], report.lines()


_SETTLE_THEN_DIE = """
import os, signal, sys
import secmon
pipeline = secmon.configure(environment="test", audit_key=sys.argv[1], spool_path=sys.argv[2],
                            outputs=[{"type": "file", "path": sys.argv[3],
                                      "categories": ["audit"], "max_bytes": "10MB"}])
for i in range(10):
    secmon.audit("invoice_refunded", resource_id=i)
pipeline.settle()  # what an ASGI server's shutdown does; then the process is killed
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_settled_at_a_servers_shutdown_what_waits_outlives_the_process(
    tiny_filesystem: Path, tmp_path: Path
) -> None:
    """uvicorn ends a worker by its signal after the app's shutdown: no exit handler runs."""
    log = tiny_filesystem / "audit.log"
    spool = tmp_path / "spool"
    filler = fill(tiny_filesystem / "filler")
    done = subprocess.run([sys.executable, "-c", _SETTLE_THEN_DIE, KEY.decode(), str(spool),
                           str(log)], capture_output=True, text=True, timeout=60)
    assert done.returncode == -9
    assert "has 11 records it could not write" in done.stderr  # and the shutdown checkpoint
    filler.unlink()
    pipeline = secmon.configure(environment="test", audit_key=KEY, spool_path=spool, outputs=[
        {"type": "file", "path": str(log), "categories": ["audit"], "max_bytes": "10MB"}])
    secmon.audit("invoice_refunded", resource_id=100)
    pipeline.close()
    assert list(spool.iterdir()) == []
    records = [r for r in _records(log) if r is not None]
    assert [r["resource_id"] for r in records] == [*range(10), 100]
    report = verify_files([log], {"k1": KEY}, checkpoints=[tiny_filesystem / "audit.checkpoints"])
    assert report.ok and not report.findings, report.lines()  # the killed one's chain anchored
