"""make bench's verdicts: targets read from their text, checked against ratios or values."""

from __future__ import annotations

import pytest
from bench.common import Result, Target
from bench.run import Figure, table, targets_table


@pytest.mark.parametrize(
    ("text", "value", "ratio", "unit", "met"),
    [
        ("ratio <= 1.05", 0.0, 1.04, "us/request", True),
        ("<= 1.06x", 0.0, 1.061, "ns/request", False),
        (">= 1/8", 0.0, 0.125, "events/s", True),
        ("ratio < 1", 0.0, 1.0, "us/request", False),
        ("value >= 50 MB/s", 49.0, None, "MB/s", False),
        ("< 10 us", 5_402.0, 19.1, "ns", True),  # a value in ns against a bound in us
        ("< 20 ms", 30e6, None, "ns", False),
    ],
)
def test_a_target_text_is_checked(
    text: str, value: float, ratio: float | None, unit: str, met: bool
) -> None:
    target = Target.parse(text)
    assert target is not None
    assert target.met(value, ratio, unit) is met


@pytest.mark.parametrize("text", ["(the floor)", "bounded by STATE_MEMORY_MAX_KEYS",
                                  "~1.08x (the floor)", "(about 12x)", ""])
def test_a_target_without_a_bound_is_not_judged(text: str) -> None:
    assert Target.parse(text) is None
    assert Figure(Result("g", "n", 1.0, "ns", "b", 1.0, target=text)).mark == ""


@pytest.mark.parametrize(("text", "shown"), [("ratio <= 1.1", "≤ 1.10x"), (">= 1/8", "≥ 0.125x"),
                                             ("ratio < 1", "< 1.00x"), ("< 10 us", "< 10 us"),
                                             ("value >= 50 MB/s", "≥ 50 MB/s")])
def test_a_target_is_shown_as_ratios_are_quoted(text: str, shown: str) -> None:
    assert str(Target.parse(text)) == shown


def test_a_value_target_in_another_unit_is_not_judged() -> None:
    target = Target.parse("value >= 50 MB/s")
    assert target is not None and target.met(60.0, None, "events/s") is None


def _figure(name: str, ratios: list[float], unit: str = "ns/request", target: str = "",
            control: bool = False) -> Figure:
    figure = Figure(Result("asgi", name, ratios[0], unit, "bare", 1.0, target=target,
                           control=control))
    for ratio in ratios:
        figure.add(Result("asgi", name, ratio, unit, "bare", 1.0))
    return figure


def test_targets_table_marks_each_figure_beside_the_control_of_its_unit() -> None:
    figures = [
        _figure("secmon", [1.08, 1.12, 1.09], target="<= 1.10x"),
        _figure("A/A control", [1.01, 0.98, 1.00], control=True),
        _figure("secmon", [1.04], unit="instructions/request", target="<= 1.10x"),
        _figure("A/A control", [1.002], unit="instructions/request", control=True),
        _figure("no target", [1.5]),
    ]
    rows = targets_table(figures).splitlines()[2:]
    # Instruction counts first; the control and the untargeted figure are not rows.
    assert len(rows) == 2
    assert "instructions (callgrind)" in rows[0] and "1.040x" in rows[0]
    assert rows[0].endswith("| 1.002x | ≤ 1.10x | ✓ |")
    assert "wall clock" in rows[1] and "1.090x" in rows[1]
    assert rows[1].endswith("| 1.000x (0.980 to 1.010) | ≤ 1.10x | ✓ |")
    every = table(figures)
    assert "1.090x (1.080 to 1.120)" in every
