"""Each file of a multipart request through the shared upload inspection, before the view runs."""

from __future__ import annotations

import os
import threading
from typing import IO, TYPE_CHECKING

from flask import request
from werkzeug.exceptions import HTTPException

from ..pipeline import get_pipeline
from ..uploads import SNIFF_BYTES, inspect_upload, report_upload

if TYPE_CHECKING:
    from werkzeug.datastructures import FileStorage


class InFlight:
    """How many multipart requests are being handled, in all threads.

    The ``before_request`` hook runs for every request; this lets the others leave
    at a glance. Changed under a lock (multipart requests only), read without one:
    a request's own increment is always visible to it, and a count that is briefly
    stale only sends another request through the exact check.
    """

    count = 0
    _lock = threading.Lock()

    @classmethod
    def begin(cls) -> None:
        with cls._lock:
            cls.count += 1

    @classmethod
    def end(cls) -> None:
        with cls._lock:
            cls.count -= 1


def is_multipart(content_type: object) -> bool:
    return isinstance(content_type, str) and content_type[:19].lower() == "multipart/form-data"


def inspect_request_files() -> None:
    """``before_request`` hook: ``upload_complete`` / ``upload_validation`` per uploaded file.

    Only multipart requests get past the first line. Parsing the form here is what
    the view would do on its first look at ``request.files``, so a malformed or
    oversized body gets the same HTTP error (and the app's handler for it) it would
    get there. A body longer than ``MAX_CONTENT_LENGTH`` is left unparsed for Flask
    to refuse with 413.
    """
    if not InFlight.count or not is_multipart(request.environ.get("CONTENT_TYPE")):
        return
    try:
        limit = request.max_content_length
        length = request.content_length
        if limit is not None and length is not None and length > limit:
            return
        files = request.files
    except HTTPException:
        raise
    except Exception as exc:
        get_pipeline().report_error("flask.uploads", exc)
        return
    for field, storage in files.items(multi=True):
        try:
            _report(field, storage)
        except Exception as exc:
            get_pipeline().report_error("flask.uploads", exc)


def _report(field: str, storage: FileStorage) -> None:
    head, size = _head_and_size(storage.stream)
    if not storage.filename and not size:
        return  # an empty file input: the browser sends a part, but no file was chosen
    finding = inspect_upload(storage.filename, storage.content_type, size, head=head)
    report_upload(finding, field=field)


def _head_and_size(stream: IO[bytes]) -> tuple[bytes | None, int | None]:
    """The first bytes and the length of an upload, leaving the stream where it was."""
    try:
        if not stream.seekable():
            return None, None
    except Exception:
        return None, None
    start = stream.tell()
    try:
        stream.seek(0)
        head = stream.read(SNIFF_BYTES)
        size = stream.seek(0, os.SEEK_END)
    finally:
        stream.seek(start)
    return head, size
