"""The limit a rate limiter hit, as slowapi leaves it in the request state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .types import Scope


def limit_fields(scope: Scope) -> dict[str, Any]:
    """``limit`` and ``scope`` of the slowapi limit behind a 429, or nothing.

    slowapi stores ``(limit, [prefix, key, scope])`` as ``request.state.view_rate_limit``
    when it checks a route and raises ``RateLimitExceeded`` on a breach. The key
    (usually the client address or user) is left out: the event carries both already.
    """
    state = scope.get("state")
    if not isinstance(state, Mapping):
        return {}
    hit = state.get("view_rate_limit")
    if not isinstance(hit, (tuple, list)) or len(hit) != 2:
        return {}
    limit, args = hit
    fields: dict[str, Any] = {"limit": str(limit)}
    if isinstance(args, (list, tuple)) and args:
        fields["scope"] = str(args[-1])
    return fields
