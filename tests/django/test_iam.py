from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

import secmon
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents

from ..conftest import read_lines

User = get_user_model()


@pytest.fixture
def bob(configured: Pipeline) -> Any:
    return User.objects.create_user("bob", email="bob@example.com", password="old-password-1")


@pytest.fixture
def editors() -> Group:
    return Group.objects.create(name="editors")


def test_user_created_updated_deleted(configured: Pipeline, secmon_events: CapturedEvents,
                                      log_dir: Path) -> None:
    user = User.objects.create_user("carol", password="pw-123456789")
    user.email = "carol@example.com"
    user.first_name = "Carol"
    user.save()
    user.save()  # nothing changed: nothing to report
    user_id = user.pk
    user.delete()
    assert secmon_events.types() == ["user_created", "user_updated", "user_deleted"]
    created, updated, deleted = secmon_events
    assert (created["resource_type"], created["resource_id"]) == ("user", user_id)
    assert (created["is_staff"], created["is_superuser"]) == (False, False)
    assert updated["changed_fields"] == ["email", "first_name"]
    assert "carol@example.com" not in str(updated)
    assert deleted["resource_id"] == user_id
    secmon.flush()
    audit = read_lines(log_dir / "audit.log")
    assert [line["event_type"] for line in audit] == [
        "user_created", "user_updated", "user_deleted"]


def test_password_change_never_shows_a_hash(bob: Any, secmon_events: CapturedEvents) -> None:
    old_hash = bob.password
    bob.set_password("new-password-2")
    bob.save()
    [event] = secmon_events
    assert (event["event_type"], event["resource_id"]) == ("authn_password_change", bob.pk)
    assert event.get("reason") is None
    text = str(event)
    assert old_hash not in text and bob.password not in text and "new-password-2" not in text


def test_unusable_password(bob: Any, secmon_events: CapturedEvents) -> None:
    bob.set_unusable_password()
    bob.save(update_fields=["password"])
    [event] = secmon_events
    assert (event["event_type"], event["reason"]) == ("authn_password_change", "password_disabled")


class UpgradedHasher(MD5PasswordHasher):
    algorithm = "md5-upgraded"


@override_settings(PASSWORD_HASHERS=[f"{__name__}.UpgradedHasher",
                                     "django.contrib.auth.hashers.MD5PasswordHasher"])
def test_hash_upgrade_at_login_is_not_a_password_change(
    bob: Any, secmon_events: CapturedEvents
) -> None:
    assert bob.password.startswith("md5$")
    assert Client().post("/login/", {"username": "bob", "password": "old-password-1"}
                         ).status_code == 302
    bob.refresh_from_db()
    assert bob.password.startswith("md5-upgraded$")  # Django upgraded the hash
    assert "authn_password_change" not in secmon_events.types()
    assert "authn_login_success" in secmon_events.types()


def test_login_bookkeeping_costs_no_query_and_no_event(bob: Any,
                                                       secmon_events: CapturedEvents) -> None:
    from django.utils import timezone

    bob.last_login = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        bob.save(update_fields=["last_login"])
    assert len(queries) == 1  # the UPDATE itself
    assert secmon_events == []


def test_a_change_is_found_without_a_query(bob: Any, secmon_events: CapturedEvents) -> None:
    loaded = User.objects.get(pk=bob.pk)
    loaded.is_staff = True
    with CaptureQueriesContext(connection) as queries:
        loaded.save()
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["UPDATE"]
    [event] = secmon_events
    assert event["changes"] == {"is_staff": {"before": False, "after": True}}


def test_changes_count_from_the_last_save(bob: Any, secmon_events: CapturedEvents) -> None:
    bob.first_name = "Bob"
    bob.is_staff = True
    bob.save(update_fields=["first_name"])  # is_staff is changed, but not saved yet
    bob.save()
    assert secmon_events.types() == ["user_updated", "privilege_permissions_changed"]
    assert secmon_events[0]["changed_fields"] == ["first_name"]


