from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

import secmon
from secmon import pipeline as _pipeline
from secmon.config import ConfigError, Settings, from_prefixed

STRONG_KEY = "k" * 32


def test_defaults() -> None:
    settings = Settings.build(env={})
    assert settings.environment == "production"
    assert settings.username_mode == "hash"
    assert settings.trusted_proxies == ()
    assert settings.state_backend == "memory://"


def test_keywords_dict_and_prefixed_names_are_one_namespace() -> None:
    settings = Settings.build(
        {"APP_NAME": "shop", "SECMON_MIN_LEVEL": "warn"}, env={}, log_dir="/tmp/x"
    )
    assert settings.app_name == "shop"
    assert settings.min_level == "warning"
    assert settings.log_dir == Path("/tmp/x")


def test_environment_variables_are_read_and_overridden() -> None:
    env = {"SECMON_APP_NAME": "from-env", "SECMON_TRUSTED_PROXIES": "10.0.0.0/8, ::1",
           "SECMON_MAX_DEPTH": "4", "SECMON_ENABLED": "false", "OTHER": "x"}
    settings = Settings.build(env=env)
    assert settings.app_name == "from-env"
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))
    assert settings.max_depth == 4
    assert settings.enabled is False
    assert Settings.build({"APP_NAME": "dict"}, env=env).app_name == "dict"


def test_spool_settings_from_the_environment() -> None:
    settings = Settings.build(env={"SECMON_SPOOL_MAX_RECORDS": "500",
                                   "SECMON_SPOOL_MAX_BYTES": "4MB",
                                   "SECMON_SPOOL_PATH": "/mnt/spool"})
    assert (settings.spool_max_records, settings.spool_max_bytes, settings.spool_path) == (
        500, 4 << 20, Path("/mnt/spool"))
    assert Settings.build(env={}, spool_max_bytes="512 KiB").spool_max_bytes == 512 << 10
    defaults = Settings.build(env={})
    assert (defaults.spool_max_records, defaults.spool_max_bytes, defaults.spool_path) == (
        10_000, 16 << 20, None)


def test_json_in_environment_for_structured_settings() -> None:
    env = {"SECMON_OUTPUTS": '[{"type": "stdout", "min_level": "warning"}]',
           "SECMON_DETECTION": '{"brute_force": {"threshold": 3}}'}
    settings = Settings.build(env=env)
    assert settings.outputs == ({"type": "stdout", "min_level": "warning"},)
    assert settings.detection == {"brute_force": {"threshold": 3}}


def test_flask_style_prefixed_config() -> None:
    config = {"SECMON_APP_NAME": "flaskapp", "SECRET_KEY": "x", "SECMON_LOG_DIR": "/var/log/x"}
    settings = Settings.build(from_prefixed(config), env={})
    assert settings.app_name == "flaskapp"
    assert settings.log_dir == Path("/var/log/x")


