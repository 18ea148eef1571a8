"""`secmon query` throughput: MB/s of JSON-lines input on one core, plain and gzip."""

from __future__ import annotations

import gzip
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from secmon.logread import Filter
from secmon.query import Query

from .common import Result

SIZE_MB = 200
QUICK_SIZE_MB = 24
TARGET = "value >= 50 MB/s"

_KINDS = [  # (weight, event_type, level, category, outcome)
    (40, "authn_login_success", "info", "authentication", "success"),
    (25, "session_created", "info", "session", "success"),
    (15, "authn_login_fail", "warning", "authentication", "failure"),
    (10, "authz_fail", "warning", "web", "failure"),
    (7, "input_validation_fail", "warning", "web", "failure"),
    (2, "excess_rate_limit_exceeded", "warning", "web", "failure"),
    (1, "authn_login_fail_max", "warning", "intrusion_detection", "failure"),
]


def write_sample(path: Path, size_mb: int) -> int:
    """A day of typical secmon events (about 450 bytes a line), ``size_mb`` megabytes."""
    rng = random.Random(7)
    weights = [kind[0] for kind in _KINDS]
    target = size_mb << 20
    written = 0
    with path.open("wb") as handle:
        batch = []
        i = 0
        while written < target:
            _, name, level, category, outcome = rng.choices(_KINDS, weights)[0]
            i += 1
            second = i % 86400
            event = {
                "timestamp": f"2026-03-02T{second // 3600:02d}:{second // 60 % 60:02d}:"
                             f"{second % 60:02d}.{i % 1_000_000:06d}Z",
                "level": level, "event_type": name, "category": category, "outcome": outcome,
                "event": f"{name.replace('_', ' ')} for user #{i % 5000:016x} from 203.0.113.7",
                "app": "shop", "username_hash": f"{rng.randrange(5000):016x}",
                "source_ip": f"203.0.{rng.randrange(16)}.{rng.randrange(256)}",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0",
                "request_id": f"{i:024x}", "method": "POST", "path": "/account/login",
                "status": 401 if outcome == "failure" else 200, "reason": "bad password",
            }
            batch.append(orjson.dumps(event))
            if len(batch) == 2000:
                data = b"\n".join(batch) + b"\n"
                handle.write(data)
                written += len(data)
                batch = []
        if batch:
            data = b"\n".join(batch) + b"\n"
            handle.write(data)
            written += len(data)
    return written


def _median_seconds(function: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _floor(path: Path, opener: Callable[[Path], Any]) -> Callable[[], None]:
    """The least any reader must do: every line read and parsed with orjson."""

    def read() -> None:
        loads = orjson.loads
        with opener(path) as handle:
            for line in handle:
                loads(line)

    return read


def _query(path: Path, **options: Any) -> Callable[[], None]:
    def run() -> None:
        list(Query([str(path)], **options).run().rows)

    return run


def run(quick: bool = False) -> list[Result]:
    size_mb = QUICK_SIZE_MB if quick else SIZE_MB
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "security.log"
        size = write_sample(plain, size_mb)
        packed = Path(tmp) / "security.log.1.gz"
        with plain.open("rb") as source, gzip.open(packed, "wb", compresslevel=6) as target:
            while block := source.read(1 << 20):
                target.write(block)
        mb = size / 1e6

        def rate(function: Callable[[], None]) -> float:
            return mb / _median_seconds(function, repeats)

        floor_plain = rate(_floor(plain, lambda p: p.open("rb")))
        floor_gzip = rate(_floor(packed, lambda p: gzip.open(p, "rb")))  # noqa: SIM115
        cases = [
            ("failed logins by IP (--failed-logins-by ip)", plain, floor_plain,
             {"analysis": "failed-logins", "by": "ip"}),
            ("events per type over time (--over-time), every line parsed", plain, floor_plain,
             {"analysis": "over-time"}),
            ("count by a field (--count-by source_ip), every line parsed", plain, floor_plain,
             {"analysis": "count-by", "by": "source_ip"}),
            ("access denials listed (-t authz_fail)", plain, floor_plain,
             {"where": Filter(types=frozenset({"authz_fail"}))}),
            ("failed logins by IP, gzip input", packed, floor_gzip,
             {"analysis": "failed-logins", "by": "ip"}),
        ]
        results = []
        for name, path, floor, options in cases:
            results.append(Result(
                "query", f"{name}, {size_mb} MB", rate(_query(path, **options)), "MB/s",
                "line iteration + orjson.loads of every line" + (" (gzip)" if path == packed
                                                                 else ""),
                floor, target=TARGET))
    return results
