"""The open-file limit: raised for the largest count if the hard limit
allows (with a note saying so), the counts lowered if it does not."""

from __future__ import annotations

import resource

import pytest

from benchmarks import limits


@pytest.fixture
def rlimit(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """A fake RLIMIT_NOFILE, soft 1024 and hard 4096; what was set."""
    current = [(1024, 4096)]
    monkeypatch.setattr(resource, "getrlimit", lambda which: current[-1])
    monkeypatch.setattr(resource, "setrlimit", lambda which, limit: current.append(limit))
    return current


def test_counts_that_fit_change_nothing(rlimit: list[tuple[int, int]]) -> None:
    assert limits.fit_counts((1, 100), 2, "pairs") == ((1, 100), [])
    assert rlimit == [(1024, 4096)]


def test_the_soft_limit_is_raised_and_the_report_says_so(rlimit: list[tuple[int, int]]) -> None:
    counts, notes = limits.fit_counts((1, 500), 2, "idle PAIR pairs")
    assert counts == (1, 500)
    assert rlimit[-1] == (1000 + limits.FD_RESERVE, 4096)
    assert notes == [
        f"note: raised the soft open-file limit from 1024 to {1000 + limits.FD_RESERVE} "
        "(hard limit 4096) for 500 idle PAIR pairs"
    ]


def test_counts_beyond_the_hard_limit_are_lowered(rlimit: list[tuple[int, int]]) -> None:
    counts, notes = limits.fit_counts((10, 100, 5000), 3, "idle sockets", least=2)
    fitting = (4096 - limits.FD_RESERVE) // 3
    assert counts == (10, 100, fitting)
    assert rlimit[-1] == (4096, 4096)
    assert len(notes) == 2
    assert notes[1].endswith(f"so the counts are [10, 100, {fitting}] instead of [10, 100, 5000]")
