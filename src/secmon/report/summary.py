"""What the report shows, gathered in one streamed pass over the logs."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..logread import Event, Filter, ScanStats, event_time, scan, user_of
from ..query import DETECTION_CATEGORY, CountBy, TimeBuckets

# Detections kept for the page (the newest); counts include all of them.
MAX_DETECTIONS = 300


def _ip(event: Event) -> str | None:
    value = event.get("source_ip")
    return None if value is None else str(value)


@dataclass
class Summary:
    """Counts over time, the top sources and users, the newest detections."""

    stats: ScanStats = field(default_factory=ScanStats)
    categories: TimeBuckets = field(default_factory=TimeBuckets)
    # Detections over time, one series per detection event type (its rule).
    rules: TimeBuckets = field(default_factory=TimeBuckets)
    levels: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    failures_by_ip: CountBy = field(default_factory=lambda: CountBy(_ip))
    failures_by_user: CountBy = field(default_factory=lambda: CountBy(user_of))
    denials_by_ip: CountBy = field(default_factory=lambda: CountBy(_ip))
    denials_by_user: CountBy = field(default_factory=lambda: CountBy(user_of))
    detections: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_DETECTIONS))
    detection_types: Counter[str] = field(default_factory=Counter)
    first: str | None = None
    last: str | None = None
    audit_files: list[str] = field(default_factory=list)

    def add(self, event: Event) -> None:
        event_type = str(event.get("event_type"))
        self.types[event_type] += 1
        self.levels[str(event.get("level"))] += 1
        moment = event_time(event)
        category = event.get("category")
        if moment is not None:
            self.categories.add(moment, str(category))
            if self.first is None or moment < self.first:
                self.first = moment
            if self.last is None or moment > self.last:
                self.last = moment
        if event_type == "authn_login_fail":
            self.failures_by_ip.add(event)
            self.failures_by_user.add(event)
        elif event_type == "authz_fail":
            self.denials_by_ip.add(event)
            self.denials_by_user.add(event)
        elif category == DETECTION_CATEGORY:
            self.detections.append(event)
            self.detection_types[event_type] += 1
            if moment is not None:
                self.rules.add(moment, event_type)


def summarize(paths: Sequence[str], where: Filter | None = None,
              advance: Callable[[int], None] = lambda n: None) -> Summary:
    summary = Summary()
    # Every line parsed: which inputs hold signed records must not depend on the filter.
    for _, event in scan(paths, where or Filter(), summary.stats, advance, prefilter=False):
        summary.add(event)
    summary.audit_files = audit_files(summary.stats)
    return summary


def audit_files(stats: ScanStats) -> list[str]:
    """The inputs to verify: audit logs (only signed records) if any, else any with some.

    security.log holds the audit records too, but it may be filtered (by level, say); the
    audit log is the complete chain.
    """
    chained = {path: counts for path, counts in stats.signed.items() if counts[0]}
    pure = [path for path, (signed, total) in chained.items() if signed == total]
    return pure or list(chained)
