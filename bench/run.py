"""`make bench`: run every benchmark, print one table, write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import datetime
import importlib
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Result  # noqa: E402

MODULES = [
    "bench.bench_core",
    "bench.bench_redact",
    "bench.bench_django",
    "bench.bench_flask",
    "bench.bench_asgi",
    "bench.bench_detect",
    "bench.bench_integrity",
    "bench.bench_query",
]


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument("--only", action="append", help="run only modules containing this")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    results: list[Result] = []
    for name in MODULES:
        if args.only and not any(part in name for part in args.only):
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.extend(module.run(quick=args.quick))
    header = (
        f"Machine: {_cpu()}, {_cores()} cores; Python {platform.python_version()}; "
        f"{datetime.date.today().isoformat()}. Medians over repeats; each ratio is against "
        "a baseline measured in the same run."
    )
    rows = ["| group | benchmark | value | baseline | baseline value | ratio | target |",
            "| --- | --- | ---: | --- | ---: | ---: | --- |"]
    for r in results:
        ratio = f"{r.ratio:.3f}x" if r.ratio is not None else ""
        rows.append(f"| {r.group} | {r.name} | {_fmt(r.value)} {r.unit} | {r.baseline} | "
                    f"{_fmt(r.baseline_value)} | {ratio} | {r.target} |")
    table = "\n".join(rows)
    print(header)
    print(table)
    if not args.quick and not args.only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(f"# Benchmarks\n\n{header}\n\n{table}\n")
        print(f"\nwritten to {args.out}")
    return 0


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
