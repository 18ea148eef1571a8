"""The Django app: configures secmon from ``settings.SECMON`` and connects Django's hooks."""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.signals import got_request_exception

from ..pipeline import configure


class SecmonConfig(AppConfig):  # type: ignore[misc]  # django is untyped here
    name = "secmon.django"
    label = "secmon"
    verbose_name = "secmon security monitoring"

    def ready(self) -> None:
        # A bad SECMON dict raises ConfigError naming the key: the site does not start.
        configure(getattr(settings, "SECMON", None))

        from . import auth, checks, iam, security_log
        from .middleware import report_unhandled

        checks.register()
        if apps.is_installed("django.contrib.auth"):
            auth.connect()
            iam.connect()
        security_log.attach()
        got_request_exception.connect(report_unhandled, dispatch_uid="secmon.django.exceptions")
