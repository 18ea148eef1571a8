"""The audit chain as written: fields, MACs, chains per process, checkpoints, keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import secmon
from secmon.config import ConfigError
from secmon.integrity import (
    GENESIS,
    ChainSigner,
    canonical,
    checkpoint_signature_ok,
    mac_matches,
)
from secmon.testing import capture_events
from secmon.verify import verify_files

from .conftest import read_lines

KEY = b"k" * 16 + b"0123456789abcdef"


def _configure(log_dir: Path, **settings: Any) -> secmon.pipeline.Pipeline:
    settings = {"environment": "test", "audit_key": KEY, **settings}
    return secmon.configure(log_dir=log_dir, **settings)


def _pem(key: Any, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def test_audit_events_carry_the_chain_fields(log_dir: Path) -> None:
    pipeline = _configure(log_dir)
    secmon.audit("invoice_refunded", actor_id=1)
    secmon.audit("invoice_refunded", actor_id=2)
    secmon.access_denied(resource_type="invoice")  # not an audit event: not signed
    pipeline.close()
    first, second = read_lines(log_dir / "audit.log")
    assert first["seq"] == 1 and second["seq"] == 2
    assert first["prev"] == GENESIS and second["prev"] == first["mac"]
    assert first["chain"] == second["chain"]
    host, pid, _start, _nonce = first["chain"].split(":")
    assert pid == str(os.getpid()) and host
    assert first["key_id"] == second["key_id"] == "k1"
    body = orjson.dumps({k: v for k, v in first.items() if k != "mac"},
                        option=orjson.OPT_SORT_KEYS)
    assert first["mac"] == hmac.new(KEY, body, hashlib.sha256).hexdigest()
    denied = [e for e in read_lines(log_dir / "security.log") if e["event_type"] == "authz_fail"]
    assert denied and "mac" not in denied[0]


def test_the_mac_covers_every_field_and_not_the_key_order(log_dir: Path) -> None:
    pipeline = _configure(log_dir)
    secmon.audit("invoice_refunded", actor_id=1, changes={"b": [1, 2.5], "a": None})
    pipeline.close()
    [record] = read_lines(log_dir / "audit.log")
    shuffled = dict(reversed(list(record.items())))
    assert mac_matches(KEY, shuffled)
    for name in record:
        if name == "mac":
            continue
        changed = {**record, name: "x" if record[name] != "x" else "y"}
        assert not mac_matches(KEY, changed), name
    assert canonical(record) == canonical(shuffled)


def test_values_json_cannot_sort_are_signed_as_written(log_dir: Path) -> None:
    pipeline = _configure(log_dir, max_items=50)
    secmon.audit("invoice_refunded", actor_id=2**70, changes={1: "int key", "b": "str key"})
    pipeline.close()
    [record] = read_lines(log_dir / "audit.log")
    assert mac_matches(KEY, record)


def test_no_audit_key_means_no_signing_in_any_environment(tmp_path: Path) -> None:
    for environment in ("production", "development", "test"):
        log_dir = tmp_path / environment
        pipeline = secmon.configure(log_dir=log_dir, environment=environment)
        assert pipeline.signer is None
        secmon.audit("invoice_refunded", actor_id=1)
        pipeline.close()
        [record] = read_lines(log_dir / "audit.log")
        assert not {"chain", "seq", "prev", "mac", "key_id"} & set(record)
        assert not (log_dir / "audit.checkpoints").exists()


def test_a_short_key_is_refused_in_production_only(log_dir: Path) -> None:
    with pytest.raises(ConfigError, match="AUDIT_KEY"):
        secmon.configure(log_dir=log_dir, environment="production", audit_key="short")
    secmon.configure(log_dir=log_dir, environment="development", audit_key="short")


def test_the_key_never_reaches_the_logs(log_dir: Path) -> None:
    key = b"s3cr3t-audit-key-" + b"z" * 20
    pipeline = _configure(log_dir, audit_key=key, audit_keys={"old": b"o" * 32},
                          checkpoint_every=2)
    for i in range(5):
        secmon.audit("invoice_refunded", actor_id=i)
    secmon.emit("secmon_internal_error", component="x",
                error=f"{pipeline.settings!r} {pipeline.signer!r}")
    pipeline.close()
    for path in log_dir.iterdir():
        data = path.read_bytes()
        assert key not in data and key.hex().encode() not in data, path.name
        assert b"o" * 32 not in data, path.name


def test_each_process_writes_its_own_chain(log_dir: Path) -> None:
    pipeline = _configure(log_dir)
    secmon.audit("invoice_refunded", actor_id="parent-before")
    pid = os.fork()
    if pid == 0:  # the child, like a gunicorn worker forked after configure()
        code = 1
        try:
            secmon.audit("invoice_refunded", actor_id="child")
            secmon.audit("invoice_refunded", actor_id="child")
            pipeline.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    secmon.audit("invoice_refunded", actor_id="parent-after")
    pipeline.close()
    records = read_lines(log_dir / "audit.log")
    chains: dict[str, list[int]] = {}
    for record in records:
        chains.setdefault(record["chain"], []).append(record["seq"])
    assert len(chains) == 2
    by_actor = {r["actor_id"]: r["chain"] for r in records}
    assert by_actor["child"] != by_actor["parent-before"] == by_actor["parent-after"]
    assert chains[by_actor["child"]] == [1, 2]
    assert chains[by_actor["parent-before"]] == [1, 2]
    assert by_actor["child"].split(":")[1] == str(pid)
    report = verify_files([log_dir / "audit.log"], {"k1": KEY})
    assert report.ok, report.lines()


def test_reconfiguring_starts_a_new_chain(log_dir: Path) -> None:
    _configure(log_dir)
    secmon.audit("invoice_refunded", actor_id=1)
    pipeline = _configure(log_dir)
    secmon.audit("invoice_refunded", actor_id=2)
    pipeline.close()
    first, second = read_lines(log_dir / "audit.log")
    assert first["chain"] != second["chain"] and second["seq"] == 1
    assert verify_files([log_dir / "audit.log"], {"k1": KEY}).ok


def test_checkpoints_every_n_records_and_at_close(log_dir: Path) -> None:
    pipeline = _configure(log_dir, checkpoint_every=10)
    for i in range(25):
        secmon.audit("invoice_refunded", actor_id=i)
    assert [c["seq"] for c in read_lines(log_dir / "audit.checkpoints")] == [10, 20]
    pipeline.close()
    checkpoints = read_lines(log_dir / "audit.checkpoints")
    assert [(c["seq"], c["reason"]) for c in checkpoints] == [(10, "count"), (20, "count"),
                                                              (25, "close")]
    records = {r["seq"]: r for r in read_lines(log_dir / "audit.log")}
    for checkpoint in checkpoints:
        assert checkpoint["mac"] == records[checkpoint["seq"]]["mac"]
        assert checkpoint["chain"] == records[1]["chain"] and checkpoint["key_id"] == "k1"
        assert checkpoint["time"].endswith("Z")


def test_checkpoints_every_t_seconds_when_there_is_news(log_dir: Path) -> None:
    pipeline = _configure(log_dir, checkpoint_interval=0.1)
    secmon.audit("invoice_refunded", actor_id=1)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not read_lines(log_dir / "audit.checkpoints"):
        time.sleep(0.05)
    time.sleep(0.5)  # several more ticks with nothing new: no more checkpoints
    assert [(c["seq"], c["reason"]) for c in read_lines(log_dir / "audit.checkpoints")] == [
        (1, "interval")]
    pipeline.close()
    assert len(read_lines(log_dir / "audit.checkpoints")) == 1  # nothing new since


def test_checkpoints_can_be_signed_with_ed25519(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    key_file = _pem(private, tmp_path / "checkpoint-key.pem")
    log_dir = tmp_path / "logs"
    pipeline = _configure(log_dir, checkpoint_signing_key=key_file)
    secmon.audit("invoice_refunded", actor_id=1)
    pipeline.close()
    [checkpoint] = read_lines(log_dir / "audit.checkpoints")
    assert checkpoint_signature_ok(checkpoint, private.public_key())
    assert not checkpoint_signature_ok({**checkpoint, "seq": 2}, private.public_key())
    other = Ed25519PrivateKey.generate().public_key()
    assert not checkpoint_signature_ok(checkpoint, other)
    assert len(base64.b64decode(checkpoint["sig"])) == 64


@pytest.mark.parametrize("problem", ["in the log dir", "not ed25519", "missing", "garbage"])
def test_bad_checkpoint_signing_keys_fail_at_startup(tmp_path: Path, problem: str) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    key_file = {
        "in the log dir": _pem(Ed25519PrivateKey.generate(), log_dir / "key.pem"),
        "not ed25519": _pem(generate_private_key(SECP256R1()), tmp_path / "ec.pem"),
        "missing": tmp_path / "nope.pem",
        "garbage": tmp_path / "garbage.pem",
    }[problem]
    if problem == "garbage":
        key_file.write_text("not a key")
    with pytest.raises(ConfigError, match="CHECKPOINT_SIGNING_KEY"):
        _configure(log_dir, checkpoint_signing_key=key_file)


def test_a_failing_checkpoint_sink_is_contained(tmp_path: Path) -> None:
    class Broken:
        key = "broken"

        def write_checkpoint(self, checkpoint: dict[str, Any]) -> None:
            raise OSError("sink down")

    errors: list[str] = []
    signer = ChainSigner("k1", KEY, sinks=[Broken()], every=1, interval=0,
                         on_error=lambda where, exc: errors.append(where))
    for _ in range(3):
        event: dict[str, Any] = {"event_type": "user_created"}
        with signer.lock:
            signer.sign(event)
    signer.close()
    assert errors == ["integrity.checkpoint"] * 3
    assert signer.seq == 3


@pytest.mark.parametrize(
    ("settings", "warned"),
    [({}, True), ({"audit_key": KEY}, False), ({"environment": "development"}, False),
     ({"enabled": False}, False)],
)
def test_production_without_a_key_says_so_once(log_dir: Path, settings: dict[str, Any],
                                               warned: bool) -> None:
    with capture_events() as events:
        secmon.configure(log_dir=log_dir, **settings)
        secmon.login_failed(username="bob", reason="bad password")
        secmon.login_failed(username="bob", reason="bad password")
        secmon.flush()
    notices = events.of_type("sys_monitor_disabled")
    assert len(notices) == warned
    if warned:
        [notice] = notices
        assert (notice["monitor"], notice["reason"], notice["level"]) == (
            "audit-trail", "no_audit_key", "warning")
        assert notice["event"].startswith("AUDIT_KEY is not set: audit events are written "
                                          "unsigned, so the audit trail is not protected")
        assert "Set SECMON_AUDIT_KEY" in notice["event"]
        logged = read_lines(log_dir / "security.log")
        assert [e["event_type"] for e in logged][:1] == ["sys_monitor_disabled"]
