"""Events made by the real pipeline, for every name of the vocabulary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import secmon
from secmon.context import RequestContext, request_context
from secmon.events import VOCABULARY
from secmon.testing import capture_events

_HEADERS = {"user-agent": "pytest-client/1.0", "host": "shop.example.com"}


@pytest.fixture
def vocabulary_events(log_dir: Path) -> dict[str, dict[str, Any]]:
    """event_type -> the final event the pipeline wrote for it, inside a request."""
    secmon.configure(log_dir=log_dir, environment="test", app_name="shop")
    captured: dict[str, dict[str, Any]] = {}
    with capture_events() as events:
        for name in sorted(VOCABULARY):
            context = RequestContext(
                method="POST", path="/orders/17", query="page=2&api_key=hunter2",
                peer="203.0.113.9", header=_HEADERS.get, host="shop.example.com:8443",
                route="/orders/<id>",
            )
            context.set_user(user_id=7, username="alice")
            with request_context(context):
                secmon.emit(name, resource_type="order", resource_id=17, reason="test")
    for event in events:
        captured.setdefault(event["event_type"], event)
    assert set(captured) >= set(VOCABULARY) - {"secmon_internal_error"}
    return captured
