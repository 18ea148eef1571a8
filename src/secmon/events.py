"""The event vocabulary: OWASP Logging Vocabulary names with levels, ECS categories, outcomes."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Level = Literal["info", "warning", "error", "critical"]
Outcome = Literal["success", "failure", "unknown"]

LEVELS: tuple[Level, ...] = ("info", "warning", "error", "critical")
LEVEL_RANK: dict[str, int] = {name: rank for rank, name in enumerate(LEVELS)}
OUTCOMES: tuple[Outcome, ...] = ("success", "failure", "unknown")

# Pseudo-category an output filter may name to select audit events, whatever their ECS category.
AUDIT = "audit"

# Values of an attack finding's ``attack.type``: what request inspection looks for.
ATTACK_TYPES: tuple[str, ...] = (
    "sql_injection", "xss", "path_traversal", "command_injection", "ssrf",
    "template_injection", "jndi_injection", "attack_tool",
)


class UnknownEventError(ValueError):
    """An event name that is not in the vocabulary (usually a typo)."""


class Emit(Protocol):
    """``emit()`` as the parts of secmon that raise events of their own are handed it."""

    def __call__(
        self,
        event_type: str,
        /,
        *,
        level: str | None = ...,
        message: str | None = ...,
        **fields: Any,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What secmon knows about one event name.

    ``category`` is the primary ECS ``event.category``; ``ecs_category`` and
    ``ecs_type`` are the full ECS arrays. ``audit`` events are signed into the
    audit chain and routed to audit outputs. ``extension`` marks names that
    secmon adds where OWASP has none; they all start with ``secmon_``.
    """

    name: str
    level: Level
    category: str
    ecs_type: tuple[str, ...]
    outcome: Outcome
    summary: str
    audit: bool = False
    extension: bool = False
    ecs_category: tuple[str, ...] = ()
    detection: bool = False

    @property
    def ecs_categories(self) -> tuple[str, ...]:
        return self.ecs_category or (self.category,)


def _e(
    name: str,
    level: Level,
    category: str,
    ecs_type: tuple[str, ...],
    outcome: Outcome,
    summary: str,
    *,
    audit: bool = False,
    also: tuple[str, ...] = (),
    detection: bool = False,
) -> EventSpec:
    return EventSpec(
        name=name,
        level=level,
        category=category,
        ecs_type=ecs_type,
        outcome=outcome,
        summary=summary,
        audit=audit,
        extension=name.startswith("secmon_"),
        ecs_category=(category, *also) if also else (),
        detection=detection,
    )


