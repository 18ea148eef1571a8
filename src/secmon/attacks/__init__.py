"""Attack detection in what a request carries: injections, traversal, SSRF, scanners.

Each adapter reads its request into :meth:`Inspector.inspect` (or feeds a streamed
body to :meth:`Inspector.body_scanner`) and logs each :class:`Finding` as
``finding.event_type`` with ``finding.event_fields()``.
"""

from __future__ import annotations

from ..events import ATTACK_TYPES
from .findings import CONFIDENCES, Confidence, Finding, Hit
from .inspector import HEADERS, BodyScanner, Inspector, Sanitizer

__all__ = [
    "ATTACK_TYPES",
    "CONFIDENCES",
    "HEADERS",
    "BodyScanner",
    "Confidence",
    "Finding",
    "Hit",
    "Inspector",
    "Sanitizer",
]
