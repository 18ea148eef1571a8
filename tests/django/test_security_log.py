from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils.log import configure_logging

from secmon.django.security_log import SecurityLogHandler, attach
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents


def test_csrf_failure_is_one_input_validation_fail(configured: Pipeline,
                                                   secmon_events: CapturedEvents) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/contact/", {"email": "a@example.com", "message": "x" * 20})
    assert response.status_code == 403
    [event] = secmon_events  # the 403 is explained: no authz_fail besides
    assert (event["event_type"], event["reason"]) == ("input_validation_fail", "csrf")
    assert "CSRF cookie not set" in event["detail"]
    assert (event["path"], event["route"], event["status"]) == ("/contact/", "contact/", 403)


def test_logging_configured_again_before_the_handler_is_built(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    # runserver's get_wsgi_application() runs django.setup() a second time: logging is
    # configured again, which empties the handlers of every child of the "django" logger.
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    response = Client(enforce_csrf_checks=True).post("/contact/", {"email": "a@example.com"})
    assert response.status_code == 403
    assert [(e["event_type"], e["reason"]) for e in secmon_events] == [
        ("input_validation_fail", "csrf")]


def test_disallowed_host_before_the_middleware_ran(configured: Pipeline,
                                                   secmon_events: CapturedEvents) -> None:
    # CommonMiddleware rejects the host before SecurityMiddleware is reached.
    response = Client().get("/hello/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    [event] = secmon_events
    assert (event["event_type"], event["reason"]) == ("input_validation_fail", "disallowed_host")
    assert "evil.example" in event["detail"]
    assert (event["path"], event["source_ip"]) == ("/hello/", "127.0.0.1")


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=3)
def test_too_many_fields(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    response = Client().post("/fields/", {f"f{i}": "x" for i in range(10)})
    assert response.status_code == 400
    [event] = secmon_events
    assert event["reason"] == "too_many_fields_sent"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_request_data_too_big(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    response = Client().post("/fields/", {"f": "x" * 500})
    assert response.status_code == 400
    [event] = secmon_events
    assert event["reason"] == "request_data_too_big"


@pytest.fixture
def silenced() -> Iterator[logging.Logger]:
    logger = logging.getLogger("django.security.DisallowedHost")
    logger.propagate = False
    yield logger
    logger.propagate = True
    for handler in list(logger.handlers):
        if isinstance(handler, SecurityLogHandler):
            logger.removeHandler(handler)


def test_a_silenced_logger_still_reports(configured: Pipeline, silenced: logging.Logger,
                                         secmon_events: CapturedEvents) -> None:
    # The record never reaches django.security; building a handler attaches to the logger.
    Client().get("/hello/", HTTP_HOST="evil.example")
    Client().get("/hello/", HTTP_HOST="evil.example")
    attach()
    assert sum(isinstance(h, SecurityLogHandler) for h in silenced.handlers) == 1
    assert secmon_events.types() == ["input_validation_fail"] * 2
