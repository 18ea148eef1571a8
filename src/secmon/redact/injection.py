"""Log-injection neutralizing: no input may break a log line or drive a terminal."""

from __future__ import annotations

import re

UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def neutralize(text: str) -> str:
    """``text`` with line breaks, control, bidi and lone surrogate characters escaped."""
    if text.isprintable():
        return text
    return UNSAFE.sub(escape, text)
