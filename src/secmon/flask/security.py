"""Flask-Security-Too's signals as events (logins, failures, passwords, registration, 2FA)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import context as _context
from .login import user_id
from .state import emit_for, emit_once, guarded

if TYPE_CHECKING:
    from flask import Flask

# signal name -> reason of the ``user_updated`` event it becomes: changes to how a user
# authenticates. Their other arguments (tokens, form data, e-mail addresses) are never read.
ACCOUNT_CHANGES = {
    "user_confirmed": "email_confirmed",
    "change_email_confirmed": "email_changed",
    "username_changed": "username_changed",
    "tf_profile_changed": "two_factor_changed",
    "tf_disabled": "two_factor_disabled",
    "us_profile_changed": "unified_signin_changed",
    "wan_registered": "webauthn_registered",
    "wan_deleted": "webauthn_deleted",
}


def connect(app: Flask) -> bool:
    """Connect this app's Flask-Security signals; False when Flask-Security is not installed.

    ``tf_security_token_sent`` is deliberately not connected: it carries the one-time code.
    """
    try:
        from flask_security import signals
    except ImportError:
        return False
    signals.user_authenticated.connect(_authenticated, app)
    signals.user_failed_authn.connect(_failed_authn, app)
    signals.user_unauthenticated.connect(_unauthenticated, app)
    signals.password_changed.connect(_password_changed, app)
    signals.password_reset.connect(_password_reset, app)
    signals.user_registered.connect(_registered, app)
    signals.tf_code_confirmed.connect(_tf_code_confirmed, app)
    for name, receiver in _ACCOUNT_RECEIVERS.items():
        signal = getattr(signals, name, None)
        if signal is not None:  # older releases lack some
            signal.connect(receiver, app)
    return True


@guarded("flask.security")
def _authenticated(app: Flask, user: Any = None, authn_via: Any = None, **_: Any) -> None:
    via = [str(v) for v in authn_via] if isinstance(authn_via, (list, tuple)) else None
    emit_for(app, "authn_login_success", user_id=user_id(user), authn_via=via)


@guarded("flask.security")
def _failed_authn(
    app: Flask, user: Any = None, auth_type: Any = None, tfa: Any = False, **_: Any
) -> None:
    emit_for(
        app,
        "authn_login_fail",
        user_id=user_id(user) if user is not None else None,
        reason=f"invalid_{auth_type}" if auth_type else "invalid_credentials",
        auth_type=str(auth_type) if auth_type else None,
        second_factor=bool(tfa),
    )


@guarded("flask.security")
def _unauthenticated(app: Flask, **_: Any) -> None:
    emit_once(app, "authz_fail", reason="unauthenticated")


@guarded("flask.security")
def _password_changed(app: Flask, user: Any = None, **_: Any) -> None:
    emit_for(app, "authn_password_change", user_id=user_id(user), reason="changed")


@guarded("flask.security")
def _password_reset(app: Flask, user: Any = None, **_: Any) -> None:
    emit_for(app, "authn_password_change", user_id=user_id(user), reason="reset")


@guarded("flask.security")
def _registered(app: Flask, user: Any = None, **_: Any) -> None:
    # confirm_token, confirmation_token and form_data are left alone on purpose. The
    # actor (user_id) is whoever is logged in, if anyone: registration is usually anonymous.
    emit_for(app, "user_created", resource_type="user", resource_id=user_id(user),
             reason="registered")


@guarded("flask.security")
def _tf_code_confirmed(app: Flask, user: Any = None, method: Any = None, **_: Any) -> None:
    # The second factor completed a login; user_authenticated follows and is the event.
    ctx = _context.current()
    if ctx is not None and method:
        ctx.bind(mfa_method=str(method))


def _account_changed(name: str) -> Any:
    reason = ACCOUNT_CHANGES[name]

    @guarded("flask.security")
    def receiver(app: Flask, user: Any = None, **_: Any) -> None:
        uid = user_id(user) if user is not None else None
        emit_for(app, "user_updated", resource_type="user", resource_id=uid, reason=reason)

    return receiver


_ACCOUNT_RECEIVERS = {name: _account_changed(name) for name in ACCOUNT_CHANGES}
