"""Compile the vendored OCSF 1.3.0 subset (data/ocsf-1.3.0) and validate events against it."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent / "data" / "ocsf-1.3.0"
VERSION = json.loads((ROOT / "version.json").read_text())["version"]
DICTIONARY = json.loads((ROOT / "dictionary.json").read_text())
TYPES = DICTIONARY["types"]["attributes"]
CATEGORIES = {
    name: entry["uid"]
    for name, entry in json.loads((ROOT / "categories.json").read_text())["attributes"].items()
}
CATEGORIES["other"] = 0  # Base Event's category
EVENTS = {p.stem: json.loads(p.read_text()) for p in (ROOT / "events").rglob("*.json")}
OBJECTS = {p.stem: json.loads(p.read_text()) for p in (ROOT / "objects").glob("*.json")}
_PRIMITIVES = set(TYPES) | {"object"}


def _merge(chain: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Attributes of a definition and its ancestors (base first), dictionary entries under them.
    Enums are merged the way the OCSF server compiles them (shared 0/99 plus the class's)."""
    merged: dict[str, dict[str, Any]] = {}
    for definition in chain:
        for name, attribute in definition.get("attributes", {}).items():
            base = merged.setdefault(name, dict(DICTIONARY["attributes"].get(name, {})))
            enum = {**base.get("enum", {}), **attribute.get("enum", {})}
            base.update(attribute)
            if enum:
                base["enum"] = enum
    for attribute in merged.values():
        attribute.setdefault("requirement", "optional")
    return merged


def _chain(table: Mapping[str, Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    chain = []
    while name in table:
        chain.append(table[name])
        name = table[name].get("extends", "")
    return chain[::-1]


def _constraints(chain: list[Mapping[str, Any]]) -> dict[str, list[str]]:
    constraints: dict[str, list[str]] = {}
    for definition in chain:
        if "constraints" in definition:
            constraints = dict(definition["constraints"] or {})
    return constraints


@cache
def event_class(class_uid: int) -> tuple[str, dict[str, Any]]:
    """(name, compiled class) for a class_uid; KeyError if the subset has no such class."""
    for name, definition in EVENTS.items():
        if "uid" not in definition:
            continue
        chain = _chain(EVENTS, name)
        category = next(d["category"] for d in reversed(chain) if "category" in d)
        uid = CATEGORIES[category] * 1000 + definition["uid"]
        if uid == class_uid:
            return name, {
                "category_uid": CATEGORIES[category],
                "attributes": _merge(chain),
                "constraints": _constraints(chain),
            }
    raise KeyError(class_uid)


@cache
def event_object(name: str) -> dict[str, Any]:
    chain = _chain(OBJECTS, name)
    if not chain:
        raise KeyError(name)
    return {"attributes": _merge(chain), "constraints": _constraints(chain)}


def problems(event: Mapping[str, Any]) -> list[str]:
    """Everything in ``event`` that the OCSF 1.3.0 definitions do not allow (empty if valid)."""
    class_uid = event.get("class_uid")
    try:
        name, compiled = event_class(class_uid)  # type: ignore[arg-type]
    except (KeyError, TypeError):
        return [f"class_uid {class_uid!r} is not a class of the vendored schema"]
    found = _check(name, compiled, event, "")
    if event.get("category_uid") != compiled["category_uid"]:
        found.append(f"category_uid must be {compiled['category_uid']} for {name}")
    activity = event.get("activity_id")
    if isinstance(activity, int) and event.get("type_uid") != class_uid * 100 + activity:
        found.append("type_uid must be class_uid * 100 + activity_id")
    metadata = event.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("version") != VERSION:
        found.append(f"metadata.version must be {VERSION}")
    return found


def _check(name: str, compiled: Mapping[str, Any], value: Mapping[str, Any],
           where: str) -> list[str]:
    found: list[str] = []
    attributes = compiled["attributes"]
    for attribute, definition in attributes.items():
        if definition["requirement"] == "required" and value.get(attribute) is None:
            if definition.get("profile"):
                continue
            found.append(f"{where}{attribute}: required by {name}")
    group = compiled["constraints"].get("at_least_one")
    if group and not any(value.get(attribute) is not None for attribute in group):
        found.append(f"{where.rstrip('.') or name}: needs at least one of {', '.join(group)}")
    for attribute, item in value.items():
        path = f"{where}{attribute}"
        definition = attributes.get(attribute)
        if definition is None:
            found.append(f"{path}: not an attribute of {name}")
            continue
        if item is None:
            found.append(f"{path}: null (omit the attribute instead)")
            continue
        items = item if definition.get("is_array") else [item]
        if definition.get("is_array") and not isinstance(item, list):
            found.append(f"{path}: must be an array")
            continue
        for element in items:
            found.extend(_check_value(path, definition, element))
        sibling = definition.get("sibling")
        enum = definition.get("enum")
        if sibling and enum and sibling in value and str(item) in enum and str(item) != "99":
            caption = enum[str(item)]["caption"]
            if value[sibling] != caption:
                found.append(f"{where}{sibling}: {value[sibling]!r} should be {caption!r}")
    return found


def _check_value(path: str, definition: Mapping[str, Any], value: Any) -> list[str]:
    kind = definition.get("type")
    if kind is None:
        return [f"{path}: attribute has no type in the vendored dictionary"]
    enum = definition.get("enum")
    if enum is not None and str(value) not in enum:
        return [f"{path}: {value!r} is not one of {sorted(enum)}"]
    if kind in ("object", "json_t"):
        return [] if kind == "json_t" or isinstance(value, dict) else [f"{path}: expected object"]
    if kind not in _PRIMITIVES:
        if not isinstance(value, dict):
            return [f"{path}: expected a {kind} object, got {value!r}"]
        try:
            compiled = event_object(kind)
        except KeyError:
            return [f"{path}: object {kind} is not in the vendored schema"]
        return _check(kind, compiled, value, path + ".")
    problem = _primitive_problem(kind, value)
    return [f"{path}: {problem}"] if problem else []


def _primitive_problem(kind: str, value: Any) -> str | None:
    base = kind
    while base in TYPES and "type" in TYPES[base]:
        base = TYPES[base]["type"]
    if base == "string_t":
        if not isinstance(value, str):
            return f"expected a string ({kind}), got {value!r}"
        regex = TYPES[kind].get("regex")
        if regex and not re.match(regex, value):
            return f"{value!r} does not match {kind}"
        if kind == "ip_t":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                return f"{value!r} is not an IP address"
        return None
    if base in ("integer_t", "long_t"):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expected an integer ({kind}), got {value!r}"
        low, high = TYPES[kind].get("range", (-(2**63), 2**63 - 1))
        return None if low <= value <= high else f"{value} is out of range for {kind}"
    if base == "float_t":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"expected a number, got {value!r}"
    if base == "boolean_t":
        return None if isinstance(value, bool) else f"expected a boolean, got {value!r}"
    return f"type {kind} is not checked by this test helper"
