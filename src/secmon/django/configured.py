"""secmon configured from ``settings.SECMON``, and why it could not be, if it could not."""

from __future__ import annotations

from django.conf import settings

from ..config import ConfigError, Settings
from ..pipeline import configure

_error: ConfigError | None = None


def configure_from_settings() -> None:
    """Build the process pipeline from ``settings.SECMON``; a bad setting switches secmon off.

    Django's way with a bad setting: the system checks name it (secmon.E003) and stop
    runserver and migrate; SecurityMiddleware refuses to serve without it (gunicorn and
    uvicorn run no checks).
    """
    global _error
    _error = None
    try:
        configure(getattr(settings, "SECMON", None))
    except ConfigError as exc:
        _error = exc
        configure(Settings(enabled=False))


def config_error() -> ConfigError | None:
    """The error that kept ``settings.SECMON`` from being used, if any."""
    return _error
