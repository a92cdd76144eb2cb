"""Chaos mode: adversarial scheduling drawn by hypothesis."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

from hypothesis import strategies as st

from .._core import _chaos


@dataclasses.dataclass
class ChaosSchedule:
    """Which decision points inject an adversity, in order of occurrence.

    Each list is consumed one entry per decision point of its kind; when it
    runs out, no more adversity of that kind.  Hypothesis shrinks the lists
    towards empty, so a failing example prints only the adversities it needs.
    """

    #: At each fd wait of a watcher: wake up once without a reason first?
    spurious_wakeups: list[bool] = dataclasses.field(default_factory=list)
    #: At each operation: pretend the first non-blocking attempt hit EAGAIN?
    forced_eagain: list[bool] = dataclasses.field(default_factory=list)
    #: At each operation: yield to the scheduler once more first?
    extra_checkpoints: list[bool] = dataclasses.field(default_factory=list)
    _positions: dict[str, int] = dataclasses.field(default_factory=dict, repr=False)

    def _next(self, kind: str, decisions: list[bool]) -> bool:
        position = self._positions.get(kind, 0)
        if position >= len(decisions):
            return False
        self._positions[kind] = position + 1
        return decisions[position]

    def spurious_wakeup(self) -> bool:
        return self._next("spurious", self.spurious_wakeups)

    def force_eagain(self) -> bool:
        return self._next("eagain", self.forced_eagain)

    def extra_checkpoint(self) -> bool:
        return self._next("checkpoint", self.extra_checkpoints)

    def used(self) -> dict[str, int]:
        """How many decisions of each kind were consumed (for statistics)."""
        return dict(self._positions)


def chaos_schedules(max_decisions: int = 64) -> st.SearchStrategy[ChaosSchedule]:
    """Schedules for :func:`chaos_mode`; they shrink towards no chaos."""
    decisions = st.lists(st.booleans(), max_size=max_decisions)
    return st.builds(
        ChaosSchedule,
        spurious_wakeups=decisions,
        forced_eagain=decisions,
        extra_checkpoints=decisions,
    )


@contextlib.contextmanager
def chaos_mode(schedule: ChaosSchedule) -> Iterator[ChaosSchedule]:
    """Run the block with the engine following ``schedule``'s adversities.

    Affects every trio_zmq socket in the process while active; not reentrant.
    """
    if _chaos.source is not None:
        raise RuntimeError("chaos_mode is already active")
    _chaos.set_source(schedule)
    try:
        yield schedule
    finally:
        _chaos.set_source(None)
