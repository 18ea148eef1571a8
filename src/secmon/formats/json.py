"""The default format: the canonical event as one JSON object."""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def render_json(event: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(event, option=_OPTIONS)
    except TypeError:
        # Only reachable when a caller bypasses sanitizing; never lose the event for it.
        return json.dumps(event, default=repr, ensure_ascii=True).encode()
