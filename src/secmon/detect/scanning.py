"""Scanning and hammering: many 404s, or many rate-limit refusals, for one address."""

from __future__ import annotations

from .rule import WindowRule


class Excess404(WindowRule):
    """``threshold`` 404 responses to one address within ``window`` (the ``http_404`` signal)."""

    name = "excess_404"
    event_type = "malicious_excess_404"
    signals = frozenset({"http_404"})
    keys = ("ip", "network")
    defaults = {"threshold": 20, "window": 60.0}
    what = "not-found responses"


class Excess429(WindowRule):
    """``threshold`` rate-limit refusals (``excess_rate_limit_exceeded``) for one address."""

    name = "excess_429"
    event_type = "secmon_excess_429"
    triggers = frozenset({"excess_rate_limit_exceeded"})
    keys = ("ip", "network")
    defaults = {"threshold": 10, "window": 300.0}
    what = "rate-limit refusals"
