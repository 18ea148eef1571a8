from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client

from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents


def test_validation_error(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    response = Client().post("/api/signup/", {"email": "nope", "password": "short-pw"},
                             content_type="application/json")
    assert response.status_code == 400
    [event] = secmon_events
    assert (event["event_type"], event["reason"]) == ("input_validation_fail", "validation_error")
    assert event["fields"] == ["email", "password"]
    assert event["errors"] == [{"field": "email", "codes": ["invalid"]},
                               {"field": "password", "codes": ["min_length"]}]
    assert event["view"] == "tests.django.views.SignupAPI"
    assert "short-pw" not in str(event)


def test_parse_error(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    response = Client().post("/api/signup/", "{not json", content_type="application/json")
    assert response.status_code == 400
    [event] = secmon_events
    assert (event["event_type"], event["reason"]) == ("input_validation_fail", "parse_error")


def test_not_authenticated(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    response = Client().get("/api/private/")
    assert response.status_code == 403  # no WWW-Authenticate scheme: DRF answers 403
    [event] = secmon_events
    assert (event["event_type"], event["reason"]) == ("authz_fail", "unauthenticated")


def test_permission_denied_names_the_resource(configured: Pipeline,
                                              secmon_events: CapturedEvents) -> None:
    get_user_model().objects.create_user("dave")
    secmon_events.clear()
    assert Client().get("/api/users/9/").status_code == 403
    [event] = secmon_events
    assert (event["event_type"], event["reason"]) == ("authz_fail", "permission_denied")
    assert (event["resource_type"], event["resource_id"]) == ("auth.user", 9)
    assert event["detail"] == "not your account"


def test_throttled(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    codes = [Client().get("/api/burst/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    [event] = secmon_events
    assert (event["event_type"], event["reason"]) == ("excess_rate_limit_exceeded", "throttled")
    assert event["wait"] > 0
    assert event["status"] == 429
