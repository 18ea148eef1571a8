"""Detection: rules over sliding-window counters that turn event streams into alerts."""

from __future__ import annotations

from typing import Any, Protocol

from ..alert import Alert
from ..events import EventSpec
from .engine import AlertSink, DetectionEngine, build_rules
from .geo import Location


class Engine(Protocol):
    def observe(self, event: dict[str, Any], spec: EventSpec) -> None: ...

    def signal(self, name: str, fields: dict[str, Any]) -> None: ...

    def signal_needs_user(self, name: str) -> bool: ...

    def stats(self) -> dict[str, Any]: ...

    def flush(self, timeout: float) -> None: ...

    def settle(self) -> None: ...

    def close(self) -> None: ...


__all__ = ["Alert", "AlertSink", "DetectionEngine", "Engine", "Location", "build_rules"]
