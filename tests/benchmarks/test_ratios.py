"""The summary tables: ratios per workload with their targets, and a
figure's spread over a count."""

from __future__ import annotations

import pytest

from benchmarks.framework import Row, Workload
from benchmarks.ratios import MISSED, Ratio, render_ratios, render_spread

RATIOS = (
    Ratio("a / b", "a", "b", 1.0),
    Ratio("a / c", "a", "c", 0.95, ("fast",)),
    Ratio("c / b", "c", "b"),
)


def rows(a: float, b: float, c: float | None = None) -> list[Row]:
    """Rows of rates, two rounds each: the median, and the best 10% higher."""
    figures = {"a": a, "b": b, "c": c}
    return [
        Row(key, key.upper(), values=(value, value * 1.1))
        if value is not None
        else Row(key, key.upper(), "n/a (not here)")
        for key, value in figures.items()
    ]


def workload(key: str, group: str) -> Workload[None]:
    return Workload(key, key, "jobs/s", None, group)


def test_a_ratio_table_marks_a_median_below_its_target() -> None:
    workloads = [workload("one", "fast"), workload("two", "slow"), workload("three", "slow")]
    tables = {"one": rows(9, 10, 10), "two": rows(20, 10, 10), "three": rows(5, 10)}
    text, records = render_ratios("Ratios", workloads, tables, RATIOS)
    assert text is not None
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert lines[:3] == ["Ratios", "a / a / c /", "workload b c b"]
    assert lines[3] == f"one 0.90 (0.90){MISSED} 0.90 (0.90){MISSED} 1.00 (1.00)"
    assert lines[4] == "two 2.00 (2.00) 2.00 (2.00) 1.00 (1.00)"
    assert lines[5] == "three 0.50 (0.50)* - -"
    assert lines[6:] == [
        f"{MISSED} marks a median below its target; the targets:",
        "a / b >= 1",
        "a / c >= 0.95 on fast",
    ]
    assert records["one"]["a / c"] == {
        "median": pytest.approx(0.9),
        "best": pytest.approx(0.9),
        "target": 0.95,
        "met": False,
    }
    assert records["two"]["a / c"] == {"median": 2.0, "best": 2.0}  # no target on "slow"
    assert "a / c" not in records["three"]


def test_no_ratio_no_table() -> None:
    assert render_ratios("Ratios", [workload("one", "x")], {"one": []}, RATIOS) == (None, {})


def test_a_spread_compares_the_most_with_the_fewest() -> None:
    counted = [(1, workload("idle-1", "idle")), (500, workload("idle-500", "idle"))]
    tables = {"idle-1": rows(10, 10), "idle-500": rows(8, 10)}
    text, records = render_spread("Idle", counted, tables, 0.9, ("a",))
    assert text is not None
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert lines[1] == "implementation 1 500 500 vs 1"
    assert lines[2] == f"A 10 (11) 8 (9) 0.80 (0.80){MISSED}"
    assert lines[3] == "B 10 (11) 10 (11) 1.00 (1.00)"  # no target for B
    assert lines[4] == f"target (median): 500 vs 1 >= 0.9 for A; {MISSED} marks a median below it"
    assert records["a"]["met"] is False
    assert "met" not in records["b"]
    assert render_spread("Idle", counted[:1], tables) == (None, {})
