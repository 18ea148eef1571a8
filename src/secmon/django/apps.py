"""The Django app: configures secmon from ``settings.SECMON`` and connects Django's hooks."""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.exceptions import AppRegistryNotReady
from django.core.signals import got_request_exception

from ..config import ConfigError, Settings
from ..pipeline import configure


class SecmonConfig(AppConfig):  # type: ignore[misc]  # django is untyped here
    name = "secmon.django"
    label = "secmon"
    verbose_name = "secmon security monitoring"
    # Why SECMON could not be used, if it could not: reported by the system checks.
    config_error: ConfigError | None = None

    def ready(self) -> None:
        from . import auth, checks, iam, security_log
        from .middleware import report_unhandled

        checks.register()
        self.config_error = None
        try:
            configure(getattr(settings, "SECMON", None))
        except ConfigError as exc:
            # Django's way with a bad setting: the system checks name it (secmon.E003) and
            # stop runserver and migrate; SecurityMiddleware refuses to serve without it
            # (gunicorn and uvicorn run no checks). secmon stays off meanwhile.
            self.config_error = exc
            configure(Settings(enabled=False))
        if apps.is_installed("django.contrib.auth"):
            auth.connect()
            iam.connect()
        security_log.attach()
        got_request_exception.connect(report_unhandled, dispatch_uid="secmon.django.exceptions")


def config_error() -> ConfigError | None:
    """The error that kept ``settings.SECMON`` from being used, if any."""
    try:
        config = apps.get_app_config("secmon")
    except (LookupError, AppRegistryNotReady):
        return None
    return getattr(config, "config_error", None)