_VOCABULARY: tuple[EventSpec, ...] = (
    # Authentication [AUTHN]
    _e("authn_login_success", "info", "authentication", ("start",), "success",
       "login succeeded", audit=True),
    _e("authn_login_successafterfail", "info", "authentication", ("start",), "success",
       "login succeeded after failures", audit=True),
    _e("authn_login_fail", "warning", "authentication", ("start",), "failure",
       "login failed", audit=True),
    _e("authn_login_fail_max", "warning", "intrusion_detection", ("info",), "failure",
       "login failure limit reached", also=("authentication",), detection=True),
    _e("authn_login_lock", "warning", "iam", ("user", "change"), "success",
       "account locked", audit=True, also=("authentication",)),
    _e("authn_password_change", "info", "iam", ("user", "change"), "success",
       "password changed", audit=True),
    _e("authn_password_change_fail", "critical", "iam", ("user", "change"), "failure",
       "password change failed", audit=True),
    _e("authn_impossible_travel", "critical", "intrusion_detection", ("info",), "unknown",
       "impossible travel between logins", also=("authentication",), detection=True),
    _e("authn_token_created", "info", "iam", ("creation",), "success",
       "token created", audit=True),
    _e("authn_token_revoked", "info", "iam", ("deletion",), "success",
       "token revoked", audit=True),
    _e("authn_token_reuse", "critical", "authentication", ("start",), "failure",
       "revoked token reused"),
    _e("authn_token_delete", "warning", "iam", ("deletion",), "success",
       "token deleted", audit=True),
    # Authorization [AUTHZ]
    _e("authz_fail", "warning", "web", ("access",), "failure",
       "access denied", also=("iam",)),
    _e("authz_change", "warning", "iam", ("change", "group"), "success",
       "entitlements changed", audit=True),
    _e("authz_admin", "warning", "iam", ("admin", "change"), "success",
       "administrative action", audit=True),
    # Encryption [CRYPT]
    _e("crypt_decrypt_fail", "warning", "process", ("info",), "failure", "decryption failed"),
    _e("crypt_encrypt_fail", "warning", "process", ("info",), "failure", "encryption failed"),
    # Excessive use [EXCESS]
    _e("excess_rate_limit_exceeded", "warning", "web", ("access",), "failure",
       "rate limit exceeded"),
    # File upload [UPLOAD]
    _e("upload_complete", "info", "file", ("creation",), "success", "file uploaded"),
    _e("upload_stored", "info", "file", ("creation",), "success", "uploaded file stored"),
    _e("upload_validation", "warning", "file", ("info",), "failure",
       "uploaded file failed validation"),
    _e("upload_delete", "info", "file", ("deletion",), "success", "uploaded file deleted"),
    # Input validation [INPUT]
    _e("input_validation_fail", "warning", "web", ("info",), "failure",
       "input validation failed"),
    _e("input_validation_discrete_fail", "warning", "web", ("info",), "failure",
       "value outside its allowed options"),
    # Malicious behaviour [MALICIOUS]
    _e("malicious_excess_404", "warning", "intrusion_detection", ("info",), "unknown",
       "many requests for missing pages", also=("web",), detection=True),
    _e("malicious_extraneous", "critical", "intrusion_detection", ("info",), "unknown",
       "unexpected input submitted", also=("web",)),
    _e("malicious_attack_tool", "critical", "intrusion_detection", ("info",), "unknown",
       "attack tool seen", also=("web",)),
    _e("malicious_cors", "critical", "intrusion_detection", ("info",), "failure",
       "cross-origin request from an unauthorized origin", also=("web",)),
    _e("malicious_direct_reference", "critical", "intrusion_detection", ("info",),
       "failure", "direct object reference attempt", also=("web",)),
    # Privilege changes [PRIVILEGE]
    _e("privilege_permissions_changed", "warning", "iam", ("change", "group"), "success",
       "permissions changed", audit=True),
    # Sensitive data [DATA]
    _e("sensitive_create", "warning", "database", ("change",), "success",
       "sensitive data created", audit=True),
    _e("sensitive_read", "warning", "database", ("access",), "success",
       "sensitive data read", audit=True),
    _e("sensitive_update", "warning", "database", ("change",), "success",
       "sensitive data updated", audit=True),
    _e("sensitive_delete", "warning", "database", ("change",), "success",
       "sensitive data deleted", audit=True),
    # Sequence errors [SEQUENCE]
    _e("sequence_fail", "critical", "web", ("info",), "failure",
       "application flow out of sequence"),
    # Session management [SESSION]
    _e("session_created", "info", "session", ("start",), "success", "session created"),
    _e("session_renewed", "info", "session", ("info",), "success", "session renewed"),
    _e("session_expired", "info", "session", ("end",), "success", "session ended"),
    _e("session_use_after_expire", "critical", "session", ("info",), "failure",
       "expired session used"),
    # System events [SYS]
    _e("sys_startup", "info", "process", ("start",), "success", "application started"),
    _e("sys_shutdown", "info", "process", ("end",), "success", "application stopped"),
    _e("sys_restart", "info", "process", ("start",), "success", "application restarted"),
    _e("sys_crash", "error", "process", ("end",), "failure", "application crashed"),
    _e("sys_monitor_disabled", "warning", "configuration", ("change",), "failure",
       "monitoring degraded"),
    _e("sys_monitor_enabled", "warning", "configuration", ("change",), "success",
       "monitoring restored"),
    # User management [USER]
    _e("user_created", "warning", "iam", ("user", "creation"), "success",
       "user created", audit=True),
    _e("user_updated", "warning", "iam", ("user", "change"), "success",
       "user updated", audit=True),
    _e("user_archived", "warning", "iam", ("user", "deletion"), "success",
       "user archived", audit=True),
    _e("user_deleted", "warning", "iam", ("user", "deletion"), "success",
       "user deleted", audit=True),
    # secmon extensions: only where OWASP has no name.
    _e("secmon_app_exception", "error", "web", ("error",), "failure",
       "unhandled application exception"),
    _e("secmon_internal_error", "error", "configuration", ("info",), "unknown",
       "secmon internal error (the request was not affected)"),
    _e("secmon_audit_record", "info", "configuration", ("change",), "success",
       "audit record", audit=True),
    _e("secmon_distributed_brute_force", "warning", "intrusion_detection", ("info",),
       "failure", "many addresses failing logins for one account",
       also=("authentication",), detection=True),
    _e("secmon_credential_stuffing", "critical", "intrusion_detection", ("info",),
       "failure", "many accounts failing logins from one network",
       also=("authentication",), detection=True),
    _e("secmon_privilege_probe", "critical", "intrusion_detection", ("info",),
       "failure", "repeated access denials for one user", also=("iam",), detection=True),
    _e("secmon_excess_429", "warning", "intrusion_detection", ("info",), "failure",
       "repeated rate-limit hits from one address", also=("web",), detection=True),
)

VOCABULARY: dict[str, EventSpec] = {spec.name: spec for spec in _VOCABULARY}


def lookup(name: str) -> EventSpec:
    """Return the spec for ``name``; an unknown name raises with the closest known ones."""
    try:
        return VOCABULARY[name]
    except (KeyError, TypeError):
        raise _unknown(name) from None


def _unknown(name: object) -> UnknownEventError:
    if not isinstance(name, str):
        return UnknownEventError(f"event type must be a str, not {type(name).__name__}")
    if ":" in name:
        return UnknownEventError(
            f"unknown event type {name!r}: pass parameters as fields, not in the name "
            f"(e.g. emit({name.split(':', 1)[0]!r}, user_id=...))"
        )
    close = difflib.get_close_matches(name, VOCABULARY, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return UnknownEventError(f"unknown event type {name!r}{hint}")


def register(spec: EventSpec) -> EventSpec:
    """Add an application-specific event name (it must not shadow a vocabulary name)."""
    if spec.name in VOCABULARY and VOCABULARY[spec.name] != spec:
        raise ValueError(f"event type {spec.name!r} is already defined")
    if spec.level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {spec.level!r}")
    if spec.outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {spec.outcome!r}")
    VOCABULARY[spec.name] = spec
    return spec
