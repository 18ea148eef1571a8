"""PostgreSQL audit store: signed events in an append-only table, written off the request path.

Each event is one row: the chain fields as columns, the exact signed JSON (``record``,
what ``secmon verify --postgres`` checks) and the same event as ``jsonb`` (``event``, for
queries). Triggers refuse UPDATE, DELETE and TRUNCATE, row and statement level, even to
the table's owner. Checkpoints go to ``<table>_checkpoints``, through the same queue, so
a checkpoint never lands before the rows it vouches for.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

try:
    import psycopg
    from psycopg import sql
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the postgres output needs psycopg 3: pip install 'secmon[postgres]'"
    ) from exc

import orjson

from ..config import ConfigError
from ..events import AUDIT
from ..formats.json import render_json
from .base import common_options
from .queued import GiveUp, QueuedOutput
from .spool import Entry, Rejected, SpoolLimits

if TYPE_CHECKING:
    from ..config import Settings

DEFAULT_TABLE = "secmon_audit"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")
# Connections inherited over fork: the child must neither use nor finalize them (that
# would end the parent's session), so they are kept here, untouched.
_inherited: list[Any] = []


class StoreError(Exception):
    """The audit store cannot be used as asked (unreachable, missing, not append-only)."""


# -- schema -----------------------------------------------------------------------------------


def split_table(name: str) -> tuple[str | None, str]:
    """``schema.table`` or ``table``, each a plain identifier; anything else raises ValueError."""
    parts = name.split(".")
    if len(parts) > 2 or not all(_NAME.fullmatch(part) for part in parts):
        raise ValueError(f"{name!r} is not a table name such as secmon_audit or audit.events")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _ident(schema: str | None, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name) if schema else sql.Identifier(name)


def schema_statements(table: str = DEFAULT_TABLE) -> list[sql.Composed]:
    """The DDL of the store: tables, the (chain, seq) index, the append-only triggers."""
    schema, name = split_table(table)
    events, checkpoints = _ident(schema, name), _ident(schema, f"{name}_checkpoints")
    function = _ident(schema, "secmon_append_only")
    statements = [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " id bigserial PRIMARY KEY,"
            " received_at timestamptz NOT NULL DEFAULT now(),"
            " logged_at timestamptz,"
            " event_type text NOT NULL,"
            " chain text, seq bigint, prev text, key_id text, mac text,"
            " record text NOT NULL,"
            " event jsonb NOT NULL)"
        ).format(events),
        sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (chain, seq)").format(
            sql.Identifier(f"{name}_chain_seq"), events
        ),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " id bigserial PRIMARY KEY,"
            " received_at timestamptz NOT NULL DEFAULT now(),"
            " chain text NOT NULL, seq bigint NOT NULL, mac text NOT NULL, key_id text NOT NULL,"
            " checkpoint jsonb NOT NULL)"
        ).format(checkpoints),
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " RAISE EXCEPTION 'secmon: % on %.% refused: the audit store is append-only',"
            " TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';"
            " END $$"
        ).format(function),
    ]
    for table_ident, base in ((events, name), (checkpoints, f"{name}_checkpoints")):
        for trigger, timing in _triggers(base):
            statements.append(sql.SQL("CREATE TRIGGER {} {} ON {} {} EXECUTE FUNCTION {}()").format(
                sql.Identifier(trigger), sql.SQL(timing[0]), table_ident, sql.SQL(timing[1]),
                function,
            ))
    return statements


def _triggers(base: str) -> list[tuple[str, tuple[str, str]]]:
    return [
        (f"{base}_append_only_rows", ("BEFORE UPDATE OR DELETE", "FOR EACH ROW")),
        (f"{base}_append_only", ("BEFORE UPDATE OR DELETE OR TRUNCATE", "FOR EACH STATEMENT")),
    ]


def ensure_schema(conn: psycopg.Connection[Any], table: str, create: bool = True) -> None:
    """Create what is missing (once, under an advisory lock), or say what is."""
    schema, name = split_table(table)
    expected = {trigger for base in (name, f"{name}_checkpoints") for trigger, _ in _triggers(base)}
    if _present(conn, schema, name) >= expected:
        return
    if not create:
        raise StoreError(f"table {table} or its append-only triggers are missing "
                         "(create them as the owner; see docs/audit-trail.md)")
    statements = schema_statements(table)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"secmon:{table}",))
            present = _present(conn, schema, name)
            for statement in statements:
                text = statement.as_string(conn)
                trigger = re.match(r'CREATE TRIGGER "([^"]+)"', text)
                if trigger and trigger[1] in present:
                    continue
                conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise StoreError(f"cannot create table {table} or its triggers with this role "
                         f"({exc.diag.message_primary}); create them as the owner") from None


def _present(conn: psycopg.Connection[Any], schema: str | None, name: str) -> set[str]:
    """Names of the append-only triggers that exist on the store's two tables."""
    rows = conn.execute(
        "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = ANY(%s) AND n.nspname = COALESCE(%s, current_schema())"
        " AND NOT t.tgisinternal",
        ([name, f"{name}_checkpoints"], schema),
    ).fetchall()
    return {row[0] for row in rows}


