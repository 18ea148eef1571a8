"""What the SIEM renderers share: the event's spec, times, URL parts, geo and severity scales."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import orjson

from ..events import VOCABULARY, EventSpec


@dataclass(frozen=True, slots=True)
class Severity:
    """One secmon level on each target's scale (see docs/siem.md)."""

    cef: int  # 0-10, also ECS event.severity
    ocsf: int  # OCSF severity_id


SEVERITY: dict[str, Severity] = {
    "info": Severity(cef=3, ocsf=1),
    "warning": Severity(cef=6, ocsf=3),
    "error": Severity(cef=8, ocsf=4),
    "critical": Severity(cef=10, ocsf=5),
}
UNKNOWN_SEVERITY = Severity(cef=5, ocsf=0)

_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?$")
_HOSTNAME = re.compile(
    r"^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*"
    r"([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])$"
)

# Accepted spellings of the keys of an event's ``geo`` mapping -> one canonical name.
_GEO_ALIASES = {
    "country_iso_code": "country_iso_code",
    "country_code": "country_iso_code",
    "country": "country_iso_code",
    "country_name": "country_name",
    "city_name": "city_name",
    "city": "city_name",
    "region_name": "region_name",
    "region": "region_name",
    "region_iso_code": "region_iso_code",
    "continent_name": "continent_name",
    "continent": "continent_name",
    "continent_code": "continent_code",
    "postal_code": "postal_code",
    "timezone": "timezone",
    "lat": "lat",
    "latitude": "lat",
    "lon": "lon",
    "lng": "lon",
    "longitude": "lon",
}


def spec_of(event: Mapping[str, Any]) -> EventSpec | None:
    name = event.get("event_type")
    return VOCABULARY.get(name) if isinstance(name, str) else None


def severity_of(event: Mapping[str, Any]) -> Severity:
    level = event.get("level")
    return SEVERITY.get(level, UNKNOWN_SEVERITY) if isinstance(level, str) else UNKNOWN_SEVERITY


def parse_timestamp(value: Any) -> datetime | None:
    """The canonical ``timestamp`` (ISO 8601, ``Z``) as an aware datetime, or None."""
    if not isinstance(value, str):
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def epoch_millis(value: Any) -> int | None:
    parsed = parse_timestamp(value)
    return None if parsed is None else int(parsed.timestamp() * 1000)


def split_path(path: Any) -> tuple[str | None, str | None]:
    """``/a/b?x=1`` -> (``/a/b``, ``x=1``): the canonical path carries the sanitized query."""
    if not isinstance(path, str):
        return None, None
    base, sep, query = path.partition("?")
    return base, (query if sep else None)


def split_host(host: Any) -> tuple[str | None, int | None]:
    """An HTTP Host header -> (name, port); a malformed header gives (None, None)."""
    if not isinstance(host, str):
        return None, None
    match = _HOST_PORT.match(host.strip())
    if match is None:
        return None, None
    port = int(match.group(2)) if match.group(2) else None
    if port is not None and not 0 < port < 65536:
        return None, None
    return match.group(1), port


def is_hostname(name: str) -> bool:
    return len(name) <= 253 and _HOSTNAME.match(name) is not None


def ip_address(value: Any) -> str | None:
    """``value`` if it is a valid IP address (normalized), else None."""
    return _ip_address(value) if isinstance(value, str) else None


@lru_cache(maxsize=4096)
def _ip_address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def is_ipv6(value: str) -> bool:
    return ":" in value


def geo_of(event: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(field, location): the event's ``geo`` (or ``source_geo``) mapping under canonical
    names, and the field it came from when every key of it was understood (a renderer may
    then drop the field; otherwise it keeps it, so nothing is lost)."""
    for field in ("geo", "source_geo"):
        raw = event.get(field)
        if isinstance(raw, Mapping):
            geo, complete = _normalize_geo(raw)
            return (field if geo and complete else None), geo
    return None, {}


def _normalize_geo(raw: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    complete = True
    geo: dict[str, Any] = {}
    location = raw.get("location")
    if isinstance(location, Mapping) and set(location) <= {"lat", "lon"}:
        raw = {key: value for key, value in raw.items() if key != "location"}
        raw.update(location)
    for key, value in raw.items():
        name = _GEO_ALIASES.get(key) if isinstance(key, str) else None
        if name is None or name in geo:
            complete = False
        elif name in ("lat", "lon"):
            limit = 90 if name == "lat" else 180
            if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                -limit <= value <= limit
            ):
                geo[name] = float(value)
            else:
                complete = False
        elif isinstance(value, str) and value:
            geo[name] = value
        else:
            complete = False
    if geo.get("country_iso_code") and len(geo["country_iso_code"]) != 2:
        # A full country name under "country" is not an ISO code.
        if "country_name" in geo:
            del geo["country_iso_code"]
            complete = False
        else:
            geo["country_name"] = geo.pop("country_iso_code")
    return geo, complete


def to_int(value: Any, limit: int = 2**63 - 1) -> int | None:
    """A non-negative integer (or its decimal string) up to ``limit``, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= limit:
        return value
    return None


def http_status(value: Any) -> int | None:
    status = to_int(value, 999)
    return status if status is not None and status >= 100 else None


def text(value: Any) -> str:
    """A field value as one string: scalars as written, containers as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return dumps(value).decode()


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        import json

        return json.dumps(value, default=repr, ensure_ascii=True, separators=(",", ":")).encode()


def event_uid(event: Mapping[str, Any]) -> str:
    """A stable identifier of one event record, derived from its content."""
    try:
        data = orjson.dumps(event, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        data = repr(sorted(event.items(), key=lambda item: str(item[0]))).encode(
            "utf-8", "backslashreplace"
        )
    return hashlib.sha256(data).hexdigest()[:32]


class Fields:
    """Read an event's fields, remembering which were used; ``rest()`` is everything else."""

    __slots__ = ("_event", "_used")

    def __init__(self, event: Mapping[str, Any]) -> None:
        self._event = event
        self._used: set[str] = set()

    def get(self, key: str) -> Any:
        """The value without marking it used."""
        return self._event.get(key)

    def take(self, key: str) -> Any:
        self._used.add(key)
        return self._event.get(key)

    def take_str(self, key: str) -> str | None:
        """A non-empty string value, marked used; any other value stays for ``rest()``."""
        value = self._event.get(key)
        if value is None or value == "":
            self._used.add(key)
            return None
        if isinstance(value, str):
            self._used.add(key)
            return value
        return None

    def take_id(self, key: str) -> str | None:
        """An identifier (string or integer) as a string."""
        value = self._event.get(key)
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
            return self.take_str(key)
        self._used.add(key)
        return str(value)

    def mark(self, *keys: str) -> None:
        self._used.update(keys)

    def rest(self) -> Iterator[tuple[str, Any]]:
        for key, value in self._event.items():
            if key not in self._used and value is not None:
                yield str(key), value


def prune(value: Any) -> Any:
    """Drop None values and empty objects, recursively (for the renderers' own structure,
    never for the event's values: None inside a field's value is information)."""
    if isinstance(value, dict):
        pruned = {}
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                item = prune(item)
                if item == {}:
                    continue
            elif item is None:
                continue
            pruned[key] = item
        return pruned
    if isinstance(value, list):
        return [prune(item) if isinstance(item, (dict, list)) else item for item in value]
    return value
