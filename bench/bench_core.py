"""Core pipeline throughput: a typical 10-field event through redaction + JSON + file output."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import structlog

import secmon
from secmon.context import RequestContext, request_context

from .common import Result, interleaved_ns

NUMBER = 20_000


def _fields(i: int) -> dict[str, Any]:
    return {
        "user_id": 1000 + i % 97,
        "username": f"user{i % 500}@example.com",
        "reason": "bad password",
        "resource_type": "invoice",
        "resource_id": i,
        "attempt": i % 7,
        "client": "web",
        "mfa": False,
        "scope": "login",
        "detail": f"attempt {i} from the login form",
    }


def run(quick: bool = False) -> list[Result]:
    from secmon.detect.engine import RULES

    no_detection = {rule.name: False for rule in RULES}
    return [
        *_run(quick, "emit(): 10-field event, redaction + JSON + file", no_detection,
              ">= 0.2x", with_structlog=True),
        *_run(quick, "emit(): the same, with the default detection rules", {}, ">= 1/8"),
    ]


def _structlog(stream: BinaryIO) -> Any:
    """Plain structlog as its docs set it up for JSON lines: level, ISO timestamp, orjson."""
    return structlog.wrap_logger(
        structlog.BytesLogger(stream),
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer(serializer=orjson.dumps)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )


def _run(quick: bool, title: str, detection: dict[str, Any], target: str,
         with_structlog: bool = False) -> list[Result]:
    number = NUMBER // 10 if quick else NUMBER
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "security.log"
        floor_path = Path(tmp) / "floor.log"
        # The file output as LOG_DIR sets it up by default: rotated at midnight.
        secmon.configure(outputs=[{"type": "file", "path": str(log), "when": "midnight"}],
                         environment="test",
                         detection=detection)
        headers = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
        ctx = RequestContext(method="POST", path="/login", peer="203.0.113.9",
                             header=headers.get)
        fd = os.open(floor_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        counter = iter(range(10**9))

        def floor() -> None:
            i = next(counter)
            event = {"timestamp": "2026-01-01T00:00:00.000000Z", "level": "warning",
                     "event_type": "authn_login_fail", **_fields(i)}
            os.write(fd, orjson.dumps(event) + b"\n")

        def through_secmon() -> None:
            secmon.emit("authn_login_fail", **_fields(next(counter)))

        variants = {"floor": floor, "secmon": through_secmon}
        stream = (Path(tmp) / "structlog.log").open("ab")
        if with_structlog:
            logger = _structlog(stream)
            variants["structlog"] = lambda: logger.warning("authn_login_fail",
                                                           **_fields(next(counter)))
            variants["floor A/A"] = floor  # the control: the floor against itself
        with request_context(ctx):
            timings = interleaved_ns(variants, number)
        stream.close()
        os.close(fd)
        secmon.configure(outputs=["stderr"], enabled=False)
    floor_rate = 1e9 / timings["floor"]
    rate = 1e9 / timings["secmon"]
    results = [
        Result("core", title, rate, "events/s",
               "orjson.dumps + os.write (the floor)", floor_rate, target=target),
    ]
    if with_structlog:
        results.append(Result(
            "core", "plain structlog: the same event, no redaction, JSON + file",
            1e9 / timings["structlog"], "events/s", "orjson.dumps + os.write (the floor)",
            floor_rate, target="(the peer to beat)"))
        results.append(Result(
            "core", "A/A control: the floor against itself", 1e9 / timings["floor A/A"],
            "events/s", "orjson.dumps + os.write (the floor)", floor_rate,
            target="(1.00x ± noise)", control=True))
    return results
