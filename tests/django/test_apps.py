from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.test import override_settings

import secmon
from secmon.config import ConfigError
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


@pytest.mark.parametrize(
    ("secmon_settings", "key"),
    [({"LOG_DIRR": "/tmp"}, "LOG_DIRR"), ({"USERNAME_MODE": "shown"}, "USERNAME_MODE"),
     (["LOG_DIR"], "SECMON")],
)
def test_a_bad_secmon_dict_stops_startup(secmon_settings: object, key: str) -> None:
    with override_settings(SECMON=secmon_settings), pytest.raises(ConfigError) as error:
        apps.get_app_config("secmon").ready()
    assert error.value.key == key
    assert key in str(error.value)
