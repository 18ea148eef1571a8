"""The limit Flask-Limiter found breached in the current request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import has_request_context

if TYPE_CHECKING:
    from flask import Flask


def breached_limit(app: Flask) -> dict[str, Any] | None:
    """``limit`` and ``scope`` of the limit a Flask-Limiter of this app breached, or None.

    Read from the limiter's public per-request state (``Limiter.current_limit``), which
    holds the breached limit when the limiter raised ``RateLimitExceeded``. Reading it
    rather than taking the limiter's single ``on_breach`` slot leaves that hook to the
    app, covers meta limits (which bypass it), and works whichever extension was
    initialized first. The key (usually the client address) is left out: the event
    carries the address already.
    """
    limiters = app.extensions.get("limiter")
    if not limiters or not has_request_context():
        return None
    for limiter in limiters:
        current = limiter.current_limit
        if current is not None and current.breached:
            fields: dict[str, Any] = {"limit": str(current.limit)}
            args = getattr(current, "request_args", None)
            if isinstance(args, (list, tuple)) and args:
                fields["scope"] = str(args[-1])
            return fields
    return None
