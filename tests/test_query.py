from __future__ import annotations

import csv
import io
import os
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secmon.logread import (
    Filter,
    InputError,
    ScanStats,
    Where,
    canonical,
    event_time,
    parse_duration,
    parse_when,
    scan,
    user_of,
)
from secmon.query import Query, TimeBuckets, write_csv, write_jsonl

from .sample_logs import events, write_log

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "security.log", events(), torn=True)


def rows(job: Query) -> list[list[Any]]:
    return [list(row) for row in job.run().rows]


# -- time -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", "2026-03-02T12:00:00.000000Z"),
        ("7d", "2026-02-24T12:00:00.000000Z"),
        ("90s", "2026-03-03T11:58:30.000000Z"),
        ("2w", "2026-02-17T12:00:00.000000Z"),
        ("now", "2026-03-03T12:00:00.000000Z"),
        ("2026-03-01", "2026-03-01T00:00:00.000000Z"),
        ("2026-03-01T14:30", "2026-03-01T14:30:00.000000Z"),
        ("2026-03-01 14:30:15", "2026-03-01T14:30:15.000000Z"),
        ("2026-03-01T14:30:00Z", "2026-03-01T14:30:00.000000Z"),
        ("2026-03-01T14:30:00+02:00", "2026-03-01T12:30:00.000000Z"),
    ],
)
def test_parse_when(text: str, expected: str) -> None:
    assert parse_when(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "24", "h", "2026/03/01", ""])
def test_parse_when_rejects_with_the_forms_it_takes(text: str) -> None:
    with pytest.raises(ValueError, match="duration back from now"):
        parse_when(text, now=NOW)


def test_event_time_normalizes_other_writers() -> None:
    assert event_time({"timestamp": "2026-03-01T10:00:00.000000Z"}) == "2026-03-01T10:00:00.000000Z"
    assert event_time({"timestamp": "2026-03-01T12:00:00+02:00"}) == "2026-03-01T10:00:00.000000Z"
    assert event_time({"timestamp": "garbage"}) is None
    assert event_time({"timestamp": 5}) is None
    assert event_time({}) is None


def test_parse_duration() -> None:
    assert parse_duration("5m") == 300
    assert parse_duration("1d") == 86400
    for bad in ("0m", "5", "fortnight"):
        with pytest.raises(ValueError):
            parse_duration(bad)


# -- filters ----------------------------------------------------------------------------------


def test_where_parses_dotted_and_negated_conditions() -> None:
    where = Where.parse("changes.role.new=admin")
    assert where.path == ("changes", "role", "new") and where.value == "admin"
    assert where({"changes": {"role": {"new": "admin"}}})
    assert not where({"changes": {"role": "admin"}})
    assert not where({})
    negated = Where.parse("status!=200")
    assert negated({"status": 401}) and negated({}) and not negated({"status": 200})
    assert Where.parse("mfa=false")({"mfa": False})
    assert Where.parse("resource_id=7")({"resource_id": 7})
    assert Where.parse("path=/a=b")({"path": "/a=b"})


@pytest.mark.parametrize("text", ["novalue", "=x", "a..b=1", ".a=1", ""])
def test_where_rejects_what_is_not_a_condition(text: str) -> None:
    with pytest.raises(ValueError, match="key=value"):
        Where.parse(text)


def test_user_of_prefers_the_name_then_the_hash_then_the_id() -> None:
    assert user_of({"username": "bob", "user_id": 2}) == "bob"
    assert user_of({"username_hash": "ab12", "user_id": 2}) == "#ab12"
    assert user_of({"user_id": 2}) == "id:2"
    assert user_of({}) is None


def _reference(records: list[dict[str, Any]], where: Filter) -> list[dict[str, Any]]:
    """What the filter means, without any raw-bytes shortcut."""
    keep = where.predicate()
    return [r for r in records if keep is None or keep(r)]


