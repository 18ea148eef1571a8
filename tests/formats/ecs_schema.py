"""Check ECS documents against the vendored ECS 8.x field definitions (data/ecs-8.11)."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FIELDS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "ecs-8.11" / "ecs_flat.json").read_text()
)
CUSTOM_NAMESPACE = "secmon"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """ECS field name -> value; objects that are not fields themselves are walked into."""
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if not prefix and key == CUSTOM_NAMESPACE:
            continue
        if isinstance(value, dict) and name not in FIELDS:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def allowed_values(name: str) -> set[str]:
    return {entry["name"] for entry in FIELDS[name].get("allowed_values", ())}


def expected_event_types(category: str) -> set[str]:
    for entry in FIELDS["event.category"]["allowed_values"]:
        if entry["name"] == category:
            return set(entry["expected_event_types"])
    return set()


def problems(doc: Mapping[str, Any]) -> list[str]:
    """Everything in ``doc`` that the ECS definitions do not allow (empty when valid)."""
    found: list[str] = []
    flat = flatten(doc)
    for name, definition in FIELDS.items():
        if definition.get("required") and name not in flat:
            found.append(f"{name}: required field missing")
    for name, value in flat.items():
        definition = FIELDS.get(name)
        if definition is None:
            found.append(f"{name}: not an ECS field (custom fields belong under secmon.*)")
            continue
        if "array" in definition["normalize"] and not isinstance(value, list):
            found.append(f"{name}: must be an array")
        values = value if isinstance(value, list) else [value]
        allowed = allowed_values(name)
        for item in values:
            problem = _type_problem(definition["type"], item)
            if problem:
                found.append(f"{name}: {problem}")
            if allowed and item not in allowed:
                found.append(f"{name}: {item!r} is not an allowed value")
    return found


def _type_problem(ecs_type: str, value: Any) -> str | None:
    if ecs_type in ("keyword", "wildcard", "match_only_text"):
        return None if isinstance(value, str) else f"expected a string, got {value!r}"
    if ecs_type == "long":
        ok = isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
        return None if ok else f"expected a long, got {value!r}"
    if ecs_type == "ip":
        try:
            ipaddress.ip_address(value)
        except (TypeError, ValueError):
            return f"expected an IP address, got {value!r}"
        return None
    if ecs_type == "date":
        ok = isinstance(value, str) and _DATE.match(value) is not None
        return None if ok else f"expected an ISO 8601 date, got {value!r}"
    if ecs_type == "geo_point":
        ok = (
            isinstance(value, dict)
            and set(value) == {"lat", "lon"}
            and all(isinstance(value[k], (int, float)) for k in ("lat", "lon"))
            and -90 <= value["lat"] <= 90
            and -180 <= value["lon"] <= 180
        )
        return None if ok else f"expected a geo_point {{lat, lon}}, got {value!r}"
    return f"type {ecs_type} is not checked by this test helper"
