"""Uploads: each file of a multipart request through the shared inspection; the view gets it all."""

from __future__ import annotations

import io

import pytest
from flask import Flask, request

from secmon.testing import CapturedEvents
from secmon.uploads import EXECUTABLE_TYPES

from .conftest import AppFactory

# A real JPEG header (SOI + JFIF APP0) and a Windows executable header.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 400
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + (
    b"This program cannot be run in DOS mode." + b"\x00" * 600
)


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    app = make_app()
    app.config["received"] = []

    @app.route("/upload", methods=["POST"])
    def upload() -> str:
        for name in request.files:
            for storage in request.files.getlist(name):
                app.config["received"].append((storage.filename, storage.read()))
        return "stored"

    return app


def post_files(app: Flask, **files: tuple[bytes, str, str]) -> int:
    data = {
        field: (io.BytesIO(content), filename, content_type)
        for field, (content, filename, content_type) in files.items()
    }
    response = app.test_client().post(
        "/upload", data={**data, "title": "holiday"}, content_type="multipart/form-data"
    )
    return response.status_code


def test_a_good_image(app: Flask, secmon_events: CapturedEvents) -> None:
    assert post_files(app, photo=(JPEG, "beach.jpg", "image/jpeg")) == 200

    (event,) = secmon_events
    assert event["event_type"] == "upload_complete"
    assert event["filename"] == "beach.jpg"
    assert event["content_type"] == "image/jpeg"
    assert event["detected_type"] == "image/jpeg"
    assert event["size"] == len(JPEG)
    assert event["field"] == "photo"
    assert app.config["received"] == [("beach.jpg", JPEG)]  # the view read the whole file


def test_an_executable_renamed_to_jpg(app: Flask, secmon_events: CapturedEvents) -> None:
    assert post_files(app, photo=(EXE, "cat.jpg", "image/jpeg")) == 200

    assert secmon_events.types() == ["upload_complete", "upload_validation"]
    warning = secmon_events[1]
    assert warning["filename"] == "cat.jpg"
    assert warning["detected_type"] in EXECUTABLE_TYPES
    assert set(warning["problems"]) >= {"executable", "type_mismatch"}
    assert app.config["received"] == [("cat.jpg", EXE)]


def test_every_file_of_a_request(app: Flask, secmon_events: CapturedEvents) -> None:
    post_files(
        app,
        photo=(JPEG, "a.jpg", "image/jpeg"),
        script=(b"<?php system($_GET['c']); ?>", "shell.php.jpg", "image/jpeg"),
        empty=(b"", "", "application/octet-stream"),  # a file input left empty
    )

    completed = secmon_events.of_type("upload_complete")
    assert [e["filename"] for e in completed] == ["a.jpg", "shell.php.jpg"]
    (flagged,) = secmon_events.of_type("upload_validation")
    assert "double_extension" in flagged["problems"]


def test_path_in_a_filename_is_not_logged(app: Flask, secmon_events: CapturedEvents) -> None:
    post_files(app, doc=(b"hello", "../../etc/passwd", "text/plain"))

    assert secmon_events[0]["filename"] == "passwd"


def test_upload_over_the_apps_limit_is_refused_and_reported(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = make_app(MAX_CONTENT_LENGTH=1024)

    @app.route("/upload", methods=["POST"])
    def upload() -> str:
        return str(len(request.files["photo"].read()))  # Flask refuses the body here

    status = post_files(app, photo=(JPEG * 5, "big.jpg", "image/jpeg"))

    assert status == 413
    (event,) = secmon_events
    assert event["event_type"] == "upload_validation"
    assert event["reason"] == "too_large"


def test_upload_over_secmons_limit_is_flagged(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = make_app(SECMON_UPLOAD_MAX_BYTES=100)

    @app.route("/upload", methods=["POST"])
    def upload() -> str:
        return "ok"

    assert post_files(app, photo=(JPEG, "big.jpg", "image/jpeg")) == 200
    assert secmon_events[1]["problems"] == ["too_large"]


def test_requests_without_files_emit_nothing(app: Flask, secmon_events: CapturedEvents) -> None:
    client = app.test_client()
    client.post("/upload", data={"title": "no files"})
    client.post("/upload", json={"title": "no files"})

    assert secmon_events == []
