"""The request inspector: reads each part of a request once and runs the attack detectors.

Adapters hand over the parts in a framework-neutral form (the path, the raw query
string, a header getter, parsed form fields or a JSON document, or body bytes);
:meth:`Inspector.inspect` returns what it found. Nothing here raises into the
request: an error is reported to ``on_error`` and inspection stops there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_plus

import orjson

from ..events import ATTACK_TYPES
from ..redact import REDACTED
from . import command, sqli, ssrf, template, tools, traversal, xss
from .decode import decodings
from .findings import Finding, Hit

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["BodyScanner", "Inspector", "Sanitizer"]

Detector = Callable[[str], "Hit | None"]
HeaderGetter = Callable[[str], "str | None"]
FormData = Mapping[str, Any] | Iterable[tuple[str, Any]]


class Sanitizer(Protocol):
    """What inspection needs from secmon's redaction (a :class:`secmon.redact.Redactor`)."""

    def sanitize_str(self, text: str) -> str: ...

    def is_sensitive_key(self, key: str) -> bool: ...


# Value detectors in the order they run; the first kinds are the cheapest to rule out.
_DETECTORS: tuple[tuple[str, Detector], ...] = (
    ("jndi_injection", template.detect_jndi),
    ("sql_injection", sqli.detect),
    ("xss", xss.detect),
    ("command_injection", command.detect),
    ("template_injection", template.detect),
    ("path_traversal", traversal.detect),
    ("ssrf", ssrf.detect),
    ("attack_tool", tools.detect_callback),
)
_PREFILTERS: dict[str, Callable[[str], object]] = {
    "jndi_injection": lambda text: "${" in text,
    "template_injection": re.compile(r"[{]|<%|<#|\[\[|__|#set").search,
    "ssrf": lambda text: "//" in text or "/" in text[:24],
    "attack_tool": lambda text: "." in text,
}
# A value made only of these characters cannot carry any payload the detectors know
# (names, numbers, dates, emails, slugs, sentences): it costs one C-level scan.
_PLAIN = re.compile(r"[\w \t.,@+:!?-]*")
_PLAIN_PATH = re.compile(r"[\w/.,@+:~!-]*")
_PLAIN_QUERY = re.compile(r"[\w.,@+:!=&-]*")
_NUMBER_THEN_WORDS = re.compile(r"(?:^|[=&])[0-9][\w.,@:!-]*\+[A-Za-z]")
# Headers inspected besides the cookie names, and how they are named in locations.
HEADERS = ("user-agent", "referer", "x-forwarded-for")
MAX_VALUE_CHARS = 8192
MAX_HEADER_CHARS = 4096
MAX_QUERY_CHARS = 64 * 1024
MAX_FIELDS = 512
MAX_FINDINGS = 16
MAX_VALUES = 4096
MAX_JSON_DEPTH = 32
_FRAGMENT_CHARS = 96
_CACHE_SIZE = 2048
_SEGMENT = re.compile(r"[A-Za-z0-9_\-\[\]]{1,64}")


def _segment(name: str) -> str:
    """A location part that is safe to log: the name itself if it is plain, else ``*``."""
    return name if _SEGMENT.fullmatch(name) else "*"


class _Run:
    """The findings of one request, at most one per (kind, location), and what it may still
    inspect: a request with more values than ``MAX_VALUES`` has the rest left unread."""

    __slots__ = ("budget", "findings", "seen")

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.seen: set[tuple[str, str]] = set()
        self.budget = MAX_VALUES

    @property
    def full(self) -> bool:
        return len(self.findings) >= MAX_FINDINGS or self.budget <= 0


