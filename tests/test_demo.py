from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from secmon.demo import DEMO_AUDIT_KEY, SITE_PASSWORD, demo_location
from secmon.demo.clock import ScriptedDay
from secmon.verify import verify_files

from .conftest import read_lines

SECMON = str(Path(sys.executable).parent / "secmon")


@dataclass
class DemoRun:
    directory: Path
    output: str
    returncode: int
    started: float
    seconds: float
    events: list[dict[str, Any]]

    def of(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event_type"] == event_type]


def run_demo(directory: Path, **extra_env: str) -> DemoRun:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SECMON_", "DJANGO_"))} | {"COLUMNS": "160"} | extra_env
    started, clock = time.time(), time.monotonic()
    done = subprocess.run([SECMON, "demo", "--dir", str(directory), "--no-pause"],
                          capture_output=True, text=True, timeout=300, env=env,
                          cwd=directory.parent)
    seconds = time.monotonic() - clock
    events = read_lines(directory / "logs" / "security.log")
    return DemoRun(directory, done.stdout + done.stderr, done.returncode, started, seconds,
                   events)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return run_demo(tmp_path_factory.mktemp("demo") / "demo-output")


def test_the_demo_succeeds_quickly(demo: DemoRun) -> None:
    assert demo.returncode == 0, demo.output
    assert "Traceback" not in demo.output
    assert demo.seconds < 120  # the issue asks for under a minute; generous on a busy machine


def test_each_step_is_shown_with_its_events(demo: DemoRun) -> None:
    for words in ("The site opens", "Alice and the manager log in", "no permission for",
                  "grants alice portal.view_customer", "Brute force", "Credential stuffing",
                  "renamed holiday.jpg", "floods the search API", "used from Sydney",
                  "secmon verify", "INTACT", "MODIFIED", "report.html"):
        assert words in demo.output, words
    assert demo.output.count(" ALERT ") == 5
    assert demo.output.count("-> webhook received the alert") == 5


def test_normal_logins_on_each_app(demo: DemoRun) -> None:
    logins = demo.of("authn_login_success")
    assert {e["app"] for e in logins} == {"django_site", "flask-shop", "fastapi-shop"}
    assert len(demo.of("user_created")) == 3  # the Django site's accounts


def test_brute_force(demo: DemoRun) -> None:
    failures = [e for e in demo.of("authn_login_fail") if e.get("username") == "bob"]
    assert len(failures) == 8 and {e["source_ip"] for e in failures} == {"203.0.113.9"}
    [detection] = demo.of("authn_login_fail_max")
    assert detection["username"] == "bob" and detection["source_ip"] == "203.0.113.9"


def test_credential_stuffing(demo: DemoRun) -> None:
    failures = [e for e in demo.of("authn_login_fail") if e["source_ip"] == "203.0.113.77"]
    assert len({e["username"] for e in failures}) == 24
    [detection] = demo.of("secmon_credential_stuffing")
    assert detection["source_ip"] == "203.0.113.77" and detection["count"] >= 20


def test_admin_page_probing(demo: DemoRun) -> None:
    denials = demo.of("authz_fail")
    assert len(denials) == 12 and {e["app"] for e in denials} == {"django_site"}
    assert {e["path"] for e in denials} >= {"/customers/", "/customers/1/", "/customers/11/"}
    [detection] = demo.of("secmon_privilege_probe")
    assert detection["user_id"] == denials[0]["user_id"]


def test_the_admin_grants_a_permission(demo: DemoRun) -> None:
    granted = [e for e in demo.of("privilege_permissions_changed") if e.get("user_id")]
    [grant] = granted
    assert grant["changes"] == {"permission": {"added": ["portal.view_customer"]}}
    assert grant["source_ip"] == "198.51.100.9"
    assert demo.of("authz_admin")[0]["user_id"] == grant["user_id"]


def test_renamed_executable_upload(demo: DemoRun) -> None:
    [finding] = demo.of("upload_validation")
    assert finding["filename"] == "holiday.jpg"
    assert "executable" in finding["reason"]


def test_rate_limit_flood(demo: DemoRun) -> None:
    refusals = demo.of("excess_rate_limit_exceeded")
    assert len(refusals) == 25 and {e["status"] for e in refusals} == {429}
    [detection] = demo.of("secmon_excess_429")
    assert detection["source_ip"] == "203.0.113.200"


def test_impossible_travel(demo: DemoRun) -> None:
    [travel] = demo.of("authn_impossible_travel")
    assert travel["username"] == "alice"
    assert (travel["previous_country"], travel["country"]) == ("DE", "AU")
    assert demo_location("192.0.2.44") == {"latitude": -33.87, "longitude": 151.21,
                                           "country": "AU"}


def test_alerts_reach_the_webhook(demo: DemoRun) -> None:
    alerts = read_lines(demo.directory / "alerts.jsonl")
    assert Counter(a["rule"] for a in alerts) == Counter(
        ["privilege_probe", "brute_force", "credential_stuffing", "excess_429",
         "impossible_travel"])


def test_the_audit_chain_verifies_and_tampering_is_named(demo: DemoRun) -> None:
    keys = {"k1": DEMO_AUDIT_KEY.encode()}
    report = verify_files([demo.directory / "logs" / "audit.log"], keys)
    assert report.ok and report.chains == 3, report.lines()  # one chain per app's pipeline
    tampered = verify_files([demo.directory / "tamper-check" / "audit.log"], keys)
    assert [f.kind for f in tampered.findings if f.failure] == ["modified"]


def test_the_report_is_written(demo: DemoRun) -> None:
    page = (demo.directory / "report.html").read_text()
    assert page.count('<svg class="chart"') == 4
    assert 'class="state state-intact">INTACT' in page
    assert "secmon_credential_stuffing" in page


def test_events_are_stamped_on_the_scripted_day(demo: DemoRun) -> None:
    stamps = sorted(e["timestamp"] for e in demo.events)
    day = stamps[0][:10]
    assert {stamp[:10] for stamp in stamps} == {day}
    ran = datetime.fromtimestamp(demo.started, timezone.utc).date()
    assert date.fromisoformat(day) == ran - timedelta(days=1)  # yesterday: all in the past
    assert stamps[0] == f"{day}T07:00:00.000000Z" and stamps[-1] < f"{day}T15:00"
    detected = {e["event_type"]: e["timestamp"][11:16] for e in demo.events
                if e["category"] == "intrusion_detection"}
    assert detected == {"secmon_privilege_probe": "09:40", "authn_login_fail_max": "11:02",
                        "secmon_credential_stuffing": "12:20", "secmon_excess_429": "14:41",
                        "authn_impossible_travel": "14:47"}
    alerts = read_lines(demo.directory / "alerts.jsonl")
    assert sorted(a["timestamp"][11:16] for a in alerts) == sorted(detected.values())


def test_rules_see_the_scripted_day(demo: DemoRun) -> None:
    # Berlin at 14:30, Sydney at 14:47: the rule measured the 17 minutes in between.
    [travel] = demo.of("authn_impossible_travel")
    assert travel["elapsed"] == 17 * 60 and travel["distance_km"] == 16095
    assert "16095 km in 17m" in travel["event"] and "16095 km in 17m" in demo.output
    # bob's eight wrong passwords fall within the brute-force window
    failures = sorted(e["timestamp"] for e in demo.of("authn_login_fail")
                      if e.get("username") == "bob")
    [brute_force] = demo.of("authn_login_fail_max")
    spread = datetime.fromisoformat(failures[-1][:19]) - datetime.fromisoformat(failures[0][:19])
    assert timedelta(0) < spread < timedelta(seconds=brute_force["window"])


def test_the_report_spans_the_scripted_day(demo: DemoRun) -> None:
    page = (demo.directory / "report.html").read_text()
    day = min(e["timestamp"] for e in demo.events)[:10]
    assert f"<p>{day} 07:00:00 UTC \u2013 {day} 14:4" in page
    assert "Events over time by category (per 15m)" in page
    rules = re.search(r'<svg class="chart" data-chart="rules".*?</svg>', page, re.S)
    assert rules is not None
    for name in ("secmon_privilege_probe", "authn_login_fail_max", "secmon_credential_stuffing",
                 "secmon_excess_429", "authn_impossible_travel"):
        assert f"UTC: 1 {name}</title></rect>" in rules.group()


def test_no_password_reaches_the_logs(demo: DemoRun) -> None:
    written = b"".join(path.read_bytes() for path in (demo.directory / "logs").iterdir())
    written += (demo.directory / "alerts.jsonl").read_bytes()
    for secret in (SITE_PASSWORD, "alice-wonderland-42", "Summer2020!", "letmein",
                   "webhook-secret"):
        assert secret.encode() not in written, secret


def test_a_second_run_starts_afresh_whatever_the_environment(demo: DemoRun) -> None:
    # Settings left in the user's shell do not leak into the demo.
    again = run_demo(demo.directory, SECMON_MIN_LEVEL="critical", SECMON_LOG_DIR="/nonexistent",
                     DJANGO_SETTINGS_MODULE="nosuch.settings")
    assert again.returncode == 0, again.output
    assert Counter(e["event_type"] for e in again.events) == Counter(
        e["event_type"] for e in demo.events)


# -- the scripted day's clock -----------------------------------------------------------------


def test_the_scripted_day_moves_forward_only() -> None:
    day = ScriptedDay(date(2026, 3, 2), "07:00")
    assert day.now == datetime(2026, 3, 2, 7, tzinfo=timezone.utc)
    day.tick()
    day.tick()
    assert day.time() == day.monotonic() == datetime(2026, 3, 2, 7, 0, 2,
                                                     tzinfo=timezone.utc).timestamp()
    day.at("09:40")
    assert day.now == datetime(2026, 3, 2, 9, 40, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="the step at 09:00 comes after 09:40:00"):
        day.at("09:00")


def test_secmon_runs_on_the_scripted_day_inside_it_only() -> None:
    from secmon.clock import utc_timestamp
    from secmon.state.memory import MemoryState

    day = ScriptedDay(date(2026, 3, 2), "11:02")
    with day.running():
        assert utc_timestamp() == "2026-03-02T11:02:00.000000Z"
        state = MemoryState()  # as the pipeline builds it: windows on the same clock
        assert state.clock() == day.monotonic()
        day.tick()
        assert utc_timestamp() == "2026-03-02T11:02:01.000000Z"
    assert utc_timestamp()[:10] != "2026-03-02"
    assert abs(state.clock() - time.monotonic()) < 60
