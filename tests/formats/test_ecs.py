"""ECS renderer: field mapping, ECS 8.x conformance, framing under any input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings

import secmon
from secmon import formats
from secmon.events import VOCABULARY
from secmon.formats.ecs import ECS_VERSION, expand_dotted, to_ecs

from . import ecs_schema
from .samples import SAMPLES
from .strategies import events, text_events


def test_registered_as_a_format() -> None:
    assert "ecs" in formats.names()
    assert json.loads(formats.get("ecs")(SAMPLES["web"]))["ecs"]["version"] == ECS_VERSION


def test_every_vocabulary_event_from_the_pipeline_is_valid_ecs(
    vocabulary_events: dict[str, dict[str, Any]],
) -> None:
    for name, event in vocabulary_events.items():
        doc = json.loads(formats.get("ecs")(event))
        assert ecs_schema.problems(doc) == [], name
        spec = VOCABULARY[name]
        assert doc["event"]["action"] == name
        assert doc["event"]["kind"] == ("alert" if spec.detection else "event")
        assert doc["event"]["category"] == list(spec.ecs_categories)
        assert doc["event"]["type"] == list(spec.ecs_type)
        assert doc["event"]["outcome"] == spec.outcome
        assert doc["message"] == event["event"]
        assert doc["user"] == {"id": "7", "hash": event["username_hash"]}
        assert doc["url"] == {
            "path": "/orders/17", "query": event["path"].split("?", 1)[1],
            "domain": "shop.example.com", "port": 8443,
        }
        assert "hunter2" not in json.dumps(doc)


def test_request_fields() -> None:
    doc = to_ecs(SAMPLES["web"])
    assert doc["@timestamp"] == "2024-05-01T12:02:00.500000Z"
    assert doc["log"] == {"level": "warning"}
    assert doc["event"]["severity"] == 6
    assert doc["event"]["reason"] == "not owner"
    assert doc["source"] == {"ip": "203.0.113.9"}
    assert doc["http"] == {
        "request": {"method": "GET", "id": "4f2b9c1d8e7a6b5c4d3e2f1a"},
        "response": {"status_code": 403},
    }
    assert doc["url"] == {
        "path": "/invoices/19", "query": "download=1&token=[REDACTED]",
        "domain": "shop.example.com",
    }
    assert doc["trace"] == doc["transaction"] == {"id": "4f2b9c1d8e7a6b5c4d3e2f1a"}
    assert doc["service"] == {"name": "shop"}
    assert doc["user"] == {"id": "7"}
    assert doc["user_agent"]["original"].startswith("Mozilla/5.0")
    assert doc["secmon"] == {"route": "/invoices/<int:pk>", "resource_type": "invoice",
                             "resource_id": 19}


def test_detection_is_an_alert_with_geo() -> None:
    doc = to_ecs(SAMPLES["intrusion_detection"])
    assert doc["event"]["kind"] == "alert"
    assert doc["event"]["category"] == ["intrusion_detection", "authentication"]
    assert doc["event"]["severity"] == 10
    assert doc["source"]["geo"] == {
        "city_name": "Tokyo", "country_iso_code": "JP", "country_name": "Japan",
        "location": {"lat": 35.6895, "lon": 139.6917},
    }
    assert "geo" not in doc["secmon"]


def test_geo_keys_ecs_has_no_field_for_keep_the_whole_geo_under_secmon() -> None:
    geo = {"city": "Paris", "country": "FR", "location": {"lat": 48.85, "lon": 2.35},
           "asn": 3215}
    doc = to_ecs({**SAMPLES["authentication"], "geo": geo})
    assert doc["source"]["geo"] == {"city_name": "Paris", "country_iso_code": "FR",
                                    "location": {"lat": 48.85, "lon": 2.35}}
    assert doc["secmon"]["geo"] == geo
    complete = to_ecs({**SAMPLES["authentication"], "source_geo": {"country": "France"}})
    assert complete["source"]["geo"] == {"country_name": "France"}
    assert "source_geo" not in complete["secmon"]


def test_username_hash_is_user_hash_and_audit_events_have_their_dataset() -> None:
    doc = to_ecs(SAMPLES["authentication"])
    assert doc["user"] == {"hash": "5e884898da280471"}
    assert doc["event"]["dataset"] == "secmon.audit"
    assert doc["secmon"]["mac"] == SAMPLES["authentication"]["mac"]


def test_iam_change_names_the_target_user() -> None:
    doc = to_ecs(SAMPLES["iam"])
    assert doc["user"] == {"id": "1", "name": "admin", "target": {"id": "42"}}
    assert doc["secmon"]["changes"]["groups"]["added"] == ["billing-admins"]


def test_uploads_fill_file_fields() -> None:
    doc = to_ecs(SAMPLES["file"])
    assert doc["file"] == {"name": "invoice.pdf.exe", "mime_type": "application/x-dosexec",
                           "size": 48213}
    assert doc["secmon"]["content_type"] == "application/pdf"


def test_the_canonical_event_text_is_message_never_ecs_event() -> None:
    doc = to_ecs({**SAMPLES["session"], "event.kind": "forged", "event.original": "x"})
    assert isinstance(doc["event"], dict)
    assert doc["event"]["kind"] == "event"
    assert doc["message"] == SAMPLES["session"]["event"]
    assert doc["secmon"]["event"] == {"kind": "forged", "original": "x"}


def test_dotted_keys_expand_without_losing_clashing_values() -> None:
    assert expand_dotted({"a.b.c": 1, "a.b.d": 2, "x": 1, "x.y": 2, "a.b": 3, ".z": 4}) == {
        "a": {"b": {"c": 1, "d": 2}}, "x": 1, "x_y": 2, "a_b": 3, "_z": 4,
    }
    nested = {"keep": True}
    assert expand_dotted({"n": nested, "n.m": 1}) == {"n": {"keep": True}, "n_m": 1}
    assert nested == {"keep": True}


def test_values_ecs_cannot_hold_stay_under_secmon() -> None:
    doc = to_ecs({**SAMPLES["web"], "source_ip": "not-an-ip", "status": "teapot",
                  "timestamp": "yesterday", "outcome": "maybe", "category": "nonsense"})
    assert ecs_schema.problems(doc) == []
    assert "source" not in doc
    assert doc["secmon"]["source_ip"] == "not-an-ip"
    assert doc["secmon"]["status"] == "teapot"
    assert doc["secmon"]["timestamp"] == "yesterday"
    assert doc["event"]["outcome"] == "failure"  # from the vocabulary


def test_unknown_event_types_still_render_valid_ecs() -> None:
    doc = to_ecs({"timestamp": "2024-05-01T00:00:00Z", "level": "info", "event_type": "mine",
                  "category": "web", "event": "custom"})
    assert ecs_schema.problems(doc) == []
    assert doc["event"]["category"] == ["web"]
    assert doc["event"]["type"] == ["info"]


def test_the_checker_rejects_what_ecs_does_not_allow() -> None:
    doc = to_ecs(SAMPLES["web"])
    doc["event"]["kind"] = "incident"
    doc["event"]["category"] = "web"
    doc["source"]["ip"] = "999.1.1.1"
    doc["custom_top_level"] = 1
    del doc["@timestamp"]
    found = "\n".join(ecs_schema.problems(doc))
    for expected in ("event.kind: 'incident'", "event.category: must be an array",
                     "source.ip: expected an IP", "custom_top_level: not an ECS field",
                     "@timestamp: required"):
        assert expected in found


def test_an_ecs_file_output(log_dir: Path) -> None:
    secmon.configure(log_dir=log_dir, environment="test", app_name="shop",
                     outputs=[{"type": "file", "path": "ecs.log", "format": "ecs"}])
    secmon.access_denied(resource_type="invoice", resource_id=3, reason="not owner")
    secmon.flush()
    (line,) = (log_dir / "ecs.log").read_bytes().splitlines()
    doc = json.loads(line)
    assert ecs_schema.problems(doc) == []
    assert doc["event"]["action"] == "authz_fail"


@settings(max_examples=300, deadline=None)
@given(text_events())
def test_any_text_in_any_field_keeps_one_valid_line(event: dict[str, Any]) -> None:
    rendered = formats.get("ecs")(event)
    assert b"\n" not in rendered and b"\r" not in rendered
    doc = json.loads(rendered)
    assert ecs_schema.problems(doc) == []
    if isinstance(event.get("event"), str) and event["event"]:
        assert doc["message"] == event["event"]


@settings(max_examples=300, deadline=None)
@given(events())
def test_any_value_in_any_field_keeps_one_valid_line(event: dict[str, Any]) -> None:
    rendered = formats.get("ecs")(event)
    assert b"\n" not in rendered and b"\r" not in rendered
    assert ecs_schema.problems(json.loads(rendered)) == []
