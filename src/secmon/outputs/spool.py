"""What an output could not deliver yet: kept in order, bounded, and delivered when it can.

When a write fails (disk full, an I/O error, a sink down) the record goes to the output's
spool, and so does every later record while anything waits there: nothing overtakes,
so an audit chain lands with no gap and each writer's own order is kept. Records wait
in memory, at most ``SPOOL_MAX_RECORDS`` and ``SPOOL_MAX_BYTES`` of them; past that,
newer ones go to a file in ``SPOOL_PATH`` (meant to be on another file system), or,
without one, the oldest are dropped and counted, and the audit records among them are
declared lost, by ``seq`` range, as the writer's own record of the gap.

A thread of the spool tries the sink again, 0.5 s after the failure, then 1 s, then
every 2 s (never once per event: a full disk is not hammered), whether or not events
come. When everything is delivered the output says so once, with how many records
waited and how many were lost.

At exit (``close``) the spool tries once more; what is left goes to ``SPOOL_PATH``,
where the next process with the same output delivers it before its own records, or,
without ``SPOOL_PATH``, is counted lost and said so on stderr. ``settle`` (a server's
shutdown that may end the process without exit handlers) puts what waits there too,
and goes on delivering it from there.

A spool file starts with a header line that says up to which byte it was delivered,
then holds one entry per line: its kind (what the output makes of it, such as ``r``, a
rendered record), a space, its bytes. Each belongs to one process, which holds an
``flock`` on it while it lives: a file nobody holds is an earlier process's, taken over
from where its header says (at worst one batch is delivered twice after a crash).
Files are named ``<output>-<hash>.<pid>-<random>.<generation>.<part>.spool`` and
delivered in that order; part 0 holds what was in memory, older than part 1, the file
that took what memory could not.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import itertools
import os
import re
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex
from typing import TYPE_CHECKING, NamedTuple

from ..errors import write_stderr_line
from .health import OutputHealth, describe_ranges

if TYPE_CHECKING:
    from ..config import Settings

DEFAULT_MAX_RECORDS = 10_000
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
# Seconds between tries while something waits: the first, then doubling up to the second.
RETRY = (0.5, 2.0)
BATCH = 256
_READ_CHUNK = 1 << 16
_SUFFIX = ".spool"
_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
# The header: the offset of the first entry not yet delivered (fixed width, rewritten).
_HEAD = b"#secmon spool, delivered up to %019d\n"
_HEAD_SIZE = len(_HEAD % 0)
_HEAD_PARSE = re.compile(rb"#secmon spool, delivered up to (\d{19})\n")


class Entry(NamedTuple):
    """One spooled record: ``kind`` tells the output what ``data`` is; ``chain`` and ``seq``
    name an audit record, so that its loss can be declared."""

    kind: str
    data: bytes
    chain: str | None = None
    seq: int | None = None


@dataclass(frozen=True)
class SpoolLimits:
    """How much an output may hold while it cannot deliver, and where the rest goes."""

    max_records: int = DEFAULT_MAX_RECORDS
    max_bytes: int = DEFAULT_MAX_BYTES
    path: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SpoolLimits:
        return cls(settings.spool_max_records, settings.spool_max_bytes, settings.spool_path)

    def describe(self) -> str:
        text = f"up to {self.max_records} records / {_size(self.max_bytes)} in memory"
        return text + (f", then in {self.path}" if self.path is not None else "")


class Partial(Exception):
    """A delivery stopped after its first ``done`` entries (those were delivered)."""

    def __init__(self, done: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.done = done
        self.cause = cause


class Rejected(Exception):
    """The sink refuses these entries for good (they would fail every time): drop them."""


# Delivers entries in order, all of them, or raises (Partial after some of them).
Deliver = Callable[[Sequence[Entry]], None]

_live: weakref.WeakSet[Spool] = weakref.WeakSet()


class _File:
    """A spool file: appended by its owner; read, and its header advanced, by whoever
    delivers it (holding its lock)."""

    def __init__(self, path: Path, fd: int, *, mine: bool, entries: int = 0) -> None:
        self.path = path
        self.fd = fd
        self.mine = mine  # written by this process (else taken over from an earlier one)
        self.entries = entries  # still to deliver, where known (files of this process)
        self.size = os.fstat(fd).st_size
        head = os.pread(fd, _HEAD_SIZE, 0)
        match = _HEAD_PARSE.fullmatch(head)
        self.offset = max(int(match[1]), _HEAD_SIZE) if match else 0

    @classmethod
    def create(cls, directory: Path, name: str, entries: Sequence[Entry] = ()) -> _File:
        """A new file holding ``entries``, locked, and named only once it is whole (so it
        never looks like an earlier process's)."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = directory / f".{name}.tmp"
        fd = os.open(temporary, _FLAGS | os.O_TRUNC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            data = _HEAD % _HEAD_SIZE + b"".join(_line(e) for e in entries)
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, "no room for the spool file")
            if entries:
                os.fsync(fd)
            os.rename(temporary, directory / name)
        except OSError:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        return cls(directory / name, fd, mine=True, entries=len(entries))

    def read(self, limit: int) -> tuple[list[Entry], list[int]]:
        """Up to ``limit`` entries from ``offset``, and the size of each in the file. A line
        that is no entry (damage, or the end of a file cut short) comes as an entry with no
        kind, to be dropped in its place."""
        entries: list[Entry] = []
        sizes: list[int] = []
        offset = self.offset
        pending = b""
        while len(entries) < limit and offset < self.size:
            chunk = os.pread(self.fd, max(_READ_CHUNK, len(pending) * 2), offset)
            if not chunk:
                break
            offset += len(chunk)
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            room = limit - len(entries)
            for line in lines[:room]:
                kind, space, data = line.partition(b" ")
                good = bool(space and kind)
                entries.append(Entry(kind.decode("ascii", "replace"), data) if good
                               else Entry("", b""))
                sizes.append(len(line) + 1)
            if len(lines) > room:
                break
        if pending and len(entries) < limit and offset >= self.size:
            entries.append(Entry("", b""))
            sizes.append(len(pending))
        return entries, sizes

    def append(self, entry: Entry) -> None:
        data = _line(entry)
        try:
            written = os.pwrite(self.fd, data, self.size)
        except OSError:
            written = -1
        if written != len(data):
            # Cut short (its file system is full): take the fragment back; the file is ours.
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                pass
            raise OSError(errno.ENOSPC, "no room for the entry in the spool file")
        self.size += written
        self.entries += 1

    def advance(self, nbytes: int, done: int) -> None:
        """``done`` entries (``nbytes``) were delivered: so says the header from now on."""
        self.offset += nbytes
        self.entries = max(0, self.entries - done)
        if self.mine and not self.entries and self.offset >= self.size:
            self.size = self.offset = _HEAD_SIZE
            os.ftruncate(self.fd, _HEAD_SIZE)  # all delivered: empty, and kept for later
        try:
            os.pwrite(self.fd, _HEAD % self.offset, 0)
        except OSError:
            pass  # at worst these are delivered again, should this process die

    @property
    def exhausted(self) -> bool:
        return self.offset >= self.size

    def close(self, *, remove: bool = False) -> None:
        if remove:
            self.path.unlink(missing_ok=True)
        try:
            os.close(self.fd)  # and the lock with it: the next process may take the file
        except OSError:
            pass


def _line(entry: Entry) -> bytes:
    return entry.kind.encode("ascii") + b" " + entry.data + b"\n"


class Spool:
    """One output's records that wait for its sink, in order, bounded, retried by a thread.

    While :attr:`active` (a plain attribute: it costs the write path one look) the
    output hands each record to :meth:`hold`, which keeps it behind what waits, or says
    nothing does; when a write fails the output calls :meth:`put` with the error.
    ``deliver`` is called with entries in order, from the spool's thread or from
    :meth:`flush`, never two at a time. Thread-safe; neither call blocks on the sink.
    """

    def __init__(
        self,
        name: str,
        key: str,
        health: OutputHealth,
        deliver: Deliver,
        limits: SpoolLimits | None = None,
        *,
        batch: int = BATCH,
        retry: tuple[float, float] = RETRY,
    ) -> None:
        self.name = name
        self.health = health
        self.deliver = deliver
        self.limits = limits or SpoolLimits()
        self.batch = batch
        self.retry = retry
        self.counters = {"spooled": 0, "dropped": 0}
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40] or "output"
        self._prefix = f"{safe}-{hashlib.blake2b(key.encode(), digest_size=4).hexdigest()}."
        health.holding = self.limits.describe()
        self._fresh_process()
        _live.add(self)

    def _fresh_process(self) -> None:
        # At start and in a forked child: what the parent holds is the parent's to deliver.
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._memory: deque[Entry] = deque()
        self._bytes = 0
        self._sending = 0  # entries at the front of memory being delivered right now
        self._own: _File | None = None
        self._adopted: deque[_File] = deque()
        self._token = f"{os.getpid()}-{token_hex(4)}"
        self._generation = 0
        self._begun = False
        # Records may wait (until the first look in this process: an earlier one's may).
        self.active = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waited = 0  # entries delivered late in this outage
        self._earlier = 0  # of them, left by an earlier process

    # -- the output's side ------------------------------------------------------------------

    def waiting(self) -> bool:
        """Whether records wait (so a new one must wait behind them)."""
        if not self._begun:
            self._begin()
        return self.active

    def hold(self, entries: Entry | Sequence[Entry]) -> bool:
        """Keep ``entries`` behind what waits and say True; or False if nothing does (then
        the output writes them itself)."""
        if not self.waiting():
            return False
        self.put(entries)
        return True

    def __len__(self) -> int:
        """What waits, as far as is known (an earlier process's files are not counted)."""
        with self._lock:
            waiting = len(self._memory) + sum(f.entries for f in self._adopted)
            if self._own is not None:
                waiting += self._own.entries
            return waiting

    def put(self, entries: Entry | Sequence[Entry], cause: BaseException | None = None) -> None:
        """Hold entries after those already waiting; ``cause``: the failure that sent them.

        The first of an outage is told (``sys_monitor_disabled``) and starts the retries.
        """
        batch = [entries] if isinstance(entries, Entry) else list(entries)
        if not self._begun:
            self._begin()
        lost: list[Entry] = []
        with self._lock:
            if self._stop.is_set():
                lost = batch  # after close(): nobody would ever write them
            else:
                for entry in batch:
                    self._hold(entry, lost)
                self.active = True
                self._start_retrying()
            self.counters["spooled"] += len(batch)
            self.counters["dropped"] += len(lost)
        if cause is not None:
            self.health.failed(cause, None, lost=False)
        for entry in lost:
            self.health.lost(entry.chain, entry.seq)

    def flush(self, timeout: float | None = None) -> bool:
        """Try to deliver what waits, now; True if nothing is left."""
        if not self.waiting():
            return True
        if not self._drain_lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            return False
        try:
            return self._drain()
        finally:
            self._drain_lock.release()

    def close(self, timeout: float = 2.0, *, attempt: bool = True) -> None:
        """Stop retrying; deliver what waits if the sink takes it (``attempt``), keep the rest
        in ``SPOOL_PATH``, or count it lost and say so."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=min(timeout, 1.0))
        if attempt:
            self.flush(timeout)
        with self._drain_lock, self._lock:
            left, kept = self._keep()
            if left and not kept:
                self.counters["dropped"] += len(left)
            waiting = len(left) + sum(f.entries for f in self._files() if f.mine)
            for file in [*self._files(), *([kept] if kept is not None else [])]:
                file.close(remove=file.mine and file.exhausted)
            self._own = None
            self._adopted.clear()
            self.active = False
        if left and not kept:
            for entry in left:
                self.health.lost(entry.chain, entry.seq)
            self._tell_lost(left, exiting=True)
        elif waiting:
            write_stderr_line(
                f"secmon: output {self.name} exits with {waiting} records it could not write "
                f"to {self.health.target}: kept in {self.limits.path}, for the next process "
                "with this output to deliver"
            )

    def settle(self) -> None:
        """Make what waits outlive this process, which may end without exit handlers: to
        ``SPOOL_PATH``, from where it is delivered (by this process, or the next one);
        without one, say what would be lost. The spool stays usable."""
        with self._drain_lock, self._lock:
            left, kept = self._keep()
            if left and not kept:
                told = list(left)
            else:
                told = []
                self._memory.clear()
                self._bytes = 0
                # Delivered from the files now, in order; new records go behind them.
                if kept is not None:
                    self._adopted.append(kept)
                if self._own is not None:
                    self._adopted.append(self._own)
                    self._own = None
                self._generation += 1
            waiting = sum(f.entries for f in self._adopted if f.mine)
        if told:
            self._tell_lost(told, exiting=False)
        elif waiting:
            write_stderr_line(
                f"secmon: output {self.name} has {waiting} records it could not write to "
                f"{self.health.target} yet: kept in {self.limits.path} (written from there "
                "when it can, by this process or the next with this output)"
            )

    def _tell_lost(self, left: list[Entry], *, exiting: bool) -> None:
        ranges = describe_ranges([(e.chain, e.seq) for e in left])
        why = ("SPOOL_PATH would keep them for the next process" if self.limits.path is None
               else f"{self.limits.path} has no room for them")
        write_stderr_line(
            f"secmon: output {self.name} {'exits with' if exiting else 'has'} {len(left)} "
            f"records it could not write to {self.health.target}{ranges}: they are lost"
            f"{'' if exiting else ' if this process ends now'} ({why})"
        )

    def stats(self) -> dict[str, int]:
        return {"spooled": len(self), "spool_dropped": self.counters["dropped"]}

    # -- holding ------------------------------------------------------------------------------

    def _hold(self, entry: Entry, lost: list[Entry]) -> None:
        limits = self.limits
        size = len(entry.data) + len(entry.kind)
        own = self._own
        full = (len(self._memory) >= limits.max_records
                or self._bytes + size > limits.max_bytes)
        if limits.path is not None and ((own is not None and own.entries) or full):
            # Newer than all memory holds: the file is delivered after it.
            if self._spill(entry):
                return
            if self._own is not None and self._own.entries:
                lost.append(entry)  # it must not overtake what the file holds
                return
        self._memory.append(entry)
        self._bytes += size
        while (len(self._memory) > limits.max_records or self._bytes > limits.max_bytes) and (
            len(self._memory) > self._sending
        ):
            victim = self._memory[self._sending]
            del self._memory[self._sending]
            self._bytes -= len(victim.data) + len(victim.kind)
            lost.append(victim)

    def _spill(self, entry: Entry) -> bool:
        if b"\n" in entry.data or self.limits.path is None:
            return False
        try:
            if self._own is None:
                self._own = _File.create(self.limits.path, self._name(1))
            self._own.append(entry)
        except OSError:
            return False
        return True

    def _name(self, part: int) -> str:
        return f"{self._prefix}{self._token}.{self._generation}.{part}{_SUFFIX}"

    def _keep(self) -> tuple[list[Entry], _File | None]:
        """What waits in memory, and the file it was written to (older than our spill file,
        so delivered before it), or None: no SPOOL_PATH, or no room there."""
        left = list(self._memory)
        own = self._own
        if own is not None:
            try:
                os.fsync(own.fd)
            except OSError:
                pass
        if not left or self.limits.path is None or any(b"\n" in e.data for e in left):
            return left, None
        try:
            return left, _File.create(self.limits.path, self._name(0), left)
        except OSError:
            return left, None

    def _files(self) -> list[_File]:
        return [*self._adopted, *([self._own] if self._own is not None else [])]

    # -- delivering ---------------------------------------------------------------------------

    def _start_retrying(self) -> None:
        # Under self._lock: the thread leaves (under it too) only when nothing waits.
        if self._thread is not None or self._stop.is_set():
            return
        self._thread = threading.Thread(
            target=self._retry_loop, args=(self._stop,), name=f"secmon-{self.name}-spool",
            daemon=True,
        )
        self._thread.start()

    def _retry_loop(self, stop: threading.Event) -> None:
        delay = 0.0 if self._adopted and not self.health.degraded else self.retry[0]
        while not stop.wait(delay):
            with self._drain_lock:
                if stop.is_set():
                    return
                done, after = self._drain_once()
            if done:
                with self._lock:
                    if not self.active:
                        self._thread = None
                        return
                delay = self.retry[0]  # held again since: a new outage
                continue
            delay = min(max(delay * 2, self.retry[0]), self.retry[1])
            if after is not None:
                delay = max(delay, after)

    def _drain(self) -> bool:
        return self._drain_once()[0]

    def _drain_once(self) -> tuple[bool, float | None]:
        """Deliver until empty (True) or the sink fails (False, and the wait it asked for)."""
        while True:
            with self._lock:
                source, entries, sizes = self._next_batch()
                if source is None:
                    self.active = False
                    waited, earlier = self._waited, self._earlier
                    self._waited = self._earlier = 0
                    break
            done, delivered, failure = self._send(entries)
            with self._lock:
                self._advance(source, done, sizes)
                self._waited += delivered
                if isinstance(source, _File) and not source.mine:
                    self._earlier += delivered
            if failure is not None:
                self.health.failed(failure, None, lost=False)
                return False, getattr(failure, "after", None)
        self.health.recovered(waited=waited, earlier=earlier)
        return True, None

    def _send(self, entries: list[Entry]) -> tuple[int, int, BaseException | None]:
        """(entries done, of them delivered, the failure that stopped the rest): runs of
        entries go to ``deliver``; a line of a spool file that is no entry is dropped."""
        done = delivered = 0
        while done < len(entries):
            if not entries[done].kind:
                self._lose(entries[done])
                done += 1
                continue
            end = done
            while end < len(entries) and entries[end].kind:
                end += 1
            run = entries[done:end]
            try:
                self.deliver(run)
            except Partial as partial:
                return done + partial.done, delivered + partial.done, partial.cause
            except Rejected:
                for entry in run:
                    self._lose(entry)
            except Exception as exc:
                return done, delivered, exc
            else:
                delivered += len(run)
            done = end
        return done, delivered, None

    def _next_batch(self) -> tuple[object, list[Entry], list[int]]:
        """The oldest waiting entries: earlier processes' files, then memory, then our file."""
        while self._adopted:
            file = self._adopted[0]
            entries, sizes = file.read(self.batch)
            if entries:
                return file, entries, sizes
            self._adopted.popleft().close(remove=True)  # all of it delivered
        if self._memory:
            entries = list(itertools.islice(self._memory, self.batch))
            self._sending = len(entries)
            return self._memory, entries, []
        own = self._own
        if own is not None and own.entries:
            entries, sizes = own.read(self.batch)
            if entries:
                return own, entries, sizes
            own.entries = 0  # the file lost what it held (truncated by someone)
        return None, [], []

    def _advance(self, source: object, done: int, sizes: list[int]) -> None:
        if source is self._memory:
            for _ in range(done):
                entry = self._memory.popleft()
                self._bytes -= len(entry.data) + len(entry.kind)
            self._sending = 0
            return
        assert isinstance(source, _File)
        if source in self._adopted or source is self._own:
            source.advance(sum(sizes[:done]), done)

    def _lose(self, entry: Entry) -> None:
        with self._lock:
            self.counters["dropped"] += 1
        self.health.lost(entry.chain, entry.seq)

    # -- earlier processes' files -----------------------------------------------------------

    def _begin(self) -> None:
        """First use in this process: take over spool files that no living process holds."""
        with self._lock:
            if self._begun:
                return
            self._begun = True
            self.active = False  # nothing of this process's waits yet; earlier ones' may
            directory = self.limits.path
            if directory is None:
                return
            try:
                names = [n for n in os.listdir(directory)
                         if n.startswith(self._prefix) and n.endswith(_SUFFIX)]
            except OSError:
                return
            found = []
            for name in names:
                path = directory / name
                try:
                    fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
                except OSError:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    if os.fstat(fd).st_nlink == 0:
                        raise OSError(errno.ENOENT, "delivered meanwhile")
                except OSError:
                    os.close(fd)  # held by a living process, or just finished with
                    continue
                stem, generation, part = _order(name)
                found.append((os.fstat(fd).st_mtime, stem, generation, part,
                              _File(path, fd, mine=False)))
            # One process's files in their order, older processes first.
            first_seen: dict[str, float] = {}
            for mtime, stem, *_ in found:
                first_seen[stem] = min(mtime, first_seen.get(stem, mtime))
            found.sort(key=lambda f: (first_seen[f[1]], f[1], f[2], f[3]))
            self._adopted.extend(f[4] for f in found)
            if self._adopted:
                self.active = True
                self._start_retrying()

    def after_fork(self) -> None:
        # The parent's files stay locked by the parent: closing our copies leaves its locks.
        for file in self._files():
            file.close()
        self._fresh_process()


def _reset_after_fork() -> None:
    for spool in list(_live):
        spool.after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


def _order(name: str) -> tuple[str, int, int]:
    """(process, generation, part) of a spool file's name; odd names go last."""
    stem, generation, part = [*name[: -len(_SUFFIX)].rsplit(".", 2), "", ""][:3]
    try:
        return stem, int(generation), int(part)
    except ValueError:
        return name, 1 << 30, 0


def _size(count: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"

