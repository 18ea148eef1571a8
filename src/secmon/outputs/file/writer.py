"""The file writer: whole JSON lines from many processes, and rotation among them.

Each event is one ``write`` on an ``O_APPEND`` descriptor, so lines from several threads
or processes never tear or interleave. With rotation configured, writers share a lock
file (``<log>.lock``, ``flock``): each write holds it shared, and the one writer that
finds the file due rotates it holding it exclusively. A writer always checks, under the
shared lock, that its descriptor is still the file at the log's path and reopens it if
another process rotated meanwhile; so no line ever lands in a file already rotated, and
rotated files can be compressed and deleted safely.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from ...errors import ReportError
from ...events import Emit
from ...integrity import CheckpointFile
from ..base import Output
from ..health import OutputHealth
from ..spool import Entry, Partial, Spool, SpoolLimits
from .names import STAMP, rotated_files
from .retention import RETENTION_DAYS, compress, remove_stale_temporaries

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)

INTERVALS: dict[str, int] = {"hourly": 3600, "daily": 86400, "midnight": 86400, "weekly": 604800}
# Epoch day 0 was a Thursday; weeks start on Monday.
_WEEK_OFFSET = 4 * 86400
HOUSEKEEPING_EVERY = 3600.0

_live: weakref.WeakSet[FileOutput] = weakref.WeakSet()
# The lock file's first bytes, shared by every writer of the log without a system call:
# a rotation counter (8 bytes), then a flag set while the file may end in a torn line.
_GENERATION_BYTES = 16
_TORN_FLAG = 8


class FileOutput(Output):
    type_name = "file"

    def __init__(
        self,
        path: Path,
        mode: int = 0o640,
        *,
        max_bytes: int | None = None,
        when: int | None = None,
        compress: bool = True,
        retention_days: float | None = None,
        backup_count: int | None = None,
        log_class: str = "security",
        checkpoints: Path | None = None,
        spool: SpoolLimits | None = None,
        clock: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.mode = mode
        self.max_bytes = max_bytes
        self.when = when
        self.compress = compress
        self.log_class = log_class
        self.retention_days = (
            retention_days if retention_days is not None else RETENTION_DAYS[log_class]
        )
        self.backup_count = backup_count
        self.clock = clock
        # Checkpoints go through this output, so none lands before the records it vouches for.
        # (Fewer than 30 attributes: from 30 on, CPython makes every ``self.x`` a dict lookup
        # instead of a cached slot; ``health`` lives in the spool for that reason.)
        self.checkpoint_sink = (
            _Checkpoints(self, CheckpointFile(checkpoints, mode)) if checkpoints else None
        )
        self.spool = Spool(self.name, str(path), OutputHealth(self.name, str(path)),
                           self._write_spooled, spool)
        self.counters = {"written": 0, "rotations": 0, "expired": 0}
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._lock_fd: int | None = None
        self._generation_map: mmap.mmap | None = None
        self._generation = -1
        self._recheck_at = 0.0
        self._pid = os.getpid()
        self._torn = False
        self._housekeeper: threading.Thread | None = None
        self._housekeeping_due = False
        self._housekeeping_lock = threading.Lock()
        self._last_housekeeping: float | None = None
        self._report_error: ReportError | None = None
        _live.add(self)

    @property
    def health(self) -> OutputHealth:
        return self.spool.health

    @property
    def rotating(self) -> bool:
        return self.max_bytes is not None or self.when is not None

    def attach(self, emit: Emit, report_error: ReportError) -> None:
        self.health.emit = emit
        self._report_error = report_error

    # -- writing ----------------------------------------------------------------------------

    def handle(self, event: dict[str, Any], rendered: dict[int, bytes]) -> None:
        key = id(self.render)
        line = rendered.get(key)
        if line is None:
            line = rendered[key] = self.render(event)
        self._deliver(line, event)

    def write(self, line: bytes) -> None:
        self._deliver(line, None)

    def _deliver(self, line: bytes, event: Mapping[str, Any] | None) -> None:
        spool = self.spool
        with self._lock:
            if self._pid != os.getpid():
                self._after_fork()
            if spool.active and spool.hold(_entry(line, event)):
                return  # records wait for the disk: this one went behind them, untried
            try:
                self._append(line + b"\n")
            except OSError as exc:
                spool.put(_entry(line, event), exc)
                return
            self.counters["written"] += 1
        if self.rotating and self._housekeeping_needed():
            self._schedule_housekeeping()

    def write_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A checkpoint of the chain, after the records it vouches for (waiting with them)."""
        assert self.checkpoint_sink is not None
        sink = self.checkpoint_sink.file
        with self._lock:
            spool = self.spool
            if spool.active and spool.hold(Entry("c", orjson.dumps(checkpoint))):
                return
            sink.write_checkpoint(checkpoint)  # a failure here is the signer's to report

    def _write_spooled(self, entries: Sequence[Entry]) -> None:
        """The spool's delivery: its entries in order, each one write as usual."""
        with self._lock:
            if self._pid != os.getpid():
                self._after_fork()
            for done, entry in enumerate(entries):
                if entry.kind == "c":
                    self._write_checkpoint_entry(entry.data)
                    continue
                try:
                    self._append(entry.data + b"\n")
                except OSError as exc:
                    raise Partial(done, exc) from None
                self.counters["written"] += 1
        if self.rotating and self._housekeeping_needed():
            self._schedule_housekeeping()

    def _write_checkpoint_entry(self, data: bytes) -> None:
        if self.checkpoint_sink is None:
            return
        sink = self.checkpoint_sink.file
        try:
            sink.write_checkpoint(orjson.loads(data))
        except (OSError, ValueError) as exc:
            # Not a gap: the next checkpoint vouches for these records too.
            report = self._report_error
            if report is not None:
                report(f"output.{self.name}.checkpoint", exc)

    def _append(self, data: bytes) -> None:
        if self._torn:
            # The last write was cut short (disk full): end that fragment on its own line.
            data = b"\n" + data
        if not self.rotating:
            fd, _ = self._current()
            self._write_all(fd, data)
            return
        lock_fd = self._lock_file()
        if self._shared_torn():
            self._append_after_tear(lock_fd, data)
            return
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
        try:
            known = self._fd
            if known is not None and self._unchanged():
                fd = known
            else:
                fd, st = self._current()
                if self._due(st, len(data)):
                    # Not atomic (flock drops the shared lock first): check again once exclusive.
                    fcntl.flock(lock_fd, fcntl.LOCK_EX)
                    fd, st = self._current()
                    if self._due(st, len(data)):
                        self._rotate()
                        fd, st = self._current()
                    fcntl.flock(lock_fd, fcntl.LOCK_SH)
                self._checked()
            try:
                self._write_all(fd, data)
            except _ShortWrite as short:
                # Alone, take the fragment back if nothing came after it.
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                self._take_back(fd, short)
                raise
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)

    def _take_back(self, fd: int, short: _ShortWrite) -> None:
        """Cut off the fragment of a write cut short, if it is still the end of the file
        (held exclusively: no other writer appends meanwhile). The record is written whole
        later, from the spool, and the log keeps no torn line."""
        try:
            if short.written > 0 and os.fstat(fd).st_size == short.end:
                os.ftruncate(fd, short.end - short.written)
                self._torn = False
        except OSError:
            pass

    def _append_after_tear(self, lock_fd: int, data: bytes) -> None:
        """Write alone, after some writer's line was cut short (disk full): end that fragment
        on its own line first, whoever wrote it, so the next record is whole."""
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            fd, st = self._current()
            if self._due(st, len(data)):
                self._rotate()
                fd, st = self._current()
            if st.st_size and not data.startswith(b"\n") and _last_byte(self.path) != b"\n":
                data = b"\n" + data
            try:
                self._write_all(fd, data)
            except _ShortWrite as short:
                self._take_back(fd, short)
                raise
            shared = self._generation_map
            if shared is not None:
                shared[_TORN_FLAG] = 0
            self._checked()
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)

    def _shared_torn(self) -> bool:
        shared = self._generation_map
        return shared is not None and shared[_TORN_FLAG] != 0

    def _unchanged(self) -> bool:
        """Whether the last check still holds, so this write can skip the ``stat``.

        Rotating writers share a generation counter in the lock file (bumped by whoever
        rotates, under the exclusive lock). With size rotation every write checks the size;
        with time rotation only a new period, another writer's rotation, or a second gone
        by (someone else moved the file) sends a write back to ``stat``.
        """
        if self.max_bytes is not None or self._generation_map is None:
            return False
        return (
            self._shared_generation() == self._generation and self.clock() < self._recheck_at
        )

    def _checked(self) -> None:
        now = self.clock()
        recheck = now + 1.0
        if self.when is not None:
            next_period = (self._period(now) + 1) * self.when
            if self.when == INTERVALS["weekly"]:
                next_period += _WEEK_OFFSET
            recheck = min(recheck, next_period)
        self._recheck_at = recheck
        self._generation = self._shared_generation()

    def _shared_generation(self) -> int:
        shared = self._generation_map
        return int.from_bytes(shared[:8], "little") if shared is not None else -1

    def _write_all(self, fd: int, data: bytes) -> None:
        written = os.write(fd, data)
        if written != len(data):
            self._torn = written > 0 or self._torn
            shared = self._generation_map
            if written > 0 and shared is not None:
                shared[_TORN_FLAG] = 1
            raise _ShortWrite(written, os.lseek(fd, 0, os.SEEK_CUR), len(data))
        self._torn = False

    def _current(self) -> tuple[int, os.stat_result]:
        """The descriptor of the file now at ``path`` (reopened if it was rotated or removed)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if self._fd is None or st is None or (st.st_dev, st.st_ino) != self._ident:
            self._reopen()
            assert self._fd is not None
            st = os.fstat(self._fd)
        assert self._fd is not None
        return self._fd, st

    def _reopen(self) -> None:
        self._close_fd()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, _FLAGS, self.mode)
        st = os.fstat(fd)
        self._fd, self._ident = fd, (st.st_dev, st.st_ino)
        if self.rotating and self._last_housekeeping is None:
            self._last_housekeeping = self.clock()
            self._schedule_housekeeping()

    def _lock_file(self) -> int:
        if self._lock_fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock_path = self.path.with_name(self.path.name + ".lock")
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                         self.mode)
            try:
                if os.fstat(fd).st_size < _GENERATION_BYTES:
                    os.ftruncate(fd, _GENERATION_BYTES)  # zeros; racing writers agree
                # Its page must exist before it is mapped: on a full disk, touching a hole
                # in a mapping is SIGBUS, not an error.
                os.posix_fallocate(fd, 0, _GENERATION_BYTES)
                self._generation_map = mmap.mmap(fd, _GENERATION_BYTES)
            except (OSError, ValueError):
                self._generation_map = None  # no shared counter: every write checks
            self._lock_fd = fd
        return self._lock_fd

    # -- rotation ---------------------------------------------------------------------------

    def _due(self, st: os.stat_result, incoming: int) -> bool:
        if st.st_size == 0:
            return False
        if self.max_bytes is not None and st.st_size + incoming > self.max_bytes:
            return True
        return self.when is not None and self._period(st.st_mtime) < self._period(self.clock())

    def _period(self, moment: float) -> int:
        assert self.when is not None
        if self.when == INTERVALS["weekly"]:
            return int((moment - _WEEK_OFFSET) // self.when)
        return int(moment // self.when)

    def _rotate(self) -> None:
        stamp = datetime.fromtimestamp(self.clock(), timezone.utc).strftime(STAMP)
        target = self.path.with_name(f"{self.path.name}.{stamp}")
        number = 0
        while target.exists() or target.with_name(target.name + ".gz").exists():
            number += 1
            target = self.path.with_name(f"{self.path.name}.{stamp}-{number}")
        os.rename(self.path, target)
        shared = self._generation_map
        if shared is not None:
            shared[:8] = (self._shared_generation() + 1).to_bytes(8, "little")
        self._close_fd()
        self.counters["rotations"] += 1
        self._schedule_housekeeping()

    def rotated_files(self) -> list[Path]:
        """This log's rotated files, oldest first."""
        return rotated_files(self.path)

    # -- housekeeping: compression and retention, off the request path ---------------------

    def _housekeeping_needed(self) -> bool:
        last = self._last_housekeeping
        return last is not None and self.clock() - last >= HOUSEKEEPING_EVERY

    def _schedule_housekeeping(self) -> None:
        with self._housekeeping_lock:
            self._last_housekeeping = self.clock()
            self._housekeeping_due = True
            thread = self._housekeeper
            if thread is not None and thread.is_alive():
                return
            self._housekeeper = threading.Thread(
                target=self._housekeeping_loop, name=f"secmon-{self.name}-housekeeping",
                daemon=True,
            )
            self._housekeeper.start()

    def _housekeeping_loop(self) -> None:
        while True:
            with self._housekeeping_lock:
                if not self._housekeeping_due:
                    return
                self._housekeeping_due = False
            try:
                self.housekeep()
            except Exception as exc:
                report = self._report_error
                if report is not None:
                    report(f"output.{self.name}.housekeeping", exc)

    def housekeep(self) -> None:
        """Compress rotated files, then delete those past retention or beyond ``backup_count``.

        Safe to run in several processes at once: each step is a rename or an unlink of a
        file no writer uses any more.
        """
        now = self.clock()
        remove_stale_temporaries(self.path, now)
        if self.compress:
            for path in self.rotated_files():
                if path.suffix != ".gz":
                    compress(path, self.mode)
        rotated = self.rotated_files()
        horizon = now - self.retention_days * 86400
        keep = len(rotated) if self.backup_count is None else self.backup_count
        for index, path in enumerate(rotated):
            try:
                expired = path.stat().st_mtime < horizon
            except FileNotFoundError:
                continue
            if expired or index < len(rotated) - keep:
                try:
                    path.unlink()
                    self.counters["expired"] += 1
                except FileNotFoundError:
                    pass

    # -- lifecycle --------------------------------------------------------------------------

    def _after_fork(self) -> None:
        # The lock file description is shared with the parent: its flock would be too.
        self._pid = os.getpid()
        self._release_lock_file()
        self._housekeeper = None
        self.health.after_fork()

    def _reset_locks_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._housekeeping_lock = threading.Lock()

    def _close_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd, self._ident = self._fd, None, None
            try:
                os.close(fd)
            except OSError:
                pass

    def flush(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        self.spool.flush(timeout)
        self.health.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def settle(self) -> None:
        self.spool.settle()

    def close(self) -> None:
        self.spool.close()
        self.health.join(2.0)
        thread = self._housekeeper
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(timeout=5.0)  # what is left, the next housekeeping finishes
        with self._lock:
            self._close_fd()
            self._release_lock_file()
            if self.checkpoint_sink is not None:
                self.checkpoint_sink.file.close()

    def _release_lock_file(self) -> None:
        if self._generation_map is not None:
            self._generation_map.close()
            self._generation_map = None
        self._generation = -1
        if self._lock_fd is not None:
            try:
                os.close(self._lock_fd)
            except OSError:
                pass
            self._lock_fd = None

    def stats(self) -> dict[str, int]:
        return {**self.counters, "dropped": self.health.dropped, "outages": self.health.outages,
                "degraded": int(self.health.degraded), "spooled": len(self.spool)}


class _ShortWrite(OSError):
    """A write cut short (disk full); with ``O_APPEND`` the fragment ends at ``end``."""

    def __init__(self, written: int, end: int, size: int) -> None:
        super().__init__(errno.ENOSPC, f"No space left on device (wrote {written} of {size} "
                                       "bytes)")
        self.written = written
        self.end = end


class _Checkpoints:
    """The checkpoint sink of a file output with a checkpoint file: through the output."""

    def __init__(self, output: FileOutput, file: CheckpointFile) -> None:
        self.output = output
        self.file = file

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def key(self) -> object:
        return self.file.key

    def write_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.output.write_checkpoint(checkpoint)


def _entry(line: bytes, event: Mapping[str, Any] | None) -> Entry:
    """A record to spool; an audit record keeps its chain and seq, should it be lost."""
    if event is not None and "mac" in event:
        chain, seq = event.get("chain"), event.get("seq")
        if isinstance(chain, str) and isinstance(seq, int):
            return Entry("r", line, chain, seq)
    return Entry("r", line)


def _reset_after_fork() -> None:
    for output in list(_live):
        output._reset_locks_after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


def _last_byte(path: Path) -> bytes:
    # Writers hold the file write-only; this rare check opens it for reading.
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1)

