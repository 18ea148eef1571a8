"""The Alert: what a fired rule hands to alert destinations (Slack, PagerDuty, webhooks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class Alert:
    """One detection worth a human's attention; ``details`` are sanitized event fields.

    ``dedup_key`` is stable for a (rule, subject), so a destination that deduplicates
    (PagerDuty) folds repeats of one attack into one incident.
    """

    id: str
    rule: str
    event_type: str
    severity: str  # critical, error, warning or info
    summary: str
    subject: str
    dedup_key: str
    timestamp: str
    app: str
    environment: str
    details: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["details"] = dict(self.details)
        return data
