"""Tests for secmon.redact: key and value redaction, injection neutralizing, bounds, odd objects."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import ipaddress
import re
import string
import time
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from secmon.config import Settings
from secmon.redact import REDACTED, Redactor, neutralize, sanitize

# Vendor-format secrets are assembled at run time so that secret scanners leave this file alone.
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SESSION_KEY = "ASIA" + "Y34FZKBOKMUTVV7A"
GITHUB_TOKENS = [
    f"gh{kind}_" + "16C7e42F292c6912E7710c838347Ae178B4a" for kind in "pousr"
]
GITHUB_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
SLACK_TOKENS = [f"xox{kind}-" + "1234567890-0987654321-AbCdEfGhIjKl" for kind in "bpars"]
SLACK_HOOK_PATH = "T00000000/B00000000/" + "XXXXXXXXXXXXXXXXXXXXXXXX"
STRIPE_KEYS = [
    prefix + "4eC39HqLyjWDarjtT1zdp7dc"
    for prefix in ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_")
]
GOOGLE_KEY = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
GOOGLE_OAUTH = "ya29." + "a0AfH6SMC-x1y2z3_abcdefghijklmnop"
PEM_BODY = ["MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
            "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK"]
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END RSA PRIVATE KEY-----"
)


def luhn_complete(partial: str) -> str:
    """``partial`` followed by the check digit that makes it pass Luhn."""
    for check in "0123456789":
        digits = partial + check
        total = 0
        for index, char in enumerate(reversed(digits)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def luhn_ok(digits: str) -> bool:
    return luhn_complete(digits[:-1]) == digits


CARDS = {
    "visa": "4111111111111111",
    "visa 13": luhn_complete("422222222222"),
    "visa 19": luhn_complete("411111111111111100"),
    "mastercard": "5555555555554444",
    "mastercard 2-series": "2223003122003222",
    "amex": "378282246310005",
    "discover": "6011111111111117",
    "discover 64x": luhn_complete("644564456445644"),
    "discover 65": luhn_complete("650000000000000"),
    "jcb": "3530111333300000",
    "diners": "30569309025904",
    "diners 36": luhn_complete("3600000000000"),
    "unionpay": luhn_complete("620000000000000"),
}


@pytest.fixture
def errors() -> list[tuple[str, BaseException]]:
    return []


@pytest.fixture
def redactor(errors: list[tuple[str, BaseException]]) -> Redactor:
    return Redactor(on_error=lambda where, exc: errors.append((where, exc)))


def dumped(value: Any) -> str:
    """The JSON that an output would write: proves the value is serializable, too."""
    return orjson.dumps(value).decode()


# --- keys -----------------------------------------------------------------------------------

SENSITIVE_KEYS = [
    "password", "Password", "PASSWORD", "user_password", "newPassword1", "password_confirm",
    "passwd", "pwd", "pass", "db_pass", "pass_phrase", "secret", "client_secret", "SECRET_KEY",
    "token", "access_token", "refresh_token", "refreshToken", "id_token", "api_key", "apikey",
    "apiKey", "APIKey", "x-api-key", "X-API-Key", "access_key", "aws_access_key_id",
    "private_key", "privateKey", "authorization", "Authorization", "HTTP_AUTHORIZATION",
    "proxy-authorization", "auth", "x-auth-token", "basic_auth", "cookie", "Cookie", "set-cookie",
    "Set-Cookie", "session", "sessionid", "session_key", "sessionKey", "csrf", "csrftoken",
    "csrfmiddlewaretoken", "x-csrftoken", "X-Csrftoken", "HTTP_X_CSRFTOKEN", "credit_card",
    "creditCard", "card_number", "cardnumber", "cardNumber", "cc_number", "cvv", "cvv2", "cvc",
    "ssn", "SSN", "pin", "pin_code", "PIN", "otp", "otp_code", "mfa_code", "iban", "signature",
    "sig", "user[password]", "user.password", "credentials",
]
INNOCENT_KEYS = [
    # The event's own fields.
    "event_type", "event", "user_id", "username", "username_hash", "source_ip", "peer_ip",
    "user_agent", "request_id", "method", "path", "status", "host", "app", "route",
    "resource_type", "resource_id", "reason", "changes", "seq", "chain", "prev", "mac", "key_id",
    "category", "outcome", "level", "timestamp", "filename", "content_type", "size",
    "detected_type", "field", "fields", "limit", "scope", "rule", "count", "threshold", "window",
    # Words that contain a short denylisted token but are not it.
    "classname", "passenger", "spinner", "author", "authority", "authored_by", "compass",
    "bypass_cache", "opinion", "pinned", "cotp", "assn", "signal", "design", "spin", "pincer",
]


@pytest.mark.parametrize("key", SENSITIVE_KEYS)
def test_sensitive_keys_are_redacted(redactor: Redactor, key: str) -> None:
    assert redactor.is_sensitive_key(key)
    assert redactor.sanitize({key: "hunter2"}) == {key: REDACTED}


@pytest.mark.parametrize("key", INNOCENT_KEYS)
def test_innocent_keys_are_kept(redactor: Redactor, key: str) -> None:
    assert not redactor.is_sensitive_key(key)
    assert redactor.sanitize({key: "hello"}) == {key: "hello"}


@pytest.mark.parametrize("value", [None, "", b"", [], {}, (), True, False])
def test_sensitive_key_with_nothing_in_it_is_kept(redactor: Redactor, value: Any) -> None:
    result = redactor.sanitize({"password": value})
    assert result == {"password": redactor.sanitize(value)}


@pytest.mark.parametrize("value", [1234, 12.5, ["a", "b"], {"old": "x", "new": "y"}, b"x"])
def test_sensitive_key_replaces_any_value_whole(redactor: Redactor, value: Any) -> None:
    assert redactor.sanitize({"pin": value}) == {"pin": REDACTED}


def test_keys_at_any_depth(redactor: Redactor) -> None:
    data = {"a": [{"b": ({"c": {"Api-Key": "k1", "ok": 1}},)}], "creds": {"token": "t"}}
    assert redactor.sanitize(data) == {
        "a": [{"b": [{"c": {"Api-Key": REDACTED, "ok": 1}}]}], "creds": {"token": REDACTED},
    }


def test_pairs_in_lists_tuples_and_sets(redactor: Redactor) -> None:
    data = {
        "headers": [("Authorization", "Bearer x"), ("Accept", "*/*")],
        "raw": [(b"cookie", b"sessionid=1"), (b"host", b"example.com")],
        "tuple": ("password", "hunter2"),
        "set": {("token", "abc")},
        "fields": ["password", "email"],
    }
    assert redactor.sanitize(data) == {
        "headers": [["Authorization", REDACTED], ["Accept", "*/*"]],
        "raw": [["cookie", REDACTED], ["host", "example.com"]],
        "tuple": ["password", REDACTED],
        "set": [["token", REDACTED]],
        "fields": ["password", "email"],
    }


class FormData:
    """Like Django's QueryDict or werkzeug's MultiDict: several values per key."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self._pairs = pairs

    def lists(self) -> Iterator[tuple[str, list[str]]]:
        grouped: dict[str, list[str]] = {}
        for key, value in self._pairs:
            grouped.setdefault(key, []).append(value)
        yield from grouped.items()