def test_fields_deferred_when_loaded_are_read_from_the_row(
    bob: Any, secmon_events: CapturedEvents
) -> None:
    partial = User.objects.only("username").get(pk=bob.pk)
    partial.is_superuser = True
    partial.save()
    [event] = secmon_events
    assert event["event_type"] == "privilege_permissions_changed"
    assert event["changes"] == {"is_superuser": {"before": False, "after": True}}


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_privilege_flips_have_before_and_after(bob: Any, secmon_events: CapturedEvents,
                                               flag: str) -> None:
    setattr(bob, flag, True)
    bob.is_active = False
    bob.save()
    assert secmon_events.types() == ["privilege_permissions_changed", "user_updated"]
    privilege, updated = secmon_events
    assert privilege["changes"] == {flag: {"before": False, "after": True}}
    assert privilege["resource_id"] == bob.pk
    assert updated["changed_fields"] == ["is_active"]
    assert updated["changes"] == {"is_active": {"before": True, "after": False}}


def test_group_membership(bob: Any, editors: Group, secmon_events: CapturedEvents) -> None:
    admins = Group.objects.create(name="admins")
    bob.groups.add(editors, admins)
    bob.groups.add(editors)  # already a member: no change
    bob.groups.remove(editors)
    bob.groups.clear()
    assert secmon_events.types() == ["authz_change"] * 3
    added, removed, cleared = secmon_events
    assert added["changes"] == {"group": {"added": ["admins", "editors"]}}
    assert removed["changes"] == {"group": {"removed": ["editors"]}}
    assert cleared["changes"] == {"group": {"removed": ["admins"]}}
    assert all(e["resource_type"] == "user" and e["resource_id"] == bob.pk
               for e in secmon_events)


def test_group_membership_from_the_group_side(bob: Any, editors: Group,
                                              secmon_events: CapturedEvents) -> None:
    editors.user_set.add(bob)
    [event] = secmon_events
    assert event["event_type"] == "authz_change"
    assert (event["resource_type"], event["resource_name"]) == ("group", "editors")
    assert event["changes"] == {"user": {"added": [bob.pk]}}


def test_permission_grants(bob: Any, editors: Group, secmon_events: CapturedEvents) -> None:
    change_user = Permission.objects.get(codename="change_user")
    bob.user_permissions.add(change_user)
    editors.permissions.add(change_user)
    assert secmon_events.types() == ["privilege_permissions_changed"] * 2
    to_user, to_group = secmon_events
    assert to_user["changes"] == {"permission": {"added": ["auth.change_user"]}}
    assert (to_user["resource_type"], to_user["resource_id"]) == ("user", bob.pk)
    assert to_group["changes"] == {"permission": {"added": ["auth.change_user"]}}
    assert (to_group["resource_type"], to_group["resource_id"]) == ("group", editors.pk)


def test_admin_actions(bob: Any, configured: Pipeline, secmon_events: CapturedEvents,
                       log_dir: Path) -> None:
    root = User.objects.create_superuser("root", password="root-password-1")
    client = Client()
    client.force_login(root)
    secmon_events.clear()
    response = client.post(f"/admin/auth/user/{bob.pk}/change/", {
        "username": "bob", "email": "bob@example.com", "is_active": "on", "is_staff": "on",
        "date_joined_0": "2024-01-01", "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2024-01-01", "initial-date_joined_1": "00:00:00",
    })
    assert response.status_code == 302, response.content[:2000]
    client.post("/admin/auth/group/add/", {"name": "auditors"})
    types = secmon_events.types()
    assert "privilege_permissions_changed" in types
    admin_events = secmon_events.of_type("authz_admin")
    assert [e["action"] for e in admin_events] == ["change", "addition"]
    change, addition = admin_events
    assert (change["resource_type"], change["resource_id"]) == ("auth.user", str(bob.pk))
    assert change["user_id"] == root.pk
    assert "object_repr" not in change  # a user's repr is their username
    assert change["changes"] == [{"changed": {"fields": ["Staff status"]}}]
    assert (addition["resource_type"], addition["object_repr"]) == ("auth.group", "auditors")
    assert change["route"].startswith("admin/")
    secmon.flush()
    audit_types = [line["event_type"] for line in read_lines(log_dir / "audit.log")]
    assert audit_types.count("authz_admin") == 2
