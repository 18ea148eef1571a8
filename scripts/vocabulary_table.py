"""Print the README's event vocabulary table from secmon.events.VOCABULARY.

    .venv/bin/python scripts/vocabulary_table.py            # print the table
    .venv/bin/python scripts/vocabulary_table.py --write    # replace it in README.md

tests/test_readme.py fails when the README's table differs from what this prints, so a
new event name cannot ship undocumented.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from secmon.events import VOCABULARY

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- vocabulary:begin (scripts/vocabulary_table.py --write) -->"
END = "<!-- vocabulary:end -->"

APP = "your code: "
DETECTION = "detection rule (any framework): "

# name -> what makes the event fire: (Django, Flask, ASGI/FastAPI), or one text when every
# framework gets it the same way.
WHEN: dict[str, tuple[str, str, str] | str] = {
    "authn_login_success": ("`user_logged_in` signal",
                            "Flask-Login / Flask-Security login signal",
                            f"{APP}`secmon.login_succeeded()`"),
    "authn_login_successafterfail": DETECTION + "a login succeeds after failures "
                                    "(`success_after_fail`)",
    "authn_login_fail": ("`user_login_failed` signal", f"Flask-Security signal, else {APP}"
                         "`secmon.login_failed()`", f"{APP}`secmon.login_failed()`"),
    "authn_login_fail_max": DETECTION + "5 failures for one user from one address in 15 min "
                            "(`brute_force`)",
    "authn_login_lock": f"{APP}`secmon.emit()` when the app locks an account (e.g. from "
                        "`LOCKOUT_HOOK`)",
    "authn_password_change": ("user's password saved", "Flask-Security password changed or reset",
                              f"{APP}`secmon.emit()`"),
    "authn_password_change_fail": f"{APP}`secmon.emit()`",
    "authn_impossible_travel": DETECTION + "a login too far from the previous one for the time "
                               "between, or from a new country (`impossible_travel`; needs "
                               "`GEOIP_DATABASE` or `GEO_RESOLVER`)",
    "authn_token_created": f"{APP}`secmon.emit()`",
    "authn_token_revoked": f"{APP}`secmon.emit()`",
    "authn_token_reuse": f"{APP}`secmon.emit()`",
    "authn_token_delete": f"{APP}`secmon.emit()`",
    "authz_fail": ("`PermissionDenied`, a 401/403 response, DRF permission errors",
                   "a 401/403 response, Flask-Login `unauthorized`",
                   "a 401/403 response"),
    "authz_change": ("user added to / removed from a group", f"{APP}`secmon.audit()`",
                     f"{APP}`secmon.audit()`"),
    "authz_admin": ("a Django admin action (its `LogEntry`)", f"{APP}`secmon.audit()`",
                    f"{APP}`secmon.audit()`"),
    "crypt_decrypt_fail": f"{APP}`secmon.emit()`",
    "crypt_encrypt_fail": f"{APP}`secmon.emit()`",
    "excess_rate_limit_exceeded": ("django-ratelimit `Ratelimited`, DRF throttling, a 429",
                                   "Flask-Limiter refusal (429)", "a 429 (slowapi, ...)"),
    "upload_complete": "every uploaded file (multipart), inspected before the view runs",
    "upload_stored": f"{APP}`secmon.emit()`",
    "upload_validation": "an upload whose bytes, name and declared type disagree, an "
                         "executable, a double extension, or a 413",
    "upload_delete": f"{APP}`secmon.emit()`",
    "input_validation_fail": ("a 400/422, `SuspiciousOperation`, `django.security` records "
                              "(CSRF, DisallowedHost), `SecurityFormMixin`, DRF validation",
                              "a 400/422, CSRF failures", "a 400/422; field names with "
                              "`install_validation_handler(app)`"),
    "input_validation_discrete_fail": f"{APP}`secmon.emit()`",
    "malicious_excess_404": DETECTION + "20 not-found responses to one address in a minute "
                            "(`excess_404`)",
    "malicious_extraneous": f"{APP}`secmon.emit()`",
    "malicious_attack_tool": f"{APP}`secmon.emit()`",
    "malicious_cors": f"{APP}`secmon.emit()`",
    "malicious_direct_reference": f"{APP}`secmon.emit()`",
    "privilege_permissions_changed": ("permissions of a user or group changed",
                                      f"{APP}`secmon.audit()`", f"{APP}`secmon.audit()`"),
    "sensitive_create": f"{APP}`secmon.emit()`",
    "sensitive_read": ("`@sensitive_read` views, `SensitiveQuerySet` managers",
                       f"{APP}`secmon.sensitive_read()`", f"{APP}`secmon.sensitive_read()`"),
    "sensitive_update": f"{APP}`secmon.emit()`",
    "sensitive_delete": f"{APP}`secmon.emit()`",
    "sequence_fail": f"{APP}`secmon.emit()`",
    "session_created": ("login (a new session)", f"{APP}`secmon.emit()`",
                        f"{APP}`secmon.emit()`"),
    "session_renewed": ("login into an existing session", "Flask-Login remember cookie, "
                        "session protection", f"{APP}`secmon.emit()`"),
    "session_expired": ("`user_logged_out` signal", "Flask-Login logout, session protection",
                        f"{APP}`secmon.logged_out()`"),
    "session_use_after_expire": f"{APP}`secmon.emit()`",
    "sys_startup": f"{APP}`secmon.emit()`",
    "sys_shutdown": f"{APP}`secmon.emit()`",
    "sys_restart": f"{APP}`secmon.emit()`",
    "sys_crash": f"{APP}`secmon.emit()`",
    "sys_monitor_disabled": "secmon itself: an output cannot write, or the Redis state "
                            "backend is unreachable (detection fails open), or, once at "
                            "startup in production, no `AUDIT_KEY` signs the audit trail",
    "sys_monitor_enabled": "secmon itself: the output or state backend is back (how many "
                           "records waited, and lists audit records lost meanwhile)",
    "user_created": ("a user saved for the first time", "Flask-Security registration",
                     f"{APP}`secmon.audit()`"),
    "user_updated": ("a user's flags or fields changed", "Flask-Security account changes "
                     "(e-mail, 2FA, ...)", f"{APP}`secmon.audit()`"),
    "user_archived": f"{APP}`secmon.audit()`",
    "user_deleted": ("a user deleted", f"{APP}`secmon.audit()`", f"{APP}`secmon.audit()`"),
    "secmon_app_exception": "an unhandled exception in a view (sanitized stack; the "
                            "framework's own handling is unchanged)",
    "secmon_internal_error": "secmon itself failed somewhere (the request was not affected)",
    "secmon_audit_record": f"{APP}`secmon.audit(\"your_action\", ...)` with an action "
                           "outside the vocabulary",
    "secmon_distributed_brute_force": DETECTION + "failed logins for one user from 10 "
                                      "addresses in an hour (`distributed_brute_force`)",
    "secmon_credential_stuffing": DETECTION + "failed logins for 20 users from one address "
                                  "or network in an hour (`credential_stuffing`)",
    "secmon_privilege_probe": DETECTION + "10 access denials for one user in an hour "
                              "(`privilege_probe`)",
    "secmon_excess_429": DETECTION + "10 rate-limit refusals for one address in 5 min "
                         "(`excess_429`)",
}


def rows() -> list[str]:
    missing = sorted(set(VOCABULARY) - set(WHEN))
    if missing:
        raise SystemExit(f"describe when these fire in scripts/vocabulary_table.py: {missing}")
    lines = ["| event | level | category | when it fires |", "| --- | --- | --- | --- |"]
    for name, spec in VOCABULARY.items():
        when = WHEN[name]
        if isinstance(when, tuple):
            when = "<br>".join(f"**{framework}**: {cell}" for framework, cell in
                               zip(("Django", "Flask", "ASGI"), when, strict=True))
        signed = " (audit, signed)" if spec.audit else ""
        lines.append(f"| `{name}` | {spec.level} | {spec.category}{signed} | {when} |")
    return lines


def table() -> str:
    return "\n".join([BEGIN, *rows(), END])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = parser.parse_args()
    if not args.write:
        print(table())
        return 0
    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    README.write_text(text[:start] + table() + text[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
