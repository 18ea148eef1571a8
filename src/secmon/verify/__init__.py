"""``secmon verify``: prove an audit trail whole, or name each record where it is not.

Records are read from JSON-lines files (plain or gzip, rotated ones in any order) or from
the PostgreSQL audit store, grouped into chains and checked against the chain rules of
:mod:`secmon.integrity`. Each finding names the file (or table), line (or row id) and
``seq``. Failures make the trail not intact (exit 1); notices are told but do not:

- a torn last line (an incomplete trailing record, e.g. a crash or a full disk mid-write);
- records an output lost while it could not write, when a signed record of the writer
  lists them (``sys_monitor_enabled`` with ``lost``);
- with ``partial``: chains whose beginning is not among the files given (rotated away);
- with ``grace``: an unanchored tail younger than ``grace`` seconds (the writer is live
  and its next checkpoint is not due yet).

A tail that no checkpoint covers is reported as "unanchored after seq X" and is a
failure: nothing shows that records after X were not cut off.
"""

from .command import key_ring, run
from .findings import Finding, Report, UsageError
from .sources import read_lines, verify_files, verify_postgres
from .verifier import Verifier

__all__ = [
    "Finding",
    "Report",
    "UsageError",
    "Verifier",
    "key_ring",
    "read_lines",
    "run",
    "verify_files",
    "verify_postgres",
]