_values = st.sampled_from(["alice", "bob", "203.0.113.9", "198.51.100.7", "/admin/", "7"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    types=st.frozensets(st.sampled_from(["authn_login_fail", "authz_fail", "authn_login_success",
                                         "secmon_credential_stuffing"]), max_size=2),
    key=st.sampled_from(["username", "source_ip", "path", "user_id", "changes.role.new"]),
    value=_values,
    negate=st.booleans(),
    who=st.none() | _values | st.just("#0000000000000003"),
    level=st.none() | st.sampled_from(["warning", "critical"]),
)
def test_prefiltered_scan_equals_the_plain_filter(
    tmp_path: Path, types: frozenset[str], key: str, value: str, negate: bool, who: str | None,
    level: str | None,
) -> None:
    records = events()
    path = write_log(tmp_path / "h.log", records)
    where = Filter(types=types, where=(Where(tuple(key.split(".")), value, negate),), who=who,
                   min_level=level, since="2026-03-02T08:03:00.000000Z")
    got = [event for _, event in scan([str(path)], where, ScanStats())]
    assert got == _reference(records, where)


# -- reading ----------------------------------------------------------------------------------


def test_plain_and_gzip_read_alike_and_torn_lines_are_counted(tmp_path: Path) -> None:
    plain = write_log(tmp_path / "security.log", events(), torn=True)
    packed = write_log(tmp_path / "security.log.1.gz", events(), gz=True)
    (tmp_path / "mixed.log").write_bytes(b"not json\n[1, 2]\n\n" + plain.read_bytes()[:400])
    stats = ScanStats()
    got = list(scan([str(packed), str(plain), str(tmp_path / "mixed.log")], Filter(), stats))
    # both copies of each event, but the one signed record (same chain and seq) only once
    assert len(got) == 2 * len(events()) - 1 + 1
    assert stats.duplicates == 1
    assert stats.files == 3
    # the torn tail of security.log, "not json", "[1, 2]", the cut line of mixed.log
    assert stats.bad_lines == 4
    assert f"{plain}:{len(events()) + 1}" in stats.bad_examples
    assert "skipped 4 line(s)" in stats.problems()[0]
    assert "1 signed record(s) were in more than one input" in stats.problems()[1]


def test_seen_records_tell_repeats() -> None:
    from secmon.logread import SeenRecords

    seen = SeenRecords()
    assert seen.first_time("c1", 1) and seen.first_time("c1", 9_000) and seen.first_time("c2", 1)
    assert not seen.first_time("c1", 1) and not seen.first_time("c1", 9_000)
    assert seen.first_time("c1", 2**40) and not seen.first_time("c1", 2**40)
    assert seen.first_time("c1", "7") and not seen.first_time("c1", "7")


def test_truncated_gzip_keeps_what_was_there(tmp_path: Path) -> None:
    full = write_log(tmp_path / "full.gz", events() * 200, gz=True)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    stats = ScanStats()
    got = list(scan([str(cut)], Filter(), stats))
    assert 0 < len(got) < len(events()) * 200
    assert stats.truncated == [str(cut)]
    assert "compressed data ends early" in stats.problems()[-1]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"\x1f\x8b" + os.urandom(64)), "not a readable gzip file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: None, "no such file"),
    ],
)
def test_unusable_inputs_raise_one_clear_error(tmp_path: Path, make: Any, message: str) -> None:
    path = tmp_path / "input.gz"
    make(path)
    with pytest.raises(InputError, match=message):
        list(scan([str(path)], Filter(), ScanStats()))


