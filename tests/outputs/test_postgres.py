"""The PostgreSQL audit store against the machine's server: append-only, verifiable, off-path."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from secrets import token_hex
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

import secmon
from secmon.cli import cli
from secmon.config import ConfigError, Settings
from secmon.outputs import build
from secmon.outputs.postgres import PostgresOutput, StoreError, ensure_schema
from secmon.verify import verify_postgres

from ..conftest import read_lines

pytestmark = pytest.mark.postgres

SERVER = "postgresql://postgres@127.0.0.1:5432"
# Overridable so that several checkouts can run the suite on one server at once.
DATABASE = os.environ.get("TEST_SECMON_PG_DATABASE", "secmon_audit_test")
WRITER = f"{DATABASE}_writer"
KEY = b"p" * 32
KEYS = {"k1": KEY}


def _admin(database: str = "postgres") -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(f"{SERVER}/{database}", autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable on 127.0.0.1:5432 (`make services` starts "
                    f"it): {exc}")


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    with _admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"DROP ROLE IF EXISTS {WRITER}")
        admin.execute(f"CREATE DATABASE {DATABASE}")
        admin.execute(f"CREATE ROLE {WRITER} LOGIN")
    try:
        yield f"{SERVER}/{DATABASE}"
    finally:
        with _admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {WRITER}")


@pytest.fixture
def table() -> str:
    return f"audit_{token_hex(4)}"


@pytest.fixture
def db(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with _admin(DATABASE) as conn:
        yield conn


def _configure(dsn: str, table: str, *extra: dict[str, Any], **spec: Any) -> Any:
    return secmon.configure(environment="test", audit_key=KEY, checkpoint_every=10, outputs=[
        {"type": "postgres", "dsn": dsn, "table": table, **spec}, *extra])


def _write(dsn: str, table: str, count: int) -> None:
    pipeline = _configure(dsn, table)
    for i in range(count):
        secmon.audit("invoice_refunded", actor_id=1, resource_id=i, changes={"amount": i / 4})
    secmon.access_denied(resource_type="invoice")  # not an audit event: not stored
    pipeline.close()
    checkpoints = (count - 1) // 10 + 1  # every 10, and at close
    assert pipeline.stats()["output.postgres.sent"] == count + checkpoints


def _kinds(report: Any) -> list[tuple[str, int | None, int | None]]:
    return [(f.kind, f.line, f.seq) for f in report.findings if f.failure]


def test_events_land_with_their_chain_fields(dsn: str, table: str,
                                             db: psycopg.Connection[Any]) -> None:
    _write(dsn, table, 25)
    rows = db.execute(f"SELECT seq, chain, prev, key_id, mac, event, event_type, logged_at"
                      f" FROM {table} ORDER BY id").fetchall()
    assert [r[0] for r in rows] == list(range(1, 26))
    for seq, chain, prev, key_id, mac, event, event_type, logged_at in rows:
        assert (event["seq"], event["chain"], event["prev"]) == (seq, chain, prev)
        assert (event["key_id"], event["mac"], event["event_type"]) == (key_id, mac, event_type)
        assert logged_at is not None
    checkpoints = db.execute(f"SELECT seq, mac FROM {table}_checkpoints ORDER BY id").fetchall()
    assert [c[0] for c in checkpoints] == [10, 20, 25]
    assert checkpoints[-1][1] == rows[-1][4]


@pytest.mark.parametrize("statement", [
    "UPDATE {t} SET event_type = 'x' WHERE seq = 1",
    "UPDATE {t} SET event_type = 'x' WHERE false",
    "DELETE FROM {t} WHERE seq = 2",
    "DELETE FROM {t}",
    "TRUNCATE {t}",
    "UPDATE {t}_checkpoints SET seq = 99",
    "DELETE FROM {t}_checkpoints",
    "TRUNCATE {t}_checkpoints",
])
def test_the_database_refuses_updates_and_deletes_even_to_the_owner(
    dsn: str, table: str, db: psycopg.Connection[Any], statement: str
) -> None:
    _write(dsn, table, 3)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute(statement.format(t=table))
    assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (3,)


def test_verify_passes_then_fails_after_a_superuser_edits_a_row(
    dsn: str, table: str, db: psycopg.Connection[Any]
) -> None:
    _write(dsn, table, 30)
    report = verify_postgres(dsn, KEYS, table=table)
    assert report.ok, report.lines()
    assert report.records == 30 and report.checkpoints == 3
    [row_id] = db.execute(f"SELECT id FROM {table} WHERE seq = 7").fetchone() or ()
    # A superuser can switch the triggers off; the chain still tells.
    db.execute("SET session_replication_role = replica")
    db.execute(f"UPDATE {table} SET event = jsonb_set(event, '{{resource_id}}', '999')"
               " WHERE seq = 7")
    assert _kinds(verify_postgres(dsn, KEYS, table=table)) == [("modified", row_id, 7)]
    db.execute(f"UPDATE {table} SET record = replace(record, '\"resource_id\":6',"
               " '\"resource_id\":999') WHERE seq = 7")
    db.execute(f"UPDATE {table} SET event = record::jsonb WHERE seq = 7")
    assert _kinds(verify_postgres(dsn, KEYS, table=table)) == [("modified", row_id, 7)]
    db.execute(f"DELETE FROM {table} WHERE seq = 12")
    db.execute("SET session_replication_role = origin")
    [after_gap] = db.execute(f"SELECT id FROM {table} WHERE seq = 13").fetchone() or ()
    assert _kinds(verify_postgres(dsn, KEYS, table=table)) == [
        ("modified", row_id, 7), ("deleted", after_gap, 12)]


def test_the_cli_verifies_the_store(dsn: str, table: str, db: psycopg.Connection[Any]) -> None:
    _write(dsn, table, 12)
    runner = CliRunner()
    args = ["verify", "--postgres", dsn, "--table", table, "--key-id", f"k1={KEY.decode()}"]
    ok = runner.invoke(cli, args, env={})
    assert ok.exit_code == 0, ok.output
    assert "INTACT" in ok.output
    db.execute("SET session_replication_role = replica")
    db.execute(f"DELETE FROM {table} WHERE seq = 12")
    db.execute(f"DELETE FROM {table}_checkpoints WHERE seq = 12")
    bad = runner.invoke(cli, args, env={})
    assert bad.exit_code == 1 and "unanchored after seq 10" in bad.output
    missing = runner.invoke(cli, [*args[:4], "nope", *args[5:]], env={})
    assert missing.exit_code == 2 and "table nope does not exist" in missing.output


def _grant_writer(db: psycopg.Connection[Any], table: str) -> None:
    """The GRANTs docs/audit-trail.md shows for a write-only role."""
    db.execute(f"GRANT CONNECT ON DATABASE {DATABASE} TO {WRITER}")
    db.execute(f"GRANT USAGE ON SCHEMA public TO {WRITER}")
    db.execute(f"GRANT INSERT ON {table}, {table}_checkpoints TO {WRITER}")
    db.execute(f"GRANT USAGE ON SEQUENCE {table}_id_seq, {table}_checkpoints_id_seq TO {WRITER}")


def _writer_dsn(dsn: str) -> str:
    return dsn.replace("postgres@", f"{WRITER}@")


def test_a_write_only_role_can_insert_and_nothing_else(
    dsn: str, table: str, db: psycopg.Connection[Any]
) -> None:
    ensure_schema(db, table)
    _grant_writer(db, table)
    _write(_writer_dsn(dsn), table, 15)
    assert verify_postgres(dsn, KEYS, table=table).ok
    with psycopg.connect(_writer_dsn(dsn), autocommit=True) as writer:
        for statement in (f"SELECT * FROM {table}", f"UPDATE {table} SET seq = 0",
                          f"DELETE FROM {table}", f"TRUNCATE {table}",
                          f"DROP TABLE {table}", f"ALTER TABLE {table} DISABLE TRIGGER ALL"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                writer.execute(statement)


def test_a_role_that_cannot_create_the_store_says_so(dsn: str, table: str) -> None:
    with (psycopg.connect(_writer_dsn(dsn), autocommit=True) as writer,
          pytest.raises(StoreError, match=f"cannot create table {table}")):
        ensure_schema(writer, table)


def test_rows_refused_in_an_outage_wait_and_land_in_order(
    dsn: str, table: str, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    ensure_schema(db, table)
    _grant_writer(db, table)
    other = {"type": "file", "path": str(tmp_path / "other.log")}
    pipeline = _configure(_writer_dsn(dsn), table, other, max_retries=0)
    store = pipeline.outputs[0]
    assert isinstance(store, PostgresOutput)
    store.spool.retry = (0.05, 0.1)
    for i in range(3):
        secmon.audit("invoice_refunded", resource_id=i)
    pipeline.flush()
    db.execute(f"REVOKE INSERT ON {table} FROM {WRITER}")
    for i in range(3, 6):
        secmon.audit("invoice_refunded", resource_id=i)
    pipeline.flush()
    assert store.stats()["spooled"] == 3
    db.execute(f"GRANT INSERT ON {table} TO {WRITER}")
    for i in range(6, 8):
        secmon.audit("invoice_refunded", resource_id=i)  # behind the three
    deadline = time.monotonic() + 20
    while store.health.degraded:
        assert time.monotonic() < deadline, store.stats()
        time.sleep(0.05)
    pipeline.close()
    rows = db.execute(f"SELECT seq, event FROM {table} ORDER BY id").fetchall()
    assert [seq for seq, _ in rows] == list(range(1, 9))
    assert [event["resource_id"] for _, event in rows] == list(range(8))
    report = verify_postgres(dsn, KEYS, table=table)
    assert report.ok and not report.findings, report.lines()
    events = read_lines(tmp_path / "other.log")
    types = [e["event_type"] for e in events]
    assert types.count("sys_monitor_disabled") == 1 and types.count("sys_monitor_enabled") == 1
    [enabled] = [e for e in events if e["event_type"] == "sys_monitor_enabled"]
    assert enabled["spooled_records"] >= 5 and enabled["lost_records"] == 0


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_database_never_holds_up_a_request(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{_closed_port()}/{DATABASE}"
    other = {"type": "file", "path": str(tmp_path / "other.log")}
    pipeline = _configure(dsn, "audit_down", other, max_retries=1)
    started = time.monotonic()
    for i in range(50):
        secmon.audit("invoice_refunded", resource_id=i)
    assert time.monotonic() - started < 2.0  # 50 requests never wait on the network
    pipeline.flush(timeout=30)
    stats = pipeline.stats()
    assert stats["output.postgres.enqueued"] == 54  # and 4 checkpoints
    assert stats["output.postgres.spooled"] == 54 and stats["output.postgres.sent"] == 0
    assert stats["output.postgres.dropped"] == 0
    assert stats["output.postgres.retried"] >= 1
    err = capfd.readouterr().err
    assert err.count("secmon: output postgres cannot write") == 1
    assert "Traceback" not in err and err.count("\n") == 1
    types = [e["event_type"] for e in read_lines(tmp_path / "other.log")]
    assert types.count("sys_monitor_disabled") == 1


def test_the_schema_is_created_once_by_racing_workers(dsn: str, table: str,
                                                      db: psycopg.Connection[Any]) -> None:
    errors: list[BaseException] = []

    def create() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                ensure_schema(conn, table)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    triggers = db.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE %s",
                          (f"{table}%append_only%",)).fetchone()
    assert triggers == (4,)


@pytest.mark.parametrize(("spec", "key"), [
    ({}, "OUTPUTS[0].dsn"),
    ({"dsn": "postgresql://x/y", "table": "bad-name; drop"}, "OUTPUTS[0].table"),
    ({"dsn": "postgresql://x/y", "format": "cef"}, "OUTPUTS[0].format"),
    ({"dsn": "postgresql://x/y", "batch_size": 0}, "OUTPUTS[0].batch_size"),
    ({"dsn": "postgresql://x/y", "create": "yes"}, "OUTPUTS[0].create"),
    ({"dsn": "postgresql://x/y", "password": "x"}, "OUTPUTS[0].password"),
])
def test_bad_options_name_the_key(spec: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build("OUTPUTS[0]", {"type": "postgres", **spec}, Settings.build(env={}))
    assert caught.value.key == key


def test_the_store_takes_audit_events_only_by_default() -> None:
    output = build("OUTPUTS[0]", {"type": "postgres", "dsn": "postgresql://x/y"},
                   Settings.build(env={}))
    assert output.accepts.categories == frozenset({"audit"})
