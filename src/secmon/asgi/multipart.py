"""Inspection of multipart/form-data uploads as the body streams past, without buffering it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..pipeline import get_pipeline
from ..uploads import SNIFF_BYTES, inspect_upload, report_upload

try:
    from python_multipart import MultipartParser
    from python_multipart.multipart import parse_options_header
except ModuleNotFoundError:  # python-multipart before 0.0.13 names its package "multipart"
    from multipart import MultipartParser  # type: ignore[no-redef]
    from multipart.multipart import parse_options_header  # type: ignore[no-redef]

if TYPE_CHECKING:
    from .types import Message, Receive

# Starlette refuses more files than this by default; past it there is nothing new to learn.
MAX_FILES = 1000


class _File:
    __slots__ = ("content_type", "field", "filename", "head", "size")

    def __init__(self, filename: str, content_type: str | None, field: str | None) -> None:
        self.filename = filename
        self.content_type = content_type
        self.field = field
        self.size = 0
        self.head = b""


class MultipartInspector:
    """Feeds a request body to python-multipart's streaming parser as the app receives it.

    For each file part it keeps the name, declared type, size and the first
    ``SNIFF_BYTES`` bytes; the rest of the body is only counted. The messages
    the app receives are the very objects the server sent. A body the parser
    cannot read stops the inspection (reported once as a secmon error); the
    request goes on untouched.
    """

    def __init__(self, boundary: bytes) -> None:
        self.files: list[_File] = []
        self.done = False
        self._current: _File | None = None
        self._header_name: list[bytes] = []
        self._header_value: list[bytes] = []
        self._disposition = b""
        self._content_type = b""
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    @classmethod
    def for_content_type(cls, content_type: bytes) -> MultipartInspector | None:
        """An inspector for a ``multipart/form-data`` body, or None for any other body."""
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            return None
        try:
            return cls(boundary)
        except Exception as exc:  # a boundary the parser refuses; the app will refuse it too
            get_pipeline().report_error("asgi.multipart", exc)
            return None

    def wrap(self, receive: Receive) -> Receive:
        """``receive`` for the app: the same messages, with the body fed to the parser."""

        async def inspecting_receive() -> Message:
            message = await receive()
            if not self.done and message["type"] == "http.request":
                self.feed(message.get("body", b""), more=message.get("more_body", False))
            return message

        return inspecting_receive

    def feed(self, chunk: bytes, *, more: bool) -> None:
        try:
            if chunk:
                self._parser.write(chunk)
            if not more:
                self.done = True
                self._parser.finalize()
        except Exception as exc:
            self.done = True
            get_pipeline().report_error("asgi.multipart", exc)

    def report(self, **fields: Any) -> None:
        """One ``upload_complete`` per file seen whole (``upload_validation`` too when suspect)."""
        for file in self.files:
            if not file.filename and not file.size:
                continue  # an empty file input: the browser sends a part, but no file was chosen
            try:
                finding = inspect_upload(file.filename, file.content_type, file.size,
                                         head=file.head)
                report_upload(finding, field=file.field, **fields)
            except Exception as exc:
                get_pipeline().report_error("asgi.multipart", exc)

    # -- parser callbacks ------------------------------------------------------------------

    def _on_part_begin(self) -> None:
        self._current = None
        self._disposition = self._content_type = b""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name.append(data[start:end])

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value.append(data[start:end])

    def _on_header_end(self) -> None:
        name = b"".join(self._header_name).strip().lower()
        value = b"".join(self._header_value).strip()
        self._header_name.clear()
        self._header_value.clear()
        if name == b"content-disposition":
            self._disposition = value
        elif name == b"content-type":
            self._content_type = value

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        filename = options.get(b"filename")
        if filename is None or len(self.files) >= MAX_FILES:
            return  # a plain form field: its value is the app's business, not ours
        name = options.get(b"name")
        self._current = _File(
            filename.decode("utf-8", "replace"),
            self._content_type.decode("latin-1") or None,
            name.decode("utf-8", "replace") if name is not None else None,
        )

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        file = self._current
        if file is None:
            return
        if len(file.head) < SNIFF_BYTES:
            file.head += data[start : min(end, start + SNIFF_BYTES - len(file.head))]
        file.size += end - start

    def _on_part_end(self) -> None:
        if self._current is not None:
            self.files.append(self._current)
            self._current = None