# -- the output -------------------------------------------------------------------------------


class PostgresOutput(QueuedOutput):
    type_name = "postgres"

    def __init__(
        self,
        dsn: str,
        table: str = DEFAULT_TABLE,
        *,
        create: bool = True,
        connect_timeout: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(target=f"PostgreSQL table {table}", spool_key=f"{dsn} {table}",
                         **kwargs)
        self.dsn = dsn
        self.table = table
        self.create = create
        self.connect_timeout = connect_timeout
        self.checkpoint_sink = self
        self._conn: Any = None
        self._conn_pid = -1
        schema, name = split_table(table)
        self._insert_event = sql.SQL(
            "INSERT INTO {} (logged_at, event_type, chain, seq, prev, key_id, mac, record, event)"
            " VALUES (%s::timestamptz, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
            # A retried batch that did commit: (chain, seq) is unique. No conflict target,
            # which would need SELECT: the writer role has INSERT only.
            " ON CONFLICT DO NOTHING"
        ).format(_ident(schema, name))
        self._insert_checkpoint = sql.SQL(
            "INSERT INTO {} (chain, seq, mac, key_id, checkpoint)"
            " VALUES (%s, %s, %s, %s, %s::jsonb)"
        ).format(_ident(schema, f"{name}_checkpoints"))

    @property
    def key(self) -> object:
        return ("postgres", self.dsn, self.table)

    # -- request path -----------------------------------------------------------------------

    def prepare(self, event: dict[str, Any], rendered: dict[int, bytes]) -> Any:
        line = rendered.get(id(render_json))
        if line is None:
            line = rendered[id(render_json)] = render_json(event)
        return ("event", _event_row(event, line.decode()))

    def handle(self, event: dict[str, Any], rendered: dict[int, bytes]) -> None:
        if not self.enqueue(self.prepare(event, rendered)):
            self.health.failed(OverflowError("queue full, events dropped"), event)

    def write_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.enqueue(("checkpoint", _checkpoint_row(orjson.dumps(checkpoint).decode())))

    # -- spooling: rows as the signed JSON they came from -----------------------------------

    def to_spool(self, item: Any) -> Entry:
        kind, row = item
        if kind == "checkpoint":
            return Entry("c", row[4].encode())
        return Entry("e", row[7].encode(), row[2], row[3])

    def from_spool(self, entry: Entry) -> Any:
        text = entry.data.decode()
        if entry.kind == "e":
            return ("event", _event_row(orjson.loads(text), text))
        if entry.kind == "c":
            return ("checkpoint", _checkpoint_row(text))
        raise Rejected(f"not an entry of the postgres output: {entry.kind!r}")

    # -- worker -----------------------------------------------------------------------------

    def deliver(self, batch: list[Any]) -> None:
        try:
            conn = self._connection()
            events = [row for kind, row in batch if kind == "event"]
            checkpoints = [row for kind, row in batch if kind == "checkpoint"]
            with conn.transaction(), conn.cursor() as cursor:
                if events:
                    cursor.executemany(self._insert_event, events)
                if checkpoints:
                    cursor.executemany(self._insert_checkpoint, checkpoints)
        except psycopg.errors.DataError as exc:
            # The rows themselves are refused: trying again would fail the same way.
            raise GiveUp(f"PostgreSQL refused the rows: {_first_line(exc)}") from None
        except Exception as exc:
            if isinstance(exc, psycopg.OperationalError) or (
                self._conn is not None and self._conn.closed
            ):
                self._drop_connection()
            raise

    def _connection(self) -> Any:
        if self._conn is not None and self._conn_pid != os.getpid():
            _inherited.append(self._conn)
            self._conn = None
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self.dsn, autocommit=True,
                                   connect_timeout=max(1, round(self.connect_timeout)),
                                   application_name="secmon")
            try:
                ensure_schema(conn, self.table, self.create)
            except BaseException:
                conn.close()
                raise
            self._conn, self._conn_pid = conn, os.getpid()
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._conn_pid == os.getpid():
            with contextlib.suppress(Exception):
                conn.close()

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        self.health.join(1.0)
        self._drop_connection()



