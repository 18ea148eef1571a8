"""capture_events(): what a test or a shell sees, and what still reaches the outputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import secmon
from secmon.detect import Alert
from secmon.testing import capture_events
from secmon.verify import verify_files

from .conftest import read_lines
from .detect.conftest import fail_login

KEY = b"k" * 16 + b"0123456789abcdef"


def _configure(log_dir: Path, **settings: object) -> secmon.pipeline.Pipeline:
    return secmon.configure(log_dir=log_dir, environment="test", audit_key=KEY, **settings)


def test_by_default_the_events_also_reach_the_outputs(log_dir: Path) -> None:
    _configure(log_dir)
    with capture_events() as events:
        secmon.login_failed(username="bob", reason="bad password")
    assert events.types() == ["authn_login_fail"]
    assert [e["event_type"] for e in read_lines(log_dir / "security.log")] == ["authn_login_fail"]
    [record] = read_lines(log_dir / "audit.log")
    assert record["mac"] == events[0]["mac"]  # the captured event is the signed one


def test_without_outputs_nothing_is_written_and_the_chain_goes_on(log_dir: Path) -> None:
    pipeline = _configure(log_dir)
    secmon.audit("user_created", actor_id=1, resource_type="user", resource_id=7)
    with capture_events(outputs=False) as events:
        secmon.login_failed(username="bob", reason="bad password", password="hunter2")
        secmon.access_denied(resource_type="invoice", resource_id=3, reason="not owner")
    secmon.audit("user_deleted", actor_id=1, resource_type="user", resource_id=7)
    pipeline.close()  # its last checkpoint anchors the chain

    assert events.types() == ["authn_login_fail", "authz_fail"]
    assert events[0]["password"] == "[REDACTED]"  # final, sanitized events
    assert "mac" not in events[0]  # not signed: it never joins the chain
    written = [e["event_type"] for e in read_lines(log_dir / "security.log")]
    assert written == ["user_created", "user_deleted"]
    audit = read_lines(log_dir / "audit.log")
    assert [(r["event_type"], r["seq"]) for r in audit] == [("user_created", 1),
                                                            ("user_deleted", 2)]
    report = verify_files([log_dir / "audit.log"], {"k1": KEY})
    assert report.ok, report.lines()


def test_without_outputs_detection_does_not_count_the_events(log_dir: Path) -> None:
    locked: list[Alert] = []
    pipeline = _configure(log_dir, detection={"brute_force": {"threshold": 2}},
                          lockout_hook=locked.append)
    with capture_events(outputs=False) as events:
        for _ in range(3):
            fail_login("bob")
    assert events.types() == ["authn_login_fail"] * 3
    assert locked == [] and "detect.brute_force.fired" not in pipeline.stats()
    # The attack seen for real is counted from its own first failure.
    fail_login("bob")
    assert locked == []
    fail_login("bob")
    assert [alert.rule for alert in locked] == ["brute_force"]


def test_a_capture_without_outputs_inside_another_feeds_both(log_dir: Path) -> None:
    _configure(log_dir)
    with capture_events() as outer:
        with capture_events(outputs=False) as inner:
            secmon.emit("authz_fail")
        secmon.emit("session_created", user_id=1)
    assert inner.types() == ["authz_fail"]
    assert outer.types() == ["authz_fail", "session_created"]
    assert [e["event_type"] for e in read_lines(log_dir / "security.log")] == ["session_created"]


def test_nested_captures_end_in_their_own_order(log_dir: Path) -> None:
    _configure(log_dir)
    with capture_events() as outer:
        with capture_events() as inner:
            secmon.emit("authz_fail")  # both now hold equal lists
        secmon.emit("session_created", user_id=1)
    assert (inner.types(), outer.types()) == (["authz_fail"], ["authz_fail", "session_created"])


def test_in_a_shell_on_the_real_configuration(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECMON_")}
    env.update(SECMON_LOG_DIR=str(tmp_path / "logs"), SECMON_AUDIT_KEY=KEY.decode() * 2)
    shell = (
        "import secmon\n"
        "from secmon.testing import capture_events\n"
        "with capture_events(outputs=False) as events:\n"
        "    secmon.login_failed(username='bob', reason='trying it out')\n"
        "print(events.types())\n"
    )
    done = subprocess.run([sys.executable, "-c", shell], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip() == "['authn_login_fail']"
    assert not (tmp_path / "logs" / "security.log").exists()
    assert not (tmp_path / "logs" / "audit.log").exists()
