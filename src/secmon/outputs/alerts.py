"""Alert destinations: Slack incoming webhooks, PagerDuty Events API v2, signed JSON webhooks."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import orjson

from .. import formats
from .._version import __version__
from ..alert import Alert
from ..config import ConfigError
from ..events import lookup
from .base import EventFilter
from .queued import GiveUp, QueuedOutput, RetryLater
from .spool import Entry, Rejected, SpoolLimits

if TYPE_CHECKING:
    from ..config import Settings
    from ..events import EventSpec

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
SIGNATURE_HEADER = "X-Secmon-Signature"
# Options that are secrets: never shown in errors, reprs or stats.
SECRET_OPTIONS = frozenset({"url", "routing_key", "secret"})

_FILTER_OPTIONS = frozenset({"type", "name", "categories", "min_level", "event_types"})
_DELIVERY_OPTIONS = frozenset({"timeout", "max_retries", "max_queue", "rate_limit", "backoff"})
_SLACK_ICONS = {
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
}


class AlertOutput(QueuedOutput):
    """An HTTP alert destination: a bounded queue and a worker thread that POSTs each alert.

    2xx is delivered; 429, 408 and 5xx are retried with exponential backoff and
    jitter (``Retry-After`` honoured); other answers are given up on. The destination
    URL and keys stay inside this object: errors name the HTTP status, never the URL.
    """

    type_name = "webhook"
    default_rate: ClassVar[float] = 10.0  # alerts per second, per destination

    def __init__(self, *, url: str, timeout: float = 5.0, **kwargs: Any) -> None:
        # The URL is a secret: the target names the host only; the spool file hashes it.
        super().__init__(batch_size=1, target=f"{self.type_name} {httpx.URL(url).host}",
                         spool_key=url, **kwargs)
        self._url = url
        self.timeout = timeout
        self.report: Callable[[str, BaseException], None] | None = None
        self._http: httpx.Client | None = None
        self._http_pid = -1

    # -- request path ---------------------------------------------------------------------

    def wants(self, alert: Alert, spec: EventSpec) -> bool:
        return self.accepts({"level": alert.severity}, spec, False)

    def send(self, alert: Alert) -> bool:
        """Queue ``alert`` for delivery; False if the queue is full (counted as dropped)."""
        return self.enqueue(alert)

    def to_spool(self, item: Any) -> Entry:
        return Entry("a", orjson.dumps(item.to_dict()))

    def from_spool(self, entry: Entry) -> Any:
        if entry.kind != "a":
            raise Rejected(f"not an alert: {entry.kind!r}")
        return Alert(**orjson.loads(entry.data))

    def handle(self, event: dict[str, Any], rendered: dict[int, bytes]) -> None:
        raise TypeError("alert destinations take Alerts (configure them in ALERTS)")

    # -- worker ---------------------------------------------------------------------------

    def request(self, alert: Alert) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one delivery."""
        raise NotImplementedError

    def deliver(self, batch: list[Any]) -> None:
        for alert in batch:
            body, headers = self.request(alert)
            self._post(body, headers)

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        try:
            response = self._client().post(self._url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise RetryLater("timed out") from None
        except httpx.HTTPError as exc:
            raise RetryLater(type(exc).__name__) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (408, 429) or status >= 500:
            after = retry_after(response.headers.get("retry-after"))
            raise RetryLater(f"HTTP {status}", after=after)
        failure = GiveUp(f"HTTP {status}: {response.text[:200]}")
        self.on_failure(failure)
        raise failure

    def _client(self) -> httpx.Client:
        if self._http is None or self._http_pid != os.getpid():
            self._http = httpx.Client(
                timeout=self.timeout,
                headers={"user-agent": f"secmon/{__version__}"},
                follow_redirects=False,
            )
            self._http_pid = os.getpid()
        return self._http

    def on_failure(self, exc: BaseException) -> None:
        if self.report is not None:
            self.report(f"alert.{self.name}", exc)

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        if self._http is not None and self._http_pid == os.getpid():
            self._http.close()


class WebhookOutput(AlertOutput):
    """Any HTTPS endpoint: the alert as JSON, signed ``X-Secmon-Signature: sha256=<hex>``.

    The signature is HMAC-SHA256 over the exact body bytes with the shared ``secret``;
    the receiver recomputes it and compares in constant time.
    """

    type_name = "webhook"
    default_rate = 10.0

    def __init__(self, *, secret: bytes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._secret = secret

    def request(self, alert: Alert) -> tuple[bytes, dict[str, str]]:
        body = orjson.dumps(alert.to_dict(), option=orjson.OPT_SORT_KEYS)
        return body, {
            "content-type": "application/json",
            SIGNATURE_HEADER: "sha256=" + sign(self._secret, body),
            "x-secmon-alert-id": alert.id,
        }


class SlackOutput(AlertOutput):
    """A Slack incoming webhook: ``text`` for notifications plus Block Kit ``blocks``."""

    type_name = "slack"
    default_rate = 1.0  # Slack allows about one message per second per webhook

    def request(self, alert: Alert) -> tuple[bytes, dict[str, str]]:
        return orjson.dumps(slack_message(alert)), {"content-type": "application/json"}


class PagerDutyOutput(AlertOutput):
    """PagerDuty Events API v2: a ``trigger`` per alert, deduplicated by (rule, subject)."""

    type_name = "pagerduty"
    default_rate = 2.0  # the Events API accepts about 120 events a minute per routing key

    def __init__(self, *, routing_key: str, source: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._routing_key = routing_key
        self.source = source

    def request(self, alert: Alert) -> tuple[bytes, dict[str, str]]:
        body = orjson.dumps(pagerduty_event(alert, self._routing_key, self.source))
        return body, {"content-type": "application/json"}


# -- payloads -------------------------------------------------------------------------------


def sign(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def _slack_escape(value: Any, limit: int) -> str:
    # Slack reads <...> as links and mentions (<!channel>): event text must not.
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_message(alert: Alert) -> dict[str, Any]:
    """An incoming-webhook message: fallback ``text`` and header/section/fields/context blocks."""
    title = f"{alert.severity.upper()}: {lookup(alert.event_type).summary}"
    details = alert.details
    facts = [
        ("Rule", alert.rule),
        ("Severity", alert.severity),
        ("Subject", alert.subject),
        ("Count", details.get("count")),
        ("Threshold", details.get("threshold")),
        ("Source IP", details.get("source_ip")),
        ("Reason", details.get("reason")),
        ("App", f"{alert.app} ({alert.environment})"),
    ]
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{_slack_escape(value, 1900)}"}
        for label, value in facts
        if value is not None
    ][:10]
    context = f"{alert.timestamp} · `{alert.event_type}` · dedup `{alert.dedup_key}`"
    return {
        "text": _slack_escape(f"{_SLACK_ICONS[alert.severity]} [{alert.severity}] {alert.summary}",
                              3000),
        "blocks": [
            {"type": "header",
             "text": {"type": "plain_text", "text": _clip(title, 150), "emoji": True}},
            {"type": "section",
             "text": {"type": "mrkdwn", "text": _slack_escape(alert.summary, 3000)}},
            {"type": "section", "fields": fields},
            {"type": "context",
             "elements": [{"type": "mrkdwn", "text": _slack_escape(context, 3000)}]},
        ],
    }


def pagerduty_event(alert: Alert, routing_key: str, source: str) -> dict[str, Any]:
    """An Events API v2 ``trigger``; secmon levels are PagerDuty's severities by name."""
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.dedup_key[:255],
        "client": "secmon",
        "payload": {
            "summary": _clip(alert.summary, 1024),
            "source": source,
            "severity": alert.severity,
            "timestamp": alert.timestamp,
            "component": alert.app,
            "group": alert.environment,
            "class": alert.event_type,
            "custom_details": {
                "alert_id": alert.id,
                "rule": alert.rule,
                "subject": alert.subject,
                **alert.details,
            },
        },
    }


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


# -- building from ALERTS ---------------------------------------------------------------------


def _url(key: str, value: Any) -> str:
    # The value is a secret: errors describe it, never echo it.
    if not isinstance(value, str) or not value:
        raise ConfigError(key, "required: the destination URL")
    try:
        url = httpx.URL(value)
    except Exception:
        raise ConfigError(key, "not a valid URL (value not shown)") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(key, "expected an http:// or https:// URL (value not shown)")
    return value


def _secret(key: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"required: {what}")
    return str(value)


def _number(key: str, value: Any, *, integer: bool = False, zero: bool = False) -> Any:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0 or (
        value == 0 and not zero
    ):
        raise ConfigError(key, f"expected a {'non-negative' if zero else 'positive'} "
                               f"{'integer' if integer else 'number'}, got {value!r}")
    return value


_TYPES: dict[str, tuple[type[AlertOutput], frozenset[str]]] = {
    "webhook": (WebhookOutput, frozenset({"url", "secret"})),
    "slack": (SlackOutput, frozenset({"url"})),
    "pagerduty": (PagerDutyOutput, frozenset({"url", "routing_key", "source"})),
}


def build_alert(key: str, spec: Mapping[str, Any], settings: Settings) -> AlertOutput:
    """One alert destination from its ``ALERTS`` entry; errors name the key, never a secret."""
    kind = spec.get("type")
    if kind not in _TYPES:
        raise ConfigError(
            f"{key}.type", f"unknown alert destination {kind!r} (known: {', '.join(_TYPES)})"
        )
    cls, own = _TYPES[kind]
    allowed = _FILTER_OPTIONS | _DELIVERY_OPTIONS | own
    for option in spec:
        if option not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(f"{key}.{option}", f"unknown option (allowed: {known})")
    name = spec.get("name") or kind
    if not isinstance(name, str):
        raise ConfigError(f"{key}.name", "expected a string")
    common: dict[str, Any] = {
        "name": name,
        "renderer": formats.get("json"),
        "accepts": EventFilter.from_spec(key, spec),
        "timeout": float(_number(f"{key}.timeout", spec.get("timeout", 5.0))),
        "max_retries": _number(f"{key}.max_retries", spec.get("max_retries", 5), integer=True,
                               zero=True),
        "max_queue": _number(f"{key}.max_queue", spec.get("max_queue", 1000), integer=True),
        "rate_per_second": float(_number(f"{key}.rate_limit",
                                         spec.get("rate_limit", cls.default_rate))),
        "backoff_base": float(_number(f"{key}.backoff", spec.get("backoff", 1.0))),
        "backoff_max": 60.0,
        "spool": SpoolLimits.from_settings(settings),
    }
    if cls is WebhookOutput:
        secret = _secret(f"{key}.secret", spec.get("secret"), "the HMAC key that signs deliveries")
        return WebhookOutput(url=_url(f"{key}.url", spec.get("url")), secret=secret.encode(),
                             **common)
    if cls is SlackOutput:
        return SlackOutput(url=_url(f"{key}.url", spec.get("url")), **common)
    source = spec.get("source") or socket.gethostname()
    if not isinstance(source, str):
        raise ConfigError(f"{key}.source", "expected a string")
    return PagerDutyOutput(
        url=_url(f"{key}.url", spec.get("url", PAGERDUTY_URL)),
        routing_key=_secret(f"{key}.routing_key", spec.get("routing_key"),
                            "the integration's routing key"),
        source=source,
        **common,
    )


def not_an_output(key: str, spec: Mapping[str, Any], settings: Settings) -> QueuedOutput:
    """OUTPUTS entries of an alert type: they belong in ALERTS (they take Alerts, not events)."""
    raise ConfigError(
        f"{key}.type",
        f"{spec.get('type')!r} is an alert destination: list it in ALERTS, not OUTPUTS",
    )
