"""Where records come from: log files (plain, gzip, rotated) and the PostgreSQL audit store."""

from __future__ import annotations

import gzip
import zlib
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..outputs.file import checkpoint_path_for, log_family
from .findings import Finding, Report, UsageError
from .verifier import Verifier

_GZIP_MAGIC = b"\x1f\x8b"


def read_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line without its newline, True if the file ended without one)."""
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if magic == _GZIP_MAGIC else raw
            number = 0
            try:
                for line in stream:
                    number += 1
                    if line.endswith(b"\n"):
                        yield number, line[:-1], False
                    else:
                        yield number, line, True
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise UsageError(f"{path}: compressed data is damaged ({exc})") from None
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory") from None
    except PermissionError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


def verify_files(
    paths: Sequence[Path],
    keys: Mapping[str, bytes],
    *,
    checkpoints: Sequence[Path] = (),
    public_key: Ed25519PublicKey | None = None,
    partial: bool = False,
    grace: float = 0.0,
) -> Report:
    """Verify log files: each log (a live file and its rotated ones) is checked on its own.

    Checkpoint files are the ones given, plus any named like the log
    (``audit.log`` -> ``audit.checkpoints``); other ``*.checkpoints`` files in the log's
    directory vouch for chains found in it.
    """
    logs: dict[Path, list[Path]] = defaultdict(list)
    listed: set[Path] = set()  # checkpoint files among the FILEs: each belongs to its own log
    for path in paths:
        if path.name.endswith(".lock"):
            continue
        if path.suffix == ".checkpoints":
            listed.add(path.resolve())
            continue
        base, _ = log_family(path)
        if path not in logs[base]:
            logs[base].append(path)
    report = Report()
    for base, members in logs.items():
        verifier = Verifier(keys, public_key=public_key, partial=partial, grace=grace)
        for path in sorted(members, key=lambda p: log_family(p)[1]):
            verifier.report.sources.append(str(path))
            for number, line, last in read_lines(path):
                verifier.add_line(line, str(path), number, last=last)
        own = {p.resolve() for p in checkpoints}
        default = checkpoint_path_for(base)
        if default.exists():
            own.add(default.resolve())
        borrowed = ({p.resolve() for p in base.parent.glob("*.checkpoints")} | listed) - own
        sources = [(p, True) for p in sorted(own)] + [(p, False) for p in sorted(borrowed)]
        for path, is_own in sources:
            for number, line, _ in read_lines(path):
                verifier.add_checkpoint_line(line, str(path), number, own=is_own)
        family = verifier.finish()
        if not family.records:
            family.findings.append(Finding("no_signed_records", "no signed records in this "
                                           "log", False, source=str(base)))
        report.extend(family)
    return _something_verified(report)


def _something_verified(report: Report) -> Report:
    if not report.records:
        report.findings.append(Finding("no_records", "no signed records in the input: nothing "
                                       "was verified"))
    return report


# -- PostgreSQL -----------------------------------------------------------------------------


def verify_postgres(
    url: str,
    keys: Mapping[str, bytes],
    *,
    table: str | None = None,
    checkpoints: Sequence[Path] = (),
    public_key: Ed25519PublicKey | None = None,
    partial: bool = False,
    grace: float = 0.0,
) -> Report:
    """Verify the PostgreSQL audit store: rows in insertion order, checkpoints from its table."""
    try:
        from ..outputs import postgres
    except ImportError as exc:
        raise UsageError(f"--postgres needs psycopg 3: pip install 'secmon[postgres]' ({exc})"
                         ) from None
    verifier = Verifier(keys, public_key=public_key, partial=partial, grace=grace)
    name = table or postgres.DEFAULT_TABLE
    source = f"postgres:{name}"
    verifier.report.sources.append(source)
    try:
        rows, stored_checkpoints = postgres.read_audit_rows(url, name)
        for row_id, columns, event in rows:
            mismatch = [k for k, value in columns.items() if event.get(k) != value]
            if mismatch:
                verifier._find("modified", f"column(s) {', '.join(mismatch)} differ from the "
                               "signed record", source=source, line=row_id,
                               seq=columns.get("seq"), chain=columns.get("chain"))
            verifier.add_record(event, source, row_id)
        for row_id, checkpoint in stored_checkpoints:
            verifier.add_checkpoint(checkpoint, f"{source}_checkpoints", row_id)
    except postgres.StoreError as exc:
        raise UsageError(str(exc)) from None
    for path in checkpoints:
        for number, line, _ in read_lines(path):
            verifier.add_checkpoint_line(line, str(path), number, own=True)
    return _something_verified(verifier.finish())
