from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.core import checks
from django.core.checks import registry
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

import secmon
from secmon.config import ConfigError
from secmon.django.configured import config_error
from secmon.pipeline import current_pipeline


def test_import_path_of_the_middleware() -> None:
    from django.utils.module_loading import import_string

    from secmon.django.middleware import SecurityMiddleware

    assert import_string("secmon.django.SecurityMiddleware") is SecurityMiddleware
    assert apps.get_app_config("secmon").name == "secmon.django"


def test_ready_configures_secmon_from_settings(tmp_path: Path) -> None:
    with override_settings(SECMON={"LOG_DIR": tmp_path, "APP_NAME": "shop",
                                   "ENVIRONMENT": "test"}):
        apps.get_app_config("secmon").ready()
    pipeline = current_pipeline()
    assert pipeline is not None
    assert (pipeline.settings.app_name, pipeline.settings.log_dir) == ("shop", tmp_path)
    secmon.emit("sys_startup")
    secmon.flush()
    assert (tmp_path / "security.log").exists()


@pytest.fixture
def restart() -> Iterator[Callable[..., None]]:
    """Run the app's ready() again under other settings; the good ones are back after."""
    config = apps.get_app_config("secmon")

    def ready(**overrides: object) -> None:
        with override_settings(**overrides):
            config.ready()

    yield ready
    config.ready()


@pytest.mark.parametrize(
    ("secmon_settings", "key", "suggestion"),
    [({"LOG_DIRR": "/tmp"}, "LOG_DIRR", "LOG_DIR"),
     ({"USERNAME_MODE": "hashed"}, "USERNAME_MODE", "hash"),
     ({"OUTPUTS": [{"type": "file", "pth": "x.log"}]}, "OUTPUTS[0].pth", None),
     (["LOG_DIR"], "SECMON", None)],
)
def test_a_bad_secmon_dict_is_a_system_check_error(
    restart: Callable[..., None], secmon_settings: object, key: str, suggestion: str | None
) -> None:
    restart(SECMON=secmon_settings)  # the app loads: manage.py check can say what is wrong
    error = config_error()
    assert isinstance(error, ConfigError) and error.key == key
    with override_settings(SECMON=secmon_settings):
        [message] = registry.run_checks(tags=["secmon"])
    assert (message.id, message.level) == ("secmon.E003", checks.ERROR)
    assert message.msg.startswith(f"secmon setting {key}: ")
    assert message.hint == (f"Did you mean {suggestion}?" if suggestion else None)

    pipeline = current_pipeline()
    assert pipeline is not None and not pipeline.settings.enabled  # off, not half-configured
    # A server runs no system checks: the middleware does not serve unmonitored.
    with pytest.raises(ImproperlyConfigured, match=rf"secmon setting {re.escape(key)}: "):
        Client().get("/hello/")
