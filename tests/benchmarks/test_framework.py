"""The framework every benchmark runs on: rounds, rows, report, JSON, errors.

A workload set of fakes (no zmq, no event loop) stands in for a benchmark,
so that what the framework promises is checked on its own: the
implementations take turns in an order rotated each round, a row holds the
median and the best round in the workload's direction, an unavailable
implementation is reported in its rows while the run goes on, a trial past
its deadline fails the run with one line saying where.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import final

import pytest

from benchmarks import cli
from benchmarks.framework import (
    Implementation,
    Plan,
    Row,
    Sample,
    TrialUnavailable,
    Workload,
    WorkloadSet,
    run_rounds,
    summarize,
    timed_out,
)
from benchmarks.report import render_table
from trio_zmq._cli._command import Parser

#: What each fake implementation measures, per round.
FIGURES = {"a": [3.0, 1.0, 2.0], "b": [10.0, 30.0, 20.0], "c": [5.0, 5.0, 5.0]}


@final
class FakeSet(WorkloadSet[str, str]):
    name = "fake"
    help = "a set of fakes"
    description = "A set of fakes."
    implementations = (
        Implementation("a", "A", "a"),
        Implementation("b", "B", "b"),
        Implementation("c", "C", "c"),
        Implementation("gone", "Gone", "gone", missing="skipped (not installed)"),
    )
    baselines = (("b", "vs B"),)
    groups = ("up", "down")

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.order: list[str] = []
        self.fail = fail or {}

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[str]]:
        notes.append("note: a fake run")
        return [
            Workload("up", "higher is better", "things/s", "up", "up", fmt=",.1f"),
            Workload("down", "lower is better", "µs", "down", "down", higher_is_better=False),
        ]

    def applies(self, workload: Workload[str], impl: Implementation[str]) -> bool | str:
        if impl.key == "c":
            return workload.key == "up" or "n/a (c goes up only)"
        return True

    def trial(self, plan: Plan[str], workload: Workload[str], impl: Implementation[str]) -> Sample:
        if impl.key in self.fail:
            raise self.fail[impl.key]
        round_index = sum(1 for key in self.order if key == impl.key) // 2
        self.order.append(impl.key)
        return Sample(FIGURES[impl.run][round_index], {"p99": 2 * FIGURES[impl.run][round_index]})


def plan_of(workload_set: FakeSet, rounds: int = 3) -> Plan[str]:
    args = argparse.Namespace()
    return Plan(workload_set.workloads(args, []), rounds, 1.0, {})


def test_the_implementations_take_turns_rotated_each_round() -> None:
    workload_set = FakeSet()
    run_rounds(workload_set, plan_of(workload_set))
    # Per round: the "up" workload (a, b, c apply), then "down" (a, b).
    assert workload_set.order == [
        *("a", "b", "c", "a", "b"),
        *("b", "c", "a", "b", "a"),
        *("c", "a", "b", "a", "b"),
    ]


def test_a_row_holds_median_and_best_in_the_workloads_direction() -> None:
    workload_set = FakeSet()
    plan = plan_of(workload_set)
    results = run_rounds(workload_set, plan)
    up, down = (summarize(workload_set, w, results) for w in plan.workloads)
    assert [(row.key, row.status) for row in up] == [
        ("a", "ok"),
        ("b", "ok"),
        ("c", "ok"),
        ("gone", "skipped (not installed)"),
    ]
    assert [(row.key, row.status) for row in down] == [
        ("a", "ok"),
        ("b", "ok"),
        ("c", "n/a (c goes up only)"),
        ("gone", "skipped (not installed)"),
    ]
    assert (up[0].median, up[0].best) == (2.0, 3.0)
    assert (down[0].median, down[0].best) == (2.0, 1.0)
    assert (down[0].extra_median("p99"), down[0].extra_best("p99")) == (4.0, 2.0)
    assert up[0].speed_ratio(up[1]) == pytest.approx(0.1)  # 2 against 20, higher is better
    assert down[0].speed_ratio(down[1]) == pytest.approx(10.0)  # 2 µs against 20 µs


def test_an_unavailable_implementation_is_reported_and_the_run_goes_on() -> None:
    workload_set = FakeSet(fail={"b": TrialUnavailable("n/a: not here")})
    plan = plan_of(workload_set)
    results = run_rounds(workload_set, plan)
    rows = summarize(workload_set, plan.workloads[0], results)
    assert [row.status for row in rows] == ["ok", "n/a: not here", "ok", "skipped (not installed)"]


def run(workload_set: FakeSet, tmp_path: Path, *argv: str) -> int:
    parser = Parser(prog="test")
    commands = parser.add_subparsers(dest="command")
    command = commands.add_parser(workload_set.name)
    cli.add_common_arguments(command, workload_set)
    args = parser.parse_args([workload_set.name, "--json", str(tmp_path / "fake.json"), *argv])
    return cli.run_set(workload_set, args)


def test_the_report_and_the_json_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(FakeSet(), tmp_path, "--rounds", "3") == 0
    out, err = capsys.readouterr()
    assert "round 3/3, lower is better (µs): " in err
    assert "note: a fake run" in out
    assert "higher is better (things/s, higher is better)" in out
    assert "lower is better (µs, lower is better)" in out
    # A: median 2, best 1 (µs); against B's 20 and 10: 10x each.
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "A 2 1 4 2 10.00x (10.00x)" in lines
    assert "Gone skipped (not installed)" in lines
    document = json.loads((tmp_path / "fake.json").read_text())
    assert document["benchmark"] == "fake"
    assert document["options"]["rounds"] == 3
    up, down = document["workloads"]
    assert up["results"]["a"]["rounds"] == [3.0, 1.0, 2.0]
    assert up["results"]["a"]["vs_b"] == {"median": 0.1, "best": 0.1}
    assert down["results"]["c"] == {"status": "n/a (c goes up only)", "label": "C"}
    assert down["results"]["a"]["p99"] == {"rounds": [6.0, 2.0, 4.0], "median": 4.0, "best": 2.0}


def test_only_picks_workloads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(FakeSet(), tmp_path, "--only", "down", "--rounds", "1") == 0
    document = json.loads((tmp_path / "fake.json").read_text())
    assert [w["key"] for w in document["workloads"]] == ["down"]


def test_a_trial_past_its_deadline_fails_the_run_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(FakeSet(fail={"c": timed_out(0.5)}), tmp_path) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        "python -m benchmarks fake: error: C, higher is better, round 1: "
        "not done within 0.5 s (--timeout sets the limit)"
    )


def test_the_chart_is_drawn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    assert run(FakeSet(), tmp_path, "--rounds", "1", "--chart", str(tmp_path / "c.png")) == 0
    assert f"Chart: {tmp_path / 'c.png'}" in capsys.readouterr().out
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")


def test_a_table_may_quote_its_extras_medians_only() -> None:
    extras = {"x": (2.0, 4.0), "w": (1.0, 1.0)}
    row = Row("a", "A", values=(3.0, 1.0), extras=extras, higher_is_better=False)
    both = Workload("t", "title", "calls", None, "t", higher_is_better=False)
    medians = dataclasses.replace(both, extras_best=False)
    heading, line = render_table(both, [row], ()).splitlines()[1:]
    assert " ".join(heading.split()) == "implementation median best x median x best w median w best"
    assert line.split() == ["A", "2", "1", "3", "2", "1", "1"]
    heading, line = render_table(medians, [row], ()).splitlines()[1:]
    assert heading.split() == ["implementation", "median", "best", "x", "w"]
    assert line.split() == ["A", "2", "1", "3", "1"]
