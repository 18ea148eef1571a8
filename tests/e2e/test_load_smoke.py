"""`make load` in brief: each example under its real server, a few seconds of benign and
attack traffic, then every invariant: no 5xx, no event lost or duplicated, the audit chains
verify, each detection fired once and its alert arrived once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis
from bench.loadlib import report, scenarios
from bench.loadlib.servers import FRAMEWORKS

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture
def redis_db() -> None:
    client = redis.Redis.from_url(scenarios.REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {scenarios.REDIS_URL} is needed (make services): {exc}")
    finally:
        client.close()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_short_load_loses_nothing(framework: str, tmp_path: Path, redis_db: None) -> None:
    check = asyncio.run(scenarios.smoke(framework, tmp_path))
    problems = "\n".join(report.problems(check))
    traffic = check.traffic

    assert traffic.sent > 50 and traffic.answered == traffic.sent, problems
    assert traffic.server_errors == [], problems
    assert not traffic.odd_status, problems
    # Every request's events, once each, in security.log; its audit events in audit.log.
    assert check.security.expected > 40 and check.audit.expected > 10
    assert check.security.lost == [] and check.security.duplicated == [], problems
    assert check.audit.lost == [] and check.audit.duplicated == [], problems
    assert not check.security.unexpected, problems  # and no event the request did not call for
    assert not check.unreadable and check.internal_errors == 0, problems
    # Rotation happened during the run, and the chains across rotated files verify; a
    # graceful stop left every worker's chain anchored by its final checkpoint.
    assert check.rotated["security.log"] >= 1, check.rotated
    assert check.close_checkpoints >= check.verification.chains, (
        f"{check.verification.chains} chains, {check.close_checkpoints} final checkpoints: "
        "workers did not close secmon when the server stopped")
    assert check.verification.ok, check.verification.text
    # Each detection the traffic called for fired once across the workers; one alert each.
    assert check.state_outages == 0, check.monitor_events
    assert len(check.detections.expected) >= 4, check.detections.expected
    assert check.detections.ok, problems
    assert check.exit_code == 0
