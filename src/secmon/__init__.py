"""secmon: security logging and monitoring for Django, Flask and ASGI apps."""

from ._version import __version__
from .config import ConfigError, Settings
from .context import bind, set_user
from .events import UnknownEventError
from .helpers import (
    access_denied,
    audit,
    logged_out,
    login_failed,
    login_succeeded,
    rate_limited,
    sensitive_read,
    upload_received,
    validation_failed,
)
from .pipeline import configure, emit, flush, sanitize, stats

__all__ = [
    "ConfigError",
    "Settings",
    "UnknownEventError",
    "__version__",
    "access_denied",
    "audit",
    "bind",
    "configure",
    "emit",
    "flush",
    "logged_out",
    "login_failed",
    "login_succeeded",
    "rate_limited",
    "sanitize",
    "sensitive_read",
    "set_user",
    "stats",
    "upload_received",
    "validation_failed",
]
