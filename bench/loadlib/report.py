"""The tables `make load` prints (Markdown, ready for docs/benchmarks.md), and what went wrong."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .scenarios import Comparison, FaultResult, RunCheck, median


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def _ratio(value: float, baseline: float) -> str:
    if math.isnan(value) or math.isnan(baseline) or baseline == 0:
        return "n/a"
    return f"{value / baseline:.2f}x"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join(("---:" if a == "r" else "---") for a in
                               align.ljust(len(header), "l")) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def benign_table(results: Sequence[Comparison], rates: dict[str, float]) -> list[str]:
    rows = []
    for c in results:
        p50_with = median([x.p50 for x in c.benign_with])
        p50_without = median([x.p50 for x in c.benign_without])
        p99_with = median([x.p99 for x in c.benign_with])
        p99_without = median([x.p99 for x in c.benign_without])
        tput_with = median(c.throughput_with)
        tput_without = median(c.throughput_without)
        rows.append([
            c.framework, f"{c.workers}", f"{rates[c.framework]:g} req/s",
            _ms(p50_without), _ms(p50_with), _ratio(p50_with, p50_without),
            _ms(p99_without), _ms(p99_with), _ratio(p99_with, p99_without),
            f"{tput_without:.0f}", f"{tput_with:.0f}", _ratio(tput_with, tput_without),
        ])
    return _table(["app", "workers", "fixed rate", "p50 without", "p50 with", "ratio",
                   "p99 without", "p99 with", "ratio", "req/s without", "req/s with", "ratio"],
                  rows, "lllrrrrrrrrr")


def attack_table(results: Sequence[Comparison], bound: float) -> list[str]:
    """``bound``: the most secmon may add to one request (its Redis round trips' timeouts)."""
    rows = []
    for c in results:
        bw, bo = c.mixed_with.get("benign"), c.mixed_without.get("benign")
        aw, ao = c.mixed_with.get("attack"), c.mixed_without.get("attack")
        if not (bw and bo and aw and ao):
            continue
        server_errors = c.check.secmon_server_errors if c.check else 0
        added = max(bw.worst, aw.worst) - max(bo.worst, ao.worst)
        rows.append([
            c.framework, f"{c.mixed_requests}", f"{c.mixed_seconds:g} s",
            f"{_ms(bo.p50)} / {_ms(bo.p99)}", f"{_ms(bw.p50)} / {_ms(bw.p99)}",
            _ratio(bw.p99, bo.p99),
            f"{_ms(ao.p50)} / {_ms(ao.p99)} / {_ms(ao.worst)}",
            f"{_ms(aw.p50)} / {_ms(aw.p99)} / {_ms(aw.worst)}",
            f"{_ms(added)} ({'within' if added <= bound else '**over**'} {_ms(bound)})",
            f"{c.baseline_server_errors} / {server_errors}",
        ])
    return _table(["app", "requests", "for", "benign p50 / p99 without", "with", "p99 ratio",
                   "attack p50 / p99 / max without", "with", "slowest request: added by secmon "
                   "(bound)", "5xx without / with"], rows, "lrrrrrrrrr")


def _verify_cell(check: RunCheck) -> str:
    v = check.verification
    notes = v.kinds(failures=False)
    text = f"{v.status} ({v.records} records, {v.chains} chains)"
    if notes:
        text += "; notes: " + ", ".join(f"{k} {n}" for k, n in sorted(notes.items()))
    failures = v.kinds(failures=True)
    if failures:
        text += "; " + ", ".join(f"{k.upper()} {n}" for k, n in sorted(failures.items()))
    return text


def _detections_cell(check: RunCheck) -> str:
    d = check.detections
    once = sum(1 for key in d.expected if d.events.get(key) == 1)
    alerted = sum(1 for key in d.expected if d.alerts.get(key) == 1)
    return f"{len(d.expected)} / {once} / {alerted}"


def invariants_table(results: Sequence[Comparison]) -> list[str]:
    rows = []
    for c in results:
        check = c.check
        if check is None:
            continue
        t = check.traffic
        rows.append([
            c.framework, f"{t.sent}", f"{len(t.server_errors)}", f"{len(t.no_answer)}",
            f"{check.security.expected}", f"{len(check.security.lost)}",
            f"{len(check.security.duplicated)}", f"{check.audit.expected}",
            f"{len(check.audit.lost)}", f"{len(check.audit.duplicated)}",
            _verify_cell(check), _detections_cell(check),
            f"{check.rotated['security.log']} + {check.rotated['audit.log']}",
            "yes" if check.invariants_hold else "**NO**",
        ])
    return _table(["app", "requests", "5xx", "no answer", "events expected", "lost", "dup",
                   "audit expected", "lost", "dup", "secmon verify", "detections expected / "
                   "fired once / alerted once", "rotations", "holds"], rows, "lrrrrrrrrr")


def fault_table(results: Sequence[FaultResult]) -> list[str]:
    rows = []
    for f in results:
        if f.skipped or f.check is None or not (f.before and f.during and f.after):
            rows.append([f.name, f.framework, "skipped: " + f.skipped] + [""] * 8)
            continue
        t = f.check.traffic
        window = (f"at {f.window[0]:.0f} s" if f.window[1] - f.window[0] < 0.5
                  else f"{f.window[0]:.0f}-{f.window[1]:.0f} s")
        rows.append([
            f.name, f.framework, window, f"{f.during_requests}",
            f"{len(t.server_errors)} / {len(t.no_answer)}",
            f"{_ms(f.before.p99)} / {_ms(f.during.p99)} / {_ms(f.after.p99)}",
            f"{len(f.check.security.lost)} ({f.lost_reported.get('security', 0)})",
            f"{len(f.check.security.duplicated)}",
            _verify_cell(f.check),
            f"{sum(f.check.detections.events.values())} / {sum(f.check.detections.alerts.values())}"
            f" ({f.deliveries_refused} refused)",
            f"{len(f.check.detections.missing | f.missed_in_outage)}",
        ])
    return _table(["fault", "app", "when", "requests due then", "5xx / no answer",
                   "benign p99 before / during / after", "events lost (secmon's count)", "dup",
                   "secmon verify", "detections logged / alerts delivered",
                   "detections missed"], rows, "lllrrrrrllr")


def problems(check: RunCheck, limit: int = 8) -> list[str]:
    """What broke an invariant, named precisely enough to go and look."""
    out = []
    for record in check.traffic.server_errors[:limit]:
        out.append(f"5xx: {record.kind} {record.id} -> {record.status}")
    for (kind, status), count in check.traffic.odd_status.most_common(limit):
        out.append(f"unexpected answer: {kind} -> {status} ({count}x)")
    for record, name in check.security.lost[:limit]:
        out.append(f"lost: {name} of {record.kind} {record.id} (status {record.status})")
    for record, name, count in check.security.duplicated[:limit]:
        out.append(f"duplicated: {name} x{count} for {record.kind} {record.id}")
    for record, name in check.audit.lost[:limit]:
        out.append(f"lost from audit.log: {name} of {record.kind} {record.id}")
    for name, count in check.security.unexpected.most_common(limit):
        out.append(f"event nobody expected: {name} ({count}x)")
    d = check.detections
    for key in sorted(d.missing):
        out.append(f"should have fired, did not: {key[0]} for {key[1]}")
    for key in sorted(d.unexplained):
        out.append(f"fired without cause: {key[0]} for {key[1]}")
    for key, count in sorted(d.repeated_events.items()):
        out.append(f"fired {count}x in one throttle window: {key[0]} for {key[1]}")
    for key in sorted(d.undelivered):
        out.append(f"alert not delivered: {key[0]} for {key[1]}")
    for key, count in sorted(d.repeated_alerts.items()):
        out.append(f"alert delivered {count}x: {key[0]} for {key[1]}")
    if d.unsigned_alerts:
        out.append(f"alerts with a bad signature: {d.unsigned_alerts}")
    for finding in check.verification.findings:
        if finding["failure"]:
            out.append(f"verify: {finding['kind']}: {finding['message']} "
                       f"({finding.get('file')}:{finding.get('line')})")
    return out


def fault_story(f: FaultResult) -> list[str]:
    """What the fault affected and what it cost, in words."""
    if f.skipped:
        return [f"- **{f.name}** ({f.framework}): skipped: {f.skipped}"]
    check = f.check
    assert check is not None and f.before and f.during and f.after
    t = check.traffic
    when = (f"at {f.window[0]:.1f} s" if f.window[1] - f.window[0] < 0.5
            else f"from {f.window[0]:.1f} s to {f.window[1]:.1f} s")
    lines = [f"- **{f.name}** ({f.framework}): {f.description}, {when} of the run."]
    lines.append(f"  - Requests: {t.sent} sent, {f.during_requests} due during the fault; "
                 f"{len(t.server_errors)} answered 5xx, {len(t.no_answer)} got no answer. "
                 f"Benign latency before / during / after: p99 {_ms(f.before.p99)} / "
                 f"{_ms(f.during.p99)} / {_ms(f.after.p99)}, max {_ms(f.before.worst)} / "
                 f"{_ms(f.during.worst)} / {_ms(f.after.worst)}.")
    reported = ", ".join(f"{name} {n}" for name, n in sorted(f.lost_reported.items()))
    lines.append(f"  - Events: {check.security.expected} expected in security.log, "
                 f"{len(check.security.lost)} missing ({f.lost_during} of them due while the "
                 f"fault lasted), {len(check.security.duplicated)} duplicated; audit.log: "
                 f"{len(check.audit.lost)} missing." + (
                     f" secmon's own count of records its outputs dropped: {reported}."
                     if reported else ""))
    if f.glued:
        lines.append(f"  - Unreadable although written whole: {len(f.glued)} record(s) "
                     "appended by one worker right after another worker's torn fragment "
                     f"({'; '.join(f.glued[:3])}).")
    monitors: dict[str, int] = {}
    for event in check.monitor_events:
        name = f"{event['event_type']} ({event.get('monitor') or event.get('output')})"
        monitors[name] = monitors.get(name, 0) + 1
    if monitors:
        lines.append("  - secmon said: " + ", ".join(f"{k} x{n}" for k, n in monitors.items())
                     + ".")
    d = check.detections
    alerts = (f"  - Detections: {sum(d.events.values())} logged, "
              f"{sum(d.alerts.values())} alerts delivered")
    if f.deliveries_refused:
        alerts += (f" after the webhook refused or dropped {f.deliveries_refused} "
                   f"deliveries; the latest arrived {f.alert_delay:.1f} s after it fired")
    if f.recovered_at is not None:
        alerts += (f"; Redis answered again for every worker {f.recovered_at:.1f} s into the "
                   f"run, after which {len(d.expected)} expected detections "
                   f"{'all ' if not d.missing else ''}fired")
    if f.missed_in_outage:
        alerts += (f"; missed because of the outage (each worker counted alone, and Redis came "
                   f"back empty): {', '.join(sorted(r for r, _ in f.missed_in_outage))}")
    elif f.recovered_at is not None:
        alerts += ("; none missed because of the outage (what each worker counted meanwhile "
                   "was merged into Redis when it answered)")
    lines.append(alerts + ".")
    if f.killed_pid:
        chain = [x for x in check.verification.findings if f":{f.killed_pid}:" in
                 str(x.get("chain"))]
        tail = (f"; verify names its unanchored tail, seq {chain[0].get('seq')}-"
                f"{chain[0].get('last_seq')} (nothing proves what a killed process last wrote)"
                if chain else "")
        torn = check.verification.kinds().get("torn", 0)
        lost = len(check.security.lost) + len(check.audit.lost)
        lines.append(f"  - Killed worker: pid {f.killed_pid}{tail}; torn lines: {torn} (a record "
                     "is one write(2)). In flight at the kill: "
                     f"{len(t.no_answer)} request(s) got no answer ({f.unanswered_logged} of them "
                     "logged before the kill). Requests answered (acknowledged) whose records are "
                     f"missing: {lost}.")
    lines.append(f"  - secmon verify: {_verify_cell(check)}.")
    lines += [f"  - Note: {note}" for note in f.notes]
    return lines
