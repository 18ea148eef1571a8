"""`make load`: the example projects under their real servers, with and without secmon,
under attack traffic and with faults injected; prints the tables and checks the invariants.

Not part of `make test` (tests/e2e/test_load_smoke.py is its short version). Needs Redis on
127.0.0.1:6379 (database 14 is flushed and used) and redis-server for the restart fault;
the disk-full fault mounts a small tmpfs and needs root.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import replace_section  # noqa: E402
from bench.loadlib import report, scenarios  # noqa: E402
from bench.loadlib.servers import FRAMEWORKS, SERVER_NAMES  # noqa: E402
from bench.run import cpu_name  # noqa: E402


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def main_async(args: argparse.Namespace, workdir: Path) -> tuple[list[str], bool]:
    frameworks = args.framework or list(FRAMEWORKS)
    factor = 0.5 if args.quick else 1.0
    load_before = os.getloadavg()[1]
    comparisons = []
    ok = True
    for framework in [] if args.faults_only else frameworks:
        say(f"{framework}: with and without secmon")
        plan = scenarios.PLANS[framework].scaled(factor)
        comparison = await scenarios.compare(framework, workdir / framework, plan, say=say)
        comparisons.append(comparison)
        assert comparison.check is not None
        if not comparison.check.invariants_hold:
            ok = False
            for line in report.problems(comparison.check):
                say(f"  PROBLEM: {line}")
    faults = []
    names = list(scenarios.FAULTS) if args.faults == ["all"] else [
        name for name in args.faults if name != "none"]
    for name in names:
        fault = scenarios.FAULTS[name]
        own = fault.framework if fault.framework in frameworks else frameworks[0]
        for framework in frameworks if args.faults_on_all else [own]:
            say(f"fault {name} on {framework}")
            result = await scenarios.run_fault(fault, workdir / f"fault-{name}-{framework}",
                                               framework=framework,
                                               seconds=18.0 * max(factor, 0.8), say=say)
            violations = scenarios.fault_violations(result)
            for line in violations:
                say(f"  PROBLEM: {line}")
            if violations:
                ok = False
            faults.append(result)
    rates = {c.framework: sum(s.rate for s in scenarios.PLANS[c.framework].benign)
             for c in comparisons}
    plan = scenarios.PLANS[frameworks[0]].scaled(factor)
    lines = [
        "## Load: the examples under real servers",
        "",
        f"`make load` on {cpu_name()}, {_cores()} cores; Python {platform.python_version()}; "
        f"{datetime.date.today().isoformat()}; the machine's load average (5 min) was "
        f"{load_before:.1f} at the start and {os.getloadavg()[1]:.1f} at the end (other work "
        "on it shows in every figure). The load generator (httpx, open loop: latency "
        "counts from when each request was due) runs on the same machine. Servers: "
        + ", ".join(f"{f} under {SERVER_NAMES[f]}" for f in frameworks)
        + "; secmon with the Redis state backend, rotating file outputs, the audit chain and "
        "a local alert webhook. Each figure is the median over the runs; with and without "
        "secmon run interleaved against the same app.",
        "",
        "secmon's settings (all SECMON_* variables): ENVIRONMENT=production, an AUDIT_KEY, "
        "files rotating at 64 KB (security.log) and 32 KB (audit.log), STATE_BACKEND=redis "
        f"(STATE_TIMEOUT {scenarios.STATE_TIMEOUT * 1000:.0f} ms), REQUEST_ID_HEADER="
        "X-Request-ID (each request carries a unique one), ALERTS: one signed webhook; "
        "the default detection rules, with credential_stuffing at 10 accounts and "
        "distributed_brute_force at 5 addresses so that seconds of attack cross them. "
        "Each attacker, and each client session, has its own loopback address "
        "(127.x.y.z).",
    ]
    if comparisons:
        lines += [
            "",
            f"### Benign traffic (median of {plan.latency_repeats} runs of "
            f"{plan.latency_seconds:g} s at a fixed rate; throughput: median of "
            f"{plan.saturate_repeats} closed-loop runs)",
            "",
            "Target: p99 with secmon within 10 % of without (ratio at most 1.10).",
            "",
            *report.benign_table(comparisons, rates),
            "",
            "### Under attack (benign traffic plus brute force, credential stuffing, password "
            "spraying, 403 probing, 404 scanning, 429 floods and uploads; the same traffic to "
            "both)",
            "",
            f"secmon may add at most {scenarios.STATE_ROUND_TRIPS} Redis round trips to a "
            f"request, each bounded by STATE_TIMEOUT ({scenarios.STATE_TIMEOUT * 1000:.0f} ms "
            "here); alerts are sent off the request path.",
            "",
            *report.attack_table(comparisons,
                                 scenarios.STATE_ROUND_TRIPS * scenarios.STATE_TIMEOUT),
            "",
            "### Invariants (every request sent to the server with secmon)",
            "",
            *report.invariants_table(comparisons),
        ]
    if faults:
        lines += ["", "### Faults during the run", "", *report.fault_table(faults), ""]
        for result in faults:
            lines += report.fault_story(result)
    return lines, ok


def _cores() -> int:
    return os.cpu_count() or 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", action="append", choices=FRAMEWORKS,
                        help="only this example (repeatable)")
    parser.add_argument("--faults", nargs="*", default=["all"],
                        choices=["all", "none", *scenarios.FAULTS],
                        help="fault scenarios to run (default: all)")
    parser.add_argument("--faults-on-all", action="store_true",
                        help="run each fault against every example, not only its own")
    parser.add_argument("--faults-only", action="store_true",
                        help="skip the with/without comparison")
    parser.add_argument("--quick", action="store_true", help="half the time (a smoke run)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="where the Load section goes (a full run of all examples only)")
    parser.add_argument("--keep", action="store_true", help="keep the servers' logs")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="secmon-load-"))
    started = time.monotonic()
    try:
        lines, ok = asyncio.run(main_async(args, workdir))
    finally:
        if args.keep:
            say(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = "\n".join(lines)
    print(text)
    if not (args.quick or args.framework or args.faults_only or args.faults != ["all"]):
        replace_section(args.out, "load", text)
        say(f"written to {args.out}")
    say(f"make load: {time.monotonic() - started:.0f} s; "
        + ("every invariant holds" if ok else "SOME INVARIANTS FAILED (see PROBLEM lines)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
