"""The Redactor: bounded, redacted, JSON-serializable copies of whatever an event carries."""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import math
import re
import string
import uuid
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    Sequence,
    ValuesView,
)
from collections.abc import Set as AbstractSet
from decimal import Decimal
from itertools import islice
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_plus

from .injection import UNSAFE, escape, neutralize
from .keys import SensitiveKeys
from .markers import CYCLE, MAX_DEPTH, REDACTED, TRUNCATED
from .values import (
    CARD,
    CARD_GATE,
    COLON_VALUE,
    EMPTY_VALUES,
    EQUALS_VALUE,
    INNOCENT,
    INNOCENT_FIRST,
    INNOCENT_LENGTHS,
    MIN_SECRET_LEN,
    PAIR,
    SECRETS,
    card_replacement,
    is_card,
    secret_replacement,
    substitute,
)

if TYPE_CHECKING:
    from ..config import Settings

_KEY_CACHE_SIZE = 4096
_KEY_CACHE_MAX_LEN = 128
_KEY_CHECK_LEN = 1024
_CLEAN_CACHE_SIZE = 4096
_CLEAN_MAX_LEN = 256

# Value patterns run on this much more than what is kept, so a secret across the cut is seen.
_WINDOW = 1024
_TOKEN_CHARS = string.ascii_letters + string.digits + "+/=_-.~%"

_INT_MIN = -(1 << 63)
_INT_MAX = 1 << 64
_SHOWN_INT_BITS = 256
_STR_TYPES = (uuid.UUID, Decimal, PurePath, ipaddress.IPv4Address, ipaddress.IPv6Address,
              ipaddress.IPv4Network, ipaddress.IPv6Network, ipaddress.IPv4Interface,
              ipaddress.IPv6Interface)
_SEQUENCE_TYPES = (list, tuple, set, frozenset, Sequence, AbstractSet, KeysView, ValuesView,
                   ItemsView)
_EMPTY_TYPES = (str, bytes, bytearray, list, tuple, dict, set, frozenset)


class _Walk:
    """State of one ``sanitize`` call: the containers on the current path, the work left."""

    __slots__ = ("budget", "path")

    def __init__(self, budget: int, *path: int) -> None:
        self.budget = budget
        self.path = set(path)


def _harmless(value: Any) -> bool:
    """A value kept as is even under a sensitive key: nothing, a bool, an empty container."""
    if value is None or value is True or value is False:
        return True
    return isinstance(value, _EMPTY_TYPES) and len(value) == 0


