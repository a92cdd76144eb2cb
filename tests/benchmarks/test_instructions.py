"""Smoke tests of ``python -m benchmarks instructions`` (no timing, no
valgrind: the counted child runs here as it would under valgrind)."""

from __future__ import annotations

import argparse

import pytest

from benchmarks import instructions, wake


@pytest.mark.parametrize("impl", instructions.BUSY_IMPLEMENTATIONS)
def test_the_busy_child_runs_on_each_trio_implementation(impl: str) -> None:
    assert instructions.run_child("busy", impl, 300) == 0


def test_every_wake_workload_can_be_counted() -> None:
    keys = {w.key for w in instructions.WORKLOADS}
    assert {w.key for w in wake.WORKLOADS} <= keys
    assert "busy" in keys


def test_an_unknown_workload_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(child=None, only="no-such-workload", jobs=1000)
    status = instructions.main(args)
    out = capsys.readouterr().out
    assert status == 2
    assert len(out.strip().splitlines()) == 1
    assert "no-such-workload" in out