class MultiItems(Mapping[str, str]):
    """Like Starlette's ImmutableMultiDict: a Mapping with .multi_items()."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self._pairs = pairs

    def __getitem__(self, key: str) -> str:
        return next(v for k, v in self._pairs if k == key)

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._pairs))

    def __len__(self) -> int:
        return len(dict(self._pairs))

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


class ItemsMulti:
    """Like werkzeug's Headers: not a Mapping, .items() takes flags."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self._pairs = pairs

    def items(self, multi: bool = False) -> list[tuple[str, str]]:
        return list(self._pairs) if multi else list(dict(self._pairs).items())


@pytest.mark.parametrize("kind", [FormData, MultiItems, ItemsMulti])
def test_form_data_keeps_every_value(redactor: Redactor, kind: Any) -> None:
    form = kind(("tag", "a"), ("tag", "b"), ("password", "x"), ("password", "y"), ("name", "bob"))
    assert redactor.sanitize({"form": form}) == {
        "form": {"tag": ["a", "b"], "password": REDACTED, "name": "bob"}
    }


def test_extra_keys(redactor: Redactor) -> None:
    custom = Redactor(extra_keys=["national_id", "pan", "Geheimnis"])
    data = {"nationalId": 1, "user_national_id": 2, "pan": 3, "company": 4, "geheimnis_x": 5}
    assert custom.sanitize(data) == {
        "nationalId": REDACTED, "user_national_id": REDACTED, "pan": REDACTED, "company": 4,
        "geheimnis_x": REDACTED,
    }
    assert redactor.sanitize(data) == data


def test_key_cache_is_bounded(redactor: Redactor) -> None:
    for index in range(20_000):
        redactor.is_sensitive_key(f"field_{index}")
    assert len(redactor._keys) <= 4096
    assert redactor.is_sensitive_key("field_password")


# --- values ---------------------------------------------------------------------------------

