"""``python -m benchmarks costs``: every loop runs and is compared with a loop that exists.

A smoke test of the measuring code (no timing is asserted): each loop must
produce a positive figure per round, and the command must leave no
trio_zmq engine registered behind it (its wrappers are closed through
trio_zmq, not behind its back).
"""

from __future__ import annotations

import pytest

from benchmarks import costs
from trio_zmq._core import _registry


def test_every_reference_is_a_loop() -> None:
    names = {loop.name for loop in costs.LOOPS}
    assert len(names) == len(costs.LOOPS)
    for loop in costs.LOOPS:
        assert loop.reference is None or loop.reference in names, loop


def test_quick_run_measures_every_loop_and_cleans_up(capsys: pytest.CaptureFixture[str]) -> None:
    engines_before = set(_registry._engines)
    tiny = costs.Sizes(calls=20, samples=2)
    results = costs.measure(2, tiny)
    assert set(results) == {loop.name for loop in costs.LOOPS}
    for name, times in results.items():
        assert len(times) == 2, name
        assert all(t > 0 for t in times), (name, times)
    assert set(_registry._engines) == engines_before
    table = costs.render(results)
    for loop in costs.LOOPS:
        assert loop.name in table
    assert costs.main(1, quick=True) == 0
    assert "trio_zmq recv()" in capsys.readouterr().out
