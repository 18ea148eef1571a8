"""One-line helpers for the common security events; each is a thin wrapper of ``emit()``."""

from __future__ import annotations

from typing import Any

from .events import VOCABULARY
from .pipeline import emit


def login_succeeded(user_id: Any = None, username: Any = None, **fields: Any) -> None:
    emit("authn_login_success", user_id=user_id, username=username, **fields)


def login_failed(username: Any = None, reason: str | None = None, **fields: Any) -> None:
    """A failed login. ``username`` is what was typed (hashed by default); never the password."""
    emit("authn_login_fail", username=username, reason=reason, **fields)


def logged_out(user_id: Any = None, **fields: Any) -> None:
    fields.setdefault("reason", "logout")
    emit("session_expired", user_id=user_id, **fields)


def access_denied(
    resource_type: str | None = None,
    resource_id: Any = None,
    reason: str | None = None,
    **fields: Any,
) -> None:
    emit("authz_fail", resource_type=resource_type, resource_id=resource_id, reason=reason,
         **fields)


def validation_failed(field: str | None = None, reason: str | None = None, **fields: Any) -> None:
    """Input that failed validation: name the field(s), never the submitted value."""
    emit("input_validation_fail", field=field, reason=reason, **fields)


def rate_limited(limit: Any = None, scope: str | None = None, **fields: Any) -> None:
    emit("excess_rate_limit_exceeded", limit=limit, scope=scope, **fields)


def upload_received(
    filename: str | None = None,
    content_type: str | None = None,
    size: int | None = None,
    detected_type: str | None = None,
    *,
    head: bytes | None = None,
    **fields: Any,
) -> None:
    """An uploaded file: ``upload_complete``, plus ``upload_validation`` when it looks wrong.

    Pass ``head`` (the first bytes) to let secmon sniff the real type itself.
    """
    from .uploads import inspect_upload, report_upload

    finding = inspect_upload(
        filename, content_type, size, head=head, detected_type=detected_type
    )
    report_upload(finding, **fields)


def audit(
    action: str,
    actor_id: Any = None,
    resource_type: str | None = None,
    resource_id: Any = None,
    changes: Any = None,
    **fields: Any,
) -> None:
    """An audit-trail record. ``action`` is a vocabulary name or the app's own verb."""
    if action in VOCABULARY:
        emit(action, actor_id=actor_id, resource_type=resource_type, resource_id=resource_id,
             changes=changes, _audit=True, **fields)
    else:
        emit("secmon_audit_record", action=action, actor_id=actor_id,
             resource_type=resource_type, resource_id=resource_id, changes=changes,
             _audit=True, **fields)


def sensitive_read(
    resource_type: str | None = None, resource_id: Any = None, **fields: Any
) -> None:
    emit("sensitive_read", resource_type=resource_type, resource_id=resource_id, **fields)
