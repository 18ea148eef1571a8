"""Network outputs run behind a bounded queue and a worker thread: the request never waits."""

from __future__ import annotations

import os
import queue
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..errors import ReportError
from ..events import Emit
from .base import Output
from .health import OutputHealth
from .spool import Entry, Rejected, Spool, SpoolLimits


class RetryLater(Exception):
    """A delivery failed in a way worth retrying; ``after`` honours e.g. ``Retry-After``."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class GiveUp(Rejected):
    """A delivery failed for good (e.g. HTTP 400): drop the item, do not retry."""


class QueuedOutput(Output):
    """Enqueue on the request path; deliver in batches from a daemon thread.

    Subclasses implement :meth:`deliver` (one batch). Any exception other than
    :class:`GiveUp` is retried with exponential backoff and full jitter, up to
    ``max_retries``; a batch that still fails goes to the output's spool, and so does
    every later one until the spool has delivered what it holds (see ``spool.py``):
    ``sent + dropped + spooled == enqueued`` once the queue is drained.
    """

    def __init__(
        self,
        *,
        max_queue: int = 10_000,
        batch_size: int = 1,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        rate_per_second: float | None = None,
        target: str = "",
        spool_key: str = "",
        spool: SpoolLimits | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.rate_per_second = rate_per_second
        self.counters = {"enqueued": 0, "sent": 0, "retried": 0, "dropped": 0}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._stopping = False
        self._pid = -1
        self._queue: queue.Queue[Any] = queue.Queue(max_queue)
        self._thread: threading.Thread | None = None
        self._next_send = 0.0
        # Where it delivers, in words (never a secret) and as the spool file's name (hashed).
        # The health lives in the spool: fewer than 30 attributes keep ``self.x`` fast.
        target = target or f"{self.type_name} {self.name}"
        self.spool = Spool(self.name, f"{self.type_name} {spool_key or target}",
                           OutputHealth(self.name, target), self._deliver_spooled, spool,
                           batch=max(batch_size, 1))

    @property
    def health(self) -> OutputHealth:
        return self.spool.health

    def attach(self, emit: Emit, report_error: ReportError) -> None:
        self.health.emit = emit

    # -- request path -------------------------------------------------------------------

    def prepare(self, event: dict[str, Any], rendered: dict[int, bytes]) -> Any:
        """What goes on the queue for one event (by default its rendering)."""
        key = id(self.render)
        line = rendered.get(key)
        if line is None:
            line = rendered[key] = self.render(event)
        return line

    def handle(self, event: dict[str, Any], rendered: dict[int, bytes]) -> None:
        self.enqueue(self.prepare(event, rendered))

    def enqueue(self, item: Any) -> bool:
        if self._pid != os.getpid():
            self._start()
        with self._lock:
            self.counters["enqueued"] += 1
            if self._stopping:
                self.counters["dropped"] += 1
                return False
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.counters["dropped"] += 1
                return False
            self._pending += 1
        return True

    def write(self, line: bytes) -> None:
        self.enqueue(line)

    # -- spooling: items as entries, and back --------------------------------------------

    def to_spool(self, item: Any) -> Entry:
        """An item as a spool entry (by default items are rendered bytes)."""
        return Entry("r", item)

    def from_spool(self, entry: Entry) -> Any:
        if entry.kind != "r":
            raise Rejected(f"not an entry of this output: {entry.kind!r}")
        return entry.data

    # -- worker -------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            # After a fork the parent's thread and queue are gone: start afresh.
            self._pid = os.getpid()
            self._queue = queue.Queue(self.max_queue)
            self._pending = 0
            self._stopping = False
            self._thread = threading.Thread(
                target=self._run, name=f"secmon-{self.name}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            while len(batch) < self.batch_size:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(more)
            self._handle(batch)
            with self._lock:
                self._pending -= len(batch)
                if self._pending <= 0:
                    self._idle.notify_all()
                if self._stopping:
                    return

    def _handle(self, batch: list[Any]) -> None:
        if self.spool.active and self.spool.hold(self._entries(batch)):
            return  # earlier items wait in the spool: this batch went behind them, untried
        outcome = self._send(batch)
        if outcome is None:
            with self._lock:
                self.counters["sent"] += len(batch)
            if self.health.degraded and not self.spool.waiting():
                self.health.recovered()
        elif isinstance(outcome, GiveUp):
            with self._lock:
                self.counters["dropped"] += len(batch)
            signed = [e for e in self._entries(batch) if e.seq is not None]
            if signed:
                # The gap is declared when the output next reports itself writing again.
                self.health.failed(outcome, None, lost=False)
            for entry in signed:
                self.health.lost(entry.chain, entry.seq)
        else:
            self.spool.put(self._entries(batch), outcome)

    def _entries(self, batch: list[Any]) -> list[Entry]:
        return [self.to_spool(item) for item in batch]

    def _send(self, batch: list[Any]) -> BaseException | None:
        """None once delivered; else the failure: GiveUp, or the last error of the retries."""
        for attempt in range(self.max_retries + 1):
            self._pace()
            try:
                self.deliver(batch)
                return None
            except GiveUp as exc:
                return exc
            except Exception as exc:
                if attempt == 0:
                    self.health.failed(exc, None, lost=False)
                if attempt == self.max_retries or self._stopping:
                    return exc
                with self._lock:
                    self.counters["retried"] += 1
                after = exc.after if isinstance(exc, RetryLater) else None
                delay = after if after is not None else self._backoff(attempt)
                self._sleep(min(delay, self.backoff_max))
        raise AssertionError("unreachable")  # pragma: no cover

    def _deliver_spooled(self, entries: Sequence[Entry]) -> None:
        """The spool's delivery: one try of one batch (the spool paces its tries)."""
        try:
            batch = [self.from_spool(entry) for entry in entries]
        except (ValueError, TypeError, KeyError) as exc:
            raise Rejected(f"unreadable spool entry ({type(exc).__name__})") from None
        self._pace()
        self.deliver(batch)  # GiveUp is a Rejected: the spool drops the batch
        with self._lock:
            self.counters["sent"] += len(batch)

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def _pace(self) -> None:
        if not self.rate_per_second:
            return
        now = time.monotonic()
        if self._next_send > now:
            self._sleep(self._next_send - now)
        self._next_send = max(now, self._next_send) + 1.0 / self.rate_per_second

    def _sleep(self, seconds: float) -> None:
        # Interruptible by close(): waits on the condition instead of time.sleep.
        with self._lock:
            if not self._stopping:
                self._idle.wait(timeout=max(0.0, seconds))

    def deliver(self, batch: list[Any]) -> None:
        raise NotImplementedError

    # -- lifecycle ----------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending > 0 and self._pid == os.getpid():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                self._idle.wait(remaining)
        self.spool.flush(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self.health.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def settle(self) -> None:
        self.spool.settle()

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        with self._lock:
            self._stopping = True
            self._idle.notify_all()
            thread = self._thread if self._pid == os.getpid() else None
        if thread is not None:
            try:
                self._queue.put_nowait(_STOP)
            except queue.Full:
                pass  # the worker sees _stopping after its current batch
            thread.join(timeout=1.0)
        left = []
        while thread is not None:  # a forked child's copy of the queue is its parent's
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                left.append(item)
        if left:
            # Not tried: kept with the spool's (in SPOOL_PATH, or counted lost and told).
            self.spool.put(self._entries(left))
        with self._lock:
            # A batch the worker is still stuck on will never be sent.
            self.counters["dropped"] += max(self._pending - len(left), 0)
            self._pending = 0
        self.spool.close(attempt=False)

    def stats(self) -> dict[str, int]:
        with self._lock:
            stats = dict(self.counters)
        spooled = self.spool.stats()
        stats["dropped"] += spooled["spool_dropped"]
        stats["spooled"] = spooled["spooled"]
        return stats


_STOP = object()
