"""The chain rules: records and checkpoints in, every break in the chain named."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..events import VOCABULARY
from ..integrity import (
    CHECKPOINT_TYPE,
    GENESIS,
    Mac,
    checkpoint_signature_ok,
)
from .findings import Finding, Report


@dataclass(slots=True)
class _Entry:
    chain: str
    seq: int
    prev: str
    key_id: str
    mac: str
    mac_ok: bool | None  # None: no key for its key id
    digest: bytes
    source: str
    line: int
    order: int
    timestamp: str | None
    lost: list[tuple[str, int, int]] | None


@dataclass(slots=True)
class _Checkpoint:
    chain: str
    seq: int
    mac: str
    key_id: str
    time: str
    source: str
    line: int
    own: bool


class Verifier:
    """Feed it records and checkpoints (in file order), then :meth:`finish` for the report."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        *,
        public_key: Ed25519PublicKey | None = None,
        partial: bool = False,
        grace: float = 0.0,
        now: datetime | None = None,
    ) -> None:
        self.keys = {key_id: Mac(key) for key_id, key in keys.items()}
        self.public_key = public_key
        self.partial = partial
        self.grace = grace
        self.now = now or datetime.now(timezone.utc)
        self.report = Report()
        self._entries: dict[str, list[_Entry]] = defaultdict(list)
        self._checkpoints: dict[str, list[_Checkpoint]] = defaultdict(list)
        self._order = 0
        self._unchecked_signatures = 0
        self._unreadable: dict[str, list[int]] = {}  # source -> [first line, count]

    def _find(self, kind: str, message: str, failure: bool = True, **where: Any) -> None:
        self.report.findings.append(Finding(kind, message, failure, **where))

    # -- input ----------------------------------------------------------------------------

    def add_line(self, raw: bytes, source: str, line: int, *, last: bool) -> None:
        """One line of a log file (without its newline); ``last``: the file ended without one."""
        if not raw.strip():
            return
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            if last:
                self._find("torn", "incomplete trailing record (torn last line); not counted "
                           "as tampering", False, source=source, line=line)
            else:
                self._unreadable.setdefault(source, [line, 0])[1] += 1
            return
        self.add_record(record, source, line)

    def add_record(self, record: dict[str, Any], source: str, line: int) -> None:
        if "mac" not in record:
            spec = VOCABULARY.get(str(record.get("event_type")))
            if spec is not None and spec.audit:
                self._find("unsigned", f"{record.get('event_type')} is an audit event but "
                           "carries no signature (inserted, or stripped of its chain fields)",
                           source=source, line=line)
            return
        chain, seq, prev = record.get("chain"), record.get("seq"), record.get("prev")
        key_id, mac = record.get("key_id"), record.get("mac")
        if not (isinstance(chain, str) and isinstance(seq, int) and not isinstance(seq, bool)
                and seq >= 1 and isinstance(prev, str) and isinstance(key_id, str)
                and isinstance(mac, str)):
            self._find("modified", "chain fields are missing or malformed", source=source,
                       line=line, seq=seq if isinstance(seq, int) else None,
                       chain=chain if isinstance(chain, str) else None)
            return
        try:
            body = orjson.dumps({k: v for k, v in record.items() if k != "mac"},
                                option=orjson.OPT_SORT_KEYS)
        except TypeError:
            body = b""
        key = self.keys.get(key_id)
        mac_ok = None if key is None else hmac.compare_digest(key(body), mac)
        self._order += 1
        self.report.records += 1
        timestamp = record.get("timestamp")
        self._entries[chain].append(_Entry(
            chain, seq, prev, key_id, mac, mac_ok, hashlib.sha256(body + mac.encode()).digest(),
            source, line, self._order, timestamp if isinstance(timestamp, str) else None,
            _declared_lost(record),
        ))

    def add_checkpoint_line(self, raw: bytes, source: str, line: int, *, own: bool) -> None:
        if not raw.strip():
            return
        try:
            checkpoint = orjson.loads(raw)
        except orjson.JSONDecodeError:
            checkpoint = None
        self.add_checkpoint(checkpoint, source, line, own=own)

    def add_checkpoint(self, checkpoint: Any, source: str, line: int, *, own: bool = True) -> None:
        if not (isinstance(checkpoint, dict) and checkpoint.get("type") == CHECKPOINT_TYPE
                and isinstance(checkpoint.get("chain"), str)
                and isinstance(checkpoint.get("seq"), int)
                and isinstance(checkpoint.get("mac"), str)
                and isinstance(checkpoint.get("key_id"), str)):
            self._find("bad_checkpoint", "not a checkpoint record; ignored", False,
                       source=source, line=line)
            return
        chain = checkpoint["chain"]
        if self.public_key is not None:
            if "sig" not in checkpoint:
                self._find("bad_checkpoint", "checkpoint is not signed but a public key was "
                           "given; ignored", source=source, line=line,
                           seq=checkpoint["seq"], chain=chain)
                return
            if not checkpoint_signature_ok(checkpoint, self.public_key):
                self._find("bad_checkpoint", "checkpoint signature does not verify (forged or "
                           "altered); ignored", source=source, line=line,
                           seq=checkpoint["seq"], chain=chain)
                return
        elif "sig" in checkpoint:
            self._unchecked_signatures += 1
        self.report.checkpoints += 1
        self._checkpoints[chain].append(_Checkpoint(
            chain, checkpoint["seq"], checkpoint["mac"], checkpoint["key_id"],
            str(checkpoint.get("time", "?")), source, line, own,
        ))

    # -- analysis -------------------------------------------------------------------------

    def finish(self) -> Report:
        report = self.report
        if self._unchecked_signatures:
            self._find("checkpoint_signatures", f"{self._unchecked_signatures} checkpoint(s) are "
                       "signed, but their signatures were not checked (pass the public key)",
                       False)
        chains = {chain: _Chain(self, chain, entries, self._checkpoints.get(chain, []))
                  for chain, entries in self._entries.items()}
        report.chains = len(chains)
        declared: dict[str, list[tuple[int, int, _Entry]]] = defaultdict(list)
        for chain in chains.values():
            chain.classify()
            for entry in chain.good():
                for lost_chain, first, last in entry.lost or ():
                    declared[lost_chain].append((first, last, entry))
        for chain in chains.values():
            chain.check_sequence(declared.get(chain.name, []))
        for name, checkpoints in self._checkpoints.items():
            own = [c for c in checkpoints if c.own]
            if name not in chains and own:
                top = max(own, key=lambda c: c.seq)
                self._find("missing_chain", f"checkpoints show chain {name} up to seq "
                           f"{top.seq} ({top.time}) but none of its records is in the input",
                           not self.partial, source=top.source, line=top.line, seq=top.seq,
                           chain=name)
        for source, (first_line, count) in self._unreadable.items():
            lines = "1 line is not a JSON record" if count == 1 else (
                f"{count} lines are not JSON records, the first here")
            self._find("unreadable", f"{lines} (a torn write or damage; a signed record lost "
                       "there shows as a gap)", False, source=source, line=first_line)
        report.findings.sort(key=_finding_order)
        return report


