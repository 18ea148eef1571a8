"""Alert destinations against a local HTTP server posing as Slack, PagerDuty or a webhook."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import pytest

import secmon
from secmon.config import ConfigError, Settings
from secmon.detect import Alert
from secmon.events import lookup
from secmon.outputs.alerts import AlertOutput, build_alert, retry_after
from secmon.testing import capture_events

from ..detect.conftest import fail_login
from ..detect.receiver import Receiver, Reply, running_receiver

SETTINGS = Settings.build(env={}, app_name="shop", environment="test")
SLACK_PATH = "/services/T0SECRET/B0SECRET/XXXXsecrettokenXXXX"
ROUTING_KEY = "R0UT1NGKEYsecret00000000000000000"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


def make_alert(severity: str = "warning", subject: str = "username_hash=ab12 source_ip=192.0.2.1",
               **details: Any) -> Alert:
    return Alert(
        id="a1b2c3", rule="brute_force", event_type="authn_login_fail_max", severity=severity,
        summary=f"login failure limit reached: 5 failed logins in 15m ({subject})",
        subject=subject, dedup_key="secmon/shop/brute_force/0123456789abcdef",
        timestamp="2026-03-01T12:00:00.000000Z", app="shop", environment="test",
        details={"count": 5, "threshold": 5, "window": 900.0, "source_ip": "192.0.2.1", **details},
    )


def deliver(spec: dict[str, Any], *alerts: Alert, timeout: float = 30.0) -> AlertOutput:
    built = build_alert("ALERTS[0]", spec, SETTINGS)
    for alert in alerts:
        built.send(alert)
    built.flush(timeout)
    built.close(timeout=0.1)
    return built


def fast(spec: dict[str, Any]) -> dict[str, Any]:
    """Delivery settings for tests: short timeouts, tiny backoff, no rate limit to speak of."""
    return {"timeout": 0.5, "backoff": 0.01, "rate_limit": 1000, **spec}


# -- payload formats ------------------------------------------------------------------------


def test_slack_incoming_webhook_payload(receiver: Receiver) -> None:
    hostile = "username=<!channel> & <https://evil.example|click>"
    built = deliver({"type": "slack", "url": receiver.url + SLACK_PATH},
                    make_alert("critical", subject=hostile))
    [request] = receiver.wait_for(1)
    assert request.path == SLACK_PATH
    assert request.headers["content-type"] == "application/json"
    message = request.json()
    assert set(message) == {"text", "blocks"}
    assert "[critical]" in message["text"]
    header, summary, facts, context = message["blocks"]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= 150
    assert summary["type"] == "section"
    assert summary["text"]["type"] == "mrkdwn"
    assert facts["type"] == "section"
    assert 1 <= len(facts["fields"]) <= 10
    assert all(f["type"] == "mrkdwn" and len(f["text"]) <= 2000 for f in facts["fields"])
    assert context["type"] == "context"
    assert context["elements"][0]["type"] == "mrkdwn"
    # Text from the attacker cannot mention the channel or make links.
    text = orjson.dumps(message).decode()
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in summary["text"]["text"]
    assert built.stats() == {"enqueued": 1, "sent": 1, "retried": 0, "dropped": 0, "spooled": 0}


@pytest.mark.parametrize("severity", ["critical", "error", "warning", "info"])
def test_pagerduty_events_v2_payload(receiver: Receiver, severity: str) -> None:
    receiver.default = Reply(202, b'{"status":"success","message":"Event processed"}')
    deliver({"type": "pagerduty", "url": receiver.url + "/v2/enqueue", "routing_key": ROUTING_KEY,
             "source": "web-1.example.com"}, make_alert(severity))
    [request] = receiver.wait_for(1)
    assert request.path == "/v2/enqueue"
    event = request.json()
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "secmon/shop/brute_force/0123456789abcdef"
    payload = event["payload"]
    assert payload["severity"] == severity
    assert payload["source"] == "web-1.example.com"
    assert payload["summary"].startswith("login failure limit reached")
    assert len(payload["summary"]) <= 1024
    datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
    assert payload["custom_details"]["count"] == 5
    assert payload["custom_details"]["rule"] == "brute_force"


def test_generic_webhook_is_signed(receiver: Receiver) -> None:
    deliver({"type": "webhook", "url": receiver.url + "/hook", "secret": "shared-secret"},
            make_alert())
    [request] = receiver.wait_for(1)
    expected = hmac.new(b"shared-secret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-secmon-signature"] == f"sha256={expected}"
    body = request.json()
    assert body["rule"] == "brute_force"
    assert body["details"]["count"] == 5
    assert request.headers["x-secmon-alert-id"] == body["id"]


# -- delivery: retries, Retry-After, hangs, rate limits ----------------------------------


def test_server_errors_are_retried(receiver: Receiver) -> None:
    receiver.script(Reply(500), Reply(503))
    built = deliver(fast({"type": "webhook", "url": receiver.url, "secret": "s"}), make_alert())
    assert len(receiver.wait_for(3)) == 3
    assert built.stats() == {"enqueued": 1, "sent": 1, "retried": 2, "dropped": 0, "spooled": 0}


def test_429_waits_as_long_as_retry_after_says(receiver: Receiver) -> None:
    receiver.script(Reply(429, headers={"Retry-After": "1"}))
    built = deliver(fast({"type": "slack", "url": receiver.url}), make_alert())
    first, second = receiver.wait_for(2)
    assert second.at - first.at >= 0.9  # the backoff alone would have been ~10 ms
    assert built.stats()["sent"] == 1
    assert built.stats()["retried"] == 1


def test_a_hanging_server_costs_the_request_nothing(receiver: Receiver) -> None:
    receiver.script(*[Reply(delay=2.0)] * 3)  # the first alert: every attempt hangs
    built = build_alert("ALERTS[0]", fast({"type": "pagerduty", "url": receiver.url,
                                           "routing_key": ROUTING_KEY, "timeout": 0.2,
                                           "max_retries": 2}), SETTINGS)
    started = time.perf_counter()
    first, second = make_alert(subject="first"), make_alert(subject="second")
    built.send(first)
    built.send(second)
    assert time.perf_counter() - started < 0.5  # queued, not sent, on the request path
    built.spool.retry = (0.05, 0.1)
    deadline = time.monotonic() + 30
    while built.stats()["sent"] < 2:  # the first waits in the spool, the second behind it
        assert time.monotonic() < deadline, built.stats()
        time.sleep(0.05)
    stats = built.stats()
    built.close(timeout=0.1)
    assert stats["retried"] == 2
    assert stats["sent"] == stats["enqueued"] == 2 and stats["dropped"] == 0
    delivered = [r.json()["payload"]["summary"] for r in receiver.requests][-2:]
    assert delivered == [first.summary, second.summary]  # in order


def test_client_errors_are_not_retried_and_are_reported(receiver: Receiver) -> None:
    receiver.script(Reply(404, b"no_service"))
    reported: list[tuple[str, BaseException]] = []
    built = build_alert("ALERTS[0]", fast({"type": "slack", "url": receiver.url + SLACK_PATH}),
                        SETTINGS)
    built.report = lambda where, exc: reported.append((where, exc))
    built.send(make_alert())
    built.flush(10)
    built.close(timeout=0.1)
    assert len(receiver.requests) == 1
    assert built.stats() == {"enqueued": 1, "sent": 0, "retried": 0, "dropped": 1, "spooled": 0}
    [(where, exc)] = reported
    assert where == "alert.slack"
    assert "404" in str(exc) and "no_service" in str(exc)
    assert "secret" not in str(exc)


def test_rate_limit_per_destination(receiver: Receiver) -> None:
    deliver(fast({"type": "webhook", "url": receiver.url, "secret": "s", "rate_limit": 4}),
            *[make_alert() for _ in range(5)])
    requests = receiver.wait_for(5)
    # 4 gaps of 1/4 s (less the first connection setup); unpaced, all 5 take milliseconds.
    assert requests[-1].at - requests[0].at >= 0.7


def test_a_full_queue_drops_and_counts(receiver: Receiver) -> None:
    receiver.default = Reply(delay=0.3)
    built = build_alert("ALERTS[0]", fast({"type": "webhook", "url": receiver.url, "secret": "s",
                                           "max_queue": 2}), SETTINGS)
    for _ in range(10):
        built.send(make_alert())
    built.flush(30)
    stats = built.stats()
    built.close(timeout=0.1)
    assert stats["dropped"] >= 7
    assert stats["sent"] + stats["dropped"] == stats["enqueued"] == 10


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), ("0", 0.0), (None, None), ("soon", None), ("-3", 0.0)],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert retry_after(value) == seconds


def test_retry_after_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = retry_after(later)
    assert wait is not None and 25 < wait <= 31


# -- through the pipeline: flush, exit, secrets ------------------------------------------


def test_flush_delivers_detection_alerts(receiver: Receiver) -> None:
    pipeline = secmon.configure(
        environment="test", outputs=["stderr"], detection={"brute_force": {"threshold": 2}},
        alerts=[{"type": "slack", "url": receiver.url + SLACK_PATH}],
    )
    fail_login("alice")
    fail_login("alice")
    secmon.flush(timeout=10)
    [request] = receiver.requests
    assert "login failure limit reached" in request.json()["text"]
    assert pipeline.stats()["alert.slack.sent"] == 1


def test_interpreter_exit_delivers_what_is_queued(receiver: Receiver) -> None:
    script = textwrap.dedent(f"""
        import secmon
        from secmon.context import RequestContext, request_context
        secmon.configure(environment="test", outputs=["stderr"],
                         detection={{"brute_force": {{"threshold": 1}}}},
                         alerts=[{{"type": "webhook", "url": "{receiver.url}/exit",
                                  "secret": "s"}}])
        with request_context(RequestContext(method="POST", path="/login", peer="192.0.2.1")):
            secmon.login_failed(username="alice")
        # no flush: the exit handler delivers
    """)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60,
                   capture_output=True)
    assert time.monotonic() - started < 30
    [request] = receiver.requests
    assert request.path == "/exit"
    assert request.json()["rule"] == "brute_force"


def test_secrets_never_reach_logs_errors_reprs_or_stats(
    receiver: Receiver, capfd: pytest.CaptureFixture[str]
) -> None:
    receiver.default = Reply(500, b"internal error")
    with capture_events() as events:
        pipeline = secmon.configure(
            environment="test", outputs=["stderr"],
            detection={"brute_force": {"threshold": 1}},
            alerts=[
                {"type": "slack", "url": receiver.url + SLACK_PATH, "max_retries": 1,
                 "backoff": 0.01, "timeout": 0.5},
                {"type": "pagerduty", "url": receiver.url + "/pd", "routing_key": ROUTING_KEY,
                 "max_retries": 1, "backoff": 0.01, "timeout": 0.5},
                {"type": "webhook", "url": receiver.url + "/hook?token=q5ecretq",
                 "secret": "hmac-s3cret", "max_retries": 1, "backoff": 0.01, "timeout": 0.5},
            ],
        )
        fail_login("alice")
        secmon.flush(timeout=20)
        stats = pipeline.stats()
        shown = [repr(pipeline.settings), str(pipeline.settings.public_dict()),
                 repr(pipeline.engine), *(repr(o) for o in pipeline.engine.alerts)]  # type: ignore[union-attr]
    assert stats["alert.slack.spooled"] == 1 and stats["alert.slack.dropped"] == 0
    pipeline.close()  # the alerts that could not go out are told of, and lost
    captured = capfd.readouterr()
    everything = "\n".join([captured.out, captured.err, str(stats), *shown,
                            orjson.dumps(list(events)).decode()])
    assert "HTTP 500" in captured.err  # the failure is reported ...
    assert "output slack exits with 1 records it could not write to slack 127.0.0.1" in \
        captured.err
    for secret in ("T0SECRET", "XXXXsecrettokenXXXX", ROUTING_KEY, "q5ecretq", "hmac-s3cret"):
        assert secret not in everything  # ... without the secret


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"type": "slack"}, "ALERTS[0].url"),
        ({"type": "slack", "url": "ftp://hooks.example/XYZsecret"}, "ALERTS[0].url"),
        ({"type": "slack", "url": "https://hooks.example/x", "channel": "#sec"},
         "ALERTS[0].channel"),
        ({"type": "webhook", "url": "https://hooks.example/x"}, "ALERTS[0].secret"),
        ({"type": "pagerduty"}, "ALERTS[0].routing_key"),
        ({"type": "pagerduty", "routing_key": "k", "timeout": -1}, "ALERTS[0].timeout"),
        ({"type": "pagerduty", "routing_key": "k", "rate_limit": 0}, "ALERTS[0].rate_limit"),
        ({"type": "webhook", "url": "https://x.example", "secret": "s", "min_level": "loud"},
         "ALERTS[0].min_level"),
        ({"type": "teams", "url": "https://x.example"}, "ALERTS[0].type"),
    ],
)
def test_bad_alert_settings_name_the_key(spec: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        secmon.configure(alerts=[spec], outputs=["stderr"])
    assert caught.value.key == key
    assert "XYZsecret" not in str(caught.value)


def test_destinations_filter_by_level() -> None:
    built = build_alert("ALERTS[0]", {"type": "slack", "url": "https://hooks.example/x",
                                      "min_level": "critical"}, SETTINGS)
    assert built.wants(make_alert("critical"), lookup("authn_login_fail_max"))
    assert not built.wants(make_alert("warning"), lookup("authn_login_fail_max"))
