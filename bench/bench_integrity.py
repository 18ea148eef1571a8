"""The audit chain's cost: signing on the request path, the rotation lock, and `secmon verify`."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from secmon.config import Settings
from secmon.context import RequestContext, request_context
from secmon.outputs import build
from secmon.pipeline import Pipeline
from secmon.verify import verify_files

from .common import Result, interleaved_ns

NUMBER = 10_000
KEY = b"b" * 32


def _fields(i: int) -> dict[str, Any]:
    return {"actor_id": 1000 + i % 97, "resource_type": "invoice", "resource_id": i,
            "changes": {"status": ["paid", "refunded"], "amount": i % 500},
            "reason": "customer request"}


def _pipeline(directory: Path, **settings: Any) -> Pipeline:
    return Pipeline(Settings.build(env={}, environment="test", outputs=[
        {"type": "file", "path": str(directory / "audit.log"), "categories": ["audit"]}],
        **settings))


def run(quick: bool = False) -> list[Result]:
    number = NUMBER // 10 if quick else NUMBER
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "signed").mkdir()
        (root / "plain").mkdir()
        signed = _pipeline(root / "signed", audit_key=KEY)
        plain = _pipeline(root / "plain")
        counter = iter(range(10**9))
        headers = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
        ctx = RequestContext(method="POST", path="/invoices/7/refund", peer="203.0.113.9",
                             header=headers.get)

        def with_chain() -> None:
            signed.emit("secmon_audit_record", action="invoice_refunded", _audit=True,
                        **_fields(next(counter)))

        def without_chain() -> None:
            plain.emit("secmon_audit_record", action="invoice_refunded", _audit=True,
                       **_fields(next(counter)))

        with request_context(ctx):
            timings = interleaved_ns({"plain": without_chain, "signed": with_chain}, number)
        signed.close()
        plain.close()
        results.append(Result(
            "integrity", "audit emit() signed into the HMAC chain", 1e9 / timings["signed"],
            "events/s", "the same audit event, no AUDIT_KEY", 1e9 / timings["plain"],
            target="ratio >= 0.8"))

        settings = Settings.build(env={})
        line = orjson.dumps({"event_type": "user_created", **_fields(1)})
        plain_file = build("OUTPUTS[0]", {"type": "file", "path": str(root / "w1.log")},
                           settings)
        rotating = build("OUTPUTS[0]", {"type": "file", "path": str(root / "w2.log"),
                                        "max_bytes": 1 << 40}, settings)
        writes = interleaved_ns({"plain": lambda: plain_file.write(line),
                                 "locked": lambda: rotating.write(line)}, number * 2)
        plain_file.close()
        rotating.close()
        results.append(Result(
            "integrity", "file write with rotation (flock + inode check)",
            1e9 / writes["locked"], "lines/s", "the same output without rotation",
            1e9 / writes["plain"], target="ratio >= 0.5"))

        log = root / "signed" / "audit.log"
        records = sum(1 for _ in log.open("rb"))
        keys = {"k1": KEY}
        loads = orjson.loads
        started = time.perf_counter()
        for raw in log.open("rb"):
            loads(raw)
        parse_seconds = time.perf_counter() - started
        started = time.perf_counter()
        report = verify_files([log], keys)
        verify_seconds = time.perf_counter() - started
        assert report.records == records
        results.append(Result(
            "integrity", "secmon verify (read, parse, HMAC, chain checks)",
            records / verify_seconds, "records/s", "orjson.loads of the same lines",
            records / parse_seconds, target="ratio >= 0.1"))
    return results
