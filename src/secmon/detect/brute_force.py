"""Password guessing: many failures for one account from one address, or from many addresses."""

from __future__ import annotations

from .rule import WindowRule


class BruteForce(WindowRule):
    """``threshold`` failed logins for one (user, address) in ``window`` (OWASP: 5 in 15 min)."""

    name = "brute_force"
    event_type = "authn_login_fail_max"
    triggers = frozenset({"authn_login_fail"})
    keys = ("user+ip", "user", "ip")
    defaults = {"threshold": 5, "window": 900.0}
    what = "failed logins"


class DistributedBruteForce(WindowRule):
    """Failed logins for one user from ``threshold`` distinct addresses within ``window``."""

    name = "distributed_brute_force"
    event_type = "secmon_distributed_brute_force"
    triggers = frozenset({"authn_login_fail"})
    keys = ("user",)
    defaults = {"threshold": 10, "window": 3600.0}
    distinct = "ip"
    what = "addresses failing"
