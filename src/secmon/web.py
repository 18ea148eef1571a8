"""What adapters share about HTTP: status codes to events, exceptions to one sanitized event."""

from __future__ import annotations

import traceback
from typing import Any

from . import context as _context
from .pipeline import get_pipeline

# status -> (event type, reason). Other statuses produce no event of their own.
STATUS_EVENTS: dict[int, tuple[str, str]] = {
    400: ("input_validation_fail", "bad_request"),
    401: ("authz_fail", "unauthenticated"),
    403: ("authz_fail", "forbidden"),
    413: ("upload_validation", "too_large"),
    422: ("input_validation_fail", "unprocessable"),
    429: ("excess_rate_limit_exceeded", "rate_limited"),
}
# status -> event types that already tell what the status says (a login failure's 400/401).
STATUS_COVERED_BY: dict[int, frozenset[str]] = {
    400: frozenset({"authn_login_fail"}),
    401: frozenset({"authn_login_fail"}),
}
MAX_FRAMES = 30


def report_status(status: int, **fields: Any) -> None:
    """Emit the event a response status implies, unless the request already emitted one.

    Adapters call this once per response. A more specific hook (a PermissionDenied
    handler, a rate limiter's breach hook) that already emitted the same event
    type in this request wins, so one denial is one event. A 404 becomes a
    detection signal (scanning), not an event.
    """
    try:
        pipeline = get_pipeline()
        ctx = _context.current()
        if ctx is not None:
            ctx.status = status
        if status == 404:
            pipeline.signal("http_404", status=404)
            return
        mapping = STATUS_EVENTS.get(status)
        if mapping is None:
            return
        event_type, reason = mapping
        if ctx is not None and not ctx.emitted.isdisjoint(STATUS_COVERED_BY.get(status, ())):
            return
        fields.setdefault("reason", reason)
        pipeline.emit_once(event_type, status=status, **fields)
    except Exception as exc:
        get_pipeline().report_error("report_status", exc)


def exception_fields(exc: BaseException) -> dict[str, Any]:
    """The exception's type, message and stack (file:line in function), no source or locals."""
    frames = traceback.extract_tb(exc.__traceback__)[-MAX_FRAMES:]
    return {
        "error_type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "error": _safe_str(exc),
        "stack": [f"{f.filename}:{f.lineno} in {f.name}" for f in frames],
    }


def report_exception(exc: BaseException, **fields: Any) -> None:
    """One ``secmon_app_exception`` event for an unhandled exception (sanitized)."""
    try:
        ctx = _context.current()
        if ctx is not None:
            if "secmon_app_exception" in ctx.emitted:
                return
            ctx.status = ctx.status or 500
        get_pipeline().emit("secmon_app_exception", **exception_fields(exc), **fields)
    except Exception as error:
        get_pipeline().report_error("report_exception", error)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"[unprintable {type(exc).__name__}]"
