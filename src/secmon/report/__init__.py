"""``secmon report``: one self-contained HTML page (inline SVG charts) describing a set of logs.

Drawn with the standard library alone: the page is a literal template whose every value
is escaped, the charts are SVG built here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..logread import Filter
from .chain import ChainStatus, audit_keys, audit_status
from .charts import (
    CATEGORY_COLORS,
    DENIAL_COLOR,
    DETECTION_COLOR,
    FAILURE_COLOR,
    TimeGrid,
    rules_chart,
    time_grid,
    timeline_chart,
    top_chart,
)
from .page import render
from .summary import Summary, audit_files, summarize

if TYPE_CHECKING:
    from ..config import Settings


def write_report(paths: Sequence[str], output: Path, *, where: Filter | None = None,
                 settings: Settings | None = None, title: str | None = None,
                 advance: Callable[[int], None] = lambda n: None,
                 ) -> tuple[Summary, ChainStatus | None]:
    """Read ``paths``, verify their audit chains, write the page to ``output``."""
    summary = summarize(paths, where, advance)
    chain = audit_status(summary.audit_files, settings) if summary.audit_files else None
    page = render(summary, title=title or "secmon security report", inputs=paths, chain=chain)
    output.write_text(page, encoding="utf-8")
    return summary, chain


__all__ = [
    "CATEGORY_COLORS",
    "DENIAL_COLOR",
    "DETECTION_COLOR",
    "FAILURE_COLOR",
    "ChainStatus",
    "Summary",
    "TimeGrid",
    "audit_files",
    "audit_keys",
    "audit_status",
    "render",
    "rules_chart",
    "summarize",
    "time_grid",
    "timeline_chart",
    "top_chart",
    "write_report",
]
