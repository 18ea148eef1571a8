"""OCSF renderer: class choice, OCSF 1.3.0 conformance, framing under any input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

from secmon import formats
from secmon.formats._fields import epoch_millis
from secmon.formats.ocsf import OCSF_VERSION, to_ocsf

from . import ocsf_schema
from .samples import SAMPLES
from .strategies import events, text_events

# event type -> (class_uid, activity_id) for events emitted during a POST request.
EXPECTED_CLASSES = {
    "authn_login_success": (3002, 1),
    "authn_login_fail": (3002, 1),
    "authn_token_reuse": (3002, 1),
    "session_created": (3002, 1),
    "session_expired": (3002, 2),
    "session_renewed": (3002, 99),
    "user_created": (3001, 1),
    "user_archived": (3001, 5),
    "user_deleted": (3001, 6),
    "user_updated": (3001, 99),
    "authn_password_change": (3001, 3),
    "authn_login_lock": (3001, 9),
    "privilege_permissions_changed": (3001, 99),
    "authz_change": (3001, 99),
    "authz_fail": (6003, 1),
    "input_validation_fail": (6003, 1),
    "excess_rate_limit_exceeded": (6003, 1),
    "upload_complete": (6003, 1),
    "upload_validation": (6003, 1),
    "upload_delete": (6003, 4),
    "sensitive_read": (6003, 2),
    "sensitive_update": (6003, 3),
    "secmon_audit_record": (6003, 1),
    "authn_login_fail_max": (2004, 1),
    "authn_impossible_travel": (2004, 1),
    "secmon_credential_stuffing": (2004, 1),
    "malicious_attack_tool": (2004, 1),
    "sys_startup": (0, 99),
    "crypt_decrypt_fail": (0, 99),
    "sys_monitor_disabled": (0, 99),
}


def test_registered_as_a_format() -> None:
    assert "ocsf" in formats.names()
    event = json.loads(formats.get("ocsf")(SAMPLES["web"]))
    assert event["metadata"]["version"] == OCSF_VERSION == ocsf_schema.VERSION


def test_every_vocabulary_event_from_the_pipeline_is_valid_ocsf(
    vocabulary_events: dict[str, dict[str, Any]],
) -> None:
    for name, event in vocabulary_events.items():
        rendered = json.loads(formats.get("ocsf")(event))
        assert ocsf_schema.problems(rendered) == [], name
        assert rendered["time"] == epoch_millis(event["timestamp"])
        assert rendered["metadata"]["event_code"] == name
        assert rendered["metadata"]["product"]["vendor_name"] == "secmon"
        if name in EXPECTED_CLASSES:
            assert (rendered["class_uid"], rendered["activity_id"]) == EXPECTED_CLASSES[name], name
        assert "hunter2" not in json.dumps(rendered)


@pytest.mark.parametrize(("category", "class_uid"), [
    ("authentication", 3002), ("iam", 3001), ("web", 6003), ("file", 6003),
    ("intrusion_detection", 2004), ("database", 6003), ("session", 3002), ("process", 0),
    ("configuration", 0),
])
def test_sample_classes(category: str, class_uid: int) -> None:
    event = to_ocsf(SAMPLES[category])
    assert event["class_uid"] == class_uid
    assert event["type_uid"] == class_uid * 100 + event["activity_id"]
    assert ocsf_schema.problems(event) == []


def test_authentication() -> None:
    event = to_ocsf(SAMPLES["authentication"])
    assert event["type_name"] == "Authentication: Logon"
    assert (event["status_id"], event["status"]) == (2, "Failure")
    assert event["status_detail"] == "invalid credentials"
    assert event["status_code"] == "401"
    assert event["severity_id"] == 3
    assert event["user"] == {"name": "5e884898da280471"}
    assert event["service"] == {"name": "shop"}
    assert event["src_endpoint"] == {"ip": "203.0.113.9"}
    assert event["http_request"]["url"] == {
        "path": "/accounts/login/", "query_string": "next=%2Fcart%2F",
        "hostname": "shop.example.com",
    }
    assert event["http_request"]["http_method"] == "POST"
    assert event["metadata"]["log_name"] == "secmon.audit"
    assert event["unmapped"]["mac"] == SAMPLES["authentication"]["mac"]


def test_account_change_targets_the_user_and_names_the_actor() -> None:
    event = to_ocsf(SAMPLES["iam"])
    assert event["user"] == {"uid": "42"}
    assert event["actor"] == {"user": {"uid": "1", "name": "admin"}}
    assert event["activity_name"] == "privilege_permissions_changed"
    assert event["unmapped"]["changes"]["is_staff"] is True


def test_detection_finding() -> None:
    event = to_ocsf(SAMPLES["intrusion_detection"])
    assert (event["status_id"], event["status"]) == (1, "New")
    assert event["severity"] == "Critical"
    info = event["finding_info"]
    assert info["uid"] == event["metadata"]["uid"]
    assert info["title"] == "impossible travel between logins"
    assert info["types"] == ["authn_impossible_travel"]
    assert event["evidences"] == [{
        "user": {"uid": "7"},
        "src_endpoint": {"ip": "198.51.100.23", "location": {
            "city": "Tokyo", "country": "JP", "lat": 35.6895, "long": 139.6917}},
    }]
    assert event["unmapped"]["previous_ip"] == "203.0.113.9"


def test_api_activity_actor_without_a_user() -> None:
    anonymous = to_ocsf({**SAMPLES["web"], "user_id": None})
    assert anonymous["actor"] == {"user": {"name": "anonymous"}}
    offline = to_ocsf({"timestamp": "2024-05-01T00:00:00Z", "level": "warning",
                       "event_type": "sensitive_read", "category": "database",
                       "outcome": "success", "event": "read", "app": "shop"})
    assert offline["actor"] == {"app_name": "shop"}
    assert offline["src_endpoint"] == {"name": "shop"}
    assert offline["api"] == {"operation": "sensitive_read"}
    assert ocsf_schema.problems(anonymous) == ocsf_schema.problems(offline) == []


def test_api_activity_operation_and_resources() -> None:
    event = to_ocsf(SAMPLES["web"])
    assert event["activity_name"] == "Read"
    assert event["api"] == {"operation": "GET /invoices/<int:pk>", "response": {"code": 403}}
    assert event["resources"] == [{"uid": "19", "type": "invoice"}]
    upload = to_ocsf(SAMPLES["file"])
    assert upload["resources"] == [{"name": "invoice.pdf.exe", "type": "file", "data": {
        "size": 48213, "content_type": "application/pdf",
        "detected_type": "application/x-dosexec"}}]


def test_values_outside_the_schema_go_to_unmapped() -> None:
    event = to_ocsf({**SAMPLES["web"], "method": "PATCH", "host": "bad host!", "geo": {"lat": 1}})
    assert ocsf_schema.problems(event) == []
    assert event["activity_id"] == 3  # Update
    assert "http_method" not in event["http_request"]
    assert event["unmapped"]["method"] == "PATCH"
    assert event["unmapped"]["host"] == "bad host!"
    assert event["unmapped"]["geo"] == {"lat": 1}


def test_base_events_keep_every_field_in_unmapped() -> None:
    event = to_ocsf({**SAMPLES["process"], "user_id": 7, "source_ip": "203.0.113.9",
                     "level": "debug"})
    assert event["severity_id"] == 0
    assert {key: event["unmapped"][key] for key in ("user_id", "source_ip", "level")} == {
        "user_id": 7, "source_ip": "203.0.113.9", "level": "debug"}
    assert ocsf_schema.problems(event) == []


def test_the_checker_rejects_what_ocsf_does_not_allow() -> None:
    event = to_ocsf(SAMPLES["authentication"])
    del event["user"]
    event["activity_id"] = 7
    event["severity_id"] = 42
    event["src_endpoint"] = {"port": 80}
    event["made_up"] = 1
    found = "\n".join(ocsf_schema.problems(event))
    for expected in ("user: required by authentication", "activity_id: 7 is not one of",
                     "severity_id: 42", "type_uid must be", "src_endpoint: needs at least one",
                     "made_up: not an attribute"):
        assert expected in found
    assert ocsf_schema.problems({"class_uid": 4002}) == [
        "class_uid 4002 is not a class of the vendored schema"
    ]


@settings(max_examples=300, deadline=None)
@given(text_events())
def test_any_text_in_any_field_keeps_one_valid_line(event: dict[str, Any]) -> None:
    rendered = formats.get("ocsf")(event)
    assert b"\n" not in rendered and b"\r" not in rendered
    assert ocsf_schema.problems(json.loads(rendered)) == []


@settings(max_examples=300, deadline=None)
@given(events())
def test_any_value_in_any_field_keeps_one_valid_line(event: dict[str, Any]) -> None:
    rendered = formats.get("ocsf")(event)
    assert b"\n" not in rendered and b"\r" not in rendered
    assert ocsf_schema.problems(json.loads(rendered)) == []
