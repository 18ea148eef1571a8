"""Reading the detection settings: rule options, durations, and callables named by dotted path."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from ..config import ConfigError
from ..events import LEVELS

Converter = Callable[[str, Any], Any]

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration(key: str, value: Any) -> float:
    """Seconds, given as a number or a string such as ``"90s"``, ``"15m"``, ``"1h"``, ``"30d"``."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.lower())):
        seconds = float(match[1]) * _UNITS[match[2]]
    if seconds is None or not seconds > 0:
        raise ConfigError(key, f"expected a positive duration such as 900 or '15m', got {value!r}")
    return seconds


def positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(key, f"expected a positive integer, got {value!r}")
    return value


def positive_number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(key, f"expected a positive number, got {value!r}")
    return float(value)


def flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"expected true or false, got {value!r}")
    return value


def level(key: str, value: Any) -> str:
    if value not in LEVELS:
        raise ConfigError(key, f"expected one of {', '.join(LEVELS)}, got {value!r}")
    return str(value)


def choice(*allowed: str) -> Converter:
    def convert(key: str, value: Any) -> str:
        if value not in allowed:
            raise ConfigError(key, f"expected one of {', '.join(allowed)}, got {value!r}")
        return str(value)

    return convert


def prefix_length(maximum: int) -> Converter:
    def convert(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= maximum:
            raise ConfigError(key, f"expected a prefix length from 1 to {maximum}, got {value!r}")
        return value

    return convert


def load_callable(key: str, value: Any) -> Callable[..., Any] | None:
    """A callable given directly or as ``"package.module:name"`` / ``"package.module.name"``."""
    if value is None:
        return None
    if callable(value):
        given: Callable[..., Any] = value
        return given
    text = str(value)
    module_name, _, attribute = text.rpartition(":") if ":" in text else text.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(key, f"cannot import {text!r}: {exc}") from None
    if not callable(target):
        raise ConfigError(key, f"{text!r} is not callable")
    function: Callable[..., Any] = target
    return function
