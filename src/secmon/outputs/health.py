"""Degraded and restored outputs: one rate-limited report per outage, and the records it cost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import write_stderr_line
from ..events import Emit

# More lost ranges than this in one outage are summarized as a count.
MAX_LOST_RANGES = 1000


class OutputHealth:
    """Tracks whether an output can deliver, and tells about it without flooding.

    On the first failure of an outage the output goes *degraded*: one line to stderr and
    one ``sys_monitor_disabled`` event to the other outputs (at most one per
    ``report_interval``). Meanwhile its records wait in its spool (``holding`` says how
    many may), and what is dropped past that bound is counted here. When everything
    waiting is delivered, ``sys_monitor_enabled`` says so, with how many records waited;
    if audit records were lost it is itself an audit event listing the lost ``seq``
    ranges of each chain, so the chain records its own gap and ``secmon verify`` can tell
    it from a deletion.
    """

    def __init__(
        self,
        output: str,
        target: str,
        *,
        report_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.output = output
        self.target = target
        self.report_interval = report_interval
        self.clock = clock
        self.emit: Emit | None = None
        # What the output keeps while it cannot deliver (its spool's bound), for the report.
        self.holding = ""
        self.degraded = False
        self.dropped = 0
        self.outages = 0
        self._lock = threading.Lock()
        self._since = 0.0
        self._last_report: float | None = None
        self._reported = False
        self._error = ""
        self._lost_count = 0
        self._lost: dict[str, list[list[int]]] = {}
        self._lost_truncated = False
        self._threads: list[threading.Thread] = []

    # -- called by the output -------------------------------------------------------------

    def failed(
        self, exc: BaseException, event: Mapping[str, Any] | None, *, lost: bool = True
    ) -> None:
        """A delivery failed (``lost``: and its event is gone); the first of an outage is told."""
        with self._lock:
            now = self.clock()
            if lost:
                self._lose(event)
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
        kept = (f"its events wait ({self.holding}) and are written when it recovers; "
                "past that they are dropped and counted" if self.holding
                else "its events are dropped and counted until it recovers")
        write_stderr_line(
            f"secmon: output {self.output} cannot write to {self.target} ({self._error}); "
            f"{kept}. The application is not affected."
        )
        self._emit("sys_monitor_disabled", False, {
            "component": "output", "output": self.output, "target": self.target,
            "error": self._error, "reason": f"output {self.output} is failing",
        })

    def skipped(self, event: Mapping[str, Any] | None) -> None:
        """An event dropped while degraded."""
        with self._lock:
            self._lose(event)

    def lost(self, chain: str | None, seq: int | None) -> None:
        """A record dropped (past the spool's bound); ``chain``/``seq`` if it was signed."""
        with self._lock:
            self._lose({"chain": chain, "seq": seq, "mac": None} if chain is not None else None)

    def recovered(self, *, waited: int = 0, earlier: int = 0) -> None:
        """Delivered again, and nothing waits: end the outage, and record what it cost.

        ``waited``: records delivered late; ``earlier``: of them, those an earlier process
        left in the spool directory (told even without an outage of this process's own).
        """
        with self._lock:
            if not self.degraded and not earlier:
                return
            fields: dict[str, Any] = {
                "component": "output", "output": self.output, "target": self.target,
                "reason": f"output {self.output} is writing again",
            }
            if self.degraded:
                fields["outage_seconds"] = round(self.clock() - self._since, 3)
            else:
                fields["reason"] = (f"output {self.output} wrote what an earlier process left "
                                    "in the spool directory")
            self.degraded = False
            fields["spooled_records"] = waited
            fields["lost_records"] = self._lost_count
            if earlier:
                fields["earlier_records"] = earlier
            lost = [
                {"chain": chain, "first": first, "last": last}
                for chain, ranges in self._lost.items()
                for first, last in ranges
            ]
            if lost:
                fields["lost"] = lost
            if self._lost_truncated:
                fields["lost_truncated"] = True
            tell = self._reported or bool(lost) or bool(waited)
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
        # The parent's outage is the parent's: its records stayed with it.
        self._lock = threading.Lock()
        self._threads = []
        self.degraded = False
        self._reported = False
        self._lost_count = 0
        self._lost = {}
        self._lost_truncated = False

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


def describe_ranges(records: Iterable[tuple[str | None, int | None]]) -> str:
    """`` (audit seq 4-6, 9 of chain C)`` for the signed ones among ``records``, or ""."""
    by_chain: dict[str, list[int]] = {}
    for chain, seq in records:
        if chain is not None and seq is not None:
            by_chain.setdefault(chain, []).append(seq)
    parts = []
    for chain, seqs in by_chain.items():
        spans: list[list[int]] = []
        for seq in sorted(seqs):
            if spans and spans[-1][1] == seq - 1:
                spans[-1][1] = seq
            else:
                spans.append([seq, seq])
        text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in spans[:10])
        if len(spans) > 10:
            text += ", ..."
        parts.append(f"audit seq {text} of chain {chain}")
    return f" ({'; '.join(parts)})" if parts else ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"
