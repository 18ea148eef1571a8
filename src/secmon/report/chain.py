"""The verdict on the audit logs among the report's inputs, as `secmon verify` gives it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings


@dataclass
class ChainStatus:
    """What the page shows about the audit chain."""

    state: str  # "intact", "tampered", "unanchored" or "not verified"
    detail: str
    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == "intact"


def audit_keys(settings: Settings | None) -> dict[str, bytes]:
    """The keys to verify with: from the settings, else SECMON_AUDIT_KEY(S) in the environment."""
    from ..verify import key_ring

    if settings is not None and (settings.audit_key or settings.audit_keys):
        keys = dict(settings.audit_keys)
        if settings.audit_key is not None:
            keys[settings.audit_key_id] = settings.audit_key
        return keys
    return key_ring(())


def audit_status(paths: Sequence[str], settings: Settings | None) -> ChainStatus:
    """Verify the hash chains of ``paths`` (with their checkpoints) as `secmon verify` does."""
    from ..verify import UsageError, verify_files

    try:
        keys = audit_keys(settings)
        if not keys:
            return ChainStatus("not verified", "no audit key: set SECMON_AUDIT_KEY (and "
                               "SECMON_AUDIT_KEYS for retired keys) or pass --settings",
                               list(paths))
        report = verify_files([Path(p) for p in paths], keys)
    except UsageError as exc:
        return ChainStatus("not verified", str(exc), list(paths))
    lines = report.lines()
    return ChainStatus(report.status, f"{lines[0]}. {lines[-1]}", report.sources, lines[1:-1])
