"""CEF renderer: header and extension escaping, standard keys, round trips under any input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secmon import __version__, formats
from secmon.formats._fields import epoch_millis, text
from secmon.formats.cef import custom_key, escape_header, escape_value, to_cef

from .cef_parser import CEFError, parse
from .samples import SAMPLES
from .strategies import text_events

_STANDARD = {
    "user_id": "suid", "username": "suser", "method": "requestMethod", "path": "request",
    "user_agent": "requestClientApplication", "outcome": "outcome", "reason": "reason",
    "category": "cat", "event": "msg", "filename": "fname",
}
_SLOTS = {"resource_type": "cs1", "resource_id": "cs2", "request_id": "cs3",
          "username_hash": "cs4", "app": "cs5", "route": "cs6"}


def test_registered_as_a_format() -> None:
    assert "cef" in formats.names()
    assert formats.get("cef")(SAMPLES["web"]).startswith(b"CEF:0|secmon|secmon|")


def test_header() -> None:
    header, _ = parse(to_cef(SAMPLES["web"]))
    assert header == ["CEF:0", "secmon", "secmon", __version__, "authz_fail", "access denied",
                      "6"]


@pytest.mark.parametrize(("level", "severity"), [
    ("info", "3"), ("warning", "6"), ("error", "8"), ("critical", "10"), ("odd", "5"),
])
def test_severity_from_level(level: str, severity: str) -> None:
    header, _ = parse(to_cef({**SAMPLES["session"], "level": level}))
    assert header[6] == severity


def test_standard_and_custom_keys() -> None:
    _, ext = parse(to_cef(SAMPLES["web"]))
    assert ext["rt"] == str(epoch_millis(SAMPLES["web"]["timestamp"]))
    assert ext["src"] == "203.0.113.9"
    assert ext["suid"] == "7"
    assert ext["request"] == "/invoices/19?download=1&token=[REDACTED]"
    assert ext["requestMethod"] == "GET"
    assert ext["outcome"] == "failure"
    assert ext["reason"] == "not owner"
    assert ext["dhost"] == "shop.example.com"
    assert (ext["cn1"], ext["cn1Label"]) == ("403", "httpStatus")
    assert (ext["cs1"], ext["cs1Label"]) == ("invoice", "resourceType")
    assert (ext["cs2"], ext["cs2Label"]) == ("19", "resourceId")
    assert (ext["cs6"], ext["cs6Label"]) == ("/invoices/<int:pk>", "route")
    assert "secmonStatus" not in ext


def test_ipv6_sources_and_geo() -> None:
    _, ext = parse(to_cef({**SAMPLES["intrusion_detection"], "source_ip": "2001:db8::7"}))
    assert "src" not in ext
    assert (ext["c6a2"], ext["c6a2Label"]) == ("2001:db8::7", "Source IPv6 Address")
    assert (ext["slat"], ext["slong"]) == ("35.6895", "139.6917")
    assert ext["secmonDistanceKm"] == "9714"


def test_nested_values_are_json_and_uploads_name_the_file() -> None:
    _, ext = parse(to_cef(SAMPLES["iam"]))
    assert ext["secmonChanges"] == (
        '{"groups":{"added":["billing-admins"],"removed":[]},"is_staff":true}'
    )
    _, upload = parse(to_cef(SAMPLES["file"]))
    assert (upload["fname"], upload["fsize"]) == ("invoice.pdf.exe", "48213")
    assert upload["secmonProblems"] == '["executable","type_mismatch"]'


def test_escaping() -> None:
    assert escape_header("a|b\\c\nd\re") == "a\\|b\\\\c\\nd\\re"
    assert escape_value("a=b\\c\nd\re|f") == "a\\=b\\\\c\\nd\\re|f"
    line = to_cef({**SAMPLES["web"], "event_type": "x|y\\z", "reason": "a=b c=d\\\n|"})
    assert "\n" not in line
    header, ext = parse(line)
    assert header[4] == "x|y\\z"
    assert ext["reason"] == "a=b c=d\\\n|"


def test_custom_keys_are_alphanumeric_and_unique() -> None:
    assert custom_key("resource_type") == "secmonResourceType"
    assert custom_key("a.b-c d") == "secmonABCD"
    _, ext = parse(to_cef({**SAMPLES["process"], "key-name": "x", "key.name": "y"}))
    assert (ext["secmonKeyName"], ext["secmonKeyNameX"], ext["secmonKeyNameXX"]) == (
        "session-encryption", "x", "y"
    )


def test_the_parser_rejects_broken_records() -> None:
    for broken in ("CEF:0|a|b|c|d|e|1|msg=a=b", "CEF:0|a|b|c|d|e|1|msg=x\ny=1",
                   "CEF:0|a|b|c", "CEF:0|a|b|c|d|e|1|junk msg=x", "CEF:0|a|b|c|d|e|1|m=\\q"):
        with pytest.raises(CEFError):
            parse(broken)


def _expected_extension(event: dict[str, Any]) -> dict[str, str]:
    """What the extension must hold for the fields that map one to one."""
    expected = {}
    for field, key in {**_STANDARD, **_SLOTS}.items():
        value = event.get(field)
        if field in ("user_id", "username") and not isinstance(value, (str, int)):
            continue
        if field in _STANDARD and field not in ("user_id", "username") and not isinstance(
            value, str
        ):
            continue
        if isinstance(value, bool) and field in ("user_id", "username"):
            continue
        if value is not None and text(value) != "":
            expected[key] = text(value)
    return expected


@settings(max_examples=400, deadline=None)
@given(text_events())
def test_any_text_in_any_field_round_trips(event: dict[str, Any]) -> None:
    line = formats.get("cef")(event).decode()
    header, ext = parse(line)
    event_type = event.get("event_type")
    assert header[4] == (text(event_type) if event_type not in (None, "") else "unknown")
    for key, value in _expected_extension(event).items():
        assert ext[key] == value, key


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9]{0,12}", fullmatch=True), st.text(),
                       min_size=1, max_size=8))
def test_any_extra_field_round_trips(extra: dict[str, str]) -> None:
    fields = {key: value for key, value in extra.items() if key not in SAMPLES["process"]}
    _, ext = parse(to_cef({**SAMPLES["process"], **fields}))
    for key, value in fields.items():
        if value:
            assert ext[custom_key(key)] == value
