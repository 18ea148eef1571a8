"""Helpers for asserting on security events in tests, and the pytest plugin that offers them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .pipeline import captures, withheld


class CapturedEvents(list[dict[str, Any]]):
    """The final, sanitized events seen while capturing, oldest first."""

    def of_type(self, *event_types: str) -> list[dict[str, Any]]:
        return [event for event in self if event.get("event_type") in event_types]

    def types(self) -> list[str]:
        return [str(event.get("event_type")) for event in self]


@contextmanager
def capture_events(*, outputs: bool = True) -> Iterator[CapturedEvents]:
    """Collect every event secmon emits (from any pipeline) while the block runs.

    >>> with capture_events() as events:
    ...     client.post("/login", data={"username": "bob", "password": "wrong"})
    >>> assert events.types() == ["authn_login_fail"]

    The events still go where the settings send them, signed into the audit chain, and
    detection sees them: a test can assert on the log files and on detections as well.
    With ``outputs=False`` the block's events, from every thread, go to the capture alone,
    as structlog's ``capture_logs()`` keeps its own: nothing is written, signed or sent,
    and detection does not count them (its counters may be shared through Redis), so a
    shell on a production configuration leaves logs, audit chain and alerts untouched.
    """
    events = CapturedEvents()
    captures.append(events)
    if not outputs:
        withheld.append(events)
    try:
        yield events
    finally:
        for registry in (captures, withheld):
            _discard(registry, events)


def _discard(registry: list[list[dict[str, Any]]], events: CapturedEvents) -> None:
    # By identity: list.remove() compares by value, and nested captures hold equal lists.
    for index, item in enumerate(registry):
        if item is events:
            del registry[index]
            return


try:
    import pytest
except ImportError:  # pragma: no cover - the plugin is only loaded by pytest
    pass
else:

    @pytest.fixture
    def secmon_events() -> Iterator[CapturedEvents]:
        """The security events emitted during the test."""
        with capture_events() as events:
            yield events
