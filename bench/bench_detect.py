"""Detection throughput (memory and Redis state); memory after a million-username stuffing run."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import secmon
from secmon.config import Settings
from secmon.context import RequestContext, request_context
from secmon.events import lookup
from secmon.pipeline import Pipeline

from .common import Result, interleaved_ns, per_call_ns

REDIS_URL = os.environ.get("BENCH_SECMON_REDIS_URL", "redis://127.0.0.1:6379/15")
NUMBER = 20_000
FAIL = lookup("authn_login_fail")
LOGIN_RULES = ("brute_force", "distributed_brute_force", "credential_stuffing",
               "success_after_fail")


def _failures(pipeline: Any) -> Callable[[], None]:
    """Observe one failed login, a new user and address each time: every login rule updates
    its windows and none fires (firing is the rare path)."""
    engine = pipeline.engine
    counter = itertools.count()

    def observe() -> None:
        i = next(counter)
        engine.observe({
            "event_type": "authn_login_fail",
            "username_hash": f"{i:016x}",
            "source_ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
        }, FAIL)

    return observe


def _redis_reachable() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
        return True
    except Exception:
        return False


def _clean_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match="secmon:bench-detect:*", count=1000):
        client.delete(key)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _throughput(number: int) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        log = str(Path(tmp) / "security.log")
        common = {"environment": "test", "app_name": "bench-detect",
                  "outputs": [{"type": "file", "path": log}]}
        memory = secmon.configure(state_backend="memory://", **common)
        rate = 1e9 / per_call_ns(_failures(memory), number)
        results.append(Result("detect", "observe(): failed login, memory state", rate, "events/s"))

        # The same emit() through two pipelines: one with the login rules, one without.
        off = dict.fromkeys(LOGIN_RULES, False)
        with_rules = Pipeline(Settings.build(env={}, state_backend="memory://", **common))
        without_rules = Pipeline(Settings.build(env={}, detection=off, **common))
        counter = itertools.count()
        ctx = RequestContext(method="POST", path="/login", peer="203.0.113.9")

        def emit(pipeline: Pipeline) -> Callable[[], None]:
            def call() -> None:
                i = next(counter)
                pipeline.emit("authn_login_fail", username=f"user{i}", reason="bad password",
                              source_ip=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
            return call

        with request_context(ctx):
            timings = interleaved_ns({"with": emit(with_rules), "without": emit(without_rules)},
                                     number // 2, repeats=5)
        with_rules.close()
        without_rules.close()
        results.append(Result(
            "detect", "emit(): failed login, 4 login rules (memory state)",
            1e9 / timings["with"], "events/s", "emit() with no rule watching logins",
            1e9 / timings["without"]))

        if _redis_reachable():
            _clean_redis()
            try:
                shared = secmon.configure(state_backend=REDIS_URL, state_timeout=0.5, **common)
                rate = 1e9 / per_call_ns(_failures(shared), number // 4, repeats=5)
                results.append(Result(
                    "detect", "observe(): failed login, Redis state (loopback)", rate, "events/s",
                    "memory state", results[0].value))
            finally:
                secmon.configure(outputs=["stderr"], enabled=False)
                _clean_redis()
        else:
            print(f"bench_detect: no Redis at {REDIS_URL}; Redis figures skipped",
                  file=sys.stderr)

        # Redis unreachable: after the first call the breaker is open, memory serves.
        down = secmon.configure(state_backend=f"redis://127.0.0.1:{_closed_port()}/0", **common)
        observe = _failures(down)
        observe()
        rate = 1e9 / per_call_ns(observe, number)
        results.append(Result("detect", "observe(): failed login, Redis unreachable (breaker "
                              "open)", rate, "events/s", "memory state", results[0].value))
        secmon.configure(outputs=["stderr"], enabled=False)
    return results


STUFFING = """
import sys
from pathlib import Path
import secmon
from secmon.events import lookup

def rss_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0

count = int(sys.argv[1])
pipeline = secmon.configure(environment="test", outputs=["stderr"], enabled=True,
                            state_backend="memory://", min_level="critical")
engine, spec = pipeline.engine, lookup("authn_login_fail")
before = rss_kib("VmRSS")
for i in range(count):
    engine.observe({"event_type": "authn_login_fail", "username_hash": f"{i:016x}",
                    "source_ip": f"203.0.113.{i % 4}"}, spec)
stats = pipeline.stats()
print(before, rss_kib("VmRSS"), stats["state.keys"], stats["state.evictions"],
      pipeline.settings.state_memory_max_keys)
"""


def _stuffing(count: int) -> list[Result]:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(STUFFING), str(count)],
        check=True, capture_output=True, text=True, timeout=900,
    ).stdout.split()
    before, after, keys, evictions, cap = map(int, out[-5:])
    name = f"RSS after {count:,}-username stuffing run ({keys:,} keys kept, cap {cap:,}; " \
           f"{evictions:,} evicted)"
    return [Result("detect", name, after / 1024, "MiB", "RSS before the run", before / 1024,
                   target="bounded by STATE_MEMORY_MAX_KEYS", better="lower")]


def run(quick: bool = False) -> list[Result]:
    number = NUMBER // 10 if quick else NUMBER
    return _throughput(number) + _stuffing(100_000 if quick else 1_000_000)
