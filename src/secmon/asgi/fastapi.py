"""FastAPI: log request validation failures by field location (never values), keep FastAPI's 422."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

try:
    from fastapi import FastAPI, Request
    from fastapi.exception_handlers import request_validation_exception_handler
    from fastapi.exceptions import RequestValidationError
    from starlette.responses import Response
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "secmon.asgi.fastapi needs FastAPI; install it with: pip install fastapi"
    ) from exc

from ..helpers import validation_failed
from ..pipeline import get_pipeline

# A body can fail on thousands of fields at once; the first ones say enough.
MAX_FIELDS = 20


def install_validation_handler(app: FastAPI) -> None:
    """Make ``RequestValidationError`` an ``input_validation_fail`` event naming the fields.

    The response stays FastAPI's default 422 (its own handler builds it). Apps
    with their own handler for ``RequestValidationError`` call
    :func:`report_validation_error` from it instead.
    """
    app.add_exception_handler(RequestValidationError, validation_exception_handler)


async def validation_exception_handler(request: Request, exc: Exception) -> Response:
    """The handler :func:`install_validation_handler` installs."""
    if not isinstance(exc, RequestValidationError):  # registered for that class only
        raise exc
    report_validation_error(exc, status=422)
    return await request_validation_exception_handler(request, exc)


def report_validation_error(exc: RequestValidationError, **fields: Any) -> None:
    """One ``input_validation_fail`` with the failing locations (``body.age``) and error types."""
    try:
        errors = [error for error in exc.errors() if isinstance(error, Mapping)]
        locations = _unique(_location(error.get("loc")) for error in errors)
        kinds = _unique(str(error.get("type", "invalid")) for error in errors)
        validation_failed(
            field=locations[0] if locations else None,
            reason=",".join(kinds[:MAX_FIELDS]) or "invalid",
            fields=locations[:MAX_FIELDS],
            error_count=len(errors),
            **fields,
        )
    except Exception as error:
        get_pipeline().report_error("asgi.fastapi", error)


def _location(loc: Any) -> str:
    if isinstance(loc, (list, tuple)):
        return ".".join(str(part) for part in loc)
    return str(loc)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
