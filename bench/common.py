"""Shared pieces of the benchmarks: timing by medians, and the result rows `make bench` prints."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    """One benchmark figure and the baseline it is compared with, both measured in this run."""

    group: str
    name: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: str = ""
    # "lower" when a smaller value is better (time, memory), "higher" for rates.
    better: str = "higher"

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value


def per_call_ns(fn: Callable[[], object], number: int, repeats: int = 7) -> float:
    """Median over ``repeats`` runs of the mean time of one call, in nanoseconds."""
    samples = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter_ns() - start) / number)
    return statistics.median(samples)


def interleaved_ns(
    fns: dict[str, Callable[[], object]], number: int, repeats: int = 9
) -> dict[str, float]:
    """Per-call medians for several variants, run interleaved so drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter_ns()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter_ns() - start) / number)
    return {name: statistics.median(values) for name, values in samples.items()}


def replace_section(path: Path, name: str, body: str, title: str = "# Benchmarks") -> None:
    """Write ``body`` as the section ``name`` of ``path``, keeping the other sections.

    `make bench` and `make load` each own one section of docs/benchmarks.md, between
    ``<!-- name:begin -->`` and ``<!-- name:end -->``.
    """
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else f"{title}\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
