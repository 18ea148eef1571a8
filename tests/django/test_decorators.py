from __future__ import annotations

import asyncio

from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client

from secmon.django.querysets import SensitiveQuerySet
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents


def test_view_read(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    assert Client().get("/patients/12/").status_code == 200
    [event] = secmon_events
    assert (event["event_type"], event["resource_type"], event["resource_id"]) == (
        "sensitive_read", "patient", 12)
    assert event["route"] == "patients/<int:pk>/"


def test_failed_view_read_is_no_read(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    assert Client().get("/patients/404/").status_code == 404
    assert secmon_events.of_type("sensitive_read") == []


def test_async_view_read(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    response = asyncio.run(AsyncClient().get("/patients-async/5/"))
    assert response.status_code == 200
    [event] = secmon_events
    assert (event["resource_type"], event["resource_id"]) == ("patient", 5)


def test_queryset_reads(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    User = get_user_model()
    users = [User.objects.create_user(f"u{i}") for i in range(3)]
    secmon_events.clear()
    rows = SensitiveQuerySet(User).order_by("pk")
    assert rows.count() == 3 and rows.filter(pk=users[0].pk).exists()
    assert secmon_events == []  # no row was read
    assert len(rows) == 3
    list(rows)  # cached: read once
    one = SensitiveQuerySet(User).get(pk=users[1].pk)
    streamed = list(SensitiveQuerySet(User).order_by("pk").iterator())
    assert [u.pk for u in streamed] == [u.pk for u in users]
    assert SensitiveQuerySet(User).filter(pk=-1).first() is None
    assert secmon_events.types() == ["sensitive_read"] * 3
    listed, got, iterated = secmon_events
    assert listed["resource_type"] == "auth.user"
    assert (listed["count"], listed["resource_ids"]) == (3, [u.pk for u in users])
    assert (got["count"], got["resource_id"]) == (1, one.pk)
    assert iterated["count"] == 3
    assert "username" not in listed and "u1" not in str(listed)


def test_as_manager() -> None:
    manager = SensitiveQuerySet.as_manager()
    manager.model = get_user_model()
    assert isinstance(manager.all(), SensitiveQuerySet)