SECRETS = [
    pytest.param(JWT, id="jwt"),
    pytest.param(AWS_KEY, id="aws"),
    pytest.param(AWS_SESSION_KEY, id="aws-session"),
    *(pytest.param(token, id=token[:3]) for token in GITHUB_TOKENS),
    pytest.param(GITHUB_PAT, id="github-pat"),
    *(pytest.param(token, id=token[:4]) for token in SLACK_TOKENS),
    *(pytest.param(key, id=key[:7]) for key in STRIPE_KEYS),
    pytest.param(GOOGLE_KEY, id="google-key"),
    pytest.param(GOOGLE_OAUTH, id="google-oauth"),
    *(pytest.param(number, id=f"card-{brand}") for brand, number in CARDS.items()),
    pytest.param("4111 1111 1111 1111", id="card-spaces"),
    pytest.param("4111-1111-1111-1111", id="card-dashes"),
    pytest.param("3782 822463 10005", id="card-amex-groups"),
]


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("template", ["{}", "key: {} (from header)", "x={}&y=2", "\"{}\"", "({})"])
def test_secret_values_are_redacted(redactor: Redactor, secret: str, template: str) -> None:
    text = template.format(secret)
    assert redactor.sanitize_str(text) == template.format(REDACTED)
    assert redactor.sanitize({"note": text}) == {"note": template.format(REDACTED)}


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA", "Authorization: Bearer [REDACTED]"),
    ("bearer mF_9.B5f-4.1JqM", "bearer [REDACTED]"),
    ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Basic [REDACTED]"),
    ("postgres://app:s3cr3t@db.internal:5432/app", "postgres://app:[REDACTED]@db.internal:5432/app"),
    ("see https://bob:p@ss@example.com/x?q=1", "see https://bob:[REDACTED]@example.com/x?q=1"),
    ("redis://:hunter2@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"),
    ("https://hooks.slack.com/services/" + SLACK_HOOK_PATH,
     "https://hooks.slack.com/services/[REDACTED]"),
    (PEM, "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----"),
    ("key:\n" + PEM[:60], "key:\\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
     "-----END OPENSSH PRIVATE KEY-----",
     "-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]-----END OPENSSH PRIVATE KEY-----"),
    ("GET /reset?token=abc123&next=/home", "GET /reset?token=[REDACTED]&next=/home"),
    ("/login?user=bob&password=hunter2", "/login?user=bob&password=[REDACTED]"),
    ("https://x.test/cb#access_token=abc123&state=1", "https://x.test/cb#access_token=[REDACTED]&state=1"),
    ("https://api.test/v1?api_key=abc123", "https://api.test/v1?api_key=[REDACTED]"),
    ("https://blob.test/f?sv=2020&sig=abcDEF123%3D", "https://blob.test/f?sv=2020&sig=[REDACTED]"),
    ("Cookie: sessionid=abc123; csrftoken=xyz",
     "Cookie: sessionid=[REDACTED]; csrftoken=[REDACTED]"),
    ("User(name='bob', password='hunter2')", "User(name='bob', password='[REDACTED]')"),
    ("{'password': 'hunter 2', 'user': 'bob'}", "{'password': '[REDACTED]', 'user': 'bob'}"),
    ('{"token": "abc", "pin": 1234}', '{"token": "[REDACTED]", "pin": [REDACTED]}'),
    ('{"password": null, "token": "", "otp": false}',
     '{"password": null, "token": "", "otp": false}'),
    ("--password=hunter2 --verbose", "--password=[REDACTED] --verbose"),
    ("Authorization=Bearer abc123", "Authorization=[REDACTED]"),
    ("card 4111 1111 1111 1111 123 ok", "card [REDACTED] 123 ok"),
    ("paid with 4111111111111111.", "paid with [REDACTED]."),
])
def test_secret_in_context(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.sanitize_str(text) == expected


INNOCENT_VALUES = [
    "3f2b1c4d-1234-4a5b-8c9d-0123456789ab",
    str(uuid.UUID(int=0x12345678123456781234567812345678)),
    hashlib.sha256(b"x").hexdigest(),
    hashlib.sha1(b"x").hexdigest(),
    hashlib.md5(b"x").hexdigest(),
    "2024-01-01T12:00:00.123456Z",
    "2024-01-01T12:00:00+02:00",
    "2024-01-01 12:00:00",
    "ORD-2024-000123",
    "1234567812345678",
    "4111111111111112",
    "1700000000000",
    "+1 (415) 555-0100",
    "+44 20 7946 0958",
    "004915112345678",
    "203.0.113.9",
    "2001:db8::8a2e:370:7334",
    "::1",
    "hello",
    "login failed for user id 42 from 203.0.113.9",
    "not owner",
    "bad password",
    "the token has expired",
    "password reset requested",
    "https://example.com/search?q=hello&page=2#top",
    "https://example.com:8443/a/b/c.html",
    "/var/log/app/security.log",
    "C:\\Users\\bob\\Documents\\report.pdf",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "curl/8.5.0",
    base64.b64encode(b"hello world, this is fine").decode(),
    "Bearer",
    "Bearer token missing",
    "Bearer authentication required",
    "basic information about the user",
    "Basic auth failed",
    "bob@example.com",
    "mailto:bob@example.com",
    "key_id=k1 seq=10",
    "a == b",
    "x=1&y=2",
    "v1.2.3",
    "3.14159",
    "eyJ",
    "",
    "   ",
    "naïve café — 東京",
]


@pytest.mark.parametrize("value", INNOCENT_VALUES)
def test_innocent_values_are_unchanged(redactor: Redactor, value: str) -> None:
    assert redactor.sanitize_str(value) == value
    assert redactor.sanitize({"value": value}) == {"value": value}
    assert redactor.sanitize_str(value) == value  # once more, from the cache


def test_innocent_card_looking_values() -> None:
    assert not luhn_ok("1234567812345678")
    assert luhn_ok("1234567812345670")
    # Passes Luhn but no brand starts with 1: an id, not a card.
    assert sanitize("1234567812345670") == "1234567812345670"


def test_extra_patterns(redactor: Redactor) -> None:
    custom = Redactor(extra_patterns=[re.compile(r"EMP-\d{6}")])
    assert custom.sanitize_str("employee EMP-123456 left") == "employee [REDACTED] left"
    assert redactor.sanitize_str("employee EMP-123456 left") == "employee EMP-123456 left"


def test_from_settings() -> None:
    built = Settings.build(
        redact_keys="employee_number", redact_patterns=[r"EMP-\d{6}"], max_string_length=100,
        max_depth=3, max_items=5, env={},
    )
    custom = Redactor.from_settings(built)
    assert custom.sanitize({"employee_number": 1, "note": "EMP-123456"}) == {
        "employee_number": REDACTED, "note": REDACTED,
    }
    assert custom.sanitize([[[["deep"]]]]) == [[["[MAX DEPTH]"]]]
    assert len(custom.sanitize(list(range(10)))) == 6
    truncated = custom.sanitize_str("word " * 40)
    assert truncated.startswith("word word")
    assert truncated.endswith(" chars]")
    assert len(truncated) <= 100 + len("...[TRUNCATED 200 chars]")


# --- query strings and headers --------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), [
    ("a=1&password=x", "a=1&password=[REDACTED]"),
    ("a=1&password=", "a=1&password="),
    ("user%5Bpassword%5D=x&b", "user%5Bpassword%5D=[REDACTED]&b"),
    ("next=%2Fx%3Ftoken%3Dabc&q=1", "next=/x%3Ftoken=[REDACTED]&q=1"),
    ("q=" + AWS_KEY, "q=[REDACTED]"),
    ("q=hello+world&page=2", "q=hello+world&page=2"),
    (b"csrfmiddlewaretoken=abc&name=bob", "csrfmiddlewaretoken=[REDACTED]&name=bob"),
    ("", ""),
])
def test_sanitize_query(redactor: Redactor, query: str | bytes, expected: str) -> None:
    assert redactor.sanitize_query(query) == expected


