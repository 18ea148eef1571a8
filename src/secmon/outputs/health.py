"""Degraded and restored outputs: one rate-limited report per outage, and the records it cost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import write_stderr_line
from ..events import Emit

# More lost ranges than this in one outage are summarized as a count.
MAX_LOST_RANGES = 1000


class OutputHealth:
    """Tracks whether an output can deliver, and tells about it without flooding.

    On the first failure of an outage the output goes *degraded*: one line to stderr and
    one ``sys_monitor_disabled`` event to the other outputs (at most one per
    ``report_interval``). While degraded, the output tries again at most once per
    ``retry_interval`` and drops (and counts) what comes in between. When a delivery
    succeeds again, ``sys_monitor_enabled`` says so; if audit records were lost it is
    itself an audit event listing the lost ``seq`` ranges of each chain, so the chain
    records its own gap and ``secmon verify`` can tell it from a deletion.
    """

    def __init__(
        self,
        output: str,
        target: str,
        *,
        retry_interval: float = 1.0,
        report_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.output = output
        self.target = target
        self.retry_interval = retry_interval
        self.report_interval = report_interval
        self.clock = clock
        self.emit: Emit | None = None
        self.degraded = False
        self.dropped = 0
        self.outages = 0
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._since = 0.0
        self._last_report: float | None = None
        self._reported = False
        self._error = ""
        self._lost_count = 0
        self._lost: dict[str, list[list[int]]] = {}
        self._lost_truncated = False
        self._threads: list[threading.Thread] = []

    # -- called by the output -------------------------------------------------------------

    def retry_due(self) -> bool:
        return self.clock() >= self._retry_at

    def failed(
        self, exc: BaseException, event: Mapping[str, Any] | None, *, lost: bool = True
    ) -> None:
        """A delivery failed (``lost``: and its event is gone); the first of an outage is told."""
        with self._lock:
            now = self.clock()
            if lost:
                self._lose(event)
            self._retry_at = now + self.retry_interval
            if self.degraded:
                return
            self.degraded = True
            self.outages += 1
            self._since = now
            self._error = _describe(exc)
            if self._last_report is not None and now - self._last_report < self.report_interval:
                return
            self._last_report = now
            self._reported = True
        write_stderr_line(
            f"secmon: output {self.output} cannot write to {self.target} ({self._error}); "
            "its events are dropped and counted until it recovers. The application is not "
            "affected."
        )
        self._emit("sys_monitor_disabled", False, {
            "component": "output", "output": self.output, "target": self.target,
            "error": self._error, "reason": f"output {self.output} is failing",
        })

    def skipped(self, event: Mapping[str, Any] | None) -> None:
        """An event dropped while degraded, between retries."""
        with self._lock:
            self._lose(event)

    def recovered(self) -> None:
        """A delivery succeeded: end the outage, and record what it cost."""
        with self._lock:
            if not self.degraded:
                return
            self.degraded = False
            fields: dict[str, Any] = {
                "component": "output", "output": self.output, "target": self.target,
                "reason": f"output {self.output} is writing again",
                "outage_seconds": round(self.clock() - self._since, 3),
                "lost_records": self._lost_count,
            }
            lost = [
                {"chain": chain, "first": first, "last": last}
                for chain, ranges in self._lost.items()
                for first, last in ranges
            ]
            if lost:
                fields["lost"] = lost
            if self._lost_truncated:
                fields["lost_truncated"] = True
            tell = self._reported or bool(lost)
            self._reported = False
            self._lost_count = 0
            self._lost = {}
            self._lost_truncated = False
        if tell:
            write_stderr_line(f"secmon: output {self.output} is writing to {self.target} again")
            self._emit("sys_monitor_enabled", bool(lost), fields)

    def join(self, timeout: float | None = None) -> None:
        """Wait for reports still on their way (they are emitted from a helper thread)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._threads = []

    # -- internals ------------------------------------------------------------------------

    def _lose(self, event: Mapping[str, Any] | None) -> None:
        self.dropped += 1
        self._lost_count += 1
        if event is None or "mac" not in event:
            return
        chain, seq = event.get("chain"), event.get("seq")
        if not isinstance(chain, str) or not isinstance(seq, int):
            return
        ranges = self._lost.setdefault(chain, [])
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        elif sum(len(r) for r in self._lost.values()) < MAX_LOST_RANGES:
            ranges.append([seq, seq])
        else:
            self._lost_truncated = True

    def _emit(self, event_type: str, audit: bool, fields: dict[str, Any]) -> None:
        # The output may be called with the signer's lock held and its own lock taken:
        # emitting from here would deadlock or reorder the chain, so a helper thread does it.
        emit = self.emit
        if emit is None:
            return

        def send() -> None:
            emit(event_type, _audit=audit, **fields)

        thread = threading.Thread(target=send, name=f"secmon-{self.output}-health", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"
