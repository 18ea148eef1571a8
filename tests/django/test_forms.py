from __future__ import annotations

from django.test import Client

from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents

from .views import ContactForm


def test_invalid_form_names_fields_and_codes_never_values(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    response = Client().post("/contact/", {"email": "not-an-email", "message": "short",
                                           "password": "do-not-log-me"})
    assert response.content == b"invalid"
    [event] = secmon_events  # the view asked is_valid() twice
    assert event["event_type"] == "input_validation_fail"
    assert event["reason"] == "form_invalid"
    assert event["form"] == "tests.django.views.ContactForm"
    assert event["fields"] == ["email", "message"]
    assert event["errors"] == [{"field": "email", "codes": ["invalid"]},
                               {"field": "message", "codes": ["min_length"]}]
    assert event["route"] == "contact/"
    text = str(event)
    assert "not-an-email" not in text and "short" not in text and "do-not-log-me" not in text


def test_valid_and_unbound_forms_say_nothing(configured: Pipeline,
                                             secmon_events: CapturedEvents) -> None:
    assert Client().post("/contact/", {"email": "a@example.com",
                                       "message": "long enough"}).content == b"thanks"
    assert Client().get("/contact/").content == b"invalid"
    assert ContactForm().is_valid() is False
    assert secmon_events == []


def test_non_field_errors(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    class Form(ContactForm):
        def clean(self) -> dict[str, object]:
            from django.core.exceptions import ValidationError

            raise ValidationError("nope", code="mismatch")

    assert Form({"email": "a@example.com", "message": "long enough"}).is_valid() is False
    [event] = secmon_events
    assert event["errors"] == [{"field": "__all__", "codes": ["mismatch"]}]
