"""A successful login after failures for the same account: ``authn_login_successafterfail``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..state import Hit, Op, Take
from . import options as opt
from .rule import (
    MAX_HITS_PER_KEY,
    USER_FIELDS,
    Detection,
    Rule,
    format_duration,
    subject_of,
)


class SuccessAfterFail(Rule):
    """Counts failed logins per user; a success takes the count and, from ``threshold`` on,
    logs ``authn_login_successafterfail`` with it. From ``alert_threshold`` failures on the
    success also raises an alert: that is what a guessed password looks like.
    """

    name = "success_after_fail"
    event_type = "authn_login_successafterfail"
    triggers = frozenset({"authn_login_fail", "authn_login_success"})
    keys = ("user",)
    defaults = {"threshold": 1, "window": 3600.0, "alert_threshold": 5}
    converters = {"alert_threshold": opt.positive_int}
    throttle_event = False  # every such login is worth a line in the log

    def ops(self, event: Mapping[str, Any]) -> Sequence[Op]:
        fields = self.key_fields(event)
        if fields is None:
            return ()
        key = self.state_key(subject_of(fields))
        if event.get("event_type") == "authn_login_fail":
            return (Hit(key, self.window, None, MAX_HITS_PER_KEY),)
        return (Take(key, self.window),)

    def judge(
        self, event: Mapping[str, Any], ops: Sequence[Op], results: Sequence[Any]
    ) -> Detection | None:
        if not isinstance(ops[0], Take) or results[0] < self.threshold:
            return None
        count: int = results[0]
        fields = self.key_fields(event) or {}
        subject = subject_of(fields)
        # The login event of its own: who logged in, by every name the success carried.
        fields.update({name: event[name] for name in USER_FIELDS if event.get(name) is not None})
        summary = (
            f"login succeeded after {count} failed logins in the last "
            f"{format_duration(self.window)} ({subject})"
        )
        fields.update(count=count, threshold=self.threshold, window=self.window)
        return Detection(subject, summary, fields, alert=count >= self.options["alert_threshold"])