def test_sanitize_query_bounded(redactor: Redactor) -> None:
    result = redactor.sanitize_query("a=1&" * 100_000 + "password=x")
    assert len(result) < 5000
    assert "TRUNCATED" in result
    assert "password=x" not in result


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer abc", "Accept": "text/html", "X-Api-Key": "k"},
    [("Authorization", "Bearer abc"), ("Accept", "text/html"), ("X-Api-Key", "k")],
    [(b"authorization", b"Bearer abc"), (b"accept", b"text/html"), (b"x-api-key", b"k")],
    ItemsMulti(("Authorization", "Bearer abc"), ("Accept", "text/html"), ("X-Api-Key", "k")),
])
def test_sanitize_headers(redactor: Redactor, headers: Any) -> None:
    assert redactor.sanitize_headers(headers) == {
        "authorization": REDACTED, "accept": "text/html", "x-api-key": REDACTED,
    }


def test_sanitize_headers_repeats_and_values(redactor: Redactor) -> None:
    headers = [("Accept", "a"), ("accept", "b"), ("Set-Cookie", "s=1"), ("Set-Cookie", "t=2"),
               ("Referer", "https://x.test/?token=abc"), ("X-Evil", "a\r\nX-Forged: 1")]
    assert redactor.sanitize_headers(headers) == {
        "accept": "a, b", "set-cookie": f"{REDACTED}, {REDACTED}",
        "referer": "https://x.test/?token=[REDACTED]", "x-evil": "a\\r\\nX-Forged: 1",
    }


def test_sanitize_headers_never_raises(redactor: Redactor, errors: list[Any]) -> None:
    assert redactor.sanitize_headers([("a", "1"), 42]) == {"a": "1"}
    assert errors and errors[0][0] == "headers"


