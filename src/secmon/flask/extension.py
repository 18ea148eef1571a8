"""``SecMon``: the Flask extension, and the thin WSGI layer that binds each request's context."""

from __future__ import annotations

import atexit
import os
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flask import got_request_exception

from ..config import ENV_PREFIX, UNKNOWN_SETTING, ConfigError, Settings, from_prefixed
from ..context import _current
from ..pipeline import Pipeline, configure, current_pipeline
from ..web import STATUS_EVENTS, report_exception, report_status
from . import csrf, limiter, login, security
from .context import EnvironContext
from .state import FlaskState, guarded, state_of
from .uploads import InFlight, inspect_request_files, is_multipart

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

# Statuses worth a look: the ones that map to events, and 404 (a scanning signal).
_REPORTED_STATUSES = frozenset({*STATUS_EVENTS, 404})


class SecMon:
    """Security events for a Flask app: ``SecMon(app)``, or ``SecMon().init_app(app)``.

    Settings come from the app's ``SECMON_*`` config keys (over ``SECMON_*``
    environment variables); an invalid one raises :class:`~secmon.ConfigError`
    naming the key, here, at startup. ``APP_NAME`` defaults to ``app.name``.

    Which pipeline an app's events go to: when nothing has configured secmon yet,
    the app's settings become the process-wide configuration (as if
    ``secmon.configure()`` had been called), so ``secmon.emit()`` outside a request
    — a CLI command, a worker thread — writes to the same place. When secmon is
    already configured (by ``secmon.configure()`` or by another app), an app with
    ``SECMON_*`` keys of its own gets a pipeline of its own, bound to each of its
    requests; an app without any follows the process-wide one. The app's state is
    ``app.extensions["secmon"]`` (a :class:`~secmon.flask.state.FlaskState`).

    What is hooked, all without replacing anything of the app's: ``app.wsgi_app``
    is wrapped (as ``ProxyFix`` is) to bind the request context and watch the
    final status; a ``before_request`` hook inspects uploads; the
    ``got_request_exception`` signal reports unhandled exceptions; Flask-Login and
    Flask-Security-Too signals are connected for this app when those packages are
    installed. The app's error handlers run as before and their responses are kept.

    Client address: without ``ProxyFix``, ``REMOTE_ADDR`` is the TCP peer and
    secmon trusts ``X-Forwarded-For`` only from the networks in
    ``SECMON_TRUSTED_PROXIES`` (none by default). With ``ProxyFix``, Flask and
    Flask-Limiter see the address ``ProxyFix`` derived and so does secmon (the
    rewritten peer is kept as ``peer_ip``); leave ``SECMON_TRUSTED_PROXIES`` empty
    then, so the header is not interpreted twice.
    """

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if state_of(app) is not None:
            return  # already set up: a second layer would report every event twice
        with _naming_config_keys():
            settings = settings_for(app)
            state = FlaskState(settings, _pipeline_for(app, settings))
        if login.connect(app):
            state.integrations.append("flask_login")
            state.user_loader = login.current_user_fields
        if security.connect(app):
            state.integrations.append("flask_security")
        app.extensions["secmon"] = state
        app.wsgi_app = SecMonMiddleware(app.wsgi_app, app, state)  # type: ignore[method-assign]
        app.before_request(inspect_request_files)
        got_request_exception.connect(_on_exception, app)


class SecMonMiddleware:
    """Binds an :class:`EnvironContext` around one app's requests and watches their status.

    The hot path: a benign request pays for the context object (which is also the
    ``start_response`` the app gets), one contextvar set/reset and a look at the
    first digit of the status; everything else waits for an event.
    """

    __slots__ = ("app", "extensions", "pipeline", "state", "user_loader", "wsgi_app")

    def __init__(self, wsgi_app: WSGIApplication, app: Flask, state: FlaskState) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.extensions = app.extensions
        self.state = state
        self.pipeline = state.pipeline
        self.user_loader = state.user_loader

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        ctx = EnvironContext(environ, start_response, self)
        content_type = environ.get("CONTENT_TYPE")
        multipart = content_type is not None and is_multipart(content_type)
        if multipart:
            InFlight.begin()
        token = _current.set(ctx)
        try:
            return self.wsgi_app(environ, ctx)
        finally:
            if multipart:
                InFlight.end()
            try:
                _current.reset(token)
            except ValueError:  # reset from another context: clear instead
                _current.set(None)

    def observe(self, ctx: EnvironContext, status_line: str) -> None:
        """Turn the response status (and what the extensions left behind) into events."""
        try:
            status = int(status_line[:3])
            app = self.app
            if status == 400 and csrf.rejected(app):
                report_status(400, reason="csrf")
                return
            limit = limiter.breached_limit(app)
            if limit is not None and status != 429:
                # The app answered a breach with another status: still a rate-limit event.
                self.state.current_pipeline().emit_once(
                    "excess_rate_limit_exceeded", reason="rate_limited", status=status, **limit
                )
            if status in _REPORTED_STATUSES:
                report_status(status, **(limit or {}))
        except Exception as exc:
            self.state.current_pipeline().report_error("flask.response", exc)


def settings_for(app: Flask) -> Settings:
    """The app's settings from ``app.config["SECMON_*"]`` (over ``SECMON_*`` environment)."""
    raw = from_prefixed(app.config)
    if "APP_NAME" not in raw and f"{ENV_PREFIX}APP_NAME" not in os.environ:
        raw["APP_NAME"] = app.name
    return Settings.build(raw)


@contextmanager
def _naming_config_keys() -> Iterator[None]:
    """Re-raise a ConfigError under the name the user wrote: ``SECMON_LOG_DIR``."""
    try:
        yield
    except ConfigError as exc:
        suggestion = exc.suggestion
        if exc.problem == UNKNOWN_SETTING and suggestion is not None:
            suggestion = _prefixed(suggestion)  # a setting's name, not a value
        raise ConfigError(_prefixed(exc.key), exc.problem, suggestion=suggestion) from None


def _prefixed(name: str) -> str:
    return name if name.startswith(ENV_PREFIX) else f"{ENV_PREFIX}{name}"


def _pipeline_for(app: Flask, settings: Settings) -> Pipeline | None:
    """None to follow the process-wide pipeline; else the app's own (see :class:`SecMon`)."""
    if current_pipeline() is None:
        configure(settings)
        return None
    if not from_prefixed(app.config):
        return None
    pipeline = Pipeline(settings)
    atexit.register(_close_at_exit, weakref.ref(pipeline))
    return pipeline


def _close_at_exit(pipeline_ref: weakref.ref[Pipeline]) -> None:
    pipeline = pipeline_ref()
    if pipeline is not None:
        pipeline.close(timeout=5.0)


@guarded("flask.exception")
def _on_exception(app: Flask, exception: BaseException | None = None, **_: Any) -> None:
    if exception is not None:
        report_exception(exception)
