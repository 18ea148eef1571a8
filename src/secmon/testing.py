"""Helpers for asserting on security events in tests, and the pytest plugin that offers them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .pipeline import captures


class CapturedEvents(list[dict[str, Any]]):
    """The final, sanitized events seen while capturing, oldest first."""

    def of_type(self, *event_types: str) -> list[dict[str, Any]]:
        return [event for event in self if event.get("event_type") in event_types]

    def types(self) -> list[str]:
        return [str(event.get("event_type")) for event in self]


@contextmanager
def capture_events() -> Iterator[CapturedEvents]:
    """Collect every event secmon emits (from any pipeline) while the block runs.

    >>> with capture_events() as events:
    ...     client.post("/login", data={"username": "bob", "password": "wrong"})
    >>> assert events.types() == ["authn_login_fail"]
    """
    events = CapturedEvents()
    captures.append(events)
    try:
        yield events
    finally:
        captures.remove(events)


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