@pytest.mark.parametrize(
    ("settings", "key", "message"),
    [
        ({"MIN_LEVEL": "debug"}, "MIN_LEVEL", "one of info, warning, error, critical"),
        ({"ENVIRONMENT": "prod"}, "ENVIRONMENT", "production"),
        ({"TRUSTED_PROXIES": ["10.0.0.0/8", "nope"]}, "TRUSTED_PROXIES", "'nope'"),
        ({"MAX_DEPTH": 0}, "MAX_DEPTH", "positive integer"),
        ({"MAX_DEPTH": "three"}, "MAX_DEPTH", "positive integer"),
        ({"ENABLED": "maybe"}, "ENABLED", "true or false"),
        ({"REDACT_PATTERNS": ["(unclosed"]}, "REDACT_PATTERNS", "regular expression"),
        ({"REQUEST_ID_HEADER": "X Request"}, "REQUEST_ID_HEADER", "header name"),
        ({"OUTPUTS": [{"path": "x.log"}]}, "OUTPUTS[0]", "'type'"),
        ({"USERNAME_MODE": "clear"}, "USERNAME_MODE", "hash, plain, omit"),
        ({"AUDIT_KEY": "short"}, "AUDIT_KEY", "at least 32 bytes"),
        ({"STATE_TIMEOUT": -1}, "STATE_TIMEOUT", "positive number"),
        ({"LOG_DIR": 5}, "LOG_DIR", "path"),
        ({"SPOOL_MAX_RECORDS": 0}, "SPOOL_MAX_RECORDS", "positive integer"),
        ({"SPOOL_MAX_BYTES": "lots"}, "SPOOL_MAX_BYTES", "a size in bytes such as"),
        ({"SPOOL_MAX_BYTES": -5}, "SPOOL_MAX_BYTES", "a size in bytes such as"),
        ({"SPOOL_PATH": 3}, "SPOOL_PATH", "path"),
    ],
)
def test_invalid_settings_name_the_key(settings: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.build(settings, env={})
    assert caught.value.key.startswith(key)
    assert key in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "env", "message"),
    [
        ({"AUDIT_KYE": STRONG_KEY}, {}, "AUDIT_KYE: unknown setting; did you mean AUDIT_KEY?"),
        # The suggestion is spelled as the key was: keyword, environment variable.
        ({"audit_kye": STRONG_KEY}, {}, "audit_kye: unknown setting; did you mean audit_key?"),
        ({}, {"SECMON_AUDIT_KYE": STRONG_KEY},
         "SECMON_AUDIT_KYE: unknown setting; did you mean SECMON_AUDIT_KEY?"),
        ({"USERNAME_MODE": "hashed"}, {}, "USERNAME_MODE: expected one of hash, plain, omit, "
                                          "got 'hashed'; did you mean hash?"),
        ({"LOG_DIR": 5}, {}, "LOG_DIR: expected a path, got int"),
    ],
)
def test_unknown_setting_suggests_the_right_one(settings: dict[str, object],
                                                env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.build(settings, env=env)
    assert str(caught.value) == f"secmon setting {message}"


def test_short_audit_key_is_allowed_outside_production() -> None:
    settings = Settings.build({"AUDIT_KEY": "short", "ENVIRONMENT": "test"}, env={})
    assert settings.audit_key == b"short"


def test_settings_are_immutable() -> None:
    settings = Settings.build(env={})
    with pytest.raises(AttributeError):
        settings.app_name = "x"  # type: ignore[misc]


def test_with_changes_revalidates() -> None:
    settings = Settings.build({"APP_NAME": "a"}, env={})
    assert settings.with_changes(app_name="b").app_name == "b"
    with pytest.raises(ConfigError, match="MIN_LEVEL"):
        settings.with_changes(min_level="loud")


def test_secrets_are_not_shown() -> None:
    settings = Settings.build({"AUDIT_KEY": STRONG_KEY}, env={})
    assert STRONG_KEY not in repr(settings)
    assert settings.public_dict()["AUDIT_KEY"] == "(set)"


def test_configure_again_replaces_and_closes_the_old_pipeline(tmp_path: Path) -> None:
    first = secmon.configure(log_dir=tmp_path / "a", environment="test")
    secmon.emit("sys_startup")
    second = secmon.configure(log_dir=tmp_path / "b", environment="test")
    secmon.emit("sys_startup")
    assert _pipeline._current is second is not first
    assert (tmp_path / "a" / "security.log").read_bytes().count(b"\n") == 1
    assert (tmp_path / "b" / "security.log").read_bytes().count(b"\n") == 1


def test_bad_configure_keeps_the_previous_pipeline(tmp_path: Path) -> None:
    good = secmon.configure(log_dir=tmp_path, environment="test")
    with pytest.raises(ConfigError, match=r"OUTPUTS\[0\]\.type"):
        secmon.configure(outputs=[{"type": "carrier-pigeon"}])
    assert _pipeline._current is good


def test_configure_accepts_a_settings_object() -> None:
    settings = Settings.build({"APP_NAME": "obj", "OUTPUTS": ["stderr"]}, env={})
    assert secmon.configure(settings).settings is settings


def test_bad_environment_at_first_use_falls_back(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SECMON_MIN_LEVEL", "verbose")
    monkeypatch.setenv("SECMON_OUTPUTS", "stderr")
    secmon.emit("sys_startup")
    assert "MIN_LEVEL" in capfd.readouterr().err
