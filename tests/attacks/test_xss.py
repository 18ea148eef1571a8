"""Cross-site scripting: script-running markup and URLs; ordinary markup and prose."""

from __future__ import annotations

import pytest

from secmon.attacks import xss


@pytest.mark.parametrize(("text", "rule"), [
    ("<script>alert(1)</script>", "xss.script_tag"),
    ("</script><svg>", "xss.script_tag"),
    ("<img src=x onerror=alert(1)>", "xss.event_handler"),
    ("<svg/onload=alert(1)>", "xss.event_handler"),
    ("<x 1='1'onxxx=1", "xss.event_handler"),
    ("\" onmouseover=\"alert(1)", "xss.event_handler"),
    ("<a href=javascript:alert(1)>x", "xss.script_uri"),
    ("<img src=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)>",
     "xss.script_uri"),
    ("<iframe srcdoc=<svg/onload=alert(1)>>", "xss.script_uri"),
    ("javascript:alert(document.cookie)", "xss.script_uri"),
    (" \x01java\tscript:alert(1)", "xss.script_uri"),
    ("data:text/html;base64,pgi=", "xss.script_uri"),
    ("';alert(string.fromcharcode(88,83,83))//", "xss.script_breakout"),
    ("'-alert(1)-'", "xss.script_breakout"),
    ("<div style=\"width: expression(alert(1));\">", "xss.style_script"),
    ("<base href=//0>", "xss.dangerous_tag"),
    ("alert(1)>//", "xss.probe"),
])
def test_scripts(text: str, rule: str) -> None:
    hit = xss.detect(text.lower())
    assert hit is not None and hit.rule_id == rule, (text, hit)


@pytest.mark.parametrize("text", [
    "<b>bold</b> and <i>italic</i>", "use <br> for line breaks", "a<b && b<c means a<c",
    "<a href=\"https://example.com/\">link</a>", "<img src=\"cat.png\" alt=\"a cat\">",
    "javascript: the good parts", "x << 2", "<3 emoji meaning", "online = true",
    "can you alert me when it's available?", "the onset of winter", "data:image/png;base64,xx",
])
def test_ordinary_markup_and_text(text: str) -> None:
    assert xss.detect(text.lower()) is None