# --- injection ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("a\nb", "a\\nb"),
    ("a\r\nb", "a\\r\\nb"),
    ("a\tb", "a\\tb"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("nul\x00del\x7f", "nul\\x00del\\x7f"),
    ("nel\x85csi\x9b", "nel\\x85csi\\x9b"),
    ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
    ("\u202eevil\u202c \u2066iso\u2069", "\\u202eevil\\u202c \\u2066iso\\u2069"),
    ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
    ("vt\x0bff\x0cfs\x1c", "vt\\x0bff\\x0cfs\\x1c"),
])
def test_control_characters_are_escaped(redactor: Redactor, text: str, expected: str) -> None:
    assert neutralize(text) == expected
    assert redactor.sanitize_str(text) == expected
    assert redactor.sanitize({text: text}) == {expected: expected}


def test_forged_line_stays_one_line(redactor: Redactor) -> None:
    event = redactor.sanitize_mapping(
        {"username": 'bob\n{"event_type": "authn_login_success", "user_id": 1}'}
    )
    line = dumped(event)
    assert "\n" not in line
    assert orjson.loads(line)["username"].startswith("bob\\n{")


# --- bounds ---------------------------------------------------------------------------------


def test_long_string_is_truncated_with_marker(redactor: Redactor) -> None:
    result = redactor.sanitize_str("word " * 2000)
    assert result.startswith("word word")
    assert re.search(r"\.\.\.\[TRUNCATED \d+ chars\]$", result)
    assert len(result) < 4096 + 40


def test_ten_megabytes_fast(redactor: Redactor) -> None:
    huge = "a" * (10 * 1024 * 1024)
    start = time.perf_counter()
    result = redactor.sanitize_str(huge)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.2
    assert result.endswith(f"...[TRUNCATED {len(huge)} chars]")
    start = time.perf_counter()
    result = redactor.sanitize({"body": ("x y " * 3_000_000).encode()})
    assert time.perf_counter() - start < 0.2
    assert result["body"].startswith("x y x y")
    assert "TRUNCATED" in result["body"]


