"""Open Cybersecurity Schema Framework (OCSF 1.3.0): the canonical event as one OCSF event."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..events import EventSpec
from . import register
from ._fields import (
    Fields,
    dumps,
    epoch_millis,
    event_uid,
    geo_of,
    http_status,
    ip_address,
    is_hostname,
    prune,
    severity_of,
    spec_of,
    split_host,
    split_path,
    to_int,
)

OCSF_VERSION = "1.3.0"

PRODUCT = {"name": "secmon", "vendor_name": "secmon", "version": __version__}

_SEVERITY_CAPTIONS = {
    0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical",
    6: "Fatal", 99: "Other",
}
_STATUS = {"success": (1, "Success"), "failure": (2, "Failure"), "unknown": (0, "Unknown")}
# HTTP methods the 1.3.0 http_request.http_method enum lists.
_HTTP_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "TRACE"})
_USER_RESOURCES = ("user", "account")
# Canonical geo names an OCSF location holds (the others keep the geo field in unmapped).
_LOCATION_FIELDS = frozenset({"city_name", "country_iso_code", "continent_name", "postal_code",
                              "lat", "lon"})


@dataclass(frozen=True, slots=True)
class EventClass:
    uid: int
    name: str
    category_uid: int
    category_name: str
    activities: Mapping[int, str]

    def activity_name(self, activity_id: int, spec: EventSpec | None) -> str:
        if activity_id in self.activities:
            return self.activities[activity_id]
        if activity_id == 99 and spec is not None:
            return spec.name  # "Other": the source's own name for the activity
        return "Other" if activity_id == 99 else "Unknown"


BASE_EVENT = EventClass(0, "Base Event", 0, "Uncategorized", {})
DETECTION_FINDING = EventClass(2004, "Detection Finding", 2, "Findings", {1: "Create"})
ACCOUNT_CHANGE = EventClass(3001, "Account Change", 3, "Identity & Access Management", {
    1: "Create", 2: "Enable", 3: "Password Change", 4: "Password Reset", 5: "Disable",
    6: "Delete", 7: "Attach Policy", 8: "Detach Policy", 9: "Lock",
})
AUTHENTICATION = EventClass(3002, "Authentication", 3, "Identity & Access Management", {
    1: "Logon", 2: "Logoff",
})
API_ACTIVITY = EventClass(6003, "API Activity", 6, "Application Activity", {
    1: "Create", 2: "Read", 3: "Update", 4: "Delete",
})

_ACCOUNT_ACTIVITY = {
    "user_created": 1,
    "user_archived": 5,
    "user_deleted": 6,
    "authn_password_change": 3,
    "authn_password_change_fail": 3,
    "authn_login_lock": 9,
}
_SESSION_ACTIVITY = {"session_created": 1, "session_expired": 2}
_API_ACTIVITY = {
    "sensitive_create": 1,
    "sensitive_read": 2,
    "sensitive_update": 3,
    "sensitive_delete": 4,
    "upload_complete": 1,
    "upload_stored": 1,
    "upload_validation": 1,
    "upload_delete": 4,
}
_METHOD_ACTIVITY = {"POST": 1, "GET": 2, "HEAD": 2, "PUT": 3, "PATCH": 3, "DELETE": 4}


def classify(event: Mapping[str, Any], spec: EventSpec | None) -> tuple[EventClass, int]:
    """The OCSF class and activity_id for an event."""
    name = spec.name if spec is not None else event.get("event_type")
    category = spec.category if spec is not None else event.get("category")
    if (spec is not None and spec.detection) or category == "intrusion_detection":
        return DETECTION_FINDING, 1
    if category == "authentication":
        return AUTHENTICATION, 1
    if category == "session":
        return AUTHENTICATION, _SESSION_ACTIVITY.get(str(name), 99)
    if category == "iam":
        return ACCOUNT_CHANGE, _ACCOUNT_ACTIVITY.get(str(name), 99)
    if category in ("web", "file", "database") or name == "secmon_audit_record":
        activity = _API_ACTIVITY.get(str(name))
        if activity is None:
            method = event.get("method")
            activity = _METHOD_ACTIVITY.get(method.upper(), 99) if isinstance(method, str) else 0
        return API_ACTIVITY, activity
    return BASE_EVENT, 99


def to_ocsf(event: Mapping[str, Any]) -> dict[str, Any]:
    """The OCSF event for one canonical event (no None values; the rest under ``unmapped``)."""
    spec = spec_of(event)
    cls, activity_id = classify(event, spec)
    fields = Fields(event)
    event_type = event.get("event_type")
    fields.mark("event_type", "category")
    activity_name = cls.activity_name(activity_id, spec)
    severity_id = severity_of(event).ocsf
    if severity_id:
        fields.mark("level")  # an unknown level stays, in unmapped
    timestamp = fields.take("timestamp")
    millis = epoch_millis(timestamp)
    out: dict[str, Any] = {
        "class_uid": cls.uid,
        "class_name": cls.name,
        "category_uid": cls.category_uid,
        "category_name": cls.category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": cls.uid * 100 + activity_id,
        "type_name": f"{cls.name}: {activity_name}",
        "time": millis if millis is not None else int(time.time() * 1000),
        "severity_id": severity_id,
        "severity": _SEVERITY_CAPTIONS[severity_id],
        "message": fields.take_str("event"),
        "metadata": {
            "version": OCSF_VERSION,
            "product": PRODUCT,
            "uid": event_uid(event),
            "event_code": event_type if isinstance(event_type, str) else None,
            "log_name": "secmon.audit" if spec is not None and spec.audit else "secmon.security",
            "original_time": timestamp if isinstance(timestamp, str) else None,
            "correlation_uid": fields.take_id("request_id"),
        },
    }
    if cls is DETECTION_FINDING:
        out["status_id"], out["status"] = 1, "New"
    else:
        outcome = fields.get("outcome")
        if isinstance(outcome, str) and outcome in _STATUS:
            fields.mark("outcome")
        else:
            outcome = spec.outcome if spec is not None else "unknown"
        out["status_id"], out["status"] = _STATUS[outcome]
        out["status_detail"] = fields.take_str("reason")
        status = http_status(fields.get("status"))
        if status is not None:
            fields.mark("status")
            out["status_code"] = str(status)  # the HTTP status the request ended with
    raw_app = fields.get("app")
    app = raw_app if isinstance(raw_app, str) and raw_app else None
    # Base Event has no place for who and where: those fields stay for ``unmapped``.
    user = _user(fields) if cls is not BASE_EVENT else None
    source = _src_endpoint(fields, event) if cls is not BASE_EVENT else None
    if cls is AUTHENTICATION:
        out["user"] = user or {"name": "unknown"}
        out["src_endpoint"] = source
        out["service"] = {"name": app or "unknown"}
        fields.mark("app")
        out["dst_endpoint"] = _dst_endpoint(fields, None)
        out["http_request"] = _http_request(fields)
    elif cls is ACCOUNT_CHANGE:
        target = _target_user(fields)
        out["user"] = target or user or {"name": "unknown"}
        if target is not None and user is not None:
            out["actor"] = {"user": user}
        out["src_endpoint"] = source
        out["http_request"] = _http_request(fields)
    elif cls is API_ACTIVITY:
        out["actor"] = _actor(user, source, app)
        out["api"] = _api(fields, spec)
        out["src_endpoint"] = source or {"name": app or "unknown"}
        out["dst_endpoint"] = _dst_endpoint(fields, app)
        fields.mark("app")
        out["http_request"] = _http_request(fields)
        out["resources"] = _resources(fields)
    elif cls is DETECTION_FINDING:
        name = event_type if isinstance(event_type, str) and event_type else "unknown"
        out["finding_info"] = {
            "uid": out["metadata"]["uid"],
            "title": spec.summary if spec is not None else name,
            "desc": out["message"],
            "types": [name],
            "analytic": {"name": name, "type_id": 1, "type": "Rule"},
            "created_time": out["time"],
        }
        evidence = {"user": user, "src_endpoint": source}
        out["evidences"] = [evidence] if user or source else None
        out["resources"] = _resources(fields)
    result: dict[str, Any] = prune(out)
    unmapped = dict(fields.rest())
    if unmapped:
        result["unmapped"] = unmapped
    return result


def render_ocsf(event: dict[str, Any]) -> bytes:
    return dumps(to_ocsf(event))


def _user(fields: Fields) -> dict[str, Any] | None:
    user = {
        "uid": fields.take_id("user_id"),
        "name": fields.take_id("username") or fields.take_str("username_hash"),
    }
    return user if any(value is not None for value in user.values()) else None


def _target_user(fields: Fields) -> dict[str, Any] | None:
    resource_type = fields.get("resource_type")
    if isinstance(resource_type, str) and resource_type.lower() in _USER_RESOURCES:
        uid = fields.take_id("resource_id")
        if uid is not None:
            fields.mark("resource_type")
            return {"uid": uid}
    return None


def _actor(user: dict[str, Any] | None, source: dict[str, Any] | None,
           app: str | None) -> dict[str, Any]:
    if user is not None:
        return {"user": user}
    if source is not None:
        return {"user": {"name": "anonymous"}}  # a request nobody was logged in for
    return {"app_name": app or "unknown"}  # no request: the application acted itself


def _src_endpoint(fields: Fields, event: Mapping[str, Any]) -> dict[str, Any] | None:
    ip = ip_address(fields.get("source_ip"))
    if ip is None:
        return None
    fields.mark("source_ip")
    endpoint: dict[str, Any] = {"ip": ip}
    field, geo = geo_of(event)
    location = {
        "city": geo.get("city_name"),
        "country": geo.get("country_iso_code"),
        "continent": geo.get("continent_name"),
        "postal_code": geo.get("postal_code"),
        "lat": geo.get("lat"),
        "long": geo.get("lon"),
    }
    if any(location.get(key) for key in ("city", "country", "postal_code")):
        if field is not None and set(geo) <= _LOCATION_FIELDS:
            fields.mark(field)
        endpoint["location"] = location
    return endpoint


def _dst_endpoint(fields: Fields, app: str | None) -> dict[str, Any] | None:
    name, port = split_host(fields.get("host"))
    endpoint: dict[str, Any] = {"svc_name": app}
    if name is not None and is_hostname(name):
        fields.mark("host")
        endpoint["hostname"] = name
        endpoint["port"] = port
    return endpoint if endpoint.get("hostname") or app else None


def _http_request(fields: Fields) -> dict[str, Any] | None:
    request: dict[str, Any] = {}
    method = fields.get("method")
    if isinstance(method, str) and method.upper() in _HTTP_METHODS:
        fields.mark("method")
        request["http_method"] = method.upper()
    path = fields.take_str("path")
    if path is not None:
        base, query = split_path(path)
        request["url"] = {"path": base, "query_string": query}
        name, port = split_host(fields.get("host"))
        if name is not None and is_hostname(name):
            fields.mark("host")
            request["url"]["hostname"] = name
            request["url"]["port"] = port
    request["user_agent"] = fields.take_str("user_agent")
    request["uid"] = fields.get("request_id") if isinstance(fields.get("request_id"), str) else None
    return request if any(value is not None for value in request.values()) else None


def _api(fields: Fields, spec: EventSpec | None) -> dict[str, Any]:
    action = fields.get("action")
    method = fields.get("method")
    route = fields.get("route")
    if isinstance(action, str) and action:
        operation = action
    elif isinstance(method, str) and method:
        target = route if isinstance(route, str) and route else split_path(fields.get("path"))[0]
        operation = f"{method.upper()} {target}" if target else method.upper()
    else:
        operation = spec.name if spec is not None else "unknown"
    api: dict[str, Any] = {"operation": operation}
    status = http_status(fields.get("status"))
    if status is not None:
        api["response"] = {"code": status}
    return api


def _resources(fields: Fields) -> list[dict[str, Any]] | None:
    resources: list[dict[str, Any]] = []
    uid = fields.take_id("resource_id")
    if uid is not None:
        resources.append({"uid": uid, "type": fields.take_str("resource_type")})
    filename = fields.take_str("filename")
    if filename is not None:
        resources.append({"name": filename, "type": "file", "data": _file_data(fields)})
    return resources or None


def _file_data(fields: Fields) -> dict[str, Any] | None:
    data = {
        "size": to_int(fields.get("size")),
        "content_type": fields.take_str("content_type"),
        "detected_type": fields.take_str("detected_type"),
    }
    if data["size"] is not None:
        fields.mark("size")
    return data if any(value is not None for value in data.values()) else None


register("ocsf", render_ocsf)
