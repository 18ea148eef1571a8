"""Credential stuffing and password spraying: failures for many accounts from one source."""

from __future__ import annotations

from .rule import WindowRule


class CredentialStuffing(WindowRule):
    """Failed logins for ``threshold`` distinct users from one address (or /24, /64 network)."""

    name = "credential_stuffing"
    event_type = "secmon_credential_stuffing"
    triggers = frozenset({"authn_login_fail"})
    keys = ("ip", "network")
    defaults = {"threshold": 20, "window": 3600.0}
    distinct = "user"
    what = "accounts failing"
