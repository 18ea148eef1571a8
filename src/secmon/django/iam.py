"""Changes to users, groups and permissions, and admin actions, as audit events."""

from __future__ import annotations

import functools
import json
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save, pre_save

from ..pipeline import emit, get_pipeline

_UID = "secmon.django.iam"
_PENDING = "_secmon_user_changes"
_LOADED = "_secmon_user_loaded"
_CLEARED = "_secmon_m2m_cleared"
# Written by Django at every login; not a change anybody made to the account.
_IGNORED = frozenset({"last_login"})
_PRIVILEGES = ("is_staff", "is_superuser")
_FLAGS = ("is_active", *_PRIVILEGES)
_ADMIN_ACTIONS = {1: "addition", 2: "change", 3: "deletion"}

# m2m through model -> (the ManyToManyField, event type)
_RELATIONS: dict[Any, tuple[Any, str]] = {}


# -- the user model ---------------------------------------------------------------------------


def user_post_init(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Keep the tracked values the user was loaded (or built) with: saves compare with them.

    Comparing with a copy held by the instance costs no query, so saving a user issues
    the same SQL with secmon as without it.
    """
    try:
        state = instance.__dict__
        state[_LOADED] = {attname: state[attname] for attname in _attnames(sender)
                          if attname in state}
    except Exception as exc:
        get_pipeline().report_error("django.iam", exc)


def user_pre_save(sender: Any, instance: Any, using: Any = None, update_fields: Any = None,
                  **kwargs: Any) -> None:
    """Compare the instance with the values it was loaded with, for the user model only."""
    instance.__dict__.pop(_PENDING, None)
    try:
        if instance._state.adding or instance.pk is None:
            return
        tracked = _tracked_fields(sender, update_fields)
        if not tracked:
            return  # e.g. update_fields={"last_login"} at every login
        before = dict(instance.__dict__.get(_LOADED) or {})
        unknown = [attname for _, attname in tracked if attname not in before]
        if unknown:
            # Deferred when loaded (``only()``, ``defer()``) and set since: only the row
            # says what they were. Rare, and a privilege flag may be among them.
            row = (sender._default_manager.using(using).filter(pk=instance.pk)
                   .values(*unknown).first())
            if row is None:
                return
            before.update(row)
        changed: dict[str, tuple[Any, Any]] = {}
        for name, attname in tracked:
            old, new = before[attname], getattr(instance, attname)
            if old != new:
                # Hashes are compared here and never kept: only that the password changed.
                changed[name] = (None, None) if name == "password" else (old, new)
        if changed:
            instance.__dict__[_PENDING] = changed
    except Exception as exc:
        get_pipeline().report_error("django.iam", exc)


def user_post_save(sender: Any, instance: Any, created: bool = False, update_fields: Any = None,
                   **kwargs: Any) -> None:
    """``user_created``; or ``authn_password_change``, ``privilege_permissions_changed`` and
    ``user_updated`` for the fields that changed, each change in its most specific event."""
    try:
        _saved(sender, instance, update_fields)
        if created:
            emit("user_created", resource_type="user", resource_id=instance.pk,
                 **{flag: getattr(instance, flag) for flag in _FLAGS if hasattr(instance, flag)})
            return
        changed: dict[str, tuple[Any, Any]] | None = instance.__dict__.pop(_PENDING, None)
        if not changed:
            return
        if changed.pop("password", None) is not None and not _rehashed(instance, update_fields):
            usable = getattr(instance, "has_usable_password", lambda: True)()
            emit("authn_password_change", resource_type="user", resource_id=instance.pk,
                 reason=None if usable else "password_disabled")
        privileges = {name: changed.pop(name) for name in _PRIVILEGES if name in changed}
        if privileges:
            emit("privilege_permissions_changed", resource_type="user", resource_id=instance.pk,
                 changes=_before_after(privileges))
        if changed:
            emit("user_updated", resource_type="user", resource_id=instance.pk,
                 changed_fields=sorted(changed),
                 changes=_before_after({k: v for k, v in changed.items() if k in _FLAGS}) or None)
    except Exception as exc:
        get_pipeline().report_error("django.iam", exc)


def _saved(model: Any, instance: Any, update_fields: Any) -> None:
    """What was saved is what the next save compares with."""
    state = instance.__dict__
    saved = _attnames(model) if update_fields is None else [
        attname for name, attname in _fields_of(model)
        if name in update_fields or attname in update_fields]
    state[_LOADED] = {**state.get(_LOADED, {}),
                      **{attname: state[attname] for attname in saved if attname in state}}


def user_post_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    try:
        emit("user_deleted", resource_type="user", resource_id=instance.pk)
    except Exception as exc:
        get_pipeline().report_error("django.iam", exc)


@functools.cache
def _fields_of(model: Any) -> tuple[tuple[str, str], ...]:
    return tuple(
        (f.name, f.attname) for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in _IGNORED
    )


@functools.cache
def _attnames(model: Any) -> tuple[str, ...]:
    return tuple(attname for _, attname in _fields_of(model))


def _tracked_fields(model: Any, update_fields: Any) -> list[tuple[str, str]]:
    fields = list(_fields_of(model))
    if update_fields is not None:
        wanted = set(update_fields)
        fields = [(name, attname) for name, attname in fields
                  if name in wanted or attname in wanted]
    return fields


def _rehashed(instance: Any, update_fields: Any) -> bool:
    # set_password() keeps the raw password in _password until save() is done; Django's
    # hash upgrade at login clears it and saves update_fields=["password"]: same password.
    return (
        getattr(instance, "_password", None) is None
        and update_fields is not None
        and set(update_fields) == {"password"}
        and getattr(instance, "has_usable_password", lambda: True)()
    )


def _before_after(changes: dict[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {"before": old, "after": new} for name, (old, new) in changes.items()}


# -- groups and permissions --------------------------------------------------------------------


def m2m_membership(sender: Any, instance: Any, action: str, reverse: bool, model: Any,
                   pk_set: Any, using: Any = None, **kwargs: Any) -> None:
    """Group membership -> ``authz_change``; grants -> ``privilege_permissions_changed``."""
    try:
        relation = _RELATIONS.get(sender)
        if relation is None:
            return
        field, event_type = relation
        source, target = field.m2m_field_name(), field.m2m_reverse_field_name()
        if reverse:
            source, target = target, source
        if action == "pre_clear":
            attname = sender._meta.get_field(target).attname
            cleared = sender._default_manager.using(using).filter(**{source: instance.pk})
            instance.__dict__.setdefault(_CLEARED, {})[sender] = set(
                cleared.values_list(attname, flat=True)
            )
            return
        if action == "post_clear":
            pk_set = instance.__dict__.get(_CLEARED, {}).pop(sender, None)
        elif action not in ("post_add", "post_remove"):
            return
        if not pk_set:
            return
        verb = "added" if action == "post_add" else "removed"
        fields: dict[str, Any] = {
            "resource_type": _resource_type(type(instance)),
            "resource_id": instance.pk,
            "changes": {_resource_type(model): {verb: _labels(model, pk_set, using)}},
        }
        if fields["resource_type"] != "user":
            fields["resource_name"] = str(instance)
        emit(event_type, **fields)
    except Exception as exc:
        get_pipeline().report_error("django.iam", exc)


def _resource_type(model: Any) -> str:
    return "user" if model is get_user_model() else str(model._meta.model_name)


def _labels(model: Any, pks: Any, using: Any) -> list[Any]:
    """Group names and ``app_label.codename`` of permissions; users stay ids (no usernames)."""
    rows = model._default_manager.using(using).filter(pk__in=pks)
    label = model._meta.label
    if label == "auth.Permission":
        return sorted(f"{app}.{code}" for app, code in
                      rows.values_list("content_type__app_label", "codename"))
    if label == "auth.Group":
        return sorted(rows.values_list("name", flat=True))
    return sorted(pks)


def _m2m(model: Any, name: str) -> Any:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if getattr(field, "many_to_many", False) and not field.auto_created else None


# -- the admin's log ----------------------------------------------------------------------------


def admin_logged(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    """``authz_admin`` for each admin LogEntry (addition, change, deletion)."""
    if not created:
        return
    try:
        from django.contrib.contenttypes.models import ContentType

        content_type = (
            ContentType.objects.get_for_id(instance.content_type_id)
            if instance.content_type_id else None
        )
        model = content_type.model_class() if content_type is not None else None
        fields: dict[str, Any] = {
            "user_id": instance.user_id,
            "action": _ADMIN_ACTIONS.get(instance.action_flag, str(instance.action_flag)),
            "resource_type": (
                f"{content_type.app_label}.{content_type.model}" if content_type else None
            ),
            "resource_id": None if instance.object_id is None else str(instance.object_id),
            "changes": _change_message(instance.change_message),
        }
        if model is not get_user_model():  # a user's repr is their username
            fields["object_repr"] = instance.object_repr
        emit("authz_admin", **fields)
    except Exception as exc:
        get_pipeline().report_error("django.iam", exc)


def _change_message(message: str) -> Any:
    if not message:
        return None
    try:
        return json.loads(message)
    except ValueError:
        return message


def connect() -> None:
    user = get_user_model()
    post_init.connect(user_post_init, sender=user, dispatch_uid=f"{_UID}.post_init")
    pre_save.connect(user_pre_save, sender=user, dispatch_uid=f"{_UID}.pre_save")
    post_save.connect(user_post_save, sender=user, dispatch_uid=f"{_UID}.post_save")
    post_delete.connect(user_post_delete, sender=user, dispatch_uid=f"{_UID}.post_delete")
    relations = [(user, "groups", "authz_change"),
                 (user, "user_permissions", "privilege_permissions_changed")]
    if apps.is_installed("django.contrib.auth"):
        relations.append((apps.get_model("auth", "Group"), "permissions",
                          "privilege_permissions_changed"))
    for model, name, event_type in relations:
        field = _m2m(model, name)
        if field is not None:
            through = field.remote_field.through
            _RELATIONS[through] = (field, event_type)
            m2m_changed.connect(m2m_membership, sender=through,
                                dispatch_uid=f"{_UID}.m2m.{through._meta.label}")
    if apps.is_installed("django.contrib.admin"):
        post_save.connect(admin_logged, sender=apps.get_model("admin", "LogEntry"),
                          dispatch_uid=f"{_UID}.admin")
