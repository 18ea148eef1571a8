"""Network outputs run behind a bounded queue and a worker thread: the request never waits."""

from __future__ import annotations

import os
import queue
import random
import threading
import time
from typing import Any

from .base import Output


class RetryLater(Exception):
    """A delivery failed in a way worth retrying; ``after`` honours e.g. ``Retry-After``."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class GiveUp(Exception):
    """A delivery failed for good (e.g. HTTP 400): drop the item, do not retry."""


class QueuedOutput(Output):
    """Enqueue on the request path; deliver in batches from a daemon thread.

    Subclasses implement :meth:`deliver` (one batch). Any exception other than
    :class:`GiveUp` is retried with exponential backoff and full jitter, up to
    ``max_retries``; what cannot be delivered is dropped and counted, so that
    ``sent + dropped == enqueued`` once the queue is drained.
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
            sent = self._send(batch)
            with self._lock:
                self.counters["sent" if sent else "dropped"] += len(batch)
                self._pending -= len(batch)
                if self._pending <= 0:
                    self._idle.notify_all()
                if self._stopping:
                    return

    def _send(self, batch: list[Any]) -> bool:
        for attempt in range(self.max_retries + 1):
            self._pace()
            try:
                self.deliver(batch)
                return True
            except GiveUp:
                return False
            except Exception as exc:
                if attempt == self.max_retries or self._stopping:
                    self.on_failure(exc)
                    return False
                with self._lock:
                    self.counters["retried"] += 1
                after = exc.after if isinstance(exc, RetryLater) else None
                delay = after if after is not None else self._backoff(attempt)
                self._sleep(min(delay, self.backoff_max))
        return False

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

    def on_failure(self, exc: BaseException) -> None:
        """Called once per batch given up on; subclasses may report it."""

    # -- lifecycle ----------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending > 0 and self._pid == os.getpid():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                self._idle.wait(remaining)

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
        with self._lock:
            # Whatever is still queued now will never be sent.
            self.counters["dropped"] += max(self._pending, 0)
            self._pending = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counters)


_STOP = object()
