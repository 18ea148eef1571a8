"""The inspector: request parts, locations, fragments, bounds, settings, and never raising."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secmon.attacks import BodyScanner, Finding, Inspector
from secmon.attacks import inspector as inspector_module
from secmon.config import ConfigError, Settings
from secmon.redact import REDACTED, Redactor

SQLI = "1' or '1'='1"


def one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_query_value_location_and_event(inspector: Inspector) -> None:
    finding = one(inspector.inspect(query=urlencode({"q": SQLI, "page": "2"})))
    assert (finding.type, finding.location, finding.confidence) == (
        "sql_injection", "query.q", "high")
    assert finding.event_type == "malicious_extraneous"
    fields = finding.event_fields()
    assert fields["attack"] == {"type": "sql_injection", "location": "query.q",
                                "rule_id": "sqli.boolean", "confidence": "high",
                                "fragment": SQLI}
    assert "query.q" in fields["reason"]


def test_query_bytes_and_a_malicious_parameter_name(inspector: Inspector) -> None:
    finding = one(inspector.inspect(query=b"%3Cscript%3Ealert(1)%3C/script%3E=1"))
    assert (finding.type, finding.location) == ("xss", "query")


def test_unsafe_names_never_reach_the_location(inspector: Inspector) -> None:
    findings = inspector.inspect(json={"<b onclick=x>": {"v": "<script>alert(1)</script>"}})
    assert [f.location for f in findings] == ["body", "body.*.v"]


def test_json_nested_location(inspector: Inspector) -> None:
    document = {"user": {"name": "<svg onload=alert(1)>", "tags": ["ok", "../../etc/passwd"]}}
    locations = {(f.type, f.location) for f in inspector.inspect(json=document)}
    assert locations == {("xss", "body.user.name"), ("path_traversal", "body.user.tags[1]")}


@pytest.mark.parametrize("form", [
    {"comment": "ok", "name": "{{ ''.__class__.__mro__ }}"},
    [("comment", "ok"), ("name", "{{ ''.__class__.__mro__ }}")],
    {"comment": ["ok"], "name": ["fine", "{{ ''.__class__.__mro__ }}"]},
])
def test_form_shapes(inspector: Inspector, form: Any) -> None:
    finding = one(inspector.inspect(form=form))
    assert (finding.type, finding.location) == ("template_injection", "body.name")


def test_multidict_lists_every_value(inspector: Inspector) -> None:
    class MultiDict(dict[str, str]):
        def lists(self) -> list[tuple[str, list[str]]]:
            return [("q", ["fine", "; cat /etc/passwd"])]

    finding = one(inspector.inspect(form=MultiDict(q="fine")))
    assert (finding.type, finding.location) == ("command_injection", "body.q")


def test_headers_and_cookie_names(inspector: Inspector) -> None:
    headers = {"user-agent": "sqlmap/1.7.2#stable (https://sqlmap.org)",
               "x-forwarded-for": "${jndi:ldap://x.example/a}",
               "referer": "https://shop.example.com/?q=%27%20or%201%3D1--",
               "cookie": "session=abc; <script>=1"}
    found = {(f.type, f.location, f.event_type) for f in inspector.inspect(header=headers.get)}
    assert found == {
        ("attack_tool", "header.user-agent", "malicious_attack_tool"),
        ("jndi_injection", "header.x-forwarded-for", "malicious_extraneous"),
        ("sql_injection", "header.referer", "malicious_extraneous"),
        ("xss", "cookie", "malicious_extraneous"),
    }


def test_header_verdicts_are_remembered(inspector: Inspector) -> None:
    headers = {"user-agent": "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"}
    first = inspector.inspect(header=headers.get)
    assert first == inspector.inspect(header=headers.get)
    assert len(inspector._headers) == 1
    assert one(first).rule_id == "tool.nuclei"


def test_path(inspector: Inspector) -> None:
    assert one(inspector.inspect(path="/static/../../etc/passwd")).location == "path"
    assert inspector.inspect(path="/blog/2024/03/rock-n-roll") == []


def test_secret_fields_redact_the_fragment_and_need_high_confidence(
    inspector: Inspector,
) -> None:
    finding = one(inspector.inspect(form={"password": "' or 1=1--"}))
    assert (finding.location, finding.fragment) == ("body.password", REDACTED)
    # The same medium-confidence shape counts in a plain field, not in a password.
    assert one(inspector.inspect(form={"username": "admin'--"})).confidence == "medium"
    assert inspector.inspect(form={"password": "admin'--"}) == []
    nested = one(inspector.inspect(json={"credentials": {"value": "' or 1=1--"}}))
    assert nested.fragment == REDACTED


def test_fragment_is_bounded_and_sanitized(inspector: Inspector) -> None:
    payload = "x" * 500 + "<script>alert(1)</script>\n[fake] log line" + "y" * 500
    finding = one(inspector.inspect(query=urlencode({"q": payload})))
    assert len(finding.fragment) <= 100
    assert "<script" in finding.fragment
    leaked = one(inspector.inspect(query=urlencode(
        {"q": "' or 1=1 -- token=ghp_" + "a" * 36})))
    assert "ghp_" not in leaked.fragment


def test_one_finding_per_kind_and_location_and_a_cap(inspector: Inspector) -> None:
    query = urlencode([("q", SQLI), ("q", SQLI + " --")])
    assert len(inspector.inspect(query=query)) == 1
    many = urlencode({f"p{i}": SQLI for i in range(50)})
    assert len(inspector.inspect(query=many)) == inspector_module.MAX_FINDINGS


def test_values_past_the_budget_are_left_unread(inspector: Inspector) -> None:
    group = [{"n": "x"} for _ in range(inspector_module.MAX_FIELDS)]
    document: dict[str, Any] = {"groups": [group] * 8, "last": SQLI}  # 8192 values before it
    assert inspector.inspect(json=document) == []
    assert one(inspector.inspect(json={"last": SQLI, **document})).location == "body.last"


def test_double_encoded_payloads_are_decoded(inspector: Inspector) -> None:
    finding = one(inspector.inspect(query="file=" + quote(quote("../../../etc/passwd"))))
    assert finding.type == "path_traversal"


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.api+json"])
def test_json_body_bytes(inspector: Inspector, content_type: str) -> None:
    body = orjson.dumps({"comment": {"text": "<img src=x onerror=alert(1)>"}})
    finding = one(inspector.inspect(body=body, content_type=content_type))
    assert finding.location == "body.comment.text"


def test_json_body_cut_at_the_limit_is_read_by_its_strings() -> None:
    inspector = Inspector(Redactor(), body_max_bytes=64)
    body = orjson.dumps({"a": "<script>alert(1)</script>", "b": "x" * 1000})
    assert one(inspector.inspect(body=body, content_type="application/json")).location == "body"


def test_streamed_urlencoded_body() -> None:
    inspector = Inspector(Redactor())
    scanner = inspector.body_scanner("application/x-www-form-urlencoded; charset=utf-8")
    body = urlencode({"name": "ann", "host": "8.8.8.8; cat /etc/passwd", "x": "y"}).encode()
    for index in range(0, len(body), 7):
        scanner.feed(body[index:index + 7])
    finding = one(scanner.findings())
    assert (finding.type, finding.location) == ("command_injection", "body.host")


def test_streamed_body_stops_at_the_limit() -> None:
    inspector = Inspector(Redactor(), body_max_bytes=100)
    scanner = inspector.body_scanner("application/x-www-form-urlencoded")
    scanner.feed(b"a=" + b"b" * 200)
    scanner.feed(b"&q=%3Cscript%3E")
    assert scanner.findings() == []
    assert len(scanner._buffer) == 0


def test_multipart_fields_handed_over(inspector: Inspector) -> None:
    scanner = inspector.body_scanner("multipart/form-data; boundary=x")
    scanner.feed(b"--x\r\n...")  # multipart bytes are parsed by the adapter, not here
    scanner.field("bio", "{{7*7}}")
    assert one(scanner.findings()).rule_id == "ssti.arithmetic_probe"


def test_text_body_and_unknown_types(inspector: Inspector) -> None:
    assert one(inspector.inspect(body=b"${jndi:ldap://x/a}", content_type="text/plain"))
    assert inspector.inspect(body=b"${jndi:ldap://x/a}",
                             content_type="application/octet-stream") == []


def test_disabled_inspector_does_nothing() -> None:
    inspector = Inspector.from_settings(Settings.build(attack_detection=False), Redactor())
    assert inspector.inspect(query=urlencode({"q": SQLI})) == []
    scanner = inspector.body_scanner("text/plain")
    scanner.feed(b"<script>")
    assert scanner.findings() == []


def test_from_settings_kinds_and_limit() -> None:
    settings = Settings.build(attack_kinds={"sql_injection": False}, attack_body_max_bytes=10)
    inspector = Inspector.from_settings(settings, Redactor())
    assert "sql_injection" not in inspector.kinds and "xss" in inspector.kinds
    assert inspector.body_max_bytes == 10
    assert inspector.inspect(query=urlencode({"q": SQLI})) == []


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="sqli"):
        Inspector(Redactor(), kinds=["sqli"])


@pytest.mark.parametrize(("value", "message"), [
    ({"sqli": False}, "unknown attack kind 'sqli'"),
    ({"ssrf": "maybe"}, "expected true or false"),
    (["xss", "nope"], "unknown attack kind 'nope'"),
    (42, "expected a list of strings"),
])
def test_attack_kinds_setting_names_the_key(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.build(attack_kinds=value)
    assert caught.value.key.startswith("ATTACK_KINDS")


def test_attack_settings_defaults_and_environment() -> None:
    defaults = Settings.build(env={})
    assert defaults.attack_detection is True
    assert all(defaults.attack_kinds.values())
    assert defaults.attack_body_max_bytes == 64 * 1024
    built = Settings.build(env={"SECMON_ATTACK_KINDS": "sql_injection,xss",
                                "SECMON_ATTACK_DETECTION": "off",
                                "SECMON_ATTACK_BODY_MAX_BYTES": "1024"})
    assert [k for k, on in built.attack_kinds.items() if on] == ["sql_injection", "xss"]
    assert built.attack_detection is False and built.attack_body_max_bytes == 1024
    switched = Settings.build(env={"SECMON_ATTACK_KINDS": '{"ssrf": false}'})
    assert switched.attack_kinds["ssrf"] is False and switched.attack_kinds["xss"] is True
    with pytest.raises(ConfigError, match="ATTACK_BODY_MAX_BYTES"):
        Settings.build(attack_body_max_bytes=0)


def test_errors_are_reported_not_raised() -> None:
    class Broken:
        def sanitize_str(self, text: str) -> str:
            raise RuntimeError("boom")

        def is_sensitive_key(self, key: str) -> bool:
            return False

    errors: list[str] = []
    inspector = Inspector(Broken(), on_error=lambda where, exc: errors.append(str(exc)))
    assert inspector.inspect(query=urlencode({"q": SQLI})) == []
    assert errors == ["boom"]

    def header(name: str) -> str:
        raise KeyError(name)

    assert Inspector(Redactor()).inspect(header=header) == []


# Adversarial inputs: every pattern must stay linear (and every part is bounded).
UNITS = ["'", "a'", "<a", "${", "../", "1 or ", "%25", "{{", "|", "`", ";id ", "\\", "/",
         "./", "/./", "on", "${a:", "'||'", "(", "/*", "<script", "$(", '"on', "{%", "__",
         ". ", "a ", "..;/", "<x a=", "&#", "http://1.", "{{7*", "-"]


@pytest.mark.parametrize("unit", UNITS)
def test_one_megabyte_adversarial_parts_finish_quickly(inspector: Inspector, unit: str) -> None:
    payload = unit * (1_000_000 // len(unit))
    started = time.monotonic()
    inspector.inspect(
        path="/" + payload, query="q=" + quote(payload),
        header={"user-agent": payload, "referer": payload, "cookie": payload}.get,
        json={"a": payload, "b": [payload]}, body=payload.encode(), content_type="text/plain",
    )
    # Catastrophic backtracking takes minutes here; linear patterns take milliseconds.
    assert time.monotonic() - started < 10


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["query", "json", "form", "header", "path"]))
def test_any_text_is_inspected_without_raising(text: str, where: str) -> None:
    inspector = Inspector(Redactor())
    arguments: dict[str, Any] = {
        "query": {"query": urlencode({"q": text})},
        "json": {"json": {"q": text}},
        "form": {"form": {"q": text}},
        "header": {"header": {"user-agent": text, "referer": text}.get},
        "path": {"path": "/" + text},
    }[where]
    for finding in inspector.inspect(**arguments):
        assert len(finding.fragment) <= 100
        assert re.search("[\x00-\x1f\x7f]", finding.fragment) is None  # neutralized


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=60))
def test_secret_fields_never_show_their_value(secret: str) -> None:
    inspector = Inspector(Redactor())
    for value in (secret, f"' or 1=1 -- {secret}"):
        for finding in inspector.inspect(form={"password": value}):
            assert finding.fragment == REDACTED


def test_body_scanner_is_exported() -> None:
    assert isinstance(Inspector(Redactor()).body_scanner(None), BodyScanner)
