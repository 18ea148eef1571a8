"""Shared pieces of the benchmarks: timing by medians, and the result rows `make bench` prints."""

from __future__ import annotations

import gc
import operator
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_COMPARE = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_SIGN = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}
_TIME_UNITS = {"ns": 1.0, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9}
# "ratio <= 1.05", "<= 1.06x", ">= 1/8", "value >= 50 MB/s", "< 10 us"
_TARGET = re.compile(
    r"\s*(?P<of>ratio|value)?\s*(?P<op><=|>=|<|>|≤|≥)\s*"
    r"(?P<num>\d+(?:\.\d+)?)(?:\s*/\s*(?P<den>\d+(?:\.\d+)?))?\s*(?P<unit>x\b|[^\s(]+)?"
    r"(?P<rest>.*)$"
)


@dataclass(frozen=True)
class Target:
    """What a figure must reach: its ratio to the baseline (or its value) against a bound."""

    op: str
    bound: float
    of: str = "ratio"
    unit: str = ""
    note: str = ""

    @classmethod
    def parse(cls, text: str) -> Target | None:
        """A target written as text (``"ratio <= 1.05"``, ``"<= 1.06x"``, ``"value >= 50 MB/s"``,
        ``"< 10 us"``); None when the text states no checkable bound."""
        match = _TARGET.fullmatch(text)
        if match is None:
            return None
        op = {"≤": "<=", "≥": ">="}.get(match["op"], match["op"])
        bound = float(match["num"]) / float(match["den"] or 1)
        unit = match["unit"] or ""
        of = match["of"] or ("value" if unit and unit != "x" else "ratio")
        if of == "ratio" and unit not in ("", "x"):
            return None
        return cls(op, bound, of, "" if unit == "x" else unit, match["rest"].strip())

    def met(self, value: float, ratio: float | None, unit: str) -> bool | None:
        """Whether ``value`` (in ``unit``) or ``ratio`` meets this target; None if unknowable."""
        compare = _COMPARE[self.op]
        if self.of == "ratio":
            return None if ratio is None else compare(ratio, self.bound)
        scale = _unit_scale(unit, self.unit)
        return None if scale is None else compare(value * scale, self.bound)

    def __str__(self) -> str:
        if self.of == "ratio":  # two decimals at least, as ratios are quoted: 1.10x, 0.125x
            bound = f"{self.bound:.3f}".rstrip("0")
            bound = bound if len(bound.split(".")[1]) >= 2 else f"{self.bound:.2f}"
            text = f"{_SIGN[self.op]} {bound}x"
        else:
            text = f"{_SIGN[self.op]} {self.bound:g} {self.unit}".rstrip()
        return f"{text} {self.note}".rstrip()


def _unit_scale(unit: str, target_unit: str) -> float | None:
    """The factor that turns a value in ``unit`` into ``target_unit`` (None: not comparable)."""
    if not target_unit or unit == target_unit:
        return 1.0
    base = unit.split("/", 1)[0]
    if base in _TIME_UNITS and target_unit in _TIME_UNITS:
        return _TIME_UNITS[base] / _TIME_UNITS[target_unit]
    return None


@dataclass
class Result:
    """One benchmark figure and the baseline it is compared with, both measured in this run.

    ``target`` is a :class:`Target` or its text (``"ratio <= 1.05"``); any other text is
    shown as it is and judged by no one. A ``control`` is an A/A row (a variant measured
    against itself in the same run): its distance from 1.00x is the noise of the figures
    of its group measured in the same unit.
    """

    group: str
    name: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: str | Target = ""
    # "lower" when a smaller value is better (time, memory), "higher" for rates.
    better: str = "higher"
    control: bool = False

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value

    @property
    def goal(self) -> Target | None:
        """The checkable target, if the figure has one."""
        if isinstance(self.target, Target):
            return self.target
        return Target.parse(self.target) if self.target else None


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
