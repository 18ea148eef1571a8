"""SSRF targets in URL-valued parameters, in every spelling parsers accept."""

from __future__ import annotations

import pytest

from secmon.attacks import ssrf


@pytest.mark.parametrize(("url", "rule"), [
    ("http://169.254.169.254/latest/meta-data/", "ssrf.cloud_metadata"),
    ("http://2852039166/", "ssrf.cloud_metadata"),
    ("http://0xa9fea9fe/", "ssrf.cloud_metadata"),
    ("http://0251.0376.0251.0376/", "ssrf.cloud_metadata"),
    ("http://017700000001/", "ssrf.internal_host"),
    ("http://[fd00:ec2::254]/", "ssrf.cloud_metadata"),
    ("http://metadata.google.internal/computemetadata/v1/", "ssrf.cloud_metadata"),
    ("http://169.254.169.254.nip.io/", "ssrf.cloud_metadata"),
    ("http://expected.example@169.254.169.254/", "ssrf.cloud_metadata"),
    ("169.254.169.254/latest/meta-data/", "ssrf.cloud_metadata"),
    ("http://127.0.0.1:22", "ssrf.internal_host"),
    ("http://127.1", "ssrf.internal_host"),
    ("http://0/", "ssrf.internal_host"),
    ("http://[::ffff:127.0.0.1]/", "ssrf.internal_host"),
    ("http://[::1", "ssrf.internal_host"),
    ("http://localhost:8080/admin", "ssrf.internal_host"),
    ("http://10.0.0.1/", "ssrf.internal_host"),
    ("http://db.internal/", "ssrf.internal_host"),
    ("http://evil.example:80\\@127.0.0.1/", "ssrf.internal_host"),
    ("http://127.0.0.1:80\\@evil.example/", "ssrf.internal_host"),
    ("file:///etc/passwd", "ssrf.scheme"),
    ("gopher://127.0.0.1:6379/_info", "ssrf.scheme"),
    ("jar:http://127.0.0.1!/", "ssrf.scheme"),
])
def test_targets(url: str, rule: str) -> None:
    hit = ssrf.detect(url)
    assert hit is not None and hit.rule_id == rule, (url, hit)


@pytest.mark.parametrize("url", [
    "https://www.example.com/", "https://hooks.example.com/webhook", "http://8.8.8.8/",
    "https://1.1.1.1/dns-query", "/dashboard?tab=settings", "mailto:support@example.com",
    "https://[2606:4700::1111]/", "not a url", "https://example.com.internal.io/",
])
def test_public_or_not_urls(url: str) -> None:
    assert ssrf.detect(url) is None


def test_enclosed_alphanumerics_are_normalized() -> None:
    hit = ssrf.classify_host("ⓛⓞⓒⓐⓛⓗⓞⓢⓣ")
    assert hit is not None and hit.rule_id == "ssrf.internal_host"
