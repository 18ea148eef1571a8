"""What every detection rule shares: options, keys (who or where), and sliding-window counting."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import ConfigError
from ..events import lookup
from ..state import Hit, Op
from . import options as opt

if TYPE_CHECKING:
    from ..config import Settings

# The fields that name a user, best first: failures and successes of one account
# correlate through the first one the events carry.
USER_FIELDS = ("username_hash", "username", "user_id")
# Counts saturate here (exact below); distinct-member windows keep a few times the threshold.
MAX_HITS_PER_KEY = 10_000


def digest(text: str) -> str:
    """A short fixed-size name for a key: state keys never hold a raw username or address."""
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=12).hexdigest()


def member(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).digest()


def user_of(event: Mapping[str, Any]) -> tuple[str, Any] | None:
    for name in USER_FIELDS:
        value = event.get(name)
        if value is not None and value != "":
            return name, value
    return None


def network_of(ip: str, ipv4_prefix: int, ipv6_prefix: int) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = ipv4_prefix if address.version == 4 else ipv6_prefix
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass
class Detection:
    """A rule fired: the subject it fired for, the count, and the fields its event carries."""

    subject: str
    summary: str
    fields: dict[str, Any] = field(default_factory=dict)
    # False: log the event but raise no alert (e.g. a success after only a few failures).
    alert: bool = True


class Rule:
    """One detection rule. Subclasses set the class attributes and ``ops``/``judge``.

    ``ops(event)`` returns the state updates an event causes (all rules' updates for
    one event go to the state backend together); ``judge(event, ops, results)``
    decides from their results. Both run on the request thread: they must be cheap.
    """

    name: ClassVar[str]
    event_type: ClassVar[str]  # the intrusion-detection event it emits
    triggers: ClassVar[frozenset[str]] = frozenset()  # event types it observes
    signals: ClassVar[frozenset[str]] = frozenset()  # detection signals it observes
    keys: ClassVar[tuple[str, ...]] = ("user",)  # allowed ``key`` values, default first
    defaults: ClassVar[dict[str, Any]] = {}
    converters: ClassVar[dict[str, opt.Converter]] = {}
    # Whether the event itself is deduplicated like its alert (one per subject per throttle).
    throttle_event: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any], settings: Settings) -> None:
        key = f"DETECTION.{self.name}"
        known: dict[str, opt.Converter] = {
            "enabled": opt.flag,
            "window": opt.duration,
            "severity": opt.level,
            "key": opt.choice(*self.keys),
            **self.converters,
        }
        values: dict[str, Any] = {"key": self.keys[0], **self.defaults}
        if "threshold" in self.defaults:
            known["threshold"] = opt.positive_int
        if "network" in self.keys:
            known["ipv4_prefix"] = opt.prefix_length(32)
            known["ipv6_prefix"] = opt.prefix_length(128)
            values.update(ipv4_prefix=24, ipv6_prefix=64)
        for option, raw in options.items():
            if option not in known:
                allowed = ", ".join(sorted(known))
                raise ConfigError(f"{key}.{option}", f"unknown option (allowed: {allowed})")
            values[option] = known[option](f"{key}.{option}", raw)
        self.settings = settings
        self.options = values
        self.threshold: int = values.get("threshold", 1)
        self.window: float = values["window"]
        self.key: str = values["key"]
        self.severity: str = values.get("severity") or lookup(self.event_type).level

    # -- keys -----------------------------------------------------------------------------

    def key_fields(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """The fields that name this rule's subject in ``event``, or None if one is missing."""
        fields: dict[str, Any] = {}
        for part in self.key.split("+"):
            if part == "user":
                user = user_of(event)
                if user is None:
                    return None
                fields[user[0]] = user[1]
            else:
                ip = event.get("source_ip")
                if not ip:
                    return None
                if part == "network":
                    network = network_of(
                        str(ip), self.options["ipv4_prefix"], self.options["ipv6_prefix"]
                    )
                    if network is None:
                        return None
                    fields["source_network"] = network
                else:
                    fields["source_ip"] = ip
        return fields

    def state_key(self, subject: str, kind: str = "") -> str:
        return f"{self.name}{kind}:{digest(subject)}"

    # -- the two steps ----------------------------------------------------------------------

    def ops(self, event: Mapping[str, Any]) -> Sequence[Op]:
        raise NotImplementedError

    def judge(
        self, event: Mapping[str, Any], ops: Sequence[Op], results: Sequence[Any]
    ) -> Detection | None:
        raise NotImplementedError


def subject_of(fields: Mapping[str, Any]) -> str:
    return " ".join(f"{name}={value}" for name, value in fields.items())


class WindowRule(Rule):
    """Fires when a subject's window reaches ``threshold``: events, or distinct members.

    Subclasses name what is counted (``what``) and, for distinct counting, what a
    member is (``distinct``: a key part such as ``"user"`` or ``"ip"``).
    """

    what: ClassVar[str] = "events"
    distinct: ClassVar[str | None] = None

    def __init__(self, options: Mapping[str, Any], settings: Settings) -> None:
        super().__init__(options, settings)
        # Exact up to the threshold always; distinct sets stay small.
        self.cap = max(self.threshold, MAX_HITS_PER_KEY if self.distinct is None else 100)
        if self.distinct is not None:
            self.cap = max(self.cap, 2 * self.threshold)

    def ops(self, event: Mapping[str, Any]) -> Sequence[Op]:
        fields = self.key_fields(event)
        if fields is None:
            return ()
        subject = subject_of(fields)
        value: bytes | None = None
        if self.distinct is not None:
            part = user_of(event) if self.distinct == "user" else ("ip", event.get("source_ip"))
            if part is None or not part[1]:
                return ()
            value = member(f"{part[0]}={part[1]}")
        return (Hit(self.state_key(subject), self.window, value, self.cap),)

    def judge(
        self, event: Mapping[str, Any], ops: Sequence[Op], results: Sequence[Any]
    ) -> Detection | None:
        count, _ = results[0]
        if count < self.threshold:
            return None
        fields = self.key_fields(event) or {}
        subject = subject_of(fields)
        window = format_duration(self.window)
        summary = f"{lookup(self.event_type).summary}: {count} {self.what} in {window} ({subject})"
        fields.update(count=count, threshold=self.threshold, window=self.window)
        return Detection(subject, summary, fields)
