"""Four forked worker processes share one Redis counter: exact counts, exactly one alert."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

import secmon
from secmon.detect.brute_force import BruteForce

from ..state.servers import SHARED_REDIS_URL, shared_redis
from .receiver import Receiver

pytestmark = pytest.mark.redis

WORKERS, THREADS, PER_THREAD = 4, 5, 50  # 1,000 failures in all
IP = "192.0.2.50"

MASTER = """
import os, sys, threading
import secmon
from secmon.context import RequestContext, request_context

app, url, log, hook, workers, threads, per_thread, ip = sys.argv[1:]
secmon.configure(
    app_name=app, environment="test", state_backend=url,
    outputs=[{"type": "file", "path": log}],
    detection={"brute_force": {"threshold": 10},
               "success_after_fail": False, "distributed_brute_force": False,
               "credential_stuffing": False},
    alerts=[{"type": "webhook", "url": hook, "secret": "s"}],
)

def attempt():
    with request_context(RequestContext(method="POST", path="/login", peer=ip)):
        secmon.login_failed(username="alice", reason="bad password")

# The parent uses its Redis connection before forking, as a preloaded app would.
with request_context(RequestContext(method="POST", path="/login", peer="192.0.2.1")):
    secmon.login_failed(username="warm-up")

def work():
    for _ in range(int(per_thread)):
        attempt()

children = []
for _ in range(int(workers)):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            pool = [threading.Thread(target=work) for _ in range(int(threads))]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            secmon.flush(20)
            code = 0
        finally:
            os._exit(code)
    children.append(pid)
sys.exit(max(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children))
"""


def test_shared_counter_is_exact_and_one_alert_is_sent(
    tmp_path: Path, redis_app: str, receiver: Receiver
) -> None:
    log = tmp_path / "security.log"
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MASTER), redis_app, SHARED_REDIS_URL, str(log),
         receiver.url + "/alerts", str(WORKERS), str(THREADS), str(PER_THREAD), IP],
        check=True, timeout=240,
    )
    total = WORKERS * THREADS * PER_THREAD
    events = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    failures = [e for e in events if e["event_type"] == "authn_login_fail"
                and e["source_ip"] == IP]
    assert len(failures) == total
    [fired] = [e for e in events if e["event_type"] == "authn_login_fail_max"]
    assert fired["count"] >= 10

    # The counter in Redis saw every failure, none lost or doubled.
    pipeline = secmon.configure(app_name=redis_app, environment="test", outputs=["stderr"])
    rule = BruteForce({}, pipeline.settings)
    subject = f"username_hash={pipeline.hash_username('alice')} source_ip={IP}"
    assert fired["subject"] == subject
    key = f"secmon:{redis_app}:{{{rule.state_key(subject)}}}"
    assert shared_redis().zcard(key) == total

    time.sleep(0.5)  # a late duplicate would arrive now
    [alert] = receiver.requests
    assert alert.path == "/alerts"
    assert alert.json()["subject"] == subject