class _Chain:
    """The records of one chain and the checks over them."""

    def __init__(self, verifier: Verifier, name: str, entries: list[_Entry],
                 checkpoints: list[_Checkpoint]) -> None:
        self.v = verifier
        self.name = name
        self.entries = entries
        self.checkpoints = checkpoints
        self.primary: dict[int, _Entry] = {}
        self.ok: dict[int, bool] = {}
        self.extras: set[int] = set()  # orders of duplicated or inserted entries
        self.key_id = ""

    def _find(self, kind: str, message: str, entry: _Entry | None = None, failure: bool = True,
              **extra: Any) -> None:
        where: dict[str, Any] = {"chain": self.name}
        if entry is not None:
            where.update(source=entry.source, line=entry.line, seq=entry.seq)
        where.update(extra)
        self.v._find(kind, message, failure, **where)

    def good(self) -> list[_Entry]:
        return [self.primary[seq] for seq, good in self.ok.items() if good]

    def classify(self) -> None:
        """Pick the record at each seq; flag duplicates, insertions, bad MACs and bad keys."""
        checkpoint_keys = Counter(c.key_id for c in self.checkpoints)
        valid_keys = Counter(e.key_id for e in self.entries if e.mac_ok)
        if len(checkpoint_keys) > 1:
            self._find("checkpoint_mismatch", "checkpoints of this chain state different key "
                       f"ids ({', '.join(sorted(checkpoint_keys))})")
        source_of_key = checkpoint_keys or valid_keys or Counter(e.key_id for e in self.entries)
        self.key_id = source_of_key.most_common(1)[0][0]
        by_seq: dict[int, list[_Entry]] = defaultdict(list)
        for entry in self.entries:
            by_seq[entry.seq].append(entry)
        bad: dict[str, list[_Entry]] = defaultdict(list)
        for seq in sorted(by_seq):
            group = by_seq[seq]
            distinct: dict[bytes, _Entry] = {}
            for entry in group:
                first = distinct.setdefault(entry.digest, entry)
                if first is not entry:
                    self.extras.add(entry.order)
                    self._find("duplicated", f"duplicate of the record at {first.source}:"
                               f"{first.line}", entry)
            candidates = list(distinct.values())
            right = [e for e in candidates if e.mac_ok and e.key_id == self.key_id]
            chosen = right[0] if right else candidates[0]
            self.primary[seq] = chosen
            for other in candidates:
                if other is not chosen:
                    self.extras.add(other.order)
                    how = "its MAC verifies" if other.mac_ok else "its MAC does not verify"
                    self._find("inserted", f"a second, different record claims seq {seq} "
                               f"(the chain's is at {chosen.source}:{chosen.line}); {how}", other)
            if chosen.mac_ok is None:
                bad["unknown_key"].append(chosen)
            elif not chosen.mac_ok:
                bad["modified"].append(chosen)
            elif chosen.key_id != self.key_id:
                bad["wrong_key"].append(chosen)
            self.ok[seq] = bool(chosen.mac_ok) and chosen.key_id == self.key_id
        messages = {
            "modified": "the MAC does not match: the record was changed after it was signed, "
                        "or forged",
            "unknown_key": "signed with a key id for which no key was given",
            "wrong_key": f"signed with a key id that was not valid at this position (the chain "
                         f"is signed with {self.key_id!r})",
        }
        for kind, entries in bad.items():
            for run in _runs(entries):
                first, last = run[0], run[-1]
                detail = messages[kind]
                if kind != "modified":
                    detail += f": {first.key_id!r}"
                if len(run) > 1:
                    detail = f"{len(run)} records, through {last.source}:{last.line}: {detail}"
                self._find(kind, detail, first, last_seq=last.seq)

    def check_sequence(self, declared: list[tuple[int, int, _Entry]]) -> None:
        """Links, gaps, order, checkpoints and anchoring."""
        v = self.v
        seqs = sorted(self.primary)
        # Links between neighbours that both verify.
        for seq in seqs:
            if not self.ok[seq]:
                continue
            entry = self.primary[seq]
            if seq == 1 and entry.prev != GENESIS:
                self._find("broken_link", "seq 1 does not start from the genesis value", entry)
            elif self.ok.get(seq - 1) and entry.prev != self.primary[seq - 1].mac:
                previous = self.primary[seq - 1]
                self._find("broken_link", f"prev does not match the MAC of seq {seq - 1} at "
                           f"{previous.source}:{previous.line}: one of the two was replaced",
                           entry)
        # Order: within the input's file order, a chain's seq only goes up.
        highest: _Entry | None = None
        moved: list[_Entry] = []
        passed: dict[int, _Entry] = {}  # order of a moved record -> the higher seq before it
        for entry in self.entries:
            if entry.order in self.extras:
                continue
            if highest is not None and entry.seq < highest.seq:
                moved.append(entry)
                passed[entry.order] = highest
            elif highest is None or entry.seq > highest.seq:
                highest = entry
        for run in _runs(moved, by_order=True):
            above = passed[run[0].order]
            count = (f"{len(run)} records, through {run[-1].source}:{run[-1].line}, "
                     if len(run) > 1 else "")
            self._find("reordered", f"{count}after seq {above.seq} ({above.source}:"
                       f"{above.line}) in file order: records were moved", run[0],
                       last_seq=run[-1].seq)
        # Gaps, the head and the tail.
        checkpoints = sorted(self.checkpoints, key=lambda c: c.seq)
        if seqs[0] > 1:
            self._missing(1, seqs[0] - 1, self.primary[seqs[0]], declared, head=True)
        for before, after in itertools.pairwise(seqs):
            if after > before + 1:
                self._missing(before + 1, after - 1, self.primary[after], declared)
        last = self.primary[seqs[-1]]
        for checkpoint in checkpoints:
            if checkpoint.key_id != self.key_id:
                self._find("checkpoint_mismatch", f"the checkpoint of {checkpoint.time} states key "
                           f"id {checkpoint.key_id!r}, the records {self.key_id!r}",
                           source=checkpoint.source, line=checkpoint.line, seq=checkpoint.seq)
            there = self.primary.get(checkpoint.seq)
            if there is not None and self.ok[there.seq] and there.mac != checkpoint.mac:
                self._find("checkpoint_mismatch", f"differs from what the checkpoint of "
                           f"{checkpoint.time} ({checkpoint.source}:{checkpoint.line}) recorded "
                           "at this seq: the chain was rewritten", there)
        if checkpoints and checkpoints[-1].seq > last.seq:
            longest = checkpoints[-1]
            self._missing(last.seq + 1, longest.seq, last, declared, checkpoint=longest)
        anchored = checkpoints[-1].seq if checkpoints else 0
        if last.seq > anchored:
            tail = [self.primary[s] for s in seqs if s > anchored]
            young = v.grace > 0 and all(_age(e.timestamp, v.now) < v.grace for e in tail)
            reason = ("no checkpoint of this chain was found" if not checkpoints else
                      f"the last checkpoint is at seq {anchored}")
            if young:
                self._find("pending", f"unanchored after seq {anchored}, but younger than the "
                           f"grace period of {v.grace:g} s ({reason})", last, False,
                           seq=anchored + 1, last_seq=last.seq)
            else:
                self._find("unanchored", f"unanchored after seq {anchored}: nothing shows that "
                           f"records after seq {last.seq} were not cut off ({reason})", last,
                           seq=anchored + 1, last_seq=last.seq)

    def _missing(self, low: int, high: int, at: _Entry, declared: list[tuple[int, int, _Entry]],
                 *, head: bool = False, checkpoint: _Checkpoint | None = None) -> None:
        """Report seqs ``low..high`` absent, minus what the writer declared lost."""
        for first, last, by in _subtract(low, high, declared):
            count = last - first + 1
            span = f"seq {first}" if count == 1 else f"seqs {first}-{last} ({count} records)"
            if by is not None:
                self._find("lost", f"{span} lost while an output could not write, as the writer "
                           f"recorded at {by.source}:{by.line}", at, False,
                           seq=first, last_seq=last)
            elif checkpoint is not None:
                self._find("truncated", f"the chain ends here but the checkpoint of "
                           f"{checkpoint.time} ({checkpoint.source}:{checkpoint.line}) shows seq "
                           f"{checkpoint.seq}: {span} cut off (truncated tail)", at,
                           seq=first, last_seq=last)
            elif head:
                anchored = any(c.seq == last and c.mac == at.prev for c in self.checkpoints)
                failure = not (self.v.partial or anchored)
                note = ("; a checkpoint anchors where the given records begin" if anchored
                        else "; with --partial this is accepted (older files rotated away)"
                        if failure else "")
                self._find("missing_head", f"{span} at the start of the chain are not in the "
                           f"input{note}", at, failure, seq=first, last_seq=last)
            else:
                self._find("deleted", f"{span} missing before this record (deleted)", at,
                           seq=first, last_seq=last)


