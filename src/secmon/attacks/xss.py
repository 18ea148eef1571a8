"""Cross-site scripting: markup or script that would run if the value reached a page unescaped.

Ordinary markup (``<b>``, ``<a href="https://...">``, ``<img src="cat.png">``) is
not flagged; what is: script tags, event-handler attributes, script URLs
(``javascript:``, ``data:text/html``, entity- or blank-obfuscated), a quote that
closes an attribute or a script string and goes on with script, and the probes
scanners send (``alert(1)``).
"""

from __future__ import annotations

import re

from .decode import mentions, scheme_text
from .findings import Hit

# A tag and its attributes up to the next < or > (so a scan never crosses a tag).
_TAG = re.compile(r"<\s*(/?)\s*([a-z][a-z0-9:_-]{0,40})([^<>]{0,2048})")
_EVENTS = (
    "abort|activate|afterprint|afterscriptexecute|animation[a-z]{3,9}|auxclick|"
    "before[a-z]{3,16}|begin|blur|bounce|canplay|canplaythrough|change|click|close|"
    "contextmenu|copy|cuechange|cut|dblclick|drag|dragend|dragenter|dragleave|dragover|"
    "dragstart|drop|durationchange|end|ended|error|finish|focus|focusin|focusout|"
    "formchange|forminput|fullscreenchange|hashchange|help|input|invalid|keydown|keypress|"
    "keyup|load|loadeddata|loadedmetadata|loadend|loadstart|message|mouse[a-z]{2,5}|"
    "offline|online|orientationchange|pagehide|pageshow|paste|pause|play|playing|"
    "pointer[a-z]{2,6}|popstate|progress|ratechange|readystatechange|repeat|reset|"
    "resize|scroll|search|seeked|seeking|select|selectionchange|selectstart|show|stalled|"
    "start|storage|submit|suspend|timeupdate|toggle|touch[a-z]{3,6}|transition[a-z]{3,6}|"
    "unload|volumechange|waiting|wheel"
)
# Any on* attribute inside a tag; outside one, only real handler names count.
_TAG_HANDLER = re.compile(r"(?:^|[\s/\"'`+;,\x00-\x20])on[a-z]{3,40}\s*=")
_HANDLER = re.compile(rf"(?:^|[\s/\"'`+;,\x00-\x20])on(?:{_EVENTS})\s*=")
_SCRIPT_URI = re.compile(
    r"(?:^|[=\"'`(\[,])(?:javascript|vbscript|livescript):"
    r"|(?:^|[=\"'`(\[,])data:(?:text/html|text/xml|application/(?:x-)?(?:javascript|xhtml)"
    r"|image/svg\+xml|,)"
)
_DANGEROUS_TAGS = frozenset({"iframe", "frame", "frameset", "object", "embed", "applet",
                             "base", "meta", "link", "portal", "xml", "import", "isindex"})
_STYLE_SCRIPT = re.compile(r"expression\s*\(|-moz-binding|behavior\s*:|@import")
# A quote (or bracket) that ends a script string or expression, then a call.
_BREAKOUT = re.compile(
    r"[\"'`}\])]\s*[;,+\-*/|&^)\]}]+\s*[-+!~]?\s*"
    r"(?:alert|prompt|confirm|eval|print|fetch|settimeout|setinterval|atob|"
    r"document\s*\.\s*(?:cookie|domain|write|location)|window\s*\.\s*(?:location|open)|"
    r"top\s*\.\s*location|import)\s*[(`]"
)
_PROBE = re.compile(
    r"\b(?:alert|prompt|confirm)\s*(?:\(\s*)?(?:[0-9]|document\s*\.|/[a-z0-9]|`|"
    r"string\s*\.\s*fromcharcode)"
    r"|string\s*\.\s*fromcharcode\s*\(\s*[0-9]"
)


_LEAD = "\"'`([ \t\r\n\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c"


# Substrings the breakout and probe patterns need (cheap `in` checks before them).
_CALLS = ("alert", "prompt", "confirm", "eval", "print", "fetch", "settimeout", "setinterval",
          "atob", "document", "window", "top", "import", "fromcharcode")


def _scheme(text: str) -> bool:
    """Whether ``text`` (lowercase) starts as a script URL, as a browser would read it."""
    if text.lstrip(_LEAD)[:1] not in ("j", "v", "l", "d", "&", "%"):
        return False
    head = scheme_text(text[:200]).lstrip(_LEAD)
    if head.startswith(("javascript:", "vbscript:", "livescript:")):
        rest = head.split(":", 1)[1]
        return any(sign in rest for sign in ("(", "`", "//", "=", "%", "["))
    return head.startswith(("data:text/html", "data:application/javascript",
                            "data:image/svg+xml"))


def _tag(text: str) -> Hit | None:
    for tag in _TAG.finditer(text):
        closing, name, attributes = tag.groups()
        if name == "script":
            return Hit("xss.script_tag", "high", tag.start(), tag.end())
        if closing:
            continue
        if _TAG_HANDLER.search(attributes) is not None:
            return Hit("xss.event_handler", "high", tag.start(), tag.end())
        if "srcdoc" in attributes or (
            (":" in attributes or "&" in attributes)
            and _SCRIPT_URI.search(scheme_text(attributes)) is not None
        ):
            return Hit("xss.script_uri", "high", tag.start(), tag.end())
        if name == "style" or "style" in attributes:
            found = _STYLE_SCRIPT.search(text, tag.start())
            if found is not None:
                return Hit("xss.style_script", "high", tag.start(), found.end())
        if name in _DANGEROUS_TAGS:
            return Hit("xss.dangerous_tag", "medium", tag.start(), tag.end())
    return None


def detect(text: str) -> Hit | None:
    """The first cross-site scripting sign in ``text`` (lowercase), or None."""
    if "<" in text:
        hit = _tag(text)
        if hit is not None:
            return hit
    if ":" in text and _scheme(text):
        return Hit("xss.script_uri", "high", 0, min(len(text), 80))
    if "on" in text and "=" in text:
        found = _HANDLER.search(text)
        if found is not None:
            quoted = any(quote in text[: found.start() + 1] for quote in "\"'`")
            return Hit("xss.event_handler", "high" if quoted else "medium",
                       found.start(), found.end())
    if ("(" in text or "`" in text) and mentions(text, _CALLS):
        found = _BREAKOUT.search(text)
        if found is not None:
            return Hit("xss.script_breakout", "high", found.start(), found.end())
        found = _PROBE.search(text)
        if found is not None:
            return Hit("xss.probe", "medium", found.start(), found.end())
    if "expression" in text:
        found = _STYLE_SCRIPT.search(text)
        if found is not None and found.group().startswith("expression"):
            return Hit("xss.style_script", "medium", found.start(), found.end())
    return None
