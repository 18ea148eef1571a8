from __future__ import annotations

import pytest

import secmon
from secmon.pipeline import Pipeline
from secmon.testing import capture_events
from secmon.uploads import clean_filename, inspect_upload, sniff

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PDF = b"%PDF-1.7\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 48
SCRIPT = b"#!/bin/sh\nrm -rf /\n"
PHP = b"<?php system($_GET['c']); ?>"


@pytest.mark.parametrize(
    ("head", "mime"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (PDF, "application/pdf"),
     (ELF, "application/x-executable"), (SCRIPT, "application/x-shellscript"),
     (PHP, "application/x-php"), (b"plain text", None), (b"", None)],
)
def test_sniff(head: bytes, mime: str | None) -> None:
    assert sniff(head) == mime


@pytest.mark.parametrize(
    ("name", "expected"),
    [("photo.jpg", "photo.jpg"), ("../../etc/passwd", "passwd"), ("C:\\x\\evil.exe", "evil.exe"),
     ("a\nb.txt", "a_b.txt"), ("", "_"), ("x" * 300, "x" * 255)],
)
def test_clean_filename(name: str, expected: str) -> None:
    assert clean_filename(name) == expected


@pytest.mark.parametrize(
    ("filename", "declared", "head", "problems"),
    [
        ("photo.png", "image/png", PNG, []),
        ("photo.jpg", "image/jpg", JPEG, []),
        ("report.pdf", "application/pdf", PDF, []),
        ("notes.txt", "text/plain", b"hello", []),
        ("data.bin", "application/octet-stream", PNG, []),
        ("photo.jpg", "image/jpeg", EXE, ["executable", "type_mismatch"]),
        ("photo.jpg", "image/jpeg", ELF, ["executable", "type_mismatch"]),
        ("shell.php.jpg", "image/jpeg", JPEG, ["double_extension"]),
        ("shell.php", "application/x-php", PHP, ["executable"]),
        ("photo.png", "image/png", JPEG, ["type_mismatch"]),
        ("photo.jpg", "image/png", JPEG, ["type_mismatch"]),
        ("archive.tar.gz", "application/gzip", b"\x1f\x8b\x08" + b"\x00" * 20, []),
        ("run.sh", "text/plain", SCRIPT, ["executable"]),
    ],
)
def test_inspect(filename: str, declared: str, head: bytes, problems: list[str]) -> None:
    assert inspect_upload(filename, declared, len(head), head=head).problems == problems


def test_too_large() -> None:
    assert inspect_upload("a.png", "image/png", 11, head=PNG, max_bytes=10).problems == [
        "too_large"]


def test_upload_received_emits_complete_and_validation(configured: Pipeline) -> None:
    with capture_events() as events:
        secmon.upload_received(filename="cat.jpg", content_type="image/jpeg", size=64, head=EXE)
        secmon.upload_received(filename="cat.png", content_type="image/png", size=40, head=PNG)
    assert events.types() == ["upload_complete", "upload_validation", "upload_complete"]
    bad = events[1]
    assert bad["level"] == "warning"
    assert bad["outcome"] == "failure"
    assert bad["reason"] == "executable,type_mismatch"
    assert bad["detected_type"] == "application/x-msdownload"
    assert bad["filename"] == "cat.jpg"
    assert events[2]["detected_type"] == "image/png"


def test_upload_over_the_configured_size() -> None:
    secmon.configure(outputs=["stderr"], upload_max_bytes=100)
    with capture_events() as events:
        secmon.upload_received(filename="big.png", content_type="image/png", size=101, head=PNG)
    assert events.of_type("upload_validation")[0]["reason"] == "too_large"
