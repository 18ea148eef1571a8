"""Whether Flask-WTF's CSRF protection rejected the current request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import g, has_request_context, request

if TYPE_CHECKING:
    from flask import Flask


def rejected(app: Flask) -> bool:
    """True when ``CSRFProtect`` guarded this request and did not let it through.

    ``CSRFProtect`` checks every request in its scope in a ``before_request`` hook and
    either marks it valid (``g.csrf_valid``) or raises ``CSRFError`` (a 400). The app's
    error handlers turn that exception into a response secmon cannot see the cause of,
    so the adapter asks, for a 400, whether the request was in scope and left unmarked.
    """
    csrf = app.extensions.get("csrf")
    if csrf is None or not has_request_context():
        return False
    config = app.config
    if not (config.get("WTF_CSRF_ENABLED", True) and config.get("WTF_CSRF_CHECK_DEFAULT", True)):
        return False
    if request.method not in config.get("WTF_CSRF_METHODS", ()) or request.endpoint is None:
        return False
    if g.get("csrf_valid"):
        return False
    is_exempt = getattr(csrf, "_is_exempt", None)
    return not (callable(is_exempt) and is_exempt())
