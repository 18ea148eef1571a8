"""Django REST framework: API validation failures, denials and throttling as events.

``REST_FRAMEWORK = {"EXCEPTION_HANDLER": "secmon.django.rest_framework.exception_handler"}``;
a project with its own handler calls :func:`report` from it instead.
"""

from __future__ import annotations

from typing import Any

try:
    from rest_framework import exceptions
    from rest_framework.views import exception_handler as drf_exception_handler
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "secmon.django.rest_framework needs Django REST framework: "
        "pip install djangorestframework"
    ) from exc
from django.core.exceptions import PermissionDenied

from ..pipeline import emit, get_pipeline
from .middleware import rate_limit_errors
from .request import explain, in_request

_UNAUTHENTICATED: dict[type[Exception], str] = {
    exceptions.NotAuthenticated: "unauthenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
}
_BAD_INPUT: dict[type[Exception], str] = {
    exceptions.ParseError: "parse_error",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """Report ``exc``, then answer as DRF's own handler does."""
    report(exc, context)
    return drf_exception_handler(exc, context)


def report(exc: Exception, context: dict[str, Any]) -> None:
    """The event an API exception means; nothing for the ones that mean none (404, 405)."""
    try:
        request = context.get("request")
        with in_request(getattr(request, "_request", request)) as ctx:
            fields = _view_fields(context.get("view"))
            # DRF answers a Django PermissionDenied (and so a Ratelimited) with a 403.
            status = getattr(exc, "status_code", 403 if isinstance(exc, PermissionDenied) else None)
            fields["status"] = status
            if isinstance(exc, rate_limit_errors()):
                emit("excess_rate_limit_exceeded", reason="rate_limited", **fields)
                explain(ctx, 403)
            elif isinstance(exc, exceptions.Throttled):
                emit("excess_rate_limit_exceeded", reason="throttled", wait=exc.wait, **fields)
            elif isinstance(exc, exceptions.ValidationError):
                emit("input_validation_fail", reason="validation_error", **_errors(exc), **fields)
            elif (reason := _reason(exc, _BAD_INPUT)) is not None:
                emit("input_validation_fail", reason=reason, **fields)
            elif (reason := _reason(exc, _UNAUTHENTICATED)) is not None:
                emit("authz_fail", reason=reason, **fields)
            elif isinstance(exc, (exceptions.PermissionDenied, PermissionDenied)):
                detail = str(getattr(exc, "detail", exc))
                emit("authz_fail", reason="permission_denied", detail=detail or None, **fields)
    except Exception as error:
        get_pipeline().report_error("django.rest_framework", error)


def _reason(exc: Exception, table: dict[type[Exception], str]) -> str | None:
    return next((reason for cls, reason in table.items() if isinstance(exc, cls)), None)


def _view_fields(view: Any) -> dict[str, Any]:
    if view is None:
        return {}
    fields: dict[str, Any] = {"view": f"{type(view).__module__}.{type(view).__qualname__}"}
    model = getattr(getattr(view, "queryset", None), "model", None)
    if model is not None:
        fields["resource_type"] = model._meta.label_lower
    lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
    kwargs = getattr(view, "kwargs", None) or {}
    if lookup and lookup in kwargs:
        fields["resource_id"] = kwargs[lookup]
    return fields


def _errors(exc: Any) -> dict[str, Any]:
    """Field names and error codes of a ValidationError; never the messages or values."""
    codes = exc.get_codes()
    if not isinstance(codes, dict):
        codes = {"non_field_errors": codes}
    return {
        "fields": sorted(codes),
        "errors": [{"field": name, "codes": sorted(set(_leaves(value)))}
                   for name, value in sorted(codes.items())],
    }


def _leaves(codes: Any) -> list[str]:
    if isinstance(codes, dict):
        return [code for value in codes.values() for code in _leaves(value)]
    if isinstance(codes, (list, tuple)):
        return [code for value in codes for code in _leaves(value)]
    return [str(codes)]
