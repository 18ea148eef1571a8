"""`secmon verify` on a 1,000-record audit log: every kind of tampering is found and named."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from secmon.cli import cli
from secmon.config import Settings
from secmon.integrity import record_mac
from secmon.pipeline import Pipeline
from secmon.verify import Finding, Report, key_ring, verify_files

K1 = b"1" * 32
K2 = b"2" * 32
KEYS = {"k1": K1, "k2": K2}
N = 1000


def _write_log(directory: Path, count: int = N, **settings: Any) -> None:
    """``count`` audit records signed with k1, a checkpoint every 100 and one at close."""
    pipeline = Pipeline(Settings.build(env={}, environment="test", log_dir=directory,
                                       audit_key=K1, audit_key_id="k1",
                                       audit_keys={"k2": K2}, checkpoint_every=100,
                                       **settings))
    for i in range(count):
        pipeline.emit("secmon_audit_record", action="invoice_refunded", actor_id=i % 7,
                      resource_type="invoice", resource_id=i, _audit=True)
    pipeline.close()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pristine")
    _write_log(directory)
    return directory


@pytest.fixture
def logs(pristine: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    shutil.copytree(pristine, directory)
    return directory


def _lines(directory: Path) -> list[bytes]:
    return (directory / "audit.log").read_bytes().splitlines(keepends=True)


def _rewrite(directory: Path, change: Callable[[list[bytes]], list[bytes]]) -> None:
    path = directory / "audit.log"
    path.write_bytes(b"".join(change(path.read_bytes().splitlines(keepends=True))))


def _verify(directory: Path, **options: Any) -> Report:
    return verify_files([directory / "audit.log"], KEYS, **options)


def _failures(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.failure]


def _kinds(report: Report) -> list[str]:
    return [f.kind for f in _failures(report)]


def _resign(record: dict[str, Any], key: bytes, key_id: str) -> bytes:
    record = {**record, "key_id": key_id}
    record["mac"] = record_mac(key, record)
    return orjson.dumps(record) + b"\n"


# -- the acceptance cases -----------------------------------------------------------------------


def test_the_untouched_log_verifies(logs: Path) -> None:
    report = _verify(logs)
    assert report.ok and report.status == "intact", report.lines()
    assert report.records == N and report.chains == 1 and report.checkpoints == 10
    assert report.findings == []


def test_a_flipped_byte_in_record_500_is_named(logs: Path) -> None:
    def flip(lines: list[bytes]) -> list[bytes]:
        line = bytearray(lines[499])
        at = line.index(b'"resource_id":499') + len(b'"resource_id":49')
        line[at] ^= 0x01  # 499 -> 498
        lines[499] = bytes(line)
        return lines

    _rewrite(logs, flip)
    report = _verify(logs)
    [finding] = _failures(report)
    assert (finding.kind, finding.line, finding.seq) == ("modified", 500, 500)
    assert finding.source == str(logs / "audit.log")


def test_a_flipped_byte_that_breaks_the_json_still_names_the_record(logs: Path) -> None:
    def flip(lines: list[bytes]) -> list[bytes]:
        lines[499] = b"[" + lines[499][1:]
        return lines

    _rewrite(logs, flip)
    report = _verify(logs)
    [deleted] = _failures(report)
    assert (deleted.kind, deleted.seq, deleted.line) == ("deleted", 500, 501)
    [note] = [f for f in report.findings if not f.failure]
    assert (note.kind, note.line) == ("unreadable", 500)


def test_a_deleted_record_500_is_named(logs: Path) -> None:
    _rewrite(logs, lambda lines: lines[:499] + lines[500:])
    [finding] = _failures(_verify(logs))
    assert (finding.kind, finding.seq, finding.last_seq) == ("deleted", 500, 500)
    assert finding.line == 500  # record 501, now on line 500, is where the gap shows
    assert "seq 500 missing" in finding.message


def test_a_deleted_range_is_one_finding(logs: Path) -> None:
    _rewrite(logs, lambda lines: lines[:199] + lines[260:])
    [finding] = _failures(_verify(logs))
    assert (finding.kind, finding.seq, finding.last_seq, finding.line) == ("deleted", 200, 260,
                                                                           200)


def test_a_forged_record_with_a_plain_sha256_chain_fails(logs: Path) -> None:
    """The forger inserts a record after 500 and re-chains everything after it with SHA-256."""

    def forge(lines: list[bytes]) -> list[bytes]:
        records = [orjson.loads(line) for line in lines]
        fake = {**records[499], "resource_id": "forged", "seq": 501}
        forged = [*records[:500], fake, *records[500:]]
        previous = forged[499]["mac"]
        for seq, record in enumerate(forged[500:], start=501):
            record["seq"], record["prev"] = seq, previous
            body = orjson.dumps({k: v for k, v in record.items() if k != "mac"},
                                option=orjson.OPT_SORT_KEYS)
            record["mac"] = previous = hashlib.sha256(body).hexdigest()
        return [orjson.dumps(r) + b"\n" for r in forged]

    _rewrite(logs, forge)
    report = _verify(logs)
    assert [(f.kind, f.line, f.seq, f.last_seq) for f in _failures(report)] == [
        ("modified", 501, 501, 1001), ("unanchored", 1001, 1001, 1001)]
    assert "501 records" in report.findings[0].message


def test_a_forged_record_inserted_beside_a_real_one_is_named(logs: Path) -> None:
    def insert(lines: list[bytes]) -> list[bytes]:
        record = orjson.loads(lines[500])
        record["resource_id"] = "forged"
        record["mac"] = hashlib.sha256(lines[499]).hexdigest()
        return [*lines[:500], orjson.dumps(record) + b"\n", *lines[500:]]

    _rewrite(logs, insert)
    [finding] = _failures(_verify(logs))
    assert (finding.kind, finding.line, finding.seq) == ("inserted", 501, 501)
    assert "does not verify" in finding.message


def test_a_duplicated_record_is_named(logs: Path) -> None:
    _rewrite(logs, lambda lines: [*lines[:700], lines[299], *lines[700:]])
    [finding] = _failures(_verify(logs))
    assert (finding.kind, finding.line, finding.seq) == ("duplicated", 701, 300)
    assert f"{logs / 'audit.log'}:300" in finding.message


def test_swapped_records_500_and_501_are_named(logs: Path) -> None:
    def swap(lines: list[bytes]) -> list[bytes]:
        lines[499], lines[500] = lines[500], lines[499]
        return lines

    _rewrite(logs, swap)
    [finding] = _failures(_verify(logs))
    assert (finding.kind, finding.line, finding.seq) == ("reordered", 501, 500)


def test_a_truncated_tail_is_named_by_the_checkpoint(logs: Path) -> None:
    _rewrite(logs, lambda lines: lines[:-100])
    [finding] = _failures(_verify(logs))
    assert (finding.kind, finding.seq, finding.last_seq) == ("truncated", 901, 1000)
    assert finding.line == 900
    assert "truncated tail" in finding.message


def test_record_300_rewritten_with_a_later_key_id_fails(logs: Path) -> None:
    rewritten = {"resource_id": "rewritten"}
    _rewrite(logs, lambda lines: [
        *lines[:299], _resign({**orjson.loads(lines[299]), **rewritten}, K2, "k2"), *lines[300:]
    ])
    [finding] = _failures(_verify(logs))
    assert (finding.kind, finding.line, finding.seq) == ("wrong_key", 300, 300)
    assert "'k2'" in finding.message and "'k1'" in finding.message


def test_a_whole_chain_resigned_with_a_later_key_fails_on_its_checkpoints(logs: Path) -> None:
    """Whoever steals today's key cannot re-sign last year's chain: checkpoints name k1."""

    def resign(lines: list[bytes]) -> list[bytes]:
        out, previous = [], None
        for line in lines:
            record = orjson.loads(line)
            if previous is not None:
                record["prev"] = previous
            new = _resign(record, K2, "k2")
            previous = orjson.loads(new)["mac"]
            out.append(new)
        return out

    _rewrite(logs, resign)
    [finding] = _failures(_verify(logs))
    assert (finding.kind, finding.seq, finding.last_seq) == ("wrong_key", 1, 1000)
    assert "the chain is signed with 'k1'" in finding.message


def test_a_torn_last_line_is_reported_as_such_not_as_tampering(logs: Path) -> None:
    extra = orjson.loads(_lines(logs)[-1])
    with open(logs / "audit.log", "ab") as log:
        log.write((orjson.dumps({**extra, "seq": 1001}))[:57])
    report = _verify(logs)
    assert report.ok, report.lines()
    [finding] = report.findings
    assert (finding.kind, finding.line, finding.failure) == ("torn", 1001, False)
    assert "incomplete trailing record" in finding.message


def test_a_torn_record_the_checkpoint_vouched_for_is_also_a_truncation(logs: Path) -> None:
    _rewrite(logs, lambda lines: [*lines[:-1], lines[-1][:40]])
    report = _verify(logs)
    assert [(f.kind, f.failure) for f in report.findings] == [("truncated", True),
                                                             ("torn", False)]


# -- anchoring ---------------------------------------------------------------------------------


def test_without_checkpoints_the_chain_is_unanchored(logs: Path) -> None:
    (logs / "audit.checkpoints").unlink()
    report = _verify(logs)
    [finding] = _failures(report)
    assert finding.kind == "unanchored" and report.status == "unanchored"
    assert "unanchored after seq 0" in finding.message
    assert (finding.seq, finding.last_seq, finding.line) == (1, 1000, 1000)


def test_records_after_the_last_checkpoint_are_unanchored(logs: Path) -> None:
    path = logs / "audit.checkpoints"
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))
    [finding] = _failures(_verify(logs))
    assert finding.kind == "unanchored"
    assert "unanchored after seq 900" in finding.message


def test_grace_accepts_a_young_unanchored_tail_only(logs: Path) -> None:
    path = logs / "audit.checkpoints"
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))
    young = _verify(logs, grace=3600)
    assert young.ok and [f.kind for f in young.findings] == ["pending"]
    _rewrite(logs, lambda lines: [
        _resign({**orjson.loads(line), "timestamp": "2020-01-01T00:00:00.000000Z"}, K1, "k1")
        if i == 950 else line for i, line in enumerate(lines)
    ])
    kinds = _kinds(_verify(logs, grace=3600))
    assert "unanchored" in kinds  # an old record in the tail: no grace


def test_a_missing_head_fails_unless_partial(logs: Path) -> None:
    _rewrite(logs, lambda lines: lines[250:])
    [finding] = _failures(_verify(logs))
    assert (finding.kind, finding.seq, finding.last_seq) == ("missing_head", 1, 250)
    report = _verify(logs, partial=True)
    assert report.ok and [f.kind for f in report.findings] == ["missing_head"]


def test_a_head_anchored_by_a_checkpoint_is_accepted(logs: Path) -> None:
    """Retention removed the oldest file exactly at a checkpoint: nothing is missing."""
    _rewrite(logs, lambda lines: lines[300:])
    report = _verify(logs)
    assert report.ok, report.lines()
    assert "a checkpoint anchors" in report.findings[0].message


def test_a_log_deleted_entirely_is_caught_by_its_checkpoints(logs: Path) -> None:
    (logs / "audit.log").write_bytes(b"")
    missing, nothing = _failures(_verify(logs))
    assert missing.kind == "missing_chain" and "up to seq 1000" in missing.message
    assert nothing.kind == "no_records"


def test_signed_checkpoints_are_checked_with_the_public_key(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    key_file = tmp_path / "checkpoint.pem"
    key_file.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    public_file = tmp_path / "checkpoint.pub"
    public_file.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    logs = tmp_path / "logs"
    _write_log(logs, 300, checkpoint_signing_key=key_file)
    public = private.public_key()
    assert _verify(logs, public_key=public).ok
    unchecked = _verify(logs)
    assert unchecked.ok and [f.kind for f in unchecked.findings] == ["checkpoint_signatures"]
    # Truncate the log and forge the checkpoint file to match: the signatures give it away.
    _rewrite(logs, lambda lines: lines[:250])
    cp_path = logs / "audit.checkpoints"
    checkpoints = [orjson.loads(line) for line in cp_path.read_bytes().splitlines()]
    head = orjson.loads(_lines(logs)[-1])
    forged = {**checkpoints[-1], "seq": 250, "mac": head["mac"]}
    cp_path.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in [*checkpoints[:2], forged]))
    report = _verify(logs, public_key=public)
    assert {"bad_checkpoint", "unanchored"} <= set(_kinds(report))


# -- files: gzip, rotation order, several logs ---------------------------------------------------


def _split_into_rotated(logs: Path, stamps: list[str]) -> list[Path]:
    """audit.log -> rotated gzip parts (named as the file output names them) + the live rest."""
    lines = _lines(logs)
    size = len(lines) // (len(stamps) + 1)
    parts = []
    for index, stamp in enumerate(stamps):
        part = logs / f"audit.log.{stamp}.gz"
        part.write_bytes(gzip.compress(b"".join(lines[index * size:(index + 1) * size])))
        parts.append(part)
    (logs / "audit.log").write_bytes(b"".join(lines[len(stamps) * size:]))
    return parts


def test_rotated_and_gzipped_files_given_in_any_order(logs: Path) -> None:
    parts = _split_into_rotated(logs, ["20260101T000000.000000Z", "20260102T000000.000000Z",
                                       "20260103T000000.000000Z"])
    given = [logs / "audit.log", parts[2], parts[0], parts[1]]
    report = verify_files(given, KEYS)
    assert report.ok, report.lines()
    assert report.sources == [str(p) for p in parts] + [str(logs / "audit.log")]


def test_rotated_files_swapped_are_reordering(logs: Path) -> None:
    first, second = _split_into_rotated(logs, ["20260101T000000.000000Z",
                                               "20260102T000000.000000Z"])
    temporary = first.with_name("swap")
    first.rename(temporary)
    second.rename(first)
    temporary.rename(second)
    report = verify_files([first, second, logs / "audit.log"], KEYS)
    [finding] = _failures(report)
    assert (finding.kind, finding.source, finding.line) == ("reordered", str(second), 1)
    assert (finding.seq, finding.last_seq) == (1, 333)


def test_each_log_is_verified_on_its_own(logs: Path) -> None:
    """security.log holds the same audit records: it verifies by audit.checkpoints too."""
    paths = sorted(logs.iterdir())
    assert {p.name for p in paths} >= {"audit.log", "security.log", "audit.checkpoints"}
    report = verify_files(paths, KEYS)
    assert report.ok, report.lines()
    assert report.records == 2 * N


def test_an_unsigned_audit_record_is_an_insertion(logs: Path) -> None:
    record = {k: v for k, v in orjson.loads(_lines(logs)[10]).items()
              if k not in ("chain", "seq", "prev", "key_id", "mac")}
    _rewrite(logs, lambda lines: [*lines[:20], orjson.dumps(record) + b"\n", *lines[20:]])
    [finding] = _failures(_verify(logs))
    assert (finding.kind, finding.line) == ("unsigned", 21)


def test_an_unknown_key_id_cannot_verify(logs: Path) -> None:
    report = verify_files([logs / "audit.log"], {"k2": K2})
    assert "unknown_key" in _kinds(report)


def test_empty_input_is_not_success(tmp_path: Path) -> None:
    (tmp_path / "audit.log").write_bytes(b"")
    report = verify_files([tmp_path / "audit.log"], KEYS)
    assert _kinds(report) == ["no_records"] and not report.ok


def test_files_without_signed_records_beside_the_logs_are_noted(logs: Path) -> None:
    (logs / "alerts.jsonl").write_bytes(b'{"alert": "brute force"}\n' * 3)
    (logs / "report.html").write_bytes(b"<html>\n<body>\n</body>\n</html>\n")
    report = verify_files(sorted(logs.iterdir()), KEYS)
    assert report.ok, report.lines()
    notes = [(f.kind, Path(f.source or "").name) for f in report.findings]
    assert ("no_signed_records", "alerts.jsonl") in notes
    assert ("unreadable", "report.html") in notes and len(notes) == 3


# -- the command -------------------------------------------------------------------------------


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["verify", *args], env=env or {}, catch_exceptions=False)


def test_cli_exit_0_when_intact(logs: Path) -> None:
    result = _run(str(logs / "audit.log"), "--key-id", f"k1={K1.decode()}")
    assert result.exit_code == 0, result.output
    assert "INTACT" in result.output


def test_cli_exit_1_and_names_the_record(logs: Path) -> None:
    _rewrite(logs, lambda lines: lines[:499] + lines[500:])
    result = _run(str(logs / "audit.log"), env={"SECMON_AUDIT_KEY": K1.decode()})
    assert result.exit_code == 1
    assert f"{logs / 'audit.log'}:500 seq 500: DELETED" in result.output
    assert "TAMPERED" in result.output


def test_cli_keys_from_the_environment_by_id(logs: Path) -> None:
    env = {"SECMON_AUDIT_KEY": K2.decode(), "SECMON_AUDIT_KEY_ID": "k2",
           "SECMON_AUDIT_KEYS": json.dumps({"k1": K1.decode()})}
    assert _run(str(logs / "audit.log"), env=env).exit_code == 0
    assert key_ring([], env) == KEYS


def test_cli_json(logs: Path) -> None:
    (logs / "audit.checkpoints").unlink()
    result = _run(str(logs / "audit.log"), "--json", "--key-id", f"k1={K1.decode()}")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["status"] == "unanchored" and report["ok"] is False
    assert report["findings"][0]["kind"] == "unanchored"
    assert report["findings"][0]["file"] == str(logs / "audit.log")


def test_cli_explicit_checkpoints(logs: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "cp.jsonl"
    moved.parent.mkdir()
    (logs / "audit.checkpoints").rename(moved)
    key = f"k1={K1.decode()}"
    assert _run(str(logs / "audit.log"), "--key-id", key).exit_code == 1
    assert _run(str(logs / "audit.log"), "--checkpoints", str(moved), "--key-id",
                key).exit_code == 0


@pytest.mark.parametrize(("args", "message"), [
    ((), "give log files"),
    (("missing.log", "--key-id", "k1=x"), "missing.log: no such file"),
    (("{log}",), "no audit key"),
    (("{log}", "--key-id", "k1"), "expected ID=KEY"),
    (("{log}", "--key-id", "k1=x", "--public-key", "nope.pem"), "--public-key nope.pem"),
    (("{log}", "--bogus"), "No such option"),
])
def test_cli_usage_errors_exit_2_in_one_line(logs: Path, args: tuple[str, ...],
                                            message: str) -> None:
    args = tuple(a.replace("{log}", str(logs / "audit.log")) for a in args)
    result = CliRunner().invoke(cli, ["verify", *args], env={})
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
