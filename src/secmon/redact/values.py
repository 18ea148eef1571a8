"""Secret values: the shapes of credentials, keys and card numbers in any text."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from .markers import REDACTED

_B64URL = r"[A-Za-z0-9_\-]"
# Every branch starts with a literal, so the engine only stops at a few characters; the
# lookbehinds come after that literal and check what precedes the match.
SECRETS = re.compile("|".join((
    # Private key blocks, through END or, when cut, to the end of the text.
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)"
    r"(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    *(rf"{word}(?<![A-Za-z0-9]{word})[ \t]+[A-Za-z0-9\-._~+/]{{8,}}=*"
      for word in ("Bearer", "bearer", "BEARER")),
    *(rf"{word}(?<![A-Za-z0-9]{word})[ \t]+[A-Za-z0-9+/_\-.~]{{4,}}=*"
      for word in ("Basic", "basic", "BASIC")),
    # scheme://user:password@ (only the password is replaced).
    r"://[^\s/?#@:]*:[^\s/?#]+@",
    rf"eyJ(?<!{_B64URL}eyJ){_B64URL}{{8,}}\.{_B64URL}{{8,}}\.{_B64URL}*",
    r"A[KS]IA(?<![A-Za-z0-9]A[KS]IA)[A-Z0-9]{16}(?![A-Za-z0-9])",
    r"gh[pousr]_(?<![A-Za-z0-9_]gh[pousr]_)[A-Za-z0-9]{36,}",
    r"github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{22,}",
    r"xox[abprs]-(?<![A-Za-z0-9\-]xox[abprs]-)[A-Za-z0-9\-]{10,}",
    r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]+",
    *(rf"{prefix}(?<![A-Za-z0-9_]{prefix})[A-Za-z0-9]{{10,}}"
      for prefix in ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_")),
    rf"AIza(?<!{_B64URL}AIza){_B64URL}{{35,}}",
    r"ya29\.(?<![A-Za-z0-9_.\-]ya29\.)[A-Za-z0-9_.\-]{20,}",
)))
# Card numbers: plain 13-19 digits, 4-4-4-4(-3) or 4-6-4/5 with one consistent separator,
# not inside a longer run of letters or digits (nor a decimal number).
CARD_GATE = re.compile(r"[0-9][0-9][0-9][0-9][ \-]?[0-9][0-9][0-9][0-9]")
CARD = re.compile(
    r"[0-9](?<![0-9A-Za-z_.][0-9])"
    r"(?:[0-9]{12,18}"
    r"|[0-9]{3}(?P<sep>[ \-])[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{4}(?:(?P=sep)[0-9]{3})?"
    r"|[0-9]{3}(?P<amex>[ \-])[0-9]{6}(?P=amex)[0-9]{4,5})"
    r"(?![0-9A-Za-z_]|[.,][0-9])"
)
# Whole values that are common in events and cannot hold a secret: UUIDs, ISO 8601
# timestamps, IPv4 addresses, hex digests, numbers too short to be cards.
INNOCENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+\-][0-9]{2}:?[0-9]{2})?)?"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
    r"|[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9A-F]{32}|[0-9A-F]{40}|[0-9A-F]{64}"
    r"|[+\-]?[0-9]{1,12}(?:\.[0-9]+)?"
)
_WORDLIKE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+")

# name=value (query strings, kwargs reprs, cookies) and "name": value (JSON, dict reprs).
_NAME_CHARS = r"[\w.\[\]%+\-]"
PAIR = re.compile(
    rf"(?<!{_NAME_CHARS})(?P<name>{_NAME_CHARS}+)[ \t]*=(?!=)[ \t]*"
    r"|(?P<quote>[\"'])(?P<quoted>[\w.\[\]%+\- ]{1,100})(?P=quote)[ \t]*:[ \t]*"
)
_QUOTED_VALUE = r"\"(?:[^\"\\]|(?s:\\.))*\"?|'(?:[^'\\]|(?s:\\.))*'?"
EQUALS_VALUE = re.compile(
    rf"(?:(?:Bearer|bearer|BEARER|Basic|basic|BASIC)[ \t]+)?(?:{_QUOTED_VALUE}|[^\s&]*[^\s&;])"
)
COLON_VALUE = re.compile(rf"{_QUOTED_VALUE}|[^\s,}}\]]+")
EMPTY_VALUES = frozenset({'""', "''", "null", "None", "true", "false", "True", "False"})

# Shorter strings cannot hold a value pattern (the shortest is "pin=1").
MIN_SECRET_LEN = 5
INNOCENT_FIRST = frozenset("0123456789+-")
INNOCENT_LENGTHS = frozenset({32, 36, 40, 64})


def is_card(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")
    length = len(digits)
    two, three, four = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        brand = length in (13, 16, 19)
    elif 51 <= two <= 55 or 2221 <= four <= 2720:
        brand = length == 16
    elif two in (34, 37):
        brand = length == 15
    elif four == 6011 or 644 <= three <= 649 or two == 65:
        brand = length in (16, 19)
    elif 3528 <= four <= 3589 or two == 62:
        brand = 16 <= length <= 19
    elif 300 <= three <= 305 or two in (36, 38):
        brand = 14 <= length <= 16
    else:
        brand = False
    return brand and _luhn(digits)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index & 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _basic_credentials(token: str) -> bool:
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return ":" in decoded and decoded.isprintable()


def substitute(pattern: re.Pattern[str], text: str, replace: Callable[[str], str | None]) -> str:
    """``text`` with ``pattern``'s matches replaced; ``replace`` may turn a match down (None)."""
    parts: list[str] = []
    last = pos = 0
    search = pattern.search
    while (match := search(text, pos)) is not None:
        replacement = replace(match.group())
        if replacement is None:
            # Turned down: look again from the next character, so that what this match
            # swallowed is still seen by the other branches.
            pos = match.start() + 1
            continue
        parts.append(text[last : match.start()])
        parts.append(replacement)
        last = pos = match.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def secret_replacement(found: str) -> str | None:
    """What a match of ``SECRETS`` becomes: the secret part replaced, the framing kept."""
    first = found[0]
    if first == "-":
        begin = found.index("-----", 10) + 5
        end = found.rfind("-----END")
        return found[:begin] + REDACTED + (found[end:] if end > 0 else "")
    if first == ":":
        return found[: found.index(":", 3) + 1] + REDACTED + "@"
    if found.startswith("hooks."):
        return found[: found.index("/", 16) + 1] + REDACTED
    if first in "Bb" and found[1] in "eEaA":
        keyword = 6 if found[1] in "eE" else 5
        token = found[keyword:].lstrip(" \t")
        if keyword == 6 and _WORDLIKE.fullmatch(token):
            return None
        if keyword == 5 and not _basic_credentials(token):
            return None
        return found[: len(found) - len(token)] + REDACTED
    return REDACTED


def card_replacement(found: str) -> str | None:
    if is_card(found):
        return REDACTED
    # "4111 1111 1111 1111 123": a 16-digit card followed by a 3-digit group.
    if len(found) == 23 and not found[4].isdigit() and is_card(found[:19]):
        return REDACTED + found[19:]
    return None

