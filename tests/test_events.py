from __future__ import annotations

import pytest

from secmon.events import (
    LEVELS,
    OUTCOMES,
    VOCABULARY,
    EventSpec,
    UnknownEventError,
    lookup,
    register,
)

# Every name of the OWASP Application Logging Vocabulary cheat sheet.
OWASP_NAMES = """
authn_login_success authn_login_successafterfail authn_login_fail authn_login_fail_max
authn_login_lock authn_password_change authn_password_change_fail authn_impossible_travel
authn_token_created authn_token_revoked authn_token_reuse authn_token_delete
authz_fail authz_change authz_admin crypt_decrypt_fail crypt_encrypt_fail
excess_rate_limit_exceeded upload_complete upload_stored upload_validation upload_delete
input_validation_fail input_validation_discrete_fail malicious_excess_404 malicious_extraneous
malicious_attack_tool malicious_cors malicious_direct_reference privilege_permissions_changed
sensitive_create sensitive_read sensitive_update sensitive_delete sequence_fail
session_created session_renewed session_expired session_use_after_expire
sys_startup sys_shutdown sys_restart sys_crash sys_monitor_disabled sys_monitor_enabled
user_created user_updated user_archived user_deleted
""".split()

ECS_CATEGORIES = {
    "api", "authentication", "configuration", "database", "driver", "email", "file", "host",
    "iam", "intrusion_detection", "library", "malware", "network", "package", "process",
    "registry", "session", "threat", "vulnerability", "web",
}
ECS_TYPES = {
    "access", "admin", "allowed", "change", "connection", "creation", "deletion", "denied",
    "device", "end", "error", "group", "indicator", "info", "installation", "protocol",
    "start", "user",
}


@pytest.mark.parametrize("name", OWASP_NAMES)
def test_every_owasp_name_is_known(name: str) -> None:
    spec = lookup(name)
    assert spec.name == name
    assert not spec.extension


@pytest.mark.parametrize("spec", list(VOCABULARY.values()), ids=lambda s: s.name)
def test_specs_are_well_formed(spec: EventSpec) -> None:
    assert spec.level in LEVELS
    assert spec.outcome in OUTCOMES
    assert set(spec.ecs_categories) <= ECS_CATEGORIES
    assert set(spec.ecs_type) <= ECS_TYPES
    assert spec.summary
    assert spec.extension == (spec.name not in OWASP_NAMES)
    if spec.extension:
        assert spec.name.startswith("secmon_")
    if spec.detection:
        assert spec.category == "intrusion_detection"


def test_extensions_are_few() -> None:
    extensions = [s for s in VOCABULARY.values() if s.extension]
    assert 0 < len(extensions) <= 10


def test_typo_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(UnknownEventError, match="did you mean authn_login_fail"):
        lookup("authn_login_fial")


def test_parameters_packed_into_the_name_are_refused() -> None:
    with pytest.raises(UnknownEventError, match="as fields"):
        lookup("authn_login_fail:joebob1")


def test_non_string_name() -> None:
    with pytest.raises(UnknownEventError, match="must be a str"):
        lookup(42)  # type: ignore[arg-type]


def test_register_app_specific_event() -> None:
    spec = EventSpec("secmon_test_custom", "info", "web", ("info",), "success", "custom thing")
    try:
        assert register(spec) is spec
        assert lookup("secmon_test_custom") is spec
        with pytest.raises(ValueError, match="already defined"):
            register(EventSpec("secmon_test_custom", "warning", "web", ("info",), "success", "x"))
    finally:
        VOCABULARY.pop("secmon_test_custom", None)


def test_register_validates_level() -> None:
    with pytest.raises(ValueError, match="level"):
        register(EventSpec("app_x", "debug", "web", ("info",), "success", "x"))  # type: ignore[arg-type]


# ECS 8.x "expected_event_types" of each category we use.
ECS_EXPECTED_TYPES = {
    "authentication": {"start", "end", "info"},
    "configuration": {"access", "change", "creation", "deletion", "info"},
    "database": {"access", "change", "info", "error"},
    "file": {"access", "change", "creation", "deletion", "info"},
    "iam": {"admin", "change", "creation", "deletion", "group", "info", "user"},
    "intrusion_detection": {"allowed", "denied", "info"},
    "process": {"access", "change", "end", "info", "start"},
    "session": {"start", "end", "info"},
    "web": {"access", "error", "info"},
}


@pytest.mark.parametrize("spec", list(VOCABULARY.values()), ids=lambda s: s.name)
def test_ecs_types_are_expected_for_the_categories(spec: EventSpec) -> None:
    expected = set().union(*(ECS_EXPECTED_TYPES[c] for c in spec.ecs_categories))
    assert set(spec.ecs_type) <= expected
