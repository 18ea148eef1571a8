from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.core.checks import registry
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

KEY = "0123456789abcdef0123456789abcdef0123456789abcdef"
BASE = settings.MIDDLEWARE


def _ids(**overrides: object) -> list[str]:
    with override_settings(**overrides):
        return sorted(m.id for m in registry.run_checks(tags=["secmon"]))


def test_a_good_setup_passes(tmp_path: Path) -> None:
    assert _ids(SECMON={"AUDIT_KEY": KEY, "LOG_DIR": tmp_path / "logs"}) == []


def test_missing_middleware(tmp_path: Path) -> None:
    middleware = [m for m in BASE if not m.startswith("secmon.")]
    assert _ids(MIDDLEWARE=middleware, SECMON={"AUDIT_KEY": KEY, "LOG_DIR": tmp_path}) == [
        "secmon.E001"]


def test_middleware_before_authentication(tmp_path: Path) -> None:
    middleware = ["secmon.django.SecurityMiddleware",
                  *(m for m in BASE if not m.startswith("secmon."))]
    assert _ids(MIDDLEWARE=middleware, SECMON={"AUDIT_KEY": KEY, "LOG_DIR": tmp_path}) == [
        "secmon.E002"]


def test_a_subclass_of_the_middleware_counts(tmp_path: Path) -> None:
    middleware = [m.replace("secmon.django.SecurityMiddleware",
                            "secmon.django.middleware.SecurityMiddleware") for m in BASE]
    assert _ids(MIDDLEWARE=middleware, SECMON={"AUDIT_KEY": KEY, "LOG_DIR": tmp_path}) == []


@pytest.mark.parametrize(
    ("secmon", "expected"),
    [
        ({}, ["secmon.W004", "secmon.W006"]),
        ({"ENVIRONMENT": "development", "AUDIT_KEY": "short"}, ["secmon.W005", "secmon.W006"]),
        ({"AUDIT_KEY": "a" * 40, "OUTPUTS": ["stdout"]}, ["secmon.W005"]),
    ],
)
def test_audit_key_and_outputs_in_production(secmon: dict[str, object],
                                             expected: list[str]) -> None:
    assert _ids(SECMON=secmon) == expected
    # DEBUG alone does not make a production site one: secmon's ENVIRONMENT says that.
    production = secmon.get("ENVIRONMENT", "production") == "production"
    assert _ids(SECMON=secmon, DEBUG=True) == (expected if production else [])


@pytest.mark.parametrize("debug", [False, True])
def test_a_missing_audit_key_says_the_trail_is_not_protected(tmp_path: Path,
                                                             debug: bool) -> None:
    with override_settings(SECMON={"LOG_DIR": tmp_path}, DEBUG=debug):
        [warning] = registry.run_checks(tags=["secmon"])
    assert (warning.id, warning.level) == ("secmon.W004", checks.WARNING)
    assert warning.msg == ("SECMON['AUDIT_KEY'] is not set: audit events are written unsigned, "
                           "so the audit trail is not protected against tampering and "
                           "`secmon verify` cannot check it.")
    assert warning.hint.startswith("Set SECMON_AUDIT_KEY (or the AUDIT_KEY setting) to a "
                                   "random secret of at least 32 bytes: python -c ")
    assert ("SECMON['ENVIRONMENT'] to 'development'" in warning.hint) == debug


def test_log_dir_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert _ids(SECMON={"AUDIT_KEY": KEY, "LOG_DIR": blocker}) == ["secmon.E007"]
    assert _ids(SECMON={"AUDIT_KEY": KEY, "LOG_DIR": blocker / "logs"}) == ["secmon.E007"]


def test_invalid_settings(tmp_path: Path) -> None:
    assert _ids(SECMON={"LOG_DIRR": tmp_path}) == ["secmon.E003"]


def test_manage_py_check_fails_on_errors() -> None:
    middleware = [m for m in BASE if not m.startswith("secmon.")]
    with override_settings(MIDDLEWARE=middleware), pytest.raises(
        SystemCheckError, match=r"secmon\.E001"
    ):
        call_command("check", tags=["secmon"])


def test_manage_py_check_names_a_misspelled_setting(tmp_path: Path) -> None:
    # In a process of its own: the app must load far enough for the checks to run.
    (tmp_path / "typo_settings.py").write_text(textwrap.dedent(f"""
        SECRET_KEY = "x" * 50
        INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "secmon.django"]
        MIDDLEWARE = ["secmon.django.SecurityMiddleware"]
        SECMON = {{"AUDIT_KY": {KEY!r}, "LOG_DIR": {str(tmp_path / "logs")!r}}}
    """))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECMON_", "DJANGO_"))}
    env.update(PYTHONPATH=str(tmp_path), DJANGO_SETTINGS_MODULE="typo_settings")
    done = subprocess.run([sys.executable, "-m", "django", "check"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert ("?: (secmon.E003) secmon setting AUDIT_KY: unknown setting. secmon is off until "
            "this is fixed.\n\tHINT: Did you mean AUDIT_KEY?") in done.stderr
