"""Flask-Login's signals as events, and the current user for the request context."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import after_this_request, current_app, has_request_context, request, session

from .. import context as _context
from .state import emit_for, emit_once, guarded, pipeline_for

if TYPE_CHECKING:
    from flask import Flask, Response


def user_id(user: Any) -> Any:
    """The id to log for a user object: its ``id`` attribute, else ``get_id()``."""
    value = getattr(user, "id", None)
    if value is None:
        get_id = getattr(user, "get_id", None)
        value = get_id() if callable(get_id) else None
    return value


def connect(app: Flask) -> bool:
    """Connect this app's Flask-Login signals; False when Flask-Login is not installed."""
    try:
        from flask_login import signals
    except ImportError:
        return False
    signals.user_logged_in.connect(_logged_in, app)
    signals.user_logged_out.connect(_logged_out, app)
    signals.user_unauthorized.connect(_unauthorized, app)
    signals.user_needs_refresh.connect(_needs_refresh, app)
    signals.session_protected.connect(_session_protected, app)
    signals.user_loaded_from_cookie.connect(_loaded_from_cookie, app)
    return True


def current_user_fields() -> tuple[Any, Any] | None:
    """``(user_id, None)`` for Flask-Login's ``current_user`` when someone is logged in.

    Called by the request context only when an event is built, so a request that
    emits nothing never loads the user.
    """
    if not has_request_context() or getattr(current_app, "login_manager", None) is None:
        return None
    from flask_login import current_user

    user = current_user._get_current_object()
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user_id(user), None


@guarded("flask.login")
def _logged_in(app: Flask, user: Any = None, **_: Any) -> None:
    uid = user_id(user)
    ctx = _context.current()
    if ctx is not None:
        ctx.set_user(uid)
    if "security" in app.extensions and has_request_context():
        # Flask-Security sends user_authenticated (saying how the user authenticated)
        # right after this signal; that one is the event. If it never comes (the app
        # called flask_login.login_user itself), this one is emitted with the response.
        after_this_request(_login_unless_reported(app, uid))
        return
    emit_for(app, "authn_login_success", user_id=uid)


def _login_unless_reported(app: Flask, uid: Any) -> Callable[[Response], Response]:
    def report(response: Response) -> Response:
        try:
            emit_once(app, "authn_login_success", user_id=uid)
        except Exception as exc:
            pipeline_for(app).report_error("flask.login", exc)
        return response

    return report


@guarded("flask.login")
def _logged_out(app: Flask, user: Any = None, **_: Any) -> None:
    uid = user_id(user) if user is not None and getattr(user, "is_authenticated", False) else None
    emit_for(app, "session_expired", user_id=uid, reason="logout")
    ctx = _context.current()
    if ctx is not None:
        ctx.set_user(None)


@guarded("flask.login")
def _unauthorized(app: Flask, **_: Any) -> None:
    emit_once(app, "authz_fail", reason="unauthenticated")


@guarded("flask.login")
def _needs_refresh(app: Flask, **_: Any) -> None:
    emit_once(app, "authz_fail", reason="reauthentication_required")


@guarded("flask.login")
def _session_protected(app: Flask, **_: Any) -> None:
    # The session was used from another client identity (address + user agent hash).
    # "strong" protection ends a non-permanent session; "basic" only marks it non-fresh.
    default = getattr(getattr(app, "login_manager", None), "session_protection", None)
    mode = app.config.get("SESSION_PROTECTION", default)
    ended = mode == "strong" and not session.permanent
    uid = _session_user(app, cleared=ended)
    if uid is None:
        # Flask-Login also sends this for sessions without a user (a logged-out session,
        # an anonymous one holding a CSRF token): nothing was protected there.
        return
    _settle_user(None if ended else uid)
    emit_for(
        app,
        "session_expired" if ended else "session_renewed",
        level="warning",
        user_id=uid,
        reason="session_protection",
        session_fresh=False,
        protection=mode,
    )


@guarded("flask.login")
def _loaded_from_cookie(app: Flask, user: Any = None, **_: Any) -> None:
    uid = user_id(user)
    _settle_user(uid)
    emit_for(app, "session_renewed", user_id=uid, reason="remember_cookie")


def _session_user(app: Flask, *, cleared: bool) -> Any:
    """The id of the user the session was logged in as when protection kicked in."""
    if cleared:
        # "strong" protection has already emptied the session: read it from the request again.
        original = app.session_interface.open_session(app, request)
        stored = original.get("_user_id") if original is not None else None
    else:
        stored = session.get("_user_id")
    if stored is None:
        return None
    # The session holds get_id()'s string; other events log the user's id attribute.
    load = getattr(getattr(app, "login_manager", None), "_user_callback", None)
    user = load(stored) if callable(load) else None
    return user_id(user) if user is not None else stored


def _settle_user(uid: Any) -> None:
    # These signals fire while Flask-Login is still loading the user: reading
    # current_user for the event would start that loading again (and the signal).
    ctx = _context.current()
    if ctx is not None:
        ctx.set_user(uid)
