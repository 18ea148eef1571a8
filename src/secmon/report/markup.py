"""HTML and SVG built from literal templates: every value put in is escaped, unless it is markup
that was itself built here.

Log content reaches the page only through ``fill`` (or ``escape``), so a username such as
``<script>`` or ``" onload="`` is text wherever it lands: element content or attribute
value, HTML or inline SVG.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from string import Template

# C0 and C1 controls (tab and newline aside) are not text in HTML or XML; a log line may
# still hold them (from a foreign writer), so they are shown as the replacement character.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Html(str):
    """Markup made by this package from escaped parts: ``fill`` puts it in as it is."""

    __slots__ = ()


def escape(value: object) -> Html:
    """``value`` as text: ``& < > " '`` escaped, control characters replaced."""
    if isinstance(value, Html):
        return value
    if isinstance(value, float):
        return Html(number(value))
    return Html(_CONTROL.sub("\ufffd", html.escape(str(value), quote=True)))


def number(value: float) -> str:
    """A coordinate or measure, short: ``12``, ``12.5``, ``0.25``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def fill(template: str, /, **values: object) -> Html:
    """``template`` (a literal of ours, ``$name`` placeholders) with the values escaped."""
    return Html(Template(template).substitute({k: escape(v) for k, v in values.items()}))


def join(parts: Iterable[Html], separator: str = "") -> Html:
    return Html(separator.join(escape(part) for part in parts))
