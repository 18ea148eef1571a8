"""django.contrib.auth's login, failed-login and logout signals as secmon events."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from ..pipeline import emit, get_pipeline
from .request import in_request

_UID = "secmon.django.auth"


def logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """``authn_login_success``, then ``session_created`` or ``session_renewed``.

    ``login()`` always gives the session a new key; it renews the session the browser
    came with, or creates the first one.
    """
    try:
        with in_request(request) as ctx:
            user_id = getattr(user, "pk", None)
            if ctx is not None:
                ctx.set_user(user_id)
            username = user.get_username() if hasattr(user, "get_username") else None
            emit("authn_login_success", user_id=user_id, username=username)
            if getattr(request, "session", None) is not None:
                had_session = settings.SESSION_COOKIE_NAME in request.COOKIES
                emit("session_renewed" if had_session else "session_created",
                     user_id=user_id, reason="login")
    except Exception as exc:
        get_pipeline().report_error("django.auth", exc)


def login_failed(sender: Any, credentials: Any = None, request: Any = None, **kwargs: Any) -> None:
    """``authn_login_fail`` with the attempted username (hashed by default), never a secret.

    Other credentials (a tenant, an OTP) go through the sanitizer with the event as
    ``login_fields``; the username is left out of them so USERNAME_MODE alone decides how it
    appears, and the password, always there and always redacted, says nothing.
    """
    try:
        credentials = dict(credentials or {})
        names = {get_user_model().USERNAME_FIELD, "username"}
        username = next((credentials[name] for name in names if credentials.get(name)), None)
        other = {key: value for key, value in credentials.items()
                 if key not in names and key != "password"}
        with in_request(request):
            emit("authn_login_fail", username=username, reason="invalid_credentials",
                 login_fields=other or None)
    except Exception as exc:
        get_pipeline().report_error("django.auth", exc)


def logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """``session_expired`` with reason ``logout``."""
    try:
        with in_request(request):
            emit("session_expired", user_id=getattr(user, "pk", None), reason="logout")
    except Exception as exc:
        get_pipeline().report_error("django.auth", exc)


def connect() -> None:
    user_logged_in.connect(logged_in, dispatch_uid=f"{_UID}.logged_in")
    user_login_failed.connect(login_failed, dispatch_uid=f"{_UID}.login_failed")
    user_logged_out.connect(logged_out, dispatch_uid=f"{_UID}.logged_out")
