"""Smoke tests of ``python -m benchmarks instructions`` (no timing, no
valgrind: the counted child runs here as it would under valgrind)."""

from __future__ import annotations

import pytest

from benchmarks import instructions, wake
from benchmarks.cli import main


@pytest.mark.parametrize("impl", wake.BUSY_IMPLEMENTATIONS)
def test_the_busy_child_runs_on_each_trio_implementation(impl: str) -> None:
    assert instructions.SET.child(["busy", impl, "300"]) == 0


def test_an_idle_child_runs_whatever_its_pair_count() -> None:
    assert instructions.SET.child(["idle-3", wake.BASELINE, "30"]) == 0


def test_every_wake_workload_can_be_counted_and_picked() -> None:
    keys = [w.key for w in wake.workloads(1)] + ["busy"]
    assert [w.key for w in wake.named(keys, 1)] == keys
    assert set(keys) <= set(instructions.SET.groups)  # --only takes keys too


def test_an_unknown_workload_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["instructions", "--only", "no-such-workload"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no-such-workload" in err
