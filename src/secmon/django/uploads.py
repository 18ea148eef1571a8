"""The files of a Django request through secmon's shared upload inspection."""

from __future__ import annotations

from typing import Any

from ..pipeline import get_pipeline
from ..uploads import SNIFF_BYTES, inspect_upload, report_upload

_DONE = "_secmon_uploads_reported"


def parsed(request: Any) -> bool:
    """True when the body was parsed already: reading FILES now costs and changes nothing."""
    return "_files" in request.__dict__


def report_files(request: Any) -> None:
    """``upload_complete`` (and ``upload_validation``) for each uploaded file, once per request.

    The files stay readable: each is read from the start and put back where it was.
    """
    if request.__dict__.get(_DONE) or not parsed(request):
        return
    request.__dict__[_DONE] = True
    try:
        files = request.FILES
        if not files:
            return
        for field, uploads in files.lists():
            for upload in uploads:
                finding = inspect_upload(
                    upload.name, upload.content_type, upload.size, head=_head(upload)
                )
                report_upload(finding, field=field)
    except Exception as exc:
        get_pipeline().report_error("django.uploads", exc)


def _head(upload: Any) -> bytes | None:
    try:
        position = upload.tell()
        upload.seek(0)
        head = upload.read(SNIFF_BYTES)
        upload.seek(position)
    except (OSError, ValueError):  # closed or moved away by the view
        return None
    return head if isinstance(head, bytes) else None