@pytest.mark.parametrize(
    "secret",
    [JWT * 200, "Bearer " + "A1b2" * 2000, "ghp_" + "A1b2" * 2000, "password=" + "x" * 5000],
)
@pytest.mark.parametrize("offset", [4000, 4090, 4095, 4096, 4100, 5000, 5119, 5200])
def test_secret_across_the_cut_does_not_leak(redactor: Redactor, secret: str, offset: int) -> None:
    text = "x " * (offset // 2) + secret + " tail"
    result = redactor.sanitize_str(text)
    body = result.rsplit("...[TRUNCATED", 1)[0]
    token = re.split(r"[ =]", secret)[-1]
    for start in range(0, len(token) - 12, 7):
        assert token[start : start + 12] not in body


def test_pem_across_the_cut(redactor: Redactor) -> None:
    text = "x" * 4000 + " " + PEM.replace("\n", "\n" + (PEM_BODY[0] + "\n") * 30, 1)
    result = redactor.sanitize_str(text)
    assert "-----BEGIN RSA PRIVATE KEY-----[REDACTED]" in result
    assert PEM_BODY[0][:20] not in result


def test_card_at_the_cut(redactor: Redactor) -> None:
    for offset in range(4080, 4100):
        result = redactor.sanitize_str("x" * offset + " 4111 1111 1111 1111 end" + "y" * 100)
        assert "1111 1" not in result


def build_nested(depth: int, kind: type) -> Any:
    node: Any = "bottom"
    for _ in range(depth):
        node = [node] if kind is list else {"k": node}
    return node


@pytest.mark.parametrize("kind", [list, dict])
def test_deep_nesting(redactor: Redactor, kind: type) -> None:
    result = redactor.sanitize(build_nested(10_000, kind))
    for _ in range(8):
        result = result[0] if kind is list else result["k"]
    assert result == "[MAX DEPTH]"
    dumped(result)


def test_many_items(redactor: Redactor) -> None:
    result = redactor.sanitize(list(range(1000)))
    assert result[:200] == list(range(200))
    assert result[200:] == ["[TRUNCATED 800 more items]"]
    mapping = redactor.sanitize({f"k{i}": i for i in range(1000)})
    assert len(mapping) == 201
    assert mapping["[TRUNCATED]"] == "800 more items"
    assert len(redactor.sanitize(set(range(1000)))) == 201


def test_cycles(redactor: Redactor) -> None:
    data: dict[str, Any] = {"name": "a"}
    data["self"] = data
    items: list[Any] = [1]
    items.append(items)
    data["items"] = items
    result = redactor.sanitize(data)
    assert result == {"name": "a", "self": "[CYCLE]", "items": [1, "[CYCLE]"]}
    assert redactor.sanitize_mapping(data) == result
    shared = ["x"]
    assert redactor.sanitize([shared, shared]) == [["x"], ["x"]]


def test_shared_references_are_bounded(redactor: Redactor) -> None:
    node: Any = ["leaf"] * 200
    for _ in range(10):
        node = [node] * 200  # 200**10 paths, a few KB of memory
    start = time.perf_counter()
    result = redactor.sanitize(node)
    assert time.perf_counter() - start < 1.0
    assert len(dumped(result)) < 2_000_000


ADVERSARIAL_UNITS = [
    "a", "1 ", "eyJ", "eyJ.", "Bearer ", "Basic ", "://", "://a:", "a=", "a=b&", "'a': ", '"',
    "-----BEGIN PRIVATE KEY-----", "-----BEGIN ", "4111 ", "4", "AKIA", "ghp_", "github_pat_",
    "xoxb-", "sk_live_", "AIza", "ya29.", "hooks.slack.com/services/", "\n", "a\\", "\\",
    "password=\"", "\u202e", "x" * 5000 + "=",
]


@pytest.mark.parametrize("unit", ADVERSARIAL_UNITS, ids=lambda unit: repr(unit[:12]))
def test_no_catastrophic_backtracking(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    unbounded = Redactor(max_string_length=10**6)
    start = time.perf_counter()
    unbounded.sanitize_str(text)
    unbounded.is_sensitive_key(text)
    unbounded.sanitize_query(text)
    Redactor().sanitize({text: text})
    assert time.perf_counter() - start < 1.0


# --- odd objects ----------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    SECRET = "Bearer abcdef123456"


@dataclasses.dataclass
class Account:
    name: str
    password: str


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class ReprOnly:
    def __str__(self) -> str:
        raise ValueError("no str")

    def __repr__(self) -> str:
        return "<ReprOnly\nline>"


@pytest.mark.parametrize(("value", "expected"), [
    (b"caf\xc3\xa9 \xff\x00", "café \\xff\\x00"),
    (bytearray(b"abc"), "abc"),
    (memoryview(b"Bearer abcdef123456"), "Bearer [REDACTED]"),
    (10**5000, "[int: 16610 bits]"),
    (-(10**5000), "[int: 16610 bits]"),
    (2**64, "18446744073709551616"),
    (-(2**63) - 1, "-9223372036854775809"),
    (2**64 - 1, 2**64 - 1),
    (-(2**63), -(2**63)),
    (4111111111111111, REDACTED),
    (1234567812345678, 1234567812345678),
    (float("nan"), "nan"),
    (float("inf"), "inf"),
    (float("-inf"), "-inf"),
    (1.5, 1.5),
    (True, True),
    (None, None),
    (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "2024-01-02T03:04:05+00:00"),
    (dt.date(2024, 1, 2), "2024-01-02"),
    (dt.time(3, 4, 5), "03:04:05"),
    (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    (decimal.Decimal("1.10"), "1.10"),
    (decimal.Decimal("NaN"), "NaN"),
    (PurePosixPath("/etc/passwd"), "/etc/passwd"),
    (ipaddress.ip_address("203.0.113.9"), "203.0.113.9"),
    (ipaddress.ip_network("2001:db8::/32"), "2001:db8::/32"),
    (Color.RED, "red"),
    (Color.SECRET, "Bearer [REDACTED]"),
    (Account("bob", "hunter2"), "Account(name='bob', password='[REDACTED]')"),
    (ValueError("bad\nvalue for token=abc"), "ValueError: bad\\nvalue for token=[REDACTED]"),
    (KeyError(), "KeyError"),
    (range(3), [0, 1, 2]),
    ({1: "a", None: "b", (1, 2): "c", b"k": "d", 2.5: "e"},
     {"1": "a", "None": "b", "(1, 2)": "c", "k": "d", "2.5": "e"}),
    ({"a\nb": 1}, {"a\\nb": 1}),
    (frozenset(), []),
    ({}.keys(), []),
], ids=lambda value: type(value).__name__)
def test_odd_objects(redactor: Redactor, value: Any, expected: Any) -> None:
    result = redactor.sanitize(value)
    assert result == expected
    assert_plain(result)


def assert_plain(value: Any) -> None:
    """Only the types JSON has, exactly (no subclasses, nothing orjson would convert)."""
    assert type(value) in (dict, list, str, int, float, bool, type(None)), type(value)
    if type(value) is dict:
        for key, item in value.items():
            assert type(key) is str
            assert_plain(item)
    elif type(value) is list:
        for item in value:
            assert_plain(item)


def test_str_subclasses_become_plain(redactor: Redactor) -> None:
    class Safe(str):
        pass

    result = redactor.sanitize({"a": Safe("x"), "b": [Safe("Bearer abcdef123456")]})
    assert result == {"a": "x", "b": ["Bearer [REDACTED]"]}
    assert type(result["a"]) is str


def test_unrepresentable_objects(redactor: Redactor, errors: list[Any]) -> None:
    assert redactor.sanitize({"x": Unprintable()}) == {"x": "[unrepresentable Unprintable]"}
    assert [where for where, _ in errors] == ["str", "repr"]
    errors.clear()
    assert redactor.sanitize(ReprOnly()) == "<ReprOnly\\nline>"
    assert [where for where, _ in errors] == ["str"]


def test_broken_containers_never_raise(redactor: Redactor, errors: list[Any]) -> None:
    class BadMapping(Mapping[str, str]):
        def __getitem__(self, key: str) -> str:
            raise KeyError(key)

        def __iter__(self) -> Iterator[str]:
            yield "password"
            raise RuntimeError("broken iterator")

        def __len__(self) -> int:
            raise RuntimeError("no len")

    class BadKey:
        def __hash__(self) -> int:
            return 1

        def __str__(self) -> str:
            raise RuntimeError("no str")

        __repr__ = __str__

    assert redactor.sanitize(BadMapping()) == {"[TRUNCATED]": "more items (unreadable)"}
    assert redactor.sanitize({BadKey(): "v"}) == {"[unrepresentable BadKey]": "v"}
    assert redactor.sanitize_mapping(BadMapping()) == {"[TRUNCATED]": "more items (unreadable)"}
    assert len(errors) >= 3


def test_on_error_that_raises_is_contained() -> None:
    def explode(where: str, exc: BaseException) -> None:
        raise RuntimeError("callback broke")

    assert Redactor(on_error=explode).sanitize(Unprintable()) == "[unrepresentable Unprintable]"


def test_failing_extra_pattern_fails_closed(errors: list[Any]) -> None:
    class Broken:
        def sub(self, replacement: str, text: str) -> str:
            raise RuntimeError("pattern broke")

    custom = Redactor(on_error=lambda where, exc: errors.append((where, exc)))
    custom._patterns = (Broken(),)
    assert custom.sanitize_str("hello") == REDACTED
    assert custom.sanitize({"a": "hello"}) == {REDACTED: REDACTED}
    assert errors[0][0] == "patterns"


def test_module_level_sanitize() -> None:
    assert sanitize({"password": "x", "note": f"key {AWS_KEY}"}) == {
        "password": REDACTED, "note": "key [REDACTED]",
    }


def test_sanitize_mapping_returns_a_new_dict(redactor: Redactor) -> None:
    event = {"event_type": "authn_login_fail", "user_id": 7, "password": "x"}
    clean = redactor.sanitize_mapping(event)
    assert clean == {"event_type": "authn_login_fail", "user_id": 7, "password": REDACTED}
    assert clean is not event
    assert event["password"] == "x"
    assert redactor.sanitize_mapping(FormData(("a", "1"))) == {"a": "1"}


def test_odd_redactor_settings_rejected() -> None:
    with pytest.raises(ValueError, match="max_string_length"):
        Redactor(max_string_length=0)


# --- properties -----------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _text(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=size, max_size=size)


@st.composite
def planted_secrets(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A secret value in one of the recognized formats, and the parts that must not survive."""
    kind = draw(st.sampled_from(
        ["jwt", "aws", "github", "card", "card-grouped", "pem", "bearer", "url", "stripe", "slack"]
    ))
    if kind == "jwt":
        parts = [draw(_text(ALNUM + "-_", 20)) for _ in range(3)]
        token = f"eyJ{parts[0]}.eyJ{parts[1]}.{parts[2]}"
        return token, parts
    if kind == "aws":
        token = "AKIA" + draw(_text(string.ascii_uppercase + string.digits, 16))
        return token, [token[4:]]
    if kind == "github":
        token = "ghp_" + draw(_text(ALNUM, 36))
        return token, [token[4:]]
    if kind == "stripe":
        token = "sk_live_" + draw(_text(ALNUM, 24))
        return token, [token[8:]]
    if kind == "slack":
        token = "xoxb-" + draw(_text(ALNUM, 10)) + "-" + draw(_text(ALNUM, 12))
        return token, [token[5:]]
    if kind in ("card", "card-grouped"):
        prefix = draw(st.sampled_from(["4", "51", "55", "2221", "6011", "3530", "62"]))
        number = luhn_complete(prefix + draw(_text(string.digits, 15 - len(prefix))))
        if kind == "card-grouped":
            sep = draw(st.sampled_from([" ", "-"]))
            number = sep.join(number[i : i + 4] for i in range(0, 16, 4))
        return number, [number]
    if kind == "pem":
        body = [draw(_text(ALNUM + "+/", 64)) for _ in range(3)]
        block = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END PRIVATE KEY-----"
        return block, body
    if kind == "bearer":
        token = draw(_text(ALNUM + "-._~+/", 24)) + draw(st.sampled_from(string.digits))
        return f"Bearer {token}", [token]
    password = draw(_text(ALNUM + "!$*", 16))
    return f"https://user:{password}@db.example.com:5432/app", [password]


safe_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
innocent_key = st.sampled_from(["a", "note", "detail", "items", "meta", "reason", "x", "data"])
sensitive_key = st.sampled_from(["password", "api_key", "X-Api-Key", "sessionid", "pin", "cvv"])


@st.composite
def planted_structure(draw: st.DrawFn) -> tuple[Any, list[str]]:
    """Nested dicts and lists with secrets planted in innocent text and under sensitive keys."""
    forbidden: list[str] = []
    benign: list[str] = []

    def leaf() -> Any:
        choice = draw(st.integers(0, 3))
        if choice == 0:
            secret, parts = draw(planted_secrets())
            before, after = draw(safe_text), draw(safe_text)
            forbidden.extend(parts)
            benign.extend((before, after))
            return f"{before} {secret} {after}"
        if choice == 1:
            marked = "Zq" + draw(_text(HEX, 20))
            forbidden.append(marked)
            return {draw(sensitive_key): marked}
        value = draw(st.one_of(safe_text, st.integers(), st.none(), st.booleans()))
        benign.append(str(value))
        return value

    def node(depth: int) -> Any:
        if depth >= 4 or draw(st.integers(0, 2)) == 0:
            return leaf()
        if draw(st.booleans()):
            return {draw(innocent_key): node(depth + 1) for _ in range(draw(st.integers(1, 4)))}
        return [node(depth + 1) for _ in range(draw(st.integers(1, 4)))]

    structure = node(0)
    # The random text around the secrets must not happen to contain them.
    assume(not any(part in text for part in forbidden for text in benign))
    return structure, forbidden


@PROPERTY_SETTINGS
@given(planted_structure())
def test_property_planted_secrets_never_survive(case: tuple[Any, list[str]]) -> None:
    structure, forbidden = case
    output = dumped(sanitize(structure))
    for part in forbidden:
        assert part not in output


benign_value = st.one_of(
    st.uuids().map(str),
    st.binary(max_size=64).map(lambda data: hashlib.sha256(data).hexdigest()),
    st.datetimes(timezones=st.just(dt.timezone.utc)).map(lambda moment: moment.isoformat()),
    st.datetimes().map(lambda moment: moment.isoformat(timespec="milliseconds") + "Z"),
    _text(string.digits, 15).map(luhn_complete).map(
        lambda number: number[:-1] + str((int(number[-1]) + 1) % 10)
    ),
    st.from_regex(r"[a-z]{1,12}( [a-z]{1,12}){0,5}", fullmatch=True),
    st.builds(
        lambda host, path, query: f"https://{host}.example.com/{path}?{query}",
        st.from_regex(r"[a-z]{1,10}", fullmatch=True),
        st.from_regex(r"[a-z0-9/_.-]{0,12}", fullmatch=True),
        st.lists(
            st.tuples(st.sampled_from(["q", "page", "sort", "lang", "ref", "id"]),
                      st.from_regex(r"[a-z0-9]{0,10}", fullmatch=True)),
            max_size=4,
        ).map(lambda pairs: "&".join(f"{name}={value}" for name, value in pairs)),
    ),
    st.ip_addresses().map(str),
)


@PROPERTY_SETTINGS
@given(st.lists(benign_value, min_size=1, max_size=10))
def test_property_benign_values_unchanged(values: list[str]) -> None:
    assert sanitize(values) == values
    assert sanitize({f"field{i}": value for i, value in enumerate(values)}) == {
        f"field{i}": value for i, value in enumerate(values)
    }


BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@PROPERTY_SETTINGS
@given(st.text(st.characters(exclude_categories=())))
def test_property_no_unsafe_characters_survive(text: str) -> None:
    mapping = sanitize({text: text})
    for result in (sanitize(text), *mapping, *mapping.values()):
        assert isinstance(result, str)
        for char in result:
            assert unicodedata.category(char) not in ("Cc", "Zl", "Zp", "Cs"), repr(char)
            assert char not in BIDI
    line = dumped(sanitize({text: text}))
    assert "\n" not in line
    assert "\r" not in line


@PROPERTY_SETTINGS
@given(st.text(max_size=300), st.integers(0, 300))
def test_property_truncation_bounds(text: str, repeat: int) -> None:
    redactor = Redactor(max_string_length=64)
    result = redactor.sanitize_str(text * repeat)
    marker = re.search(r"\.\.\.\[TRUNCATED \d+ chars\]$", result)
    assert bool(marker) == (len(text) * repeat > 64)
    assert len(result) <= 6 * 64 + 40


def test_path_values(tmp_path: Path) -> None:
    assert sanitize({"file": tmp_path}) == {"file": str(tmp_path)}
