from __future__ import annotations

import hashlib

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client

import secmon
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
       b"\x1f\x15\xc4\x89" + b"\x00" * 64)
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + (
    b"PE\x00\x00" + b"\x00" * 200)


def _post(url: str, data: dict[str, object], *, csrf: bool = False) -> HttpResponse:
    if not csrf:
        return Client().post(url, data)
    # With CSRF checks on, CsrfViewMiddleware parses the body before the view runs.
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.CSRF_COOKIE_NAME] = "a" * 32
    return client.post(url, {**data, "csrfmiddlewaretoken": "a" * 32})


@pytest.mark.parametrize(
    ("url", "csrf", "order"),
    [
        # Parsed before the view: inspected before it, and the view still reads every byte.
        ("/upload/", True, ["upload_complete", "upload_validation", "upload_stored"]),
        # The view sets its own upload handlers: monitoring must not parse the body first.
        ("/upload-own-handlers/", False, ["upload_stored", "upload_complete", "upload_validation"]),
    ],
)
def test_renamed_executable(configured: Pipeline, secmon_events: CapturedEvents,
                            url: str, csrf: bool, order: list[str]) -> None:
    upload = SimpleUploadedFile("holiday.jpg", WINDOWS_EXE, content_type="image/jpeg")
    response = _post(url, {"file": upload}, csrf=csrf)
    assert response.status_code == 200
    assert response.json() == {"file": hashlib.sha256(WINDOWS_EXE).hexdigest()}
    assert secmon_events.types() == order
    [complete] = secmon_events.of_type("upload_complete")
    [problem] = secmon_events.of_type("upload_validation")
    assert complete["filename"] == "holiday.jpg"
    assert complete["content_type"] == "image/jpeg"
    assert complete["size"] == len(WINDOWS_EXE)
    assert complete["field"] == "file"
    assert complete["detected_type"] == problem["detected_type"] != "image/jpeg"
    assert problem["level"] == "warning"
    assert "executable" in problem["problems"] and "type_mismatch" in problem["problems"]
    assert problem["route"] == url.strip("/") + "/"


def test_clean_upload(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    Client().post("/upload/", {"file": SimpleUploadedFile("dot.png", PNG, "image/png")})
    [event] = secmon_events.of_type("upload_complete", "upload_validation")
    assert (event["event_type"], event["detected_type"]) == ("upload_complete", "image/png")


@pytest.mark.parametrize(
    ("name", "problem"), [("shell.php.jpg", "double_extension"), ("../../evil.png", None)])
def test_names(configured: Pipeline, secmon_events: CapturedEvents, name: str,
               problem: str | None) -> None:
    Client().post("/upload/", {"file": SimpleUploadedFile(name, PNG, "image/png")})
    [complete] = secmon_events.of_type("upload_complete")
    assert "/" not in complete["filename"]
    found = [p for e in secmon_events.of_type("upload_validation") for p in e["problems"]]
    assert (problem in found) if problem else found == []


def test_oversize(log_dir: object, secmon_events: CapturedEvents) -> None:
    secmon.configure(environment="test", upload_max_bytes=64)
    Client().post("/upload/", {"file": SimpleUploadedFile("big.png", PNG, "image/png")})
    [problem] = secmon_events.of_type("upload_validation")
    assert problem["problems"] == ["too_large"]


def test_no_files_no_events(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    Client().post("/upload/", {"name": "x"})
    assert secmon_events == []
    Client().get("/upload/")
    assert secmon_events == []
