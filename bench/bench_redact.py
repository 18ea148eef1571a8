"""Redaction cost: a typical 10-field event through Redactor.sanitize_mapping; a 10 MB string."""

from __future__ import annotations

import datetime
import itertools
import uuid
from typing import Any

from secmon.redact import Redactor

from .common import Result, per_call_ns

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def events(count: int, *, all_new: bool = False) -> list[dict[str, Any]]:
    """Typical events: a new timestamp and request id each, the rest repeating as in traffic.

    With ``all_new`` every string differs from one event to the next (nothing is cached).
    """
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    result = []
    for i in range(count):
        tag = f" #{i}" if all_new else ""
        moment = start + datetime.timedelta(microseconds=7919 * i)
        result.append({
            "timestamp": moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "event_type": "authn_login_fail" + tag.strip(" #"),
            "user_id": 4000 + i % 97,
            "source_ip": f"203.0.{i // 200 % 256 if all_new else 113}.{i % 200}",
            "user_agent": USER_AGENT + tag,
            "request_id": str(uuid.UUID(int=i * 0x9E3779B97F4A7C15)),
            "method": "POST",
            "path": f"/accounts/login/{tag.strip(' #')}",
            "status": 401,
            "reason": "bad password" + tag,
        })
    return result


def run(quick: bool = False) -> list[Result]:
    number = 2_000 if quick else 50_000
    redactor = Redactor()
    typical = itertools.cycle(events(number))
    fresh_number = number // 10
    fresh = iter(events(fresh_number * 5, all_new=True))
    event_ns = per_call_ns(lambda: redactor.sanitize_mapping(next(typical)), number)
    fresh_ns = per_call_ns(lambda: redactor.sanitize_mapping(next(fresh)), fresh_number, 5)
    copy_ns = per_call_ns(lambda: dict(next(typical)), number)
    huge = "a" * (10 * 1024 * 1024)
    huge_ns = per_call_ns(lambda: redactor.sanitize_str(huge), 20 if quick else 200)
    return [
        Result("redact", "sanitize_mapping: typical 10-field event", event_ns, "ns",
               "dict(event)", copy_ns, target="< 10 us", better="lower"),
        Result("redact", "sanitize_mapping: 10-field event, every string new", fresh_ns, "ns",
               "dict(event)", copy_ns, better="lower"),
        Result("redact", "sanitize_str: 10 MB string", huge_ns, "ns", target="< 20 ms",
               better="lower"),
    ]


if __name__ == "__main__":
    for result in run():
        print(f"{result.name}: {result.value:,.0f} {result.unit} per call")
