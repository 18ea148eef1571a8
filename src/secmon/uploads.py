"""Upload inspection shared by every adapter: name, size, declared and sniffed type, red flags."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from typing import Any

import filetype

from .pipeline import get_pipeline

# How many leading bytes adapters should hand over for sniffing.
SNIFF_BYTES = 262

# Extensions that run as code somewhere (server, browser, desktop); as an inner extension
# (x.php.jpg) they betray a file meant to slip past an extension check.
EXECUTABLE_EXTENSIONS = frozenset(
    """
    php php3 php4 php5 php7 phtml phar pht asp aspx ascx ashx asmx cer jsp jspx cgi pl py rb sh
    bash zsh exe dll com bat cmd scr msi msp ps1 psm1 vbs vbe js jse wsf wsh hta jar war
    lnk reg cpl app dmg elf so dylib html htm shtml svg xhtml
    """.split()
)
EXECUTABLE_TYPES = frozenset(
    {
        "application/x-msdownload",
        "application/x-executable",
        "application/x-mach-binary",
        "application/x-sharedlib",
        "application/x-elf",
        "application/x-dosexec",
        "application/java-archive",
        "application/x-shellscript",
        "application/x-php",
    }
)
# Types that are the same thing under another name.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "application/x-pdf": "application/pdf",
    "audio/wav": "audio/x-wav",
    "audio/mp3": "audio/mpeg",
    "image/x-ms-bmp": "image/bmp",
    "application/x-sh": "application/x-shellscript",
    "text/x-sh": "application/x-shellscript",
    "text/x-php": "application/x-php",
    "application/x-httpd-php": "application/x-php",
}
_SCRIPT_TYPES = frozenset({"application/x-shellscript", "application/x-php"})
# Office and e-book formats are zip containers; a sniffer may report either.
_ZIP_CONTAINERS = ("application/vnd.openxmlformats", "application/epub", "application/vnd.oasis",
                   "application/java-archive")
_SAFE_NAME = re.compile(r"[^\w.\- ()\[\]+@,]")


@dataclass(slots=True)
class UploadFinding:
    """What secmon learned about one uploaded file."""

    filename: str | None
    content_type: str | None
    size: int | None
    detected_type: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fields(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "detected_type": self.detected_type,
        }


def clean_filename(name: str | None) -> str | None:
    """The base name only, with path parts and odd characters replaced; at most 255 chars."""
    if name is None:
        return None
    base = re.split(r"[\\/]", str(name))[-1].strip()
    base = _SAFE_NAME.sub("_", base)
    return base[:255] or "_"


def _norm_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    base = content_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base) or None


def sniff(head: bytes | None) -> str | None:
    """The MIME type from magic bytes (filetype), plus scripts filetype does not know."""
    if not head:
        return None
    kind = filetype.guess(head[:SNIFF_BYTES])
    if kind is not None:
        return _norm_type(str(kind.mime))
    start = head[:SNIFF_BYTES].lstrip()
    if start.startswith(b"#!"):
        return "application/x-shellscript"
    if start[:5].lower() == b"<?php":
        return "application/x-php"
    if head[:2] == b"MZ":
        return "application/x-dosexec"
    return None


def _extensions(filename: str) -> list[str]:
    parts = filename.lower().split(".")
    return [p for p in parts[1:] if p]


def _same_kind(declared: str, detected: str) -> bool:
    if declared == detected:
        return True
    if detected == "application/zip" and declared.startswith(_ZIP_CONTAINERS):
        return True
    if declared == "text/plain" and detected in _SCRIPT_TYPES:
        return True  # a script is text; it is flagged as executable, not as a disguise
    if declared == "application/octet-stream":
        return detected not in EXECUTABLE_TYPES
    return False


def inspect_upload(
    filename: str | None,
    content_type: str | None,
    size: int | None,
    *,
    head: bytes | None = None,
    detected_type: str | None = None,
    max_bytes: int | None = None,
) -> UploadFinding:
    """Inspect one upload. Problems: ``executable``, ``double_extension``,
    ``type_mismatch`` (declared type or extension vs. the sniffed type), ``too_large``."""
    name = clean_filename(filename)
    declared = _norm_type(content_type)
    detected = _norm_type(detected_type) or sniff(head)
    finding = UploadFinding(name, declared, size, detected)
    problems = finding.problems
    extensions = _extensions(name or "")
    if detected in EXECUTABLE_TYPES or (extensions and extensions[-1] in EXECUTABLE_EXTENSIONS):
        problems.append("executable")
    if len(extensions) >= 2 and any(ext in EXECUTABLE_EXTENSIONS for ext in extensions[:-1]):
        problems.append("double_extension")
    if detected is not None:
        by_extension = (
            _norm_type(mimetypes.guess_type(f"x.{extensions[-1]}")[0]) if extensions else None
        )
        if (declared is not None and not _same_kind(declared, detected)) or (
            by_extension is not None and not _same_kind(by_extension, detected)
        ):
            problems.append("type_mismatch")
    if max_bytes is not None and size is not None and size > max_bytes:
        problems.append("too_large")
    return finding


def report_upload(finding: UploadFinding, **fields: Any) -> None:
    """``upload_complete`` for every file; ``upload_validation`` too when something is wrong."""
    pipeline = get_pipeline()
    if finding.size is not None and finding.size > pipeline.settings.upload_max_bytes and (
        "too_large" not in finding.problems
    ):
        finding.problems.append("too_large")
    pipeline.emit("upload_complete", **finding.fields(), **fields)
    if finding.problems:
        pipeline.emit(
            "upload_validation",
            **finding.fields(),
            reason=",".join(finding.problems),
            problems=list(finding.problems),
            **fields,
        )