class Inspector:
    """Runs the enabled attack detectors over the parts of a request.

    ``sanitizer`` (a :class:`~secmon.redact.Redactor`) cleans every reported fragment
    and says which fields are secret; in those (passwords, tokens) only
    high-confidence findings count and their fragment is ``[REDACTED]``.
    """

    def __init__(
        self,
        sanitizer: Sanitizer,
        *,
        kinds: Iterable[str] = ATTACK_TYPES,
        body_max_bytes: int = 64 * 1024,
        enabled: bool = True,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        wanted = frozenset(kinds)
        unknown = wanted - set(ATTACK_TYPES)
        if unknown:
            raise ValueError(f"unknown attack kinds: {', '.join(sorted(unknown))}")
        self.sanitizer = sanitizer
        self.kinds = wanted
        self.enabled = enabled and bool(wanted)
        self.body_max_bytes = body_max_bytes
        self.on_error = on_error
        self._detectors = tuple(
            (kind, detector, _PREFILTERS.get(kind))
            for kind, detector in _DETECTORS if kind in wanted
        )
        self._tools = "attack_tool" in wanted
        self._headers: dict[tuple[str, str], tuple[tuple[str, Hit, str], ...]] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        sanitizer: Sanitizer,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> Inspector:
        """An inspector set up by the ``ATTACK_*`` settings."""
        return cls(
            sanitizer,
            kinds=[kind for kind, on in settings.attack_kinds.items() if on],
            body_max_bytes=settings.attack_body_max_bytes,
            enabled=settings.attack_detection,
            on_error=on_error,
        )

    # -- public API -------------------------------------------------------------------------

    def inspect(
        self,
        *,
        path: str | None = None,
        query: str | bytes | None = None,
        header: HeaderGetter | None = None,
        form: FormData | None = None,
        json: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> list[Finding]:
        """Inspect what a request carries; every argument is optional.

        ``path`` is the decoded path, ``query`` the raw query string, ``header`` a
        case-insensitive getter (``request.headers.get``). Give the body as parsed
        ``form`` fields (a mapping, a Django ``QueryDict``, a Werkzeug ``MultiDict``,
        or pairs), as a parsed ``json`` document, or as raw ``body`` bytes with their
        ``content_type`` (JSON and urlencoded bodies are parsed here, the first
        ``body_max_bytes`` of them).
        """
        if not self.enabled:
            return []
        run = _Run()
        try:
            if path:
                self._path(run, path)
            if query:
                self._query(run, query, "query")
            if header is not None:
                self._header_values(run, header)
            if form is not None:
                self._form(run, form)
            if json is not None:
                self._json(run, json, "body", 0)
            if body:
                scanner = BodyScanner(self, content_type, run)
                scanner.feed(body)
                scanner.findings()
        except Exception as exc:
            self._report("inspect", exc)
        return run.findings

    def body_scanner(self, content_type: str | None) -> BodyScanner:
        """A scanner to feed a body to as it streams in (ASGI ``http.request`` chunks)."""
        return BodyScanner(self, content_type)

    # -- request parts ----------------------------------------------------------------------

    def _path(self, run: _Run, path: str) -> None:
        if (_PLAIN_PATH.fullmatch(path) is not None and ".." not in path and "//" not in path
                and "/./" not in path):
            return
        text = path[:MAX_VALUE_CHARS]
        for variant in decodings(text):
            lowered = variant.lower()
            if "path_traversal" in self.kinds:
                hit = traversal.detect_path(lowered)
                if hit is not None:
                    self._record(run, "path_traversal", "path", variant, hit, False)
            self._detect(run, variant, lowered, "path", False, skip=("path_traversal", "ssrf"))

    def _query(self, run: _Run, query: str | bytes, prefix: str) -> None:
        if isinstance(query, (bytes, bytearray, memoryview)):
            query = bytes(query).decode("latin-1")
        if len(query) > MAX_QUERY_CHARS:
            query = query[:MAX_QUERY_CHARS]
        # Without percent escapes a query decodes to plain names and values only.
        if (_PLAIN_QUERY.fullmatch(query) is not None and "--" not in query and ".." not in query
                and _NUMBER_THEN_WORDS.search(query) is None):
            return
        value_of = self._value
        for part in query.split("&", MAX_FIELDS)[:MAX_FIELDS]:
            name, _, value = part.partition("=")
            if "%" in name or "+" in name:
                name = unquote_plus(name, errors="replace")
            if value:
                if "%" in value or "+" in value:
                    value = unquote_plus(value, errors="replace")
                value_of(run, value, prefix, name)
            if name:
                value_of(run, name, prefix)

    def _header_values(self, run: _Run, header: HeaderGetter) -> None:
        for name in HEADERS:
            value = header(name)
            if value:
                self._header(run, name, str(value))
        cookie = header("cookie")
        if cookie:
            for index, part in enumerate(str(cookie).split(";")):
                if index >= MAX_FIELDS or run.full:
                    break
                self._value(run, part.partition("=")[0].strip(), "cookie")

    def _header(self, run: _Run, name: str, value: str) -> None:
        # Headers repeat from one request to the next; their verdicts are remembered.
        value = value[:MAX_HEADER_CHARS]
        key = (name, value)
        hits = self._headers.get(key)
        if hits is None:
            scratch = _Run()
            location = f"header.{name}"
            if name == "user-agent" and self._tools:
                hit = tools.detect_user_agent(value.lower())
                if hit is not None:
                    self._record(scratch, "attack_tool", location, value, hit, False)
            url, mark, query = value.partition("?")
            if mark and "://" in url[:16]:  # a URL (Referer): its parameters one by one
                self._value(scratch, url, location, skip=("ssrf",))
                self._query(scratch, query, location)
                scratch.findings = [replace(f, location=location) for f in scratch.findings]
            else:
                self._value(scratch, value, location, skip=("ssrf",))
            hits = tuple((f.type, Hit(f.rule_id, f.confidence, 0, 0), f.fragment)
                         for f in scratch.findings)
            if len(self._headers) >= _CACHE_SIZE:
                self._headers.clear()
            self._headers[key] = hits
        for kind, hit, fragment in hits:
            self._add(run, Finding(kind, f"header.{name}", hit.rule_id, hit.confidence,
                                   fragment))

    def _form(self, run: _Run, form: FormData) -> None:
        for name, value in _pairs(form):
            if run.full:
                break
            self._field(run, str(name), value if isinstance(value, str) else str(value))

    def _json(self, run: _Run, document: Any, location: str, depth: int) -> None:
        if depth > MAX_JSON_DEPTH or run.full:
            return
        if isinstance(document, str):
            self._value(run, document, location, nested=True)
        elif isinstance(document, Mapping):
            for index, (key, value) in enumerate(document.items()):
                if index >= MAX_FIELDS or run.full:
                    break
                name = str(key)
                self._value(run, name, location)
                self._json(run, value, f"{location}.{_segment(name)}", depth + 1)
        elif isinstance(document, (list, tuple)):
            for index, value in enumerate(document[:MAX_FIELDS]):
                self._json(run, value, f"{location}[{index}]", depth + 1)

    def _field(self, run: _Run, name: str, value: str) -> None:
        """One field of a form body: the name and the value."""
        if name:
            self._value(run, name, "body")
        if value:
            self._value(run, value, "body", name or None)

    # -- values -----------------------------------------------------------------------------

    def _value(
        self, run: _Run, text: str, prefix: str, name: str | None = None,
        skip: tuple[str, ...] = (), nested: bool = False,
    ) -> None:
        """Inspect one value, found at ``prefix`` (``.name`` when it is a named field)."""
        if not text or len(run.findings) >= MAX_FINDINGS or run.budget <= 0:
            return
        run.budget -= 1
        if len(text) > MAX_VALUE_CHARS:
            text = text[:MAX_VALUE_CHARS]
        if _PLAIN.fullmatch(text) is not None and "--" not in text and ".." not in text:
            # Plain text still holds one SQL shape: a number followed by SQL words.
            if not (text[:1].isdigit() and " " in text) or "sql_injection" in skip:
                return
            skip = tuple(kind for kind in self.kinds if kind != "sql_injection")
        location = prefix if name is None else f"{prefix}.{_segment(name)}"
        if nested:
            sensitive = self._sensitive(location)
        else:
            sensitive = name is not None and self.sanitizer.is_sensitive_key(name)
        for variant in decodings(text):
            self._detect(run, variant, variant.lower(), location, sensitive, skip)

    def _detect(
        self, run: _Run, text: str, lowered: str, location: str, sensitive: bool,
        skip: tuple[str, ...] = (),
    ) -> None:
        seen = run.seen
        for kind, detector, prefilter in self._detectors:
            if prefilter is not None and not prefilter(lowered):
                continue
            if (skip and kind in skip) or (seen and (kind, location) in seen):
                continue
            hit = detector(lowered)
            if hit is not None and (not sensitive or hit.confidence == "high"):
                self._record(run, kind, location, text, hit, sensitive)

    def _sensitive(self, location: str) -> bool:
        return any(self.sanitizer.is_sensitive_key(part)
                   for part in location.replace("[", ".").split(".")[1:] if part)

    def _record(
        self, run: _Run, kind: str, location: str, text: str, hit: Hit, sensitive: bool
    ) -> None:
        if sensitive:
            fragment = REDACTED
        else:
            start = max(0, min(hit.start, len(text)) - 8)
            end = min(len(text), max(hit.end + 8, start + 16), start + _FRAGMENT_CHARS)
            fragment = self.sanitizer.sanitize_str(text[start:end])
        self._add(run, Finding(kind, location, hit.rule_id, hit.confidence, fragment))

    @staticmethod
    def _add(run: _Run, finding: Finding) -> None:
        key = (finding.type, finding.location)
        if key not in run.seen and not run.full:
            run.seen.add(key)
            run.findings.append(finding)

    def _report(self, where: str, exc: BaseException) -> None:
        if self.on_error is None:
            return
        try:
            self.on_error(where, exc)
        except Exception:  # noqa: S110 - the error callback must not break the request either
            pass


class BodyScanner:
    """Inspects a request body fed in chunks, keeping at most ``body_max_bytes`` of it.

    Urlencoded fields are inspected as soon as each is complete; JSON and text
    bodies when :meth:`findings` is called (a JSON body cut at the limit is read as
    the string literals it holds). Multipart text fields parsed elsewhere are
    handed over one by one with :meth:`field`.
    """

    def __init__(self, inspector: Inspector, content_type: str | None,
                 run: _Run | None = None) -> None:
        self.inspector = inspector
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media == "application/x-www-form-urlencoded":
            self.kind = "form"
        elif media == "application/json" or media.endswith("+json"):
            self.kind = "json"
        elif media.startswith("text/") or media.endswith(("/xml", "+xml")):
            self.kind = "text"
        else:
            self.kind = "other"
        self._run = run if run is not None else _Run()
        self._buffer = bytearray()
        self._taken = 0
        self._cut = False

    def feed(self, chunk: bytes) -> None:
        """Add the next chunk; past the byte limit the rest is ignored."""
        if not self.inspector.enabled or self._cut or self.kind == "other" or not chunk:
            return
        try:
            room = self.inspector.body_max_bytes - self._taken
            if len(chunk) > room:
                chunk, self._cut = chunk[:room], True
            self._taken += len(chunk)
            self._buffer += chunk
            if self.kind == "form":
                head, amp, rest = self._buffer.rpartition(b"&")
                if amp:
                    self.inspector._query(self._run, bytes(head), "body")
                    self._buffer = bytearray(rest)
        except Exception as exc:
            self.inspector._report("body", exc)

    def field(self, name: str, value: str) -> None:
        """A text field of a multipart body, parsed by the caller."""
        if not self.inspector.enabled:
            return
        try:
            self.inspector._field(self._run, name, value)
        except Exception as exc:
            self.inspector._report("body", exc)

    def findings(self) -> list[Finding]:
        """Everything found in the body (inspecting what is still buffered)."""
        inspector, run = self.inspector, self._run
        if not inspector.enabled:
            return []
        try:
            data, self._buffer = bytes(self._buffer), bytearray()
            if self.kind == "form":
                if data and not self._cut:  # a field cut at the limit is not judged by half
                    inspector._query(run, data, "body")
            elif self.kind == "json" and data:
                self._json(data)
            elif self.kind == "text" and data:
                inspector._value(run, data.decode("utf-8", "replace"), "body")
        except Exception as exc:
            inspector._report("body", exc)
        return run.findings

    def _json(self, data: bytes) -> None:
        inspector, run = self.inspector, self._run
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            document = None
            for literal in _json_strings(data.decode("utf-8", "replace")):
                if run.full:
                    break
                try:
                    text = orjson.loads(f'"{literal}"')
                except orjson.JSONDecodeError:
                    continue
                if isinstance(text, str):
                    inspector._value(run, text, "body")
        if document is not None:
            inspector._json(run, document, "body", 0)


def _pairs(form: FormData) -> Iterator[tuple[Any, Any]]:
    """(name, value) for every value of a form, whichever multi-dict shape it has."""
    lists = getattr(form, "lists", None)
    if callable(lists):  # Django QueryDict, Werkzeug MultiDict
        source: Iterable[tuple[Any, Any]] = lists()
    elif isinstance(form, Mapping):
        source = form.items()
    else:
        source = form
    count = 0
    for name, value in source:
        values = value if isinstance(value, (list, tuple)) else (value,)
        for item in values:
            count += 1
            if count > MAX_FIELDS:
                return
            if item is not None and not hasattr(item, "read"):  # files are inspected as uploads
                yield name, item


def _json_strings(text: str) -> Iterator[str]:
    """The raw contents of the string literals in (possibly cut) JSON text, in one pass."""
    inside = False
    pieces: list[str] = []
    for part in text.split('"'):
        if not inside:
            inside, pieces = True, []
            continue
        pieces.append(part)
        if (len(part) - len(part.rstrip("\\"))) % 2:  # that quote was escaped: still inside
            pieces.append('"')
            continue
        inside = False
        yield "".join(pieces)
