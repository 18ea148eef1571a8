"""Detection: rules over sliding-window counters that turn event streams into alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .alert import Alert
from .geo import Location

if TYPE_CHECKING:
    from ..config import Settings
    from ..events import EventSpec
    from ..pipeline import Pipeline


class Engine(Protocol):
    def observe(self, event: dict[str, Any], spec: EventSpec) -> None: ...

    def signal(self, name: str, fields: dict[str, Any]) -> None: ...

    def signal_needs_user(self, name: str) -> bool: ...

    def stats(self) -> dict[str, Any]: ...

    def flush(self, timeout: float) -> None: ...

    def close(self) -> None: ...


def build_engine(settings: Settings, pipeline: Pipeline) -> Engine | None:
    """The engine for ``DETECTION`` / ``STATE_BACKEND`` / ``ALERTS``; None if every rule is off."""
    from .engine import build

    return build(settings, pipeline)


__all__ = ["Alert", "Engine", "Location", "build_engine"]
