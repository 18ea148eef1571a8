"""What a verification found: each finding, where it is, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class UsageError(Exception):
    """Bad arguments or unreadable input: nothing was verified (exit 2)."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong (``failure``) or worth knowing about a trail, and where it is."""

    kind: str
    message: str
    failure: bool = True
    source: str | None = None
    line: int | None = None
    seq: int | None = None
    last_seq: int | None = None
    chain: str | None = None

    @property
    def where(self) -> str:
        if self.source is None:
            return ""
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "failure": self.failure, "message": self.message,
            "file": self.source, "line": self.line, "seq": self.seq,
            "last_seq": self.last_seq, "chain": self.chain,
        }


@dataclass
class Report:
    """What a verification found, over every file and table it read."""

    sources: list[str] = field(default_factory=list)
    records: int = 0
    chains: int = 0
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.failure for f in self.findings)

    @property
    def status(self) -> str:
        failures = {f.kind for f in self.findings if f.failure}
        if not failures:
            return "intact"
        return "unanchored" if failures == {"unanchored"} else "tampered"

    def extend(self, other: Report) -> None:
        self.sources += other.sources
        self.records += other.records
        self.chains += other.chains
        self.checkpoints += other.checkpoints
        self.findings += other.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "status": self.status, "sources": self.sources,
            "records": self.records, "chains": self.chains, "checkpoints": self.checkpoints,
            "findings": [f.to_dict() for f in self.findings],
        }

    def lines(self) -> list[str]:
        """The human report: one line per finding, then the verdict."""
        plural = "s" if self.chains != 1 else ""
        out = [
            f"read {len(self.sources)} source(s): {self.records:,} signed records in "
            f"{self.chains} chain{plural}, {self.checkpoints} checkpoint(s)"
        ]
        for f in self.findings:
            label = f.kind.upper() if f.failure else f"note: {f.kind}"
            seq = ""
            if f.seq is not None:
                seq = f"seq {f.seq}" + (f"-{f.last_seq}" if f.last_seq not in (None, f.seq) else "")
            where = " ".join(part for part in (f.where, seq) if part)
            out.append(f"{where + ': ' if where else ''}{label}: {f.message}")
        failures = sum(f.failure for f in self.findings)
        notes = len(self.findings) - failures
        if self.ok:
            verdict = "INTACT: every record verifies and every chain is anchored by a checkpoint"
        else:
            verdict = f"{self.status.upper()}: {failures} problem(s)"
        out.append(verdict + (f" ({notes} note(s))" if notes else ""))
        return out
