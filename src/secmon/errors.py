"""secmon's own failures: counted, told once on stderr and as an event, never raised."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable

from .events import Emit

# Where a failure happened ("output.audit", "detection") and what it was.
ReportError = Callable[[str, BaseException], None]

_local = threading.local()


def write_stderr_line(text: str) -> None:
    """Last-resort diagnostics that must not fail (secmon reporting its own trouble)."""
    try:
        os.write(2, (text.rstrip("\n") + "\n").encode("utf-8", "backslashreplace"))
    except Exception:  # noqa: S110 - a closed or refused stderr leaves nowhere to say it
        pass


class ErrorReporter:
    """Counts each failure inside secmon; tells about each kind once.

    ``counters`` gets ``errors`` and ``errors.<where>``; the first failure of each
    (where, exception type) goes to stderr and out as a ``secmon_internal_error`` event
    through ``emit``, its text cleaned by ``clean`` (the redactor: an exception message
    may quote a secret).
    """

    def __init__(
        self, counters: Counter[str], *, emit: Emit, clean: Callable[[str], str]
    ) -> None:
        self.counters = counters
        self._emit = emit
        self._clean = clean
        self._reported: set[tuple[str, str]] = set()

    def report(self, where: str, exc: BaseException) -> None:
        """Count a failure inside secmon; tell about each kind once. Never raises."""
        try:
            self.counters["errors"] += 1
            self.counters[f"errors.{where}"] += 1
            key = (where, type(exc).__name__)
            if key in self._reported:
                return
            self._reported.add(key)
            detail = self._clean(f"{type(exc).__name__}: {exc}")
            write_stderr_line(
                f"secmon: {where} failed ({detail}); the application is not affected. "
                "Further failures of this kind are counted, not reported."
            )
            if getattr(_local, "reporting", False):
                return
            _local.reporting = True
            try:
                self._emit("secmon_internal_error", component=where, error=detail)
            finally:
                _local.reporting = False
        except Exception:  # noqa: S110 - the error reporter itself must never raise
            pass
