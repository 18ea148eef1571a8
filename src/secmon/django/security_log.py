"""Django's ``django.security.*`` log records (CSRF, DisallowedHost, ...) as secmon events."""

from __future__ import annotations

import logging

from ..pipeline import emit_once, get_pipeline
from .request import check_name, explain, in_request, view_fields

LOGGER = "django.security"


class SecurityLogHandler(logging.Handler):
    """``input_validation_fail`` for each record, its reason naming the failed check.

    The logger name says the check: ``django.security.csrf`` -> ``csrf``,
    ``django.security.DisallowedHost`` -> ``disallowed_host``. A record about something
    this request already reported (the middleware saw the exception) adds nothing, and the
    record's status (403 for CSRF) is marked explained so it is not reported again.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            request = getattr(record, "request", None)
            status = getattr(record, "status_code", None)
            with in_request(request) as ctx:
                emit_once(
                    "input_validation_fail",
                    reason=check_name(record.name.rpartition(".")[2]),
                    detail=record.getMessage(),
                    status=status,
                    **view_fields(request),
                )
                explain(ctx, status)
        except Exception as exc:
            get_pipeline().report_error("django.security_log", exc)


def attach() -> SecurityLogHandler:
    """Attach the handler to ``django.security`` and to its children that do not propagate.

    LOGGING recipes often silence ``django.security.DisallowedHost`` with
    ``propagate: False``; those records still are security events. Configuring logging
    again empties the handlers of these loggers, so SecurityMiddleware attaches it again
    whenever Django builds a request handler.
    """
    handler = SecurityLogHandler()
    loggers = [logging.getLogger(LOGGER)]
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (
            name.startswith(LOGGER + ".")
            and isinstance(logger, logging.Logger)
            and not logger.propagate
        ):
            loggers.append(logger)
    for logger in loggers:
        if not any(isinstance(h, SecurityLogHandler) for h in logger.handlers):
            logger.addHandler(handler)
    return handler
