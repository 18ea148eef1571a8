"""SQL injection shapes, and the text with quotes and SQL words that has none of them."""

from __future__ import annotations

import pytest

from secmon.attacks import sqli


@pytest.mark.parametrize(("text", "rule", "confidence"), [
    ("1' or '1'='1", "sqli.boolean", "high"),
    ("admin')) or (('x'))=(('x", "sqli.boolean", "high"),
    ('" or ""-"', "sqli.boolean", "high"),
    ("' union all select null,version()--", "sqli.union_select", "high"),
    ("-1 union select 1,2,3", "sqli.union_select", "high"),
    ("1/**/union/**/select/**/1", "sqli.union_select", "high"),
    ("1 /*!50000union*/ /*!50000select*/ 1", "sqli.union_select", "high"),
    ("1; drop table users--", "sqli.stacked_query", "high"),
    ("'; exec master..xp_cmdshell 'dir'--", "sqli.stacked_query", "high"),
    ("'||pg_sleep(5)--", "sqli.operator", "high"),
    ("'-'", "sqli.operator", "medium"),
    ("1 order by 3--", "sqli.clause", "high"),
    ("' having 1=1--", "sqli.clause", "high"),
    ("admin'--", "sqli.comment", "medium"),
    ("or 1=1--", "sqli.boolean", "high"),
    ("42 rlike (select (case when (1=1) then 1 else 0 end))", "sqli.subquery", "high"),
    ("sleep(5)#", "sqli.function", "high"),
    ("benchmark(10000000,md5(1))", "sqli.function", "high"),
    ("waitfor delay '0:0:5'", "sqli.function", "high"),
    ("x and extractvalue(1,concat(0x7e,version()))", "sqli.function", "high"),
    ("information_schema.tables", "sqli.catalog", "medium"),
])
def test_injections(text: str, rule: str, confidence: str) -> None:
    hit = sqli.detect(text)
    assert hit is not None, text
    assert (hit.rule_id, hit.confidence) == (rule, confidence)


@pytest.mark.parametrize("text", [
    "o'brien", "rock 'n' roll", "guns n' roses", "it's 'x' and 'y'", "tom's and jerry's",
    "5'11\"", "6' 2\" tall", "which greeting: 'hello' or 'hi'?", '"hello" or "hi"',
    "select comfort mattress", "union station parking", "union select committee",
    "order by phone", "1 or 2 bedroom apartment", "2 adults 1 child", "sleep(8 hours)",
    "select name from users where id = 1", "dunkin'-donuts-near-me", "don't stop -- ever",
    "what does 1=1 mean", "a--b", "apt #4", "c# tutorial", "i'd give it 4/5",
    "https://shop.example.com/search?q=32\"+monitor&page=2",
])
def test_ordinary_text(text: str) -> None:
    assert sqli.detect(text) is None


def test_signature_reads_literals_comments_and_functions() -> None:
    assert sqli._signature("1 and sleep(5) /* x */ or 'a'='a' -- tail", 0) == "n&f(n)&s=sc"
    assert sqli._quoted_signature("x' or 1=1", "'") == "s&n=n"
    assert sqli._quoted_signature("no quote here", "'") is None
    assert sqli._string_end("it''s' rest", 0, "'") == (6, True)
    assert sqli._string_end("a\\'b' c", 0, "'") == (5, True)
