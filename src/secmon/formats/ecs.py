"""Elastic Common Schema (ECS 8.x): the canonical event as one ECS JSON document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..events import OUTCOMES
from . import register
from ._fields import (
    Fields,
    dumps,
    geo_of,
    http_status,
    ip_address,
    parse_timestamp,
    prune,
    severity_of,
    spec_of,
    split_host,
    split_path,
    to_int,
    utc_now,
)

ECS_VERSION = "8.11.0"
# event.category values ECS 8.x allows; an app's own event may name one of these.
ECS_CATEGORIES = frozenset({
    "api", "authentication", "configuration", "database", "driver", "email", "file", "host",
    "iam", "intrusion_detection", "library", "malware", "network", "package", "process",
    "registry", "session", "threat", "vulnerability", "web",
})

# ECS geo field names; the event's geo mapping is normalized to these by geo_of().
_GEO_FIELDS = (
    "city_name", "continent_code", "continent_name", "country_iso_code", "country_name",
    "postal_code", "region_iso_code", "region_name", "timezone",
)


def to_ecs(event: Mapping[str, Any]) -> dict[str, Any]:
    """The ECS document for one canonical event (nested objects, no None values)."""
    spec = spec_of(event)
    fields = Fields(event)
    event_type = fields.take_str("event_type")
    outcome = fields.get("outcome")
    if outcome in OUTCOMES:
        fields.mark("outcome")
    else:
        outcome = spec.outcome if spec is not None else None
    if spec is not None:
        fields.mark("category")
        categories: list[str] = list(spec.ecs_categories)
        types: list[str] = list(spec.ecs_type)
    else:
        category = fields.get("category")
        known = isinstance(category, str) and category in ECS_CATEGORIES
        categories = [fields.take("category")] if known else []
        types = ["info"]
    timestamp = fields.get("timestamp")
    if parse_timestamp(timestamp) is not None:
        fields.mark("timestamp")
    else:
        # @timestamp is required: the time of rendering stands in; the bad value is kept.
        timestamp = utc_now()

    doc: dict[str, Any] = {
        "@timestamp": timestamp,
        "message": fields.take_str("event"),
        "log": {"level": fields.take_str("level")},
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "alert" if spec is not None and spec.detection else "event",
            "category": categories,
            "type": types,
            "action": event_type,
            "outcome": outcome,
            "severity": severity_of(event).cef,
            "reason": fields.take_str("reason"),
            "module": "secmon",
            "dataset": "secmon.audit" if spec is not None and spec.audit else "secmon.security",
        },
        "service": {"name": fields.take_str("app")},
        "user": {
            "id": fields.take_id("user_id"),
            "name": fields.take_id("username"),
            "hash": fields.take_str("username_hash"),
            "target": _target_user(fields),
        },
        "source": _source(fields, event),
        "http": _http(fields),
        "url": _url(fields),
        "user_agent": {"original": fields.take_str("user_agent")},
        "error": _error(fields),
        "file": _file(fields),
    }
    request_id = fields.take_id("request_id")
    if request_id is not None:
        doc["http"].setdefault("request", {})["id"] = request_id
        doc["trace"] = {"id": request_id}
        doc["transaction"] = {"id": request_id}
    result: dict[str, Any] = prune(doc)
    rest = dict(fields.rest())
    if rest:
        result["secmon"] = expand_dotted(rest)
    return result


def render_ecs(event: dict[str, Any]) -> bytes:
    return dumps(to_ecs(event))


def _source(fields: Fields, event: Mapping[str, Any]) -> dict[str, Any]:
    raw = fields.get("source_ip")
    source: dict[str, Any] = {}
    ip = ip_address(raw)
    if ip is not None:
        fields.mark("source_ip")
        source["ip"] = ip
    field, geo = geo_of(event)
    if geo:
        if field is not None:
            fields.mark(field)
        ecs_geo: dict[str, Any] = {name: geo[name] for name in _GEO_FIELDS if name in geo}
        if "lat" in geo and "lon" in geo:
            ecs_geo["location"] = {"lat": geo["lat"], "lon": geo["lon"]}
        source["geo"] = ecs_geo
    return source


def _target_user(fields: Fields) -> dict[str, Any] | None:
    """The user an IAM change was made to, when the event's resource is a user."""
    resource_type = fields.get("resource_type")
    if isinstance(resource_type, str) and resource_type.lower() in ("user", "account"):
        uid = fields.take_id("resource_id")
        if uid is not None:
            fields.mark("resource_type")
            return {"id": uid}
    return None


def _http(fields: Fields) -> dict[str, Any]:
    http: dict[str, Any] = {}
    method = fields.take_str("method")
    if method is not None:
        http["request"] = {"method": method.upper()}
    status = http_status(fields.get("status"))
    if status is not None:
        fields.mark("status")
        http["response"] = {"status_code": status}
    return http


def _url(fields: Fields) -> dict[str, Any]:
    url: dict[str, Any] = {}
    path = fields.take_str("path")
    if path is not None:
        url["path"], url["query"] = split_path(path)
    host = fields.get("host")
    name, port = split_host(host)
    if name is not None:
        fields.mark("host")
        url["domain"] = name
        url["port"] = port
    return url


def _error(fields: Fields) -> dict[str, Any]:
    stack = fields.get("stack")
    error = {"message": fields.take_str("error"), "type": fields.take_str("error_type")}
    if isinstance(stack, list) and all(isinstance(line, str) for line in stack):
        fields.mark("stack")
        error["stack_trace"] = "\n".join(stack)
    return error


def _file(fields: Fields) -> dict[str, Any]:
    size = fields.get("size")
    file: dict[str, Any] = {
        "name": fields.take_str("filename"),
        "mime_type": fields.take_str("detected_type"),
    }
    if to_int(size) is not None and fields.get("filename") is not None:
        fields.mark("size")
        file["size"] = to_int(size)
    return file


def expand_dotted(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``. A dotted key that would clash with a value
    already placed keeps its dots as underscores, so nothing is lost or overwritten."""
    result: dict[str, Any] = {}
    created: set[int] = set()  # objects made here; the event's own dicts are never merged into
    for key, value in flat.items():
        parts = key.split(".")
        if len(parts) > 1 and all(parts) and _free(result, parts, created):
            node = result
            for part in parts[:-1]:
                if part not in node:
                    node[part] = {}
                    created.add(id(node[part]))
                node = node[part]
            node[parts[-1]] = value
        else:
            name = key.replace(".", "_")
            while name in result:
                name += "_"
            result[name] = value
    return result


def _free(result: dict[str, Any], parts: list[str], created: set[int]) -> bool:
    node = result
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            return True
        if not isinstance(child, dict) or id(child) not in created:
            return False
        node = child
    return parts[-1] not in node


register("ecs", render_ecs)
