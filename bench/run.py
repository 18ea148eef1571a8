"""`make bench`: run every benchmark, print the tables, write them into docs/benchmarks.md.

Each ``bench/bench_<area>.py`` exposes ``run(quick: bool) -> list[Result]`` and measures
every figure next to its baseline (bare framework, the floor, or the peer library); a new
module is one new file, found by its name. This runner calls each module ``--repeats``
times (a module that sets ``RUNS`` is called that many times: instruction counts do not
vary) and reports, per figure, the median value, the median baseline and the median of
the per-run ratios: a ratio always compares two figures measured in the same run, never
a figure with a baseline from another one. Figures with a checkable target get a ✓ or ✗,
next to the A/A control of their group (the same variant measured against itself), which
shows how much of a ratio is noise.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Result, Target, replace_section  # noqa: E402


def discover() -> list[str]:
    """Every benchmark module: bench/bench_*.py, in name order."""
    return [f"bench.{path.stem}" for path in sorted((ROOT / "bench").glob("bench_*.py"))]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@dataclass
class Figure:
    """One benchmark row over the repeats of this run."""

    first: Result
    values: list[float] = field(default_factory=list)
    baselines: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.values.append(result.value)
        if result.baseline_value:
            self.baselines.append(result.baseline_value)
            self.ratios.append(result.value / result.baseline_value)

    @property
    def value(self) -> float:
        return statistics.median(self.values)

    @property
    def baseline(self) -> float | None:
        return statistics.median(self.baselines) if self.baselines else None

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None

    @property
    def goal(self) -> Target | None:
        return self.first.goal

    @property
    def met(self) -> bool | None:
        goal = self.goal
        return None if goal is None else goal.met(self.value, self.ratio, self.first.unit)

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: ""}[self.met]

    @property
    def is_instructions(self) -> bool:
        return self.first.unit.startswith("instructions")

    def measured(self) -> str:
        """The figure its target speaks of: the ratio, or the value for a value target."""
        goal = self.goal
        if goal is not None and goal.of == "value":
            return f"{_fmt(self.value)} {self.first.unit}"
        return f"{self.ratio:.3f}x" if self.ratio is not None else f"{_fmt(self.value)}"

    def spread(self) -> str:
        """The ratio's median, with its range over the runs when there were several."""
        if self.ratio is None:
            return ""
        if len(self.ratios) < 2:
            return f"{self.ratio:.3f}x"
        return f"{self.ratio:.3f}x ({min(self.ratios):.3f} to {max(self.ratios):.3f})"


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def measure(modules: list[str], repeats: int, quick: bool) -> tuple[list[Figure], list[str]]:
    """Run each module ``repeats`` times; (figures in first-seen order, modules that failed)."""
    figures: dict[tuple[str, str, str, str], Figure] = {}
    failed: list[str] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        runs = min(repeats, getattr(module, "RUNS", repeats))
        for repeat in range(runs):
            print(f"running {name} ({repeat + 1}/{runs}) ...", file=sys.stderr, flush=True)
            try:
                results = module.run(quick=quick)
            except Exception:
                traceback.print_exc()
                failed.append(name)
                break
            for result in results:
                key = (result.group, result.name, result.baseline, result.unit)
                figures.setdefault(key, Figure(result)).add(result)
    return list(figures.values()), failed


def controls(figures: list[Figure]) -> dict[tuple[str, str], Figure]:
    """The A/A control of each (group, unit), if the group measured one."""
    return {(f.first.group, f.first.unit): f for f in figures if f.first.control}


def targets_table(figures: list[Figure]) -> str:
    """Every figure with a checkable target: measured, A/A control, target, ✓ or ✗.

    Within a group the instruction counts come first: they do not move with the load on
    the machine, so they are the figures to quote; wall-clock ratios follow with their
    A/A control beside them.
    """
    aa = controls(figures)
    groups = list(dict.fromkeys(f.first.group for f in figures))
    checked = [f for f in figures if f.goal is not None and not f.first.control]
    checked.sort(key=lambda f: (groups.index(f.first.group), not f.is_instructions))
    rows = ["| group | figure | baseline | measured by | measured | A/A control | target | met |",
            "| --- | --- | --- | --- | ---: | ---: | --- | :---: |"]
    for figure in checked:
        r = figure.first
        baseline = r.baseline if figure.goal is not None and figure.goal.of == "ratio" else ""
        method = "instructions (callgrind)" if figure.is_instructions else "wall clock"
        control = aa.get((r.group, r.unit))
        rows.append(f"| {r.group} | {r.name} | {baseline} | {method} | {figure.measured()} | "
                    f"{control.spread() if control else ''} | {figure.goal} | {figure.mark} |")
    return "\n".join(rows)


def table(figures: list[Figure]) -> str:
    rows = ["| group | benchmark | value (median) | baseline | baseline value | "
            "ratio (median) | target | met |",
            "| --- | --- | ---: | --- | ---: | ---: | --- | :---: |"]
    for figure in figures:
        r = figure.first
        baseline = r.baseline or "(none)"
        target = str(figure.goal) if figure.goal is not None else str(r.target)
        rows.append(f"| {r.group} | {r.name} | {_fmt(figure.value)} {r.unit} | {baseline} | "
                    f"{_fmt(figure.baseline)} | {figure.spread()} | {target} | {figure.mark} |")
    return "\n".join(rows)


TARGETS_NOTE = (
    "Instruction counts come from valgrind's callgrind over a fixed number of requests "
    "after a warm-up (bench/bench_instructions.py); they do not depend on the load of the "
    "machine and are the figures to quote. Their A/A control counts the baseline again "
    "under another hash seed, which moves dict layouts and garbage-collector timing as an "
    "unrelated code change would: its distance from 1.000x is their resolution. Wall-clock "
    "ratios interleave the variants in one process; their A/A control is a second copy of "
    "the baseline in the same loop (median, with the range over the runs): a wall-clock "
    "ratio within that distance of its target is noise."
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument("--only", action="append", help="run only modules containing this")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs of each module (default 3, or 1 with --quick)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    modules = [name for name in discover()
               if not args.only or any(part in name for part in args.only)]
    started = time.monotonic()
    figures, failed = measure(modules, repeats, args.quick)
    header = (
        f"`make bench` on {cpu_name()}, {os.cpu_count() or 1} cores; Python "
        f"{platform.python_version()} ({platform.python_implementation()}); "
        f"{datetime.date.today().isoformat()}. Every timing module ran {repeats} times (the "
        "instruction counts once: they do not vary); each value is the median of its runs "
        "(each run itself a median over its own repeats), and each ratio the median of the "
        "per-run ratios to the baseline measured in the same run (with their range)."
    )
    text = (f"## Micro-benchmarks\n\n{header}\n\n### Targets\n\n{TARGETS_NOTE}\n\n"
            f"{targets_table(figures)}\n\n### Every figure\n\n{table(figures)}")
    print(text)
    unbased = [f"{f.first.group}: {f.first.name}" for f in figures if f.ratio is None]
    if unbased:
        print("\nfigures without a baseline (no ratio): " + "; ".join(unbased), file=sys.stderr)
    if failed:
        print(f"\nFAILED: {', '.join(sorted(set(failed)))}", file=sys.stderr)
    elif not args.quick and not args.only:
        replace_section(args.out, "bench", text)
        print(f"\nwritten to {args.out} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
