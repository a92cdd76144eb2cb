"""Chaos mode: adversarial scheduling drawn by hypothesis.

Chaos is a backend (see ``trio_zmq._core._backend``) that wraps the one a
task would get and injects adversities at the decision points the engine
already has; the engine and the socket layer know nothing of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar, final

from hypothesis import strategies as st

from .._core import _backend
from .._core._engine import NOT_NOW, Attempt, Engine


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
        """The next drawn decision: should the fd watcher wake up once for nothing?"""
        return self._next("spurious", self.spurious_wakeups)

    def force_eagain(self) -> bool:
        """The next drawn decision: should this attempt pretend EAGAIN?"""
        return self._next("eagain", self.forced_eagain)

    def extra_checkpoint(self) -> bool:
        """The next drawn decision: should this operation yield once more first?"""
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


class ChaosSource(Protocol):
    """Decides, at each decision point, whether to inject an adversity
    (:class:`ChaosSchedule` is one)."""

    def spurious_wakeup(self) -> bool:
        """Should the fd watcher wake up once without a reason?"""

    def force_eagain(self) -> bool:
        """Should this non-blocking attempt pretend the socket was not ready?"""

    def extra_checkpoint(self) -> bool:
        """Should this operation yield to the scheduler once more first?"""


SourceT = TypeVar("SourceT", bound=ChaosSource)


@final
class ChaosBackend(_backend.Wrapper):
    """The backend ``inner``, with the adversities ``source`` decides on.

    Installed by :func:`chaos_mode` through the engine's one test hook
    (``trio_zmq._core._backend.installed``).  Every adversity is one a real
    run can meet: an fd wake-up with nothing ready, a socket that was not
    ready at the first attempt, another task running first.
    """

    __slots__ = ("source",)

    def __init__(self, inner: _backend.Backend, source: ChaosSource) -> None:
        super().__init__(inner)
        self.source = source

    async def before_operation(self) -> None:
        await self.inner.before_operation()
        if self.source.extra_checkpoint():
            await self.inner.checkpoint()

    def try_now(
        self, engine: Engine, direction: int, attempt: Attempt, will_wait: bool = True
    ) -> Any:
        if self.source.force_eagain():
            return NOT_NOW
        return self.inner.try_now(engine, direction, attempt, will_wait)

    async def sleep_on_fd(self, engine: Engine, timeout: float = 0.0) -> None:
        if self.source.spurious_wakeup():
            await self.inner.checkpoint()
            return
        await self.inner.sleep_on_fd(engine, timeout)


@contextlib.contextmanager
def chaos_mode(schedule: SourceT) -> Iterator[SourceT]:
    """Run the block with the engine following ``schedule``'s adversities.

    Affects every trio_zmq socket in the process while active, on every
    event loop; not reentrant.

    Raises:
      RuntimeError: chaos mode is already active.
    """
    if any(isinstance(b, ChaosBackend) for b in (_backend.for_trio, _backend.for_others)):
        raise RuntimeError("chaos_mode is already active")
    with _backend.installed(
        trio_tasks=ChaosBackend(_backend.for_trio, schedule),
        other_tasks=ChaosBackend(_backend.for_others, schedule),
    ):
        yield schedule
