"""Privilege-escalation probing: one user denied access again and again."""

from __future__ import annotations

from .rule import WindowRule


class PrivilegeProbe(WindowRule):
    """``threshold`` ``authz_fail`` for one user within ``window`` (default 10 per hour)."""

    name = "privilege_probe"
    event_type = "secmon_privilege_probe"
    triggers = frozenset({"authz_fail"})
    keys = ("user", "user+ip", "ip")
    defaults = {"threshold": 10, "window": 3600.0}
    what = "access denials"