def test_scanning_streams_instead_of_loading_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    line = orjson.dumps(events()[8]) + b"\n"
    with path.open("wb") as handle:
        for _ in range(130):
            handle.write(line * (256 * 1024 // len(line) + 1))
    size = path.stat().st_size
    assert size > 32 << 20
    tracemalloc.start()
    try:
        job = Query([str(path)], analysis="failed-logins", by="ip")
        result = rows(job)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result[0][0] == "203.0.113.9" and result[0][1] == job.stats.matched
    assert peak < size / 4


# -- analyses ---------------------------------------------------------------------------------


def test_failed_logins_by_ip_counts_distinct_users(log: Path) -> None:
    result = rows(Query([str(log)], analysis="failed-logins", by="ip"))
    assert result == [
        ["203.0.113.50", 20, 20, "2026-03-02 10:00:00", "2026-03-02 10:04:00"],
        ["203.0.113.9", 8, 1, "2026-03-02 09:00:00", "2026-03-02 09:07:00"],
    ]


def test_failed_logins_by_user_shows_names_and_hashes(log: Path) -> None:
    result = rows(Query([str(log)], analysis="failed-logins", by="user"))
    assert result[0] == ["bob", 8, 1, "2026-03-02 09:00:00", "2026-03-02 09:07:00"]
    assert {row[0] for row in result[1:]} == {f"#{i:016x}" for i in range(20)}


def test_denials_by_user_count_resources(log: Path) -> None:
    result = rows(Query([str(log)], analysis="denials", by="user"))
    assert result == [["mallory", 4, 4, "2026-03-02 12:00:00", "2026-03-02 12:03:00"]]
    by_ip = rows(Query([str(log)], analysis="denials", by="ip"))
    assert by_ip == [["192.0.2.33", 4, 1, "2026-03-02 12:00:00", "2026-03-02 12:03:00"]]


def test_analysis_and_user_filters_combine(log: Path) -> None:
    where = Filter(since="2026-03-02T10:02:00.000000Z")
    result = rows(Query([str(log)], where=where, analysis="failed-logins", by="ip"))
    assert result == [["203.0.113.50", 12, 12, "2026-03-02 10:02:00", "2026-03-02 10:04:00"]]
    where = Filter(types=frozenset({"authz_fail"}))
    assert rows(Query([str(log)], where=where, analysis="failed-logins", by="ip")) == []


def test_over_time_buckets_by_type(log: Path) -> None:
    job = Query([str(log)], analysis="over-time", bucket=3600)
    result = job.run()
    assert result.columns == ["time", "authn_login_fail", "authn_login_success", "authz_fail",
                              "authn_login_fail_max", "secmon_credential_stuffing",
                              "privilege_permissions_changed", "total"]
    table = {row[0]: row for row in result.rows}
    assert table["2026-03-02 09:00"][1] == 8 and table["2026-03-02 09:00"][4] == 1
    assert table["2026-03-02 10:00"][1] == 20
    assert table["2026-03-02 11:00"][-1] == 0  # empty buckets stay in the series
    assert sum(row[-1] for row in table.values()) == len(events())


def test_time_buckets_coarsen_as_the_span_grows() -> None:
    buckets = TimeBuckets(max_keys=50)
    for day in range(1, 5):
        for hour in range(24):
            buckets.add(f"2026-03-0{day}T{hour:02d}:30:00.000000Z", "x")
    assert buckets.grain == 3  # days: 96 hours did not fit in 50 keys
    step, starts, columns = buckets.table()
    assert step == 86400 and len(starts) == 4 and columns["x"] == [24, 24, 24, 24]


def test_timeline_merges_files_in_time_order(tmp_path: Path) -> None:
    records = events()
    older = write_log(tmp_path / "security.log.1.gz", records[:10], gz=True)
    newer = write_log(tmp_path / "security.log", records[10:])
    job = Query([str(newer), str(older)], where=Filter(who="bob"), analysis="timeline")
    result = job.run()
    times = [row[0] for row in result.rows]
    assert times == sorted(times)
    assert len(times) == 3 + 8 + 1  # logins, failures, the detection naming bob
    by_id = Query([str(newer), str(older)], where=Filter(who="id:7"), analysis="timeline")
    assert {row[2] for row in by_id.run().rows} == {"authz_fail", "privilege_permissions_changed"}


def test_alerts_lists_detections_with_evidence(log: Path) -> None:
    result = Query([str(log)], analysis="alerts").run()
    listed = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    assert [a["event_type"] for a in listed] == ["authn_login_fail_max",
                                                 "secmon_credential_stuffing"]
    assert orjson.loads(listed[1]["evidence"]) == {"distinct_users": 20, "window": 600}


def test_count_by_reaches_nested_fields(log: Path) -> None:
    result = rows(Query([str(log)], analysis="count-by", by="changes.role.new"))
    assert result[0][:2] == ["(none)", len(events()) - 1]
    assert result[1][:2] == ["admin", 1]


def test_events_listing_limits_and_projects(log: Path) -> None:
    job = Query([str(log)], where=Filter(where=(Where.parse("source_ip=203.0.113.9"),)),
                fields=["time", "username", "reason"], limit=3)
    assert rows(job) == [[f"2026-03-02 09:0{i}:00", "bob", "bad password"] for i in range(3)]


# -- output -----------------------------------------------------------------------------------


def test_jsonl_keeps_whole_events_and_csv_has_a_header(log: Path) -> None:
    where = Filter(types=frozenset({"privilege_permissions_changed"}))
    out = io.BytesIO()
    assert write_jsonl(Query([str(log)], where=where).run(), out) == 1
    assert orjson.loads(out.getvalue()) == events()[-1]
    text = io.StringIO()
    write_csv(Query([str(log)], where=where).run(), text)
    table = list(csv.DictReader(io.StringIO(text.getvalue())))
    assert table[0]["event_type"] == "privilege_permissions_changed"
    assert table[0]["user_id"] == "1" and table[0]["username"] == "alice"


def test_jsonl_of_an_analysis_names_the_columns(log: Path) -> None:
    out = io.BytesIO()
    write_jsonl(Query([str(log)], analysis="denials", by="user").run(), out)
    assert orjson.loads(out.getvalue()) == {"user": "mallory", "denials": 4, "resources": 4,
                                            "first": "2026-03-02 12:00:00",
                                            "last": "2026-03-02 12:03:00"}


def test_canonical_is_what_secmon_writes() -> None:
    from secmon.clock import utc_timestamp

    now = utc_timestamp()
    assert canonical(datetime.fromisoformat(now[:-1] + "+00:00")) == now
