"""Path traversal and file inclusion in values and in the request path."""

from __future__ import annotations

import pytest

from secmon.attacks import traversal


@pytest.mark.parametrize(("text", "rule"), [
    ("../../../etc/passwd", "traversal.target"),
    ("..\\..\\windows\\win.ini", "traversal.target"),
    ("....//....//etc/passwd", "traversal.target"),
    ("..;/..;/web-inf/web.xml", "traversal.target"),
    ("../../../../../../../../", "traversal.deep"),
    ("/etc/shadow", "traversal.system_file"),
    ("c:\\boot.ini", "traversal.system_file"),
    ("/./././etc/passwd", "traversal.system_file"),
    ("file:///c:/windows/win.ini", "traversal.system_file"),
    ("php://filter/convert.base64-encode/resource=index.php", "traversal.stream_wrapper"),
    ("avatar.php\x00.jpg", "traversal.null_byte"),
])
def test_values(text: str, rule: str) -> None:
    hit = traversal.detect(text)
    assert hit is not None and hit.rule_id == rule, (text, hit)


@pytest.mark.parametrize("text", [
    "../help", "../assets/images/logo.png", "../../components/button", "docs/readme.md",
    "c:\\users\\anna\\documents\\cv.docx", "what is /etc/hosts", "~/downloads/invoice.pdf",
    "config lives in /etc/nginx/sites-available/default", "wait... what?", "1.2.3",
    "~/.ssh/config",
])
def test_ordinary_paths(text: str) -> None:
    assert traversal.detect(text) is None


@pytest.mark.parametrize(("path", "found"), [
    ("/static/../secret", True), ("/static/..%2f", False), ("/a/..", True),
    ("/static//etc/passwd", True), ("/x/./././etc/shadow", True), ("/files/report.pdf", False),
    ("/.well-known/security.txt", False), ("/a\x00.png", True),
])
def test_request_path(path: str, found: bool) -> None:
    assert (traversal.detect_path(path) is not None) is found
