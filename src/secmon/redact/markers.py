"""What redaction leaves where it took something out, so a reader sees something was there."""

from __future__ import annotations

REDACTED = "[REDACTED]"
CYCLE = "[CYCLE]"
MAX_DEPTH = "[MAX DEPTH]"
TRUNCATED = "[TRUNCATED]"
