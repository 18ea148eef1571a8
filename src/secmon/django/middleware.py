"""SecurityMiddleware: binds the request context, turns HTTP outcomes into events."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    ImproperlyConfigured,
    PermissionDenied,
    SuspiciousOperation,
)
from django.http.multipartparser import MultiPartParserError
from django.utils.module_loading import import_string

from ..context import bind_request, current, reset_request
from ..pipeline import emit_once, get_pipeline
from ..web import report_exception, report_status
from .configured import config_error
from .request import DjangoRequestContext, check_name, explain, in_request, view_fields
from .uploads import parsed, report_files

_BAD_INPUT = (SuspiciousOperation, BadRequest, MultiPartParserError)


class SecurityMiddleware:
    """Every event inside a request carries its context; denials and bad input become events.

    Sync- and async-capable: Django runs it in the mode of the handler, so no request pays a
    thread hop, and a request that emits nothing pays only for a lazy context object.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        from . import security_log

        failed = config_error()
        if failed is not None:  # what the system checks report as secmon.E003
            raise ImproperlyConfigured(str(failed)) from None
        # Django builds its request handler after a second django.setup() under runserver
        # (get_wsgi_application()): logging was configured again, and our handler removed.
        security_log.attach()
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        # Django wraps a hook of the other mode in sync_to_async, a thread hop per request.
        self.process_view: Callable[..., Any] = (
            self._aprocess_view if self.is_async else self._process_view
        )
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self.__acall__(request)
        token = bind_request(DjangoRequestContext(request))
        try:
            response = self.get_response(request)
            if response.status_code >= 400 or parsed(request):
                self._finish(request, response.status_code)
            return response
        finally:
            reset_request(token)

    async def __acall__(self, request: Any) -> Any:
        token = bind_request(DjangoRequestContext(request))
        try:
            response = await self.get_response(request)
            if response.status_code >= 400 or parsed(request):
                # Uploads are read from their files and events written: off the event loop.
                await sync_to_async(self._finish)(request, response.status_code)
            return response
        finally:
            reset_request(token)

    # Before the view, when the body was parsed already (by CsrfViewMiddleware): inspect the
    # files while the view can still read them all. A body the view parses itself (it may
    # set its own upload handlers first) is inspected after the view.
    def _process_view(self, request: Any, view: Any, args: Any, kwargs: Any) -> None:
        if parsed(request):
            report_files(request)

    async def _aprocess_view(self, request: Any, view: Any, args: Any, kwargs: Any) -> None:
        if parsed(request):
            await sync_to_async(report_files)(request)

    def process_exception(self, request: Any, exception: Exception) -> None:
        """Name what a view raised; Django's own handling of it is left unchanged."""
        try:
            self._classify(request, exception)
        except Exception as exc:
            get_pipeline().report_error("django.middleware", exc)

    def _classify(self, request: Any, exception: Exception) -> None:
        # The statuses are the ones Django's response_for_exception() answers with.
        ctx = current()
        if isinstance(exception, rate_limit_errors()):
            emit_once("excess_rate_limit_exceeded", reason="rate_limited", status=403,
                      **view_fields(request))
            explain(ctx, 403)  # the PermissionDenied it is becomes a 403: not an authz_fail
        elif isinstance(exception, PermissionDenied):
            emit_once("authz_fail", reason="permission_denied", status=403,
                      detail=str(exception) or None, **view_fields(request))
        elif isinstance(exception, _BAD_INPUT):
            emit_once("input_validation_fail", reason=check_name(type(exception).__name__),
                      status=400, detail=str(exception) or None, **view_fields(request))

    def _finish(self, request: Any, status: int) -> None:
        try:
            report_files(request)  # files the view parsed itself, if any
            if status >= 400:
                report_status(status)
        except Exception as exc:
            get_pipeline().report_error("django.middleware", exc)


def report_unhandled(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """``got_request_exception`` receiver: one event per exception Django turns into a 500."""
    exc = sys.exc_info()[1]
    if exc is None:
        return
    try:
        with in_request(request):
            report_exception(exc, **view_fields(request))
    except Exception as error:
        get_pipeline().report_error("django.exception", error)


@functools.cache
def rate_limit_errors() -> tuple[type[BaseException], ...]:
    """django-ratelimit's exception (and RATELIMIT_EXCEPTION_CLASS), when installed."""
    errors: list[type[BaseException]] = []
    try:
        from django_ratelimit.exceptions import Ratelimited
    except ImportError:
        pass
    else:
        errors.append(Ratelimited)
    custom = getattr(settings, "RATELIMIT_EXCEPTION_CLASS", None)
    if custom:
        try:
            errors.append(import_string(custom) if isinstance(custom, str) else custom)
        except ImportError:
            pass
    return tuple(errors)


__all__ = ["SecurityMiddleware", "rate_limit_errors", "report_unhandled"]