class Redactor:
    """Makes redacted, bounded, JSON-serializable copies of whatever an event carries."""

    def __init__(
        self,
        *,
        extra_keys: Iterable[str] = (),
        extra_patterns: Iterable[re.Pattern[str] | str] = (),
        max_string_length: int = 4096,
        max_depth: int = 8,
        max_items: int = 200,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        if max_string_length < 16 or max_depth < 1 or max_items < 1:
            raise ValueError("max_string_length >= 16, max_depth >= 1 and max_items >= 1")
        self.max_string_length = max_string_length
        self.max_depth = max_depth
        self.max_items = max_items
        self.on_error = on_error
        self._patterns = tuple(
            p if isinstance(p, re.Pattern) else re.compile(p) for p in extra_patterns
        )
        self._classify = SensitiveKeys(extra_keys).match
        self._keys: dict[str, tuple[str, bool]] = {}
        self._clean: dict[str, None] = {}
        self._budget = max(1000, 50 * max_items)

    @classmethod
    def from_settings(
        cls, settings: Settings, on_error: Callable[[str, BaseException], None] | None = None
    ) -> Redactor:
        """A redactor set up by ``REDACT_KEYS``, ``REDACT_PATTERNS`` and the ``MAX_*`` limits."""
        return cls(
            extra_keys=settings.redact_keys,
            extra_patterns=settings.redact_patterns,
            max_string_length=settings.max_string_length,
            max_depth=settings.max_depth,
            max_items=settings.max_items,
            on_error=on_error,
        )

    # -- public API -------------------------------------------------------------------------

    def sanitize(self, obj: Any) -> Any:
        """A redacted copy made of dict, list, str, int, float, bool and None only. Never raises."""
        try:
            return self._value(obj, 0, _Walk(self._budget))
        except Exception as exc:
            self._report("sanitize", exc)
            return REDACTED

    def sanitize_mapping(self, mapping: Mapping[Any, Any]) -> dict[str, Any]:
        """An event dict's redacted copy: sensitive keys' values replaced, all values sanitized."""
        try:
            if type(mapping) is dict:
                return self._dict(mapping, 0, None)
            result = self._value(mapping, 0, _Walk(self._budget))
        except Exception as exc:
            self._report("sanitize", exc)
            return {}
        return result if isinstance(result, dict) else {"value": result}

    def sanitize_str(self, text: str) -> str:
        """``text`` with secret values redacted, unsafe characters escaped, length bounded."""
        if type(text) is not str:
            return self._text(text)
        clean = self._clean
        if text in clean:
            return text
        length = len(text)
        if length > self.max_string_length:
            return self._truncate(text, length)
        result = text
        if self._patterns or (length >= MIN_SECRET_LEN and not (
            (text[0] in INNOCENT_FIRST or length in INNOCENT_LENGTHS)
            and INNOCENT.fullmatch(text) is not None
        )):
            try:
                result = self._redact_values(text)
            except Exception as exc:
                self._report("patterns", exc)
                return REDACTED
        if not result.isprintable():
            return UNSAFE.sub(escape, result)
        if result == text and length <= _CLEAN_MAX_LEN:
            # Values repeat (user agents, paths, reasons); this remembers only strings that
            # are logged unchanged anyway, so it holds nothing the logs do not.
            if len(clean) >= _CLEAN_CACHE_SIZE:
                clean.clear()
            clean[text] = None
        return result

    def is_sensitive_key(self, key: str) -> bool:
        """Whether values under ``key`` (dict key, header, query or form field) are secret."""
        return self._key(key)[1]

    def sanitize_query(self, query: str | bytes) -> str:
        """A query string with sensitive parameters' values redacted and the others sanitized."""
        try:
            if not isinstance(query, str):
                query = self._decode(query)
            limit = self.max_string_length + _WINDOW
            cut = len(query) > limit
            text = query[:limit].rsplit("&", 1)[0] if cut else query
            parts = []
            for part in text.split("&"):
                name, equals, value = part.partition("=")
                if value and self.is_sensitive_key(unquote_plus(name)):
                    value = REDACTED
                elif value:
                    value = self._query_value(value)
                parts.append(f"{name}{equals}{value}")
            result = "&".join(parts)
            if cut or len(result) > self.max_string_length:
                return self._truncate(result, len(query))
            return self.sanitize_str(result)
        except Exception as exc:
            self._report("query", exc)
            return REDACTED

    def sanitize_headers(
        self, headers: Mapping[Any, Any] | Iterable[tuple[Any, Any]]
    ) -> dict[str, str]:
        """Headers as ``{lowercased name: value}``, sensitive ones redacted, repeats joined."""
        collected: dict[str, list[str]] = {}
        try:
            items = getattr(type(headers), "items", None)
            # Mappings, and list-likes of pairs that also have .items() (werkzeug's Headers).
            pairs = items(headers) if callable(items) else headers
            for index, (raw_name, raw_value) in enumerate(pairs):
                if index >= self.max_items:
                    collected[TRUNCATED] = ["more headers"]
                    break
                name = self._text(raw_name).lower()
                if self.is_sensitive_key(name):
                    value = self._text(raw_value) if _harmless(raw_value) else REDACTED
                else:
                    value = self._text(raw_value)
                collected.setdefault(name, []).append(value)
        except Exception as exc:
            self._report("headers", exc)
        return {name: ", ".join(values) for name, values in collected.items()}

    # -- strings ----------------------------------------------------------------------------

    def _redact_values(self, text: str) -> str:
        if SECRETS.search(text) is not None:
            text = substitute(SECRETS, text, secret_replacement)
        if CARD_GATE.search(text) is not None:
            text = substitute(CARD, text, card_replacement)
        if "=" in text or (":" in text and ("'" in text or '"' in text)):
            text = self._redact_pairs(text)
        for pattern in self._patterns:
            text = pattern.sub(REDACTED, text)
        return text

    def _redact_pairs(self, text: str) -> str:
        parts: list[str] = []
        last = pos = 0
        search = PAIR.search
        while (match := search(text, pos)) is not None:
            pos = match.end()
            name = match.group("name")
            if name is None:
                name, value_pattern = match.group("quoted"), COLON_VALUE
            else:
                value_pattern = EQUALS_VALUE
            if "%" in name:
                name = unquote_plus(name)
            if not self.is_sensitive_key(name):
                continue
            value = value_pattern.match(text, pos)
            if value is None or value.group() in EMPTY_VALUES:
                continue
            found = value.group()
            quote_char = found[0] if found[0] in "\"'" else ""
            closing = quote_char if len(found) > 1 and found.endswith(quote_char) else ""
            parts.append(text[last:pos])
            parts.append(f"{quote_char}{REDACTED}{closing}")
            last = pos = value.end()
        if not parts:
            return text
        parts.append(text[last:])
        return "".join(parts)

    def _query_value(self, value: str) -> str:
        redacted = self._redact_values(value)
        if redacted == value and "%" in value:
            decoded = unquote_plus(value)
            cleaned = self._redact_values(decoded)
            if cleaned != decoded:
                return quote(cleaned, safe="/:@[]=,", errors="surrogatepass")
        return redacted

    def _truncate(self, text: str, total: int, unit: str = "chars", more: bool = False) -> str:
        """``text`` (``total`` long, or longer if ``more``) cut to the limit, with a marker."""
        limit = self.max_string_length
        window = text[: limit + _WINDOW]
        following = text[len(window) : len(window) + 1] or ("x" if more else "")
        # A token-like run that goes on past the window may be a secret too long to recognize
        # in part: drop it rather than log its beginning. Same at the final cut.
        run_cut = bool(window and following) and (
            window[-1] in _TOKEN_CHARS and following in _TOKEN_CHARS
        )
        try:
            kept = self._redact_values(window)
        except Exception as exc:
            self._report("patterns", exc)
            kept = ""
        if run_cut:
            kept = kept.rstrip(_TOKEN_CHARS)
        if len(kept) > limit:
            run_cut = kept[limit - 1] in _TOKEN_CHARS and kept[limit] in _TOKEN_CHARS
            kept = kept[:limit]
            if run_cut:
                kept = kept.rstrip(_TOKEN_CHARS)
        dropped = max(total - len(kept), 1)
        return f"{neutralize(kept)}...[TRUNCATED {dropped} {unit}]"

    def _decode(self, data: bytes | bytearray | memoryview) -> str:
        """Bytes as text, undecodable ones as ``\\xNN``; only as much as can be kept is decoded."""
        limit = 4 * (self.max_string_length + _WINDOW)
        if isinstance(data, memoryview):
            flat = data.ndim == 1 and data.itemsize == 1
            data = data[:limit].tobytes() if flat else data.tobytes()[:limit]
        return bytes(data[:limit]).decode("utf-8", "backslashreplace")

    def _bytes(self, data: bytes | bytearray | memoryview) -> str:
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        text = self._decode(data)
        if size > 4 * (self.max_string_length + _WINDOW):
            return self._truncate(text, size, "bytes", more=True)
        return self.sanitize_str(text)

    def _text(self, obj: Any) -> str:
        """Any object as sanitized text (the form used for keys and header names)."""
        if isinstance(obj, str):
            return self.sanitize_str(str.__str__(obj))
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return self._bytes(obj)
        value = self._value(obj, 0, _Walk(self._budget))
        return value if isinstance(value, str) else self.sanitize_str(self._describe(value))

    # -- keys -------------------------------------------------------------------------------

    def _key(self, key: Any) -> tuple[str, bool]:
        """The sanitized form of a key and whether its value is secret."""
        if type(key) is not str:
            try:
                if isinstance(key, (str, bytes, bytearray, memoryview)):
                    text = self._text(key)
                else:
                    text = self.sanitize_str(self._describe(key))
            except Exception as exc:
                self._report("key", exc)
                return REDACTED, True
            return text, self._classify(text[:_KEY_CHECK_LEN])
        cached = self._keys.get(key)
        if cached is not None:
            return cached
        info = (self.sanitize_str(key), self._classify(key[:_KEY_CHECK_LEN]))
        if len(key) <= _KEY_CACHE_MAX_LEN:
            if len(self._keys) >= _KEY_CACHE_SIZE:
                self._keys.clear()
            self._keys[key] = info
        return info

    # -- objects ----------------------------------------------------------------------------

    def _value(self, obj: Any, depth: int, walk: _Walk) -> Any:
        kind = type(obj)
        if kind is str:
            return self.sanitize_str(obj)
        if obj is None or kind is bool:
            return obj
        if kind is int:
            return self._int(obj)
        if kind is float:
            return obj if math.isfinite(obj) else repr(obj)
        if kind is dict:
            return self._container(self._dict, obj, depth, walk)
        if kind is list or kind is tuple:
            # (name, value) pairs: header lists, form items. Lists of two names are no pairs.
            if len(obj) == 2 and (
                isinstance(obj[0], bytes) or (kind is tuple and isinstance(obj[0], str))
            ):
                return self._pair(obj, depth, walk)
            return self._container(self._sequence, obj, depth, walk)
        try:
            return self._other(obj, depth, walk)
        except Exception as exc:
            self._report("value", exc)
            return self._unrepresentable(obj)

    def _other(self, obj: Any, depth: int, walk: _Walk) -> Any:
        if isinstance(obj, enum.Enum):
            return self._value(obj.value, depth + 1, walk) if depth < self.max_depth else MAX_DEPTH
        if isinstance(obj, str):
            return self.sanitize_str(str.__str__(obj))
        if isinstance(obj, int):
            return self._int(int.__index__(obj))
        if isinstance(obj, float):
            return self._value(float.__float__(obj), depth, walk)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return self._bytes(obj)
        if isinstance(obj, (dt.datetime, dt.date, dt.time)):
            return self.sanitize_str(obj.isoformat())
        if isinstance(obj, _STR_TYPES):
            return self.sanitize_str(str(obj))
        if isinstance(obj, BaseException):
            return self.sanitize_str(self._exception_text(obj))
        kind = type(obj)
        if isinstance(obj, Mapping) or callable(getattr(kind, "lists", None)) or (
            callable(getattr(kind, "items", None)) and not isinstance(obj, _SEQUENCE_TYPES)
        ):
            return self._container(self._dict, obj, depth, walk)
        if isinstance(obj, _SEQUENCE_TYPES):
            return self._container(self._sequence, obj, depth, walk)
        return self.sanitize_str(self._describe(obj))

    def _container(
        self, convert: Callable[[Any, int, _Walk], Any], obj: Any, depth: int, walk: _Walk
    ) -> Any:
        if depth >= self.max_depth:
            return MAX_DEPTH
        ident = id(obj)
        if ident in walk.path:
            return CYCLE
        try:
            size = len(obj)
        except Exception:
            size = 1
        # Charged up front, so shared (not cyclic) references cannot multiply the work.
        walk.budget -= 1 + min(size, self.max_items)
        if walk.budget < 0:
            return TRUNCATED
        walk.path.add(ident)
        try:
            return convert(obj, depth, walk)
        finally:
            walk.path.discard(ident)

    def _dict(self, obj: Any, depth: int, walk: _Walk | None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        limit = self.max_items
        keys = self._keys
        clean = self._clean
        more = ""
        try:
            exact = type(obj) is dict
            pairs = obj.items() if exact else self._pairs(obj)
            if not exact or len(obj) > limit:
                pairs = islice(pairs, limit)
            for key, value in pairs:
                info = keys.get(key) if type(key) is str else None
                name, sensitive = self._key(key) if info is None else info
                if sensitive and not _harmless(value):
                    result[name] = REDACTED
                    continue
                kind = type(value)
                if kind is str:
                    result[name] = value if value in clean else self.sanitize_str(value)
                elif value is None or kind is bool or (kind is int and -(10**12) < value < 10**12):
                    result[name] = value
                else:
                    if walk is None:
                        walk = _Walk(self._budget - 1 - min(len(obj), limit), id(obj))
                    result[name] = self._value(value, depth + 1, walk)
            if not exact or len(obj) > limit:
                more = self._more(obj, len(result))
        except Exception as exc:
            self._report("iterate", exc)
            more = "more items (unreadable)"
        if more:
            result[TRUNCATED] = more
        return result

    def _pairs(self, obj: Any) -> Iterator[tuple[Any, Any]]:
        lists = getattr(type(obj), "lists", None)
        if callable(lists):
            for key, values in lists(obj):
                values = list(values)
                yield key, values[0] if len(values) == 1 else values
            return
        multi_items = getattr(type(obj), "multi_items", None)
        if callable(multi_items):
            pairs = multi_items(obj)
        elif isinstance(obj, Mapping):
            yield from obj.items()
            return
        else:
            try:
                pairs = obj.items(multi=True)
            except TypeError:
                pairs = obj.items()
        grouped: dict[Any, list[Any]] = {}
        for key, value in islice(pairs, 10 * self.max_items):
            grouped.setdefault(key, []).append(value)
        for key, values in grouped.items():
            yield key, values[0] if len(values) == 1 else values

    def _sequence(self, obj: Any, depth: int, walk: _Walk) -> list[Any]:
        result: list[Any] = []
        append = result.append
        clean = self._clean
        taken = 0
        try:
            for item in islice(obj, self.max_items):
                taken += 1
                if type(item) is str:
                    append(item if item in clean else self.sanitize_str(item))
                else:
                    append(self._value(item, depth + 1, walk))
            more = self._more(obj, taken)
        except Exception as exc:
            self._report("iterate", exc)
            more = "more items (unreadable)"
        if more:
            append(f"[TRUNCATED {more}]")
        return result

    def _pair(self, pair: Any, depth: int, walk: _Walk) -> Any:
        """A (name, value) pair, as in header lists and form data: the name decides."""
        name, sensitive = self._key(pair[0])
        if sensitive and not _harmless(pair[1]):
            return [name, REDACTED] if depth < self.max_depth else MAX_DEPTH
        return self._container(self._sequence, pair, depth, walk)

    def _more(self, obj: Any, taken: int) -> str:
        if taken < self.max_items:
            return ""
        try:
            extra = len(obj) - taken
        except Exception:
            return "more items"
        return f"{extra} more items" if extra > 0 else ""

    def _int(self, number: int) -> int | str:
        if _INT_MIN <= number < _INT_MAX:
            if 10**12 <= number < 10**16 and is_card(str(number)):
                return REDACTED
            return number
        bits = number.bit_length()
        if bits <= _SHOWN_INT_BITS:
            return str(number)
        return f"[int: {bits} bits]"

    def _exception_text(self, exc: BaseException) -> str:
        name = type(exc).__name__
        try:
            message = str(exc)
        except Exception as error:
            self._report("str", error)
            message = "[unrepresentable message]"
        return f"{name}: {message}" if message else name

    def _describe(self, obj: Any) -> str:
        for where, convert in (("str", str), ("repr", repr)):
            try:
                text = convert(obj)
            except Exception as exc:
                self._report(where, exc)
                continue
            if isinstance(text, str):
                return str.__str__(text)
        return self._unrepresentable(obj)

    def _unrepresentable(self, obj: Any) -> str:
        try:
            name = type(obj).__name__
            name = name if isinstance(name, str) else "object"
        except Exception:
            name = "object"
        return f"[unrepresentable {neutralize(name)[:100]}]"

    def _report(self, where: str, exc: BaseException) -> None:
        if self.on_error is None:
            return
        try:
            self.on_error(where, exc)
        except Exception:  # noqa: S110 - the error callback must not break logging either
            pass


_default = Redactor()


def sanitize(obj: Any) -> Any:
    """The redacted, log-safe copy of ``obj`` made with the default settings."""
    return _default.sanitize(obj)
