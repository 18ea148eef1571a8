"""The Django app: configures secmon from ``settings.SECMON`` and connects Django's hooks."""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.core.signals import got_request_exception


class SecmonConfig(AppConfig):  # type: ignore[misc]  # django is untyped here
    name = "secmon.django"
    label = "secmon"
    verbose_name = "secmon security monitoring"

    def ready(self) -> None:
        from . import auth, checks, configured, iam, security_log
        from .middleware import report_unhandled

        checks.register()
        configured.configure_from_settings()
        if apps.is_installed("django.contrib.auth"):
            auth.connect()
            iam.connect()
        security_log.attach()
        got_request_exception.connect(report_unhandled, dispatch_uid="secmon.django.exceptions")

