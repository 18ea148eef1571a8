"""`make bench`: run every benchmark, print one table, write it into docs/benchmarks.md.

Each ``bench/bench_<area>.py`` exposes ``run(quick: bool) -> list[Result]`` and measures
every figure next to its baseline (bare framework, the floor, or the peer library). This
runner calls each module ``--repeats`` times and reports, per figure, the median value,
the median baseline and the median of the per-run ratios: a ratio always compares two
figures measured in the same run, never a figure with a baseline from another one.
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

from bench.common import Result, replace_section  # noqa: E402


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


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def measure(modules: list[str], repeats: int, quick: bool) -> tuple[list[Figure], list[str]]:
    """Run each module ``repeats`` times; (figures in first-seen order, modules that failed)."""
    figures: dict[tuple[str, str], Figure] = {}
    failed: list[str] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        for repeat in range(repeats):
            print(f"running {name} ({repeat + 1}/{repeats}) ...", file=sys.stderr, flush=True)
            try:
                results = module.run(quick=quick)
            except Exception:
                traceback.print_exc()
                failed.append(name)
                break
            for result in results:
                key = (result.group, result.name)
                figures.setdefault(key, Figure(result)).add(result)
    return list(figures.values()), failed


def table(figures: list[Figure], repeats: int) -> str:
    rows = [f"| group | benchmark | value (median of {repeats}) | baseline | baseline value | "
            "ratio (median) | target |",
            "| --- | --- | ---: | --- | ---: | ---: | --- |"]
    for figure in figures:
        r = figure.first
        ratio = f"{figure.ratio:.3f}x" if figure.ratio is not None else ""
        baseline = r.baseline or "(none)"
        rows.append(f"| {r.group} | {r.name} | {_fmt(figure.value)} {r.unit} | {baseline} | "
                    f"{_fmt(figure.baseline)} | {ratio} | {r.target} |")
    return "\n".join(rows)


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
        f"{datetime.date.today().isoformat()}. Every module ran {repeats} times; each value "
        "is the median of its runs (each run itself a median over its own repeats), and "
        "each ratio the median of the per-run ratios to the baseline measured in the same run."
    )
    text = f"## Micro-benchmarks\n\n{header}\n\n{table(figures, repeats)}"
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
