"""Flask-Login's signals as events, and the current user for the request context."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import after_this_request, current_app, g, has_request_context, request, session
from flask.globals import request_ctx

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
    """``(user_id, None)`` for the request's user, from what Flask-Login has done so far.

    Called for each event; it never loads the user itself. Loading is the app's to do:
    it sends ``user_accessed``, runs session protection and the app's loaders, and marks
    the session read (``Vary: Cookie``). So this takes the user Flask-Login loaded for the
    app, if it has; else the id the session (or remember cookie) was logged in with, read
    without marking the session read.
    """
    if not has_request_context():
        return None
    app = current_app
    if getattr(app, "login_manager", None) is None:
        return None
    user = g.get("_login_user")
    if user is not None:
        return (user_id(user), None) if getattr(user, "is_authenticated", False) else None
    stored = _stored_user_id(app)
    return (stored, None) if stored is not None else None


def _stored_user_id(app: Flask) -> Any:
    """The id the session holds for its user, or the remember cookie does; None if neither.

    That id is the user's ``get_id()``, which for Flask-Login's ``UserMixin`` is the ``id``
    other events log (see :func:`as_logged`). Flask-Security stores ``fs_uniquifier`` there
    instead, which is not the id to log: for its apps only a loaded user counts.
    """
    if "security" in app.extensions:
        return None
    stored = _unmarked_session()
    if not isinstance(stored, dict):
        return None
    # dict.get: the session's own get() would mark it accessed.
    found = dict.get(stored, "_user_id")
    if found is None and dict.get(stored, "_remember") != "clear":
        from flask_login.config import COOKIE_NAME
        from flask_login.utils import decode_cookie

        cookie = request.cookies.get(app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME))
        if cookie:
            found = decode_cookie(cookie)  # checks the cookie's signature, touches nothing
    return as_logged(found)


def as_logged(stored: Any) -> Any:
    """A stored ``get_id()`` as the events of loaded users name it: "42" is user id 42.

    ``UserMixin.get_id()`` is ``str(user.id)``, and ids are mostly integers (database
    keys); a number stays a number in every event of the user, loaded or not.
    """
    if isinstance(stored, str) and stored.isdecimal() and str(int(stored)) == stored:
        return int(stored)
    return stored


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
    logged_in, uid = _session_user(app, cleared=ended)
    if not logged_in:
        # Flask-Login also sends this for sessions without a user (a logged-out session,
        # an anonymous one holding a CSRF token): nothing was protected there.
        return
    if ended:
        _settle_user(None)  # logged out; with "basic" the user Flask-Login now loads counts
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


def _unmarked_session() -> Any:
    """The request's session, taken without marking it accessed (which adds ``Vary: Cookie``).

    Flask opens it when the request starts; since Flask 3.1.3 the ``session`` proxy and
    ``RequestContext.session`` mark it accessed on every look, so it is read from the
    attribute behind them.
    """
    state = vars(request_ctx._get_current_object())  # type: ignore[attr-defined]
    return state.get("_session", state.get("session"))


def _session_user(app: Flask, *, cleared: bool) -> tuple[bool, Any]:
    """Whether the session was logged in when protection kicked in, and the id to log.

    The id is the session's (``get_id()``, see :func:`as_logged`); the user loader is not
    asked, as Flask-Login is loading the user already and a second call would do whatever
    that loader does twice.
    """
    if cleared:
        # "strong" protection has already emptied the session: read it from the request again.
        original = app.session_interface.open_session(app, request)
        stored = original.get("_user_id") if original is not None else None
    else:
        stored = session.get("_user_id")
    if stored is None:
        return False, None
    return True, None if "security" in app.extensions else as_logged(stored)


def _settle_user(uid: Any) -> None:
    # Who the request's user is from here on, whatever the session still says.
    ctx = _context.current()
    if ctx is not None:
        ctx.set_user(uid)
