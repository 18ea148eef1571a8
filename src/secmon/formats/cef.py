"""ArcSight Common Event Format (CEF:0), as read by ArcSight, QRadar and most SIEMs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._version import __version__
from . import register
from ._fields import (
    Fields,
    epoch_millis,
    geo_of,
    http_status,
    ip_address,
    is_ipv6,
    severity_of,
    spec_of,
    split_host,
    text,
    to_int,
)

VENDOR = "secmon"
PRODUCT = "secmon"

_NOT_KEY_CHARS = re.compile(r"[^A-Za-z0-9]+")

# Canonical fields with no standard CEF key, in the device custom string slots (cs1-cs6).
_CUSTOM_STRINGS = (
    ("resource_type", "resourceType"),
    ("resource_id", "resourceId"),
    ("request_id", "requestId"),
    ("username_hash", "usernameHash"),
    ("app", "application"),
    ("route", "route"),
)


def escape_header(value: str) -> str:
    # Backslash first, so the escapes added after it are not doubled.
    return (value.replace("\\", "\\\\").replace("|", "\\|")
            .replace("\n", "\\n").replace("\r", "\\r"))


def escape_value(value: str) -> str:
    return (value.replace("\\", "\\\\").replace("=", "\\=")
            .replace("\n", "\\n").replace("\r", "\\r"))


def custom_key(name: str) -> str:
    """A field name as a vendor extension key: ``resource_type`` -> ``secmonResourceType``."""
    words = [word for word in _NOT_KEY_CHARS.split(name) if word]
    return "secmon" + "".join(word[:1].upper() + word[1:] for word in words)


def to_cef(event: Mapping[str, Any]) -> str:
    """One CEF record (no trailing newline); every header field and value is escaped."""
    spec = spec_of(event)
    fields = Fields(event)
    raw_type = event.get("event_type")
    event_type = text(raw_type) if raw_type is not None and raw_type != "" else "unknown"
    fields.mark("event_type", "level")
    header = [
        "CEF:0",
        escape_header(VENDOR),
        escape_header(PRODUCT),
        escape_header(__version__),
        escape_header(event_type),
        escape_header(spec.summary if spec is not None else event_type),
        str(severity_of(event).cef),
    ]
    extension: list[tuple[str, Any]] = []
    add = extension.append
    millis = epoch_millis(fields.get("timestamp"))
    if millis is not None:
        fields.mark("timestamp")
        add(("rt", millis))
    ip = ip_address(fields.get("source_ip"))
    if ip is not None:
        fields.mark("source_ip")
        if is_ipv6(ip):
            add(("c6a2", ip))
            add(("c6a2Label", "Source IPv6 Address"))
        else:
            add(("src", ip))
    _, geo = geo_of(event)
    if "lat" in geo and "lon" in geo:  # the rest of the location stays in secmonGeo
        add(("slat", geo["lat"]))
        add(("slong", geo["lon"]))
    add(("suid", fields.take_id("user_id")))
    add(("suser", fields.take_id("username")))
    add(("requestMethod", fields.take_str("method")))
    add(("request", fields.take_str("path")))
    add(("requestClientApplication", fields.take_str("user_agent")))
    name, port = split_host(fields.get("host"))
    if name is not None:
        fields.mark("host")
        add(("dhost", name))
        add(("dpt", port))
    add(("outcome", fields.take_str("outcome")))
    add(("reason", fields.take_str("reason")))
    add(("cat", fields.take_str("category")))
    add(("msg", fields.take_str("event")))
    status = http_status(fields.get("status"))
    if status is not None:
        fields.mark("status")
        add(("cn1", status))
        add(("cn1Label", "httpStatus"))
    filename = fields.take_str("filename")
    if filename is not None:
        add(("fname", filename))
        size = to_int(fields.get("size"))
        if size is not None:
            fields.mark("size")
            add(("fsize", size))
    for slot, (field, label) in enumerate(_CUSTOM_STRINGS, start=1):
        value = fields.take(field)
        if value is not None:
            add((f"cs{slot}", text(value)))
            add((f"cs{slot}Label", label))
    taken = {key for key, _ in extension}
    for field, value in fields.rest():
        key = custom_key(field)
        while key in taken:
            key += "X"
        taken.add(key)
        add((key, value))
    body = " ".join(
        f"{key}={escape_value(text(value))}"
        for key, value in extension
        if value is not None and value != ""
    )
    return "|".join(header) + "|" + body


def render_cef(event: dict[str, Any]) -> bytes:
    return to_cef(event).encode("utf-8", "backslashreplace")


register("cef", render_cef)
