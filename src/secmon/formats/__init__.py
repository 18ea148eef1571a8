"""Renderers: one canonical event dict in, one serialized record (bytes, no newline) out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .json import render_json

Renderer = Callable[[dict[str, Any]], bytes]

_RENDERERS: dict[str, Renderer] = {"json": render_json}


def register(name: str, renderer: Renderer) -> None:
    _RENDERERS[name] = renderer


def get(name: str) -> Renderer:
    """The renderer called ``name``; raises KeyError listing the known ones."""
    _load_optional()
    try:
        return _RENDERERS[name]
    except KeyError:
        raise KeyError(f"unknown format {name!r}; known: {', '.join(sorted(_RENDERERS))}") from None


def names() -> list[str]:
    _load_optional()
    return sorted(_RENDERERS)


def _load_optional() -> None:
    # SIEM formats register themselves on import; importing here keeps the core import light.
    import importlib

    for module in ("ecs", "ocsf", "cef"):
        if module not in _RENDERERS:
            try:
                importlib.import_module(f"{__name__}.{module}")
            except ImportError:
                pass
