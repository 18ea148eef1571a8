"""Reading payload text: undoing the encodings attackers wrap it in (a bounded number of
times), and the cheap scans that let detectors skip their patterns."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

# Percent escapes, IIS-style %uXXXX, and overlong UTF-8 forms of "/", "\" and "." that
# old decoders accepted (a classic traversal filter bypass).
_PERCENT = re.compile(r"%(?:[0-9A-Fa-f]{2}|[uU][0-9A-Fa-f]{4})")
_SPECIAL = re.compile(
    r"%[uU](?P<u>[0-9A-Fa-f]{4})"
    r"|(?P<slash>%[cC]0%(?:[aA][fF]|2[fF])|%[eE]0%80%[aA][fF]|%[cC]0%9[cC])"
    r"|(?P<back>%[cC]1%(?:9[cC]|1[cC])|%[cC]0%5[cC])"
    r"|(?P<dot>%[cC]0%(?:[aA][eE]|2[eE])|%[eE]0%40%[aA][eE])"
)
_ENTITY = re.compile(r"&(?:#[xX]?[0-9A-Fa-f]{1,8};?|[A-Za-z]{2,10};)")
# Characters a browser drops inside a URL scheme ("java\tscript:").
_SCHEME_NOISE = re.compile(r"[\x00-\x20]+")

# How many extra percent-decoding rounds a value gets beyond the framework's own.
DECODE_ROUNDS = 2


def _special(match: re.Match[str]) -> str:
    if match["u"]:
        return chr(int(match["u"], 16))
    if match["slash"]:
        return "/"
    if match["back"]:
        return "\\"
    return "."


def percent_decode(text: str) -> str:
    """One round of percent-decoding, with %uXXXX and overlong UTF-8 separators."""
    if "%u" in text or "%U" in text or "%c" in text or "%C" in text or "%e0" in text.lower():
        text = _SPECIAL.sub(_special, text)
    return unquote(text, errors="replace")


def decodings(text: str) -> list[str]:
    """``text`` and each further percent-decoding of it that changes something."""
    found = [text]
    for _ in range(DECODE_ROUNDS):
        if "%" not in text or _PERCENT.search(text) is None:
            break
        decoded = percent_decode(text)
        if decoded == text:
            break
        found.append(decoded)
        text = decoded
    return found


def unescape_entities(text: str) -> str:
    """HTML character references decoded (``&#x6A;`` -> ``j``, ``&colon;`` -> ``:``)."""
    if "&" not in text or _ENTITY.search(text) is None:
        return text
    return html.unescape(text)


def scheme_text(text: str) -> str:
    """``text`` as a browser reads a URL scheme: entities decoded, blanks and controls dropped."""
    return _SCHEME_NOISE.sub("", unescape_entities(text)).lower()


def mentions(text: str, marks: tuple[str, ...]) -> bool:
    """Whether any of ``marks`` occurs in ``text``: ``in`` finds a substring far faster than
    a regular expression tries an alternation at every position."""
    for mark in marks:  # noqa: SIM110 - any() over a generator costs more on this hot path
        if mark in text:
            return True
    return False
