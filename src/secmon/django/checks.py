"""System checks (``manage.py check --tag secmon``): middleware, audit key, log directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from ..config import ConfigError, Settings
from ..integrity import SET_THE_KEY, UNSIGNED
from .configured import config_error
from .middleware import SecurityMiddleware

TAG = "secmon"
MIDDLEWARE_PATH = "secmon.django.SecurityMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
MIN_KEY_BYTES = 32
MIN_KEY_DISTINCT = 8


def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    ours = _position(middleware, SecurityMiddleware)
    if ours is None:
        return [checks.Error(
            f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: requests, denials and bad input "
            "are not monitored.",
            hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE, after AuthenticationMiddleware.",
            id="secmon.E001",
        )]
    if apps.is_installed("django.contrib.auth"):
        from django.contrib.auth.middleware import AuthenticationMiddleware

        auth = _position(middleware, AuthenticationMiddleware)
        if auth is not None and ours < auth:
            return [checks.Error(
                f"{MIDDLEWARE_PATH} comes before AuthenticationMiddleware in MIDDLEWARE.",
                hint=f"Move {MIDDLEWARE_PATH!r} after {AUTH_MIDDLEWARE!r}.",
                id="secmon.E002",
            )]
    return []


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        secmon = Settings.build(getattr(settings, "SECMON", None))
    except ConfigError as exc:
        return [_invalid(exc)]
    failed = config_error()  # SECMON is valid, yet configuring secmon from it failed
    if failed is not None:
        return [_invalid(failed)]
    messages: list[checks.CheckMessage] = []
    if secmon.is_production or not settings.DEBUG:
        key = secmon.audit_key
        if key is None:
            elsewhere = (" On a development machine, set SECMON['ENVIRONMENT'] to "
                         "'development'." if settings.DEBUG else "")
            messages.append(checks.Warning(
                f"SECMON['AUDIT_KEY'] is not set: {UNSIGNED}.",
                hint=f"{SET_THE_KEY}.{elsewhere}",
                id="secmon.W004",
            ))
        elif len(key) < MIN_KEY_BYTES or len(set(key)) < MIN_KEY_DISTINCT:
            messages.append(checks.Warning(
                f"SECMON['AUDIT_KEY'] is weak: use at least {MIN_KEY_BYTES} random bytes.",
                hint="Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'",
                id="secmon.W005",
            ))
        if secmon.log_dir is None and not secmon.outputs:
            messages.append(checks.Warning(
                "Neither SECMON['LOG_DIR'] nor SECMON['OUTPUTS'] is set: security events go "
                "to stdout only.",
                hint="Set SECMON['LOG_DIR'] to a directory for security.log and audit.log.",
                id="secmon.W006",
            ))
    if secmon.log_dir is not None:
        problem = _directory_problem(secmon.log_dir)
        if problem:
            messages.append(checks.Error(
                f"SECMON['LOG_DIR'] {str(secmon.log_dir)!r} {problem}.",
                hint="Create it and make it writable by the user the site runs as.",
                id="secmon.E007",
            ))
    return messages


def _invalid(exc: ConfigError) -> checks.CheckMessage:
    hint = f"Did you mean {exc.suggestion}?" if exc.suggestion else None
    return checks.Error(
        f"secmon setting {exc.key}: {exc.problem}. secmon is off until this is fixed.",
        hint=hint, id="secmon.E003")


def register() -> None:
    checks.register(check_middleware, TAG)
    checks.register(check_settings, TAG)


def _position(middleware: list[str], cls: type) -> int | None:
    for index, path in enumerate(middleware):
        try:
            candidate = import_string(path)
        except ImportError:
            continue
        if isinstance(candidate, type) and issubclass(candidate, cls):
            return index
    return None


def _directory_problem(path: Path) -> str | None:
    if path.exists():
        if not path.is_dir():
            return "is not a directory"
        if not os.access(path, os.W_OK | os.X_OK):
            return "is not writable"
        return None
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return "does not exist and cannot be created"
    return None