def _subtract(low: int, high: int, declared: list[tuple[int, int, _Entry]]
              ) -> Iterator[tuple[int, int, _Entry | None]]:
    """Split ``low..high`` into declared (with the declaring entry) and undeclared pieces."""
    cursor = low
    for first, last, by in sorted(declared, key=lambda d: d[0]):
        if last < cursor or first > high:
            continue
        if first > cursor:
            yield cursor, first - 1, None
        yield max(first, cursor), min(last, high), by
        cursor = min(last, high) + 1
        if cursor > high:
            return
    if cursor <= high:
        yield cursor, high, None


def _runs(entries: list[_Entry], by_order: bool = False) -> Iterator[list[_Entry]]:
    """Consecutive seqs (and, ``by_order``, consecutive in the input) as one run each."""
    run: list[_Entry] = []
    for entry in entries:
        if run and (entry.seq != run[-1].seq + 1
                    or (by_order and entry.order != run[-1].order + 1)):
            yield run
            run = []
        run.append(entry)
    if run:
        yield run


def _declared_lost(record: Mapping[str, Any]) -> list[tuple[str, int, int]] | None:
    if record.get("event_type") != "sys_monitor_enabled":
        return None
    lost = record.get("lost")
    if not isinstance(lost, list):
        return None
    ranges = []
    for item in lost:
        if isinstance(item, dict):
            chain, first, last = item.get("chain"), item.get("first"), item.get("last")
            if isinstance(chain, str) and isinstance(first, int) and isinstance(last, int):
                ranges.append((chain, first, last))
    return ranges


def _age(timestamp: str | None, now: datetime) -> float:
    if timestamp is None:
        return float("inf")
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    return (now - moment).total_seconds()


def _finding_order(finding: Finding) -> tuple[str, int, int]:
    return (finding.source or "", finding.line or 0, finding.seq or 0)
