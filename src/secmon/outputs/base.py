"""What every output shares: a renderer, a filter, and the write/flush/close contract."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import formats
from ..config import ConfigError
from ..errors import ReportError
from ..events import AUDIT, LEVEL_RANK, LEVELS, Emit, EventSpec

if TYPE_CHECKING:
    from ..config import Settings

COMMON_KEYS = frozenset({"type", "name", "format", "categories", "min_level", "event_types"})


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events an output takes: by category (ECS or ``audit``), level and name."""

    categories: frozenset[str] = frozenset()
    min_rank: int = 0
    event_types: frozenset[str] = frozenset()

    def __call__(self, event: Mapping[str, Any], spec: EventSpec, audit: bool) -> bool:
        if LEVEL_RANK.get(event.get("level", "info"), 0) < self.min_rank:
            return False
        if self.event_types and spec.name not in self.event_types:
            return False
        if self.categories:
            if audit and AUDIT in self.categories:
                return True
            return not self.categories.isdisjoint(spec.ecs_categories)
        return True

    @classmethod
    def from_spec(cls, key: str, spec: Mapping[str, Any]) -> EventFilter:
        categories = _names(f"{key}.categories", spec.get("categories", ()))
        event_types = _names(f"{key}.event_types", spec.get("event_types", ()))
        level = spec.get("min_level", "info")
        level = "warning" if level == "warn" else level
        if level not in LEVELS:
            allowed = ", ".join(LEVELS)
            raise ConfigError(f"{key}.min_level", f"expected one of {allowed}, got {level!r}")
        return cls(frozenset(categories), LEVEL_RANK[level], frozenset(event_types))


def _names(key: str, value: Any) -> Collection[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(
        isinstance(v, str) for v in value
    ):
        raise ConfigError(key, "expected a list of names")
    return value


class Output:
    """An event destination. Subclasses implement :meth:`write` (and maybe flush/close).

    ``handle`` is called on the request path: it must not block on the network;
    outputs that talk to a network put records on a queue (see ``queued.py``).
    """

    type_name = "output"

    def __init__(self, *, name: str, renderer: formats.Renderer, accepts: EventFilter) -> None:
        self.name = name
        self.render = renderer
        self.accepts = accepts

    def handle(self, event: dict[str, Any], rendered: dict[int, bytes]) -> None:
        """Write one event; ``rendered`` caches renderings shared by outputs of one format."""
        key = id(self.render)
        line = rendered.get(key)
        if line is None:
            line = rendered[key] = self.render(event)
        self.write(line)

    def write(self, line: bytes) -> None:
        raise NotImplementedError

    def attach(self, emit: Emit, report_error: ReportError) -> None:
        """Called once by the pipeline that owns this output, with its ``emit`` (to tell of an
        outage) and its error reporter."""

    def flush(self, timeout: float | None = None) -> None:
        """Deliver what is buffered, waiting at most ``timeout`` seconds."""

    def settle(self) -> None:
        """The process may end now without exit handlers: make what waits outlive it."""

    def close(self) -> None:
        """Release resources; called when secmon is reconfigured or the process exits."""

    def stats(self) -> dict[str, int]:
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def common_options(
    key: str, spec: Mapping[str, Any], settings: Settings, allowed: Collection[str]
) -> tuple[str, formats.Renderer, EventFilter]:
    """Validate the keys every output takes; reject unknown keys by name."""
    unknown = set(spec) - COMMON_KEYS - set(allowed)
    if unknown:
        known = ", ".join(sorted(COMMON_KEYS | set(allowed)))
        raise ConfigError(f"{key}.{sorted(unknown)[0]}", f"unknown option (allowed: {known})")
    format_name = spec.get("format", settings.format)
    try:
        renderer = formats.get(format_name)
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{key}.format", str(exc).strip("'\"")) from None
    name = spec.get("name") or spec["type"]
    if not isinstance(name, str):
        raise ConfigError(f"{key}.name", "expected a string")
    return name, renderer, EventFilter.from_spec(key, spec)