def _event_row(event: Mapping[str, Any], text: str) -> tuple[Any, ...]:
    return (event.get("timestamp"), str(event.get("event_type")), event.get("chain"),
            event.get("seq"), event.get("prev"), event.get("key_id"), event.get("mac"), text, text)


def _checkpoint_row(text: str) -> tuple[Any, ...]:
    checkpoint = orjson.loads(text)
    return (checkpoint["chain"], checkpoint["seq"], checkpoint["mac"], checkpoint["key_id"], text)


# -- reading it back (secmon verify --postgres) -------------------------------------------------

_COLUMNS = ("chain", "seq", "prev", "key_id", "mac")


def read_audit_rows(
    url: str, table: str = DEFAULT_TABLE
) -> tuple[Iterator[tuple[int, dict[str, Any], dict[str, Any]]], list[tuple[int, Any]]]:
    """(rows as (id, chain columns, signed event), checkpoints as (id, checkpoint)).

    A row whose ``event`` column no longer matches its signed ``record`` comes back with
    the mismatch marked in the columns (``event`` key), so the caller reports it.
    """
    try:
        schema, name = split_table(table)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    try:
        conn = psycopg.connect(url, connect_timeout=10, application_name="secmon verify")
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {_first_line(exc)}") from None
    try:
        checkpoints = conn.execute(
            sql.SQL("SELECT id, checkpoint FROM {} ORDER BY id").format(
                _ident(schema, f"{name}_checkpoints"))
        ).fetchall()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        checkpoints = []
    except psycopg.Error as exc:
        conn.close()
        raise StoreError(f"cannot read {table}_checkpoints: {_first_line(exc)}") from None

    def rows() -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
        try:
            with conn.cursor(name="secmon_verify") as cursor:
                cursor.itersize = 2000
                cursor.execute(sql.SQL(
                    "SELECT id, chain, seq, prev, key_id, mac, record, event::text FROM {}"
                    " ORDER BY id").format(_ident(schema, name)))
                for row in cursor:
                    columns = dict(zip(_COLUMNS, row[1:6], strict=True))
                    event = _loads(row[6])
                    if not _same(event, _loads(row[7])):
                        columns["event"] = "(differs from the signed record)"
                    yield row[0], columns, event
        except psycopg.errors.UndefinedTable:
            raise StoreError(f"table {table} does not exist") from None
        except psycopg.Error as exc:
            raise StoreError(f"cannot read {table}: {_first_line(exc)}") from None
        finally:
            conn.close()

    return rows(), [(row[0], row[1]) for row in checkpoints]


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"record": text}


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values; jsonb may print a float such as 1e16 as an integer."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return a == b or float(a) == float(b)
    return type(a) is type(b) and a == b


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# -- building from settings -------------------------------------------------------------------

_KEYS = ("dsn", "table", "create", "batch_size", "max_queue", "max_retries", "connect_timeout")


def build(key: str, spec: Mapping[str, Any], settings: Settings) -> PostgresOutput:
    # An audit store by default: only audit events, unless the spec says otherwise.
    spec = {"categories": [AUDIT], **spec}
    _, renderer, accepts = common_options(key, spec, settings, _KEYS)
    if spec.get("format", "json") != "json":
        raise ConfigError(f"{key}.format", "the postgres output stores the JSON event only")
    dsn = spec.get("dsn")
    if not isinstance(dsn, str) or not dsn.strip():
        raise ConfigError(f"{key}.dsn", "expected a connection string such as "
                                        "postgresql://secmon_writer@db/audit")
    table = spec.get("table", DEFAULT_TABLE)
    try:
        split_table(table if isinstance(table, str) else repr(table))
    except ValueError as exc:
        raise ConfigError(f"{key}.table", str(exc)) from None
    create = spec.get("create", True)
    if not isinstance(create, bool):
        raise ConfigError(f"{key}.create", "expected true or false")
    numbers: dict[str, Any] = {}
    for option, default in (("batch_size", 200), ("max_queue", 10_000), ("max_retries", 8)):
        value = spec.get(option, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < (
            0 if option == "max_retries" else 1
        ):
            raise ConfigError(f"{key}.{option}", f"expected a whole number, got {value!r}")
        numbers[option] = value
    timeout = spec.get("connect_timeout", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"{key}.connect_timeout", "expected a positive number of seconds")
    return PostgresOutput(
        dsn, table, create=create, connect_timeout=float(timeout),
        spool=SpoolLimits.from_settings(settings), name=spec.get("name") or "postgres",
        renderer=renderer, accepts=accepts, **numbers,
    )
