"""Outputs: where events go. Each is built from one ``OUTPUTS`` entry by its ``type``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..config import ConfigError
from .base import EventFilter, Output

if TYPE_CHECKING:
    from ..config import Settings

Builder = Callable[[str, Mapping[str, Any], "Settings"], Output]

# type name -> "module:function"; modules import their optional dependencies lazily.
_BUILDERS: dict[str, str] = {
    "stdout": "stream:build",
    "stderr": "stream:build",
    "file": "file:build",
    "logging": "logging_bridge:build",
    "syslog": "syslog:build",
    "postgres": "postgres:build",
    # Alert destinations take Alerts, not events: they are configured in ALERTS.
    "webhook": "alerts:not_an_output",
    "slack": "alerts:not_an_output",
    "pagerduty": "alerts:not_an_output",
}


def build(key: str, spec: Mapping[str, Any], settings: Settings) -> Output:
    """One output from its settings entry; bad entries raise ConfigError naming ``key``."""
    target = _BUILDERS.get(spec["type"])
    if target is None:
        raise ConfigError(
            f"{key}.type", f"unknown output type {spec['type']!r} (known: {', '.join(_BUILDERS)})"
        )
    module_name, function = target.split(":")
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ImportError as exc:
        raise ConfigError(f"{key}.type", f"output {spec['type']!r} is unavailable: {exc}") from None
    builder: Builder = getattr(module, function)
    return builder(key, spec, settings)


def default_specs(settings: Settings) -> tuple[Mapping[str, Any], ...]:
    """Without OUTPUTS: security.log + audit.log in LOG_DIR, rotated daily and expired by
    class (90 and 365 days); or stdout."""
    if settings.log_dir is not None:
        return (
            {"type": "file", "path": "security.log", "name": "security", "when": "midnight"},
            {"type": "file", "path": "audit.log", "name": "audit", "categories": ["audit"],
             "when": "midnight"},
        )
    return ({"type": "stdout"},)


__all__ = ["EventFilter", "Output", "build", "default_specs"]
