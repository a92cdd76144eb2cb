"""Fault schedules: timed faults to play on a :class:`FaultyLink`, drawn by hypothesis.

A schedule is a sequence of faults, each a :class:`Stall`, :class:`Cut` or
:class:`Slow` that starts ``after`` seconds (counted from the end of the
fault before it) and lasts ``duration`` seconds.  Their reprs are the code
that makes them, so a failing example that hypothesis prints can be pasted
back into an ``@example``.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, final

import anyio
from hypothesis import strategies as st

from ._faulty_link import FaultyLink, is_rate

#: The kinds of fault :func:`fault_schedules` draws by default.
FAULT_KINDS = ("stall", "cut", "slow")


@dataclasses.dataclass(frozen=True)
class _Fault(abc.ABC):
    """A fault that starts ``after`` seconds from now and lasts ``duration`` seconds."""

    after: float
    duration: float

    def __post_init__(self) -> None:
        for name in ("after", "duration"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")

    @abc.abstractmethod
    def start(self, link: FaultyLink) -> None:
        """Switch the fault on."""

    @abc.abstractmethod
    def end(self, link: FaultyLink) -> None:
        """Switch the fault off."""

    async def play(self, link: FaultyLink, *, on_switch: Switched | None = None) -> None:
        """Wait ``after`` seconds, switch the fault on for ``duration`` seconds.

        The fault is switched off however this ends, also when cancelled.
        ``on_switch(fault, True)`` is called right after it is switched on,
        ``on_switch(fault, False)`` right after it is switched off.
        """
        await anyio.sleep(self.after)
        self.start(link)
        try:
            if on_switch is not None:
                on_switch(self, True)  # type: ignore[arg-type]
            await anyio.sleep(self.duration)
        finally:
            self.end(link)
            if on_switch is not None:
                on_switch(self, False)  # type: ignore[arg-type]


@final
@dataclasses.dataclass(frozen=True)
class Stall(_Fault):
    """A stall: :meth:`FaultyLink.stall`, then :meth:`FaultyLink.resume`."""

    def start(self, link: FaultyLink) -> None:
        """Stall the link."""
        link.stall()

    def end(self, link: FaultyLink) -> None:
        """Resume it."""
        link.resume()


@final
@dataclasses.dataclass(frozen=True)
class Cut(_Fault):
    """A cut: :meth:`FaultyLink.cut`, then :meth:`FaultyLink.restore`."""

    def start(self, link: FaultyLink) -> None:
        """Cut the link."""
        link.cut()

    def end(self, link: FaultyLink) -> None:
        """Restore it."""
        link.restore()


@final
@dataclasses.dataclass(frozen=True)
class Slow(_Fault):
    """A throttle: :meth:`FaultyLink.slow` to ``bytes_per_second``, then ``slow(None)``."""

    bytes_per_second: float = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if not is_rate(self.bytes_per_second):
            raise ValueError(
                f"bytes_per_second must be a positive finite number, not {self.bytes_per_second!r}"
            )

    def start(self, link: FaultyLink) -> None:
        """Throttle the link."""
        link.slow(self.bytes_per_second)

    def end(self, link: FaultyLink) -> None:
        """Remove the throttle."""
        link.slow(None)


#: One fault of a :class:`FaultSchedule`.
Fault = Stall | Cut | Slow
#: What :meth:`FaultSchedule.play` calls when it switches a fault on
#: (``True``) or off (``False``): for a test that checks what happened when.
Switched = Callable[[Fault, bool], None]


@final
class FaultSchedule:
    """Faults to play on a link one after the other: ``FaultSchedule(Stall(...), Cut(...))``.

    Its repr is the code that makes it.
    """

    __slots__ = ("faults",)

    def __init__(self, *faults: Fault) -> None:
        for fault in faults:
            if not isinstance(fault, (Stall, Cut, Slow)):
                raise TypeError(f"a fault is a Stall, Cut or Slow, not {fault!r}")
        #: The faults, in the order they are played.
        self.faults: tuple[Fault, ...] = faults

    def __repr__(self) -> str:
        return f"FaultSchedule({', '.join(map(repr, self.faults))})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """The repr, for IPython's and hypothesis's pretty printers.

        Without it, hypothesis may print a falsifying schedule as the
        strategy that drew it (a ``lambda`` over a list) instead of as code.
        """
        printer.text(repr(self))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FaultSchedule) and self.faults == other.faults

    def __hash__(self) -> int:
        return hash(self.faults)

    def __iter__(self) -> Iterator[Fault]:
        return iter(self.faults)

    def __len__(self) -> int:
        return len(self.faults)

    @property
    def duration(self) -> float:
        """Seconds :meth:`play` takes: every fault's ``after`` and ``duration``."""
        return sum(fault.after + fault.duration for fault in self.faults)

    def windows(self, start: float = 0.0) -> list[tuple[float, float, Fault]]:
        """``(begins, ends, fault)`` for each fault, in seconds from ``start``,
        as :meth:`play` schedules them."""
        windows = []
        now = start
        for fault in self.faults:
            begins = now + fault.after
            now = begins + fault.duration
            windows.append((begins, now, fault))
        return windows

    async def play(self, link: FaultyLink, *, on_switch: Switched | None = None) -> None:
        """Play the faults on ``link``, in the calling task, one after the other.

        Run it beside the code under test, in the same task group:
        ``task_group.start_soon(schedule.play, link)``.  Returns after
        :attr:`duration` seconds with the link healthy; cancelled, it
        switches off the fault it was playing.  ``on_switch(fault, on)`` is
        called each time a fault is switched on or off, when it is: a
        property can then judge what a request met on its way.
        """
        for fault in self.faults:
            await fault.play(link, on_switch=on_switch)


def _seconds(steps: int, resolution: float, *, least: int) -> st.SearchStrategy[float]:
    """Multiples of ``resolution`` from ``least`` to ``steps`` of them,
    shrinking towards ``least``; rounded, so that they print short."""
    return st.integers(least, steps).map(lambda n: round(n * resolution, 9))


def fault_schedules(
    *,
    kinds: Sequence[str] = FAULT_KINDS,
    min_faults: int = 0,
    max_faults: int = 3,
    max_after: float = 1.0,
    max_duration: float = 1.0,
    resolution: float = 0.05,
    rates: Sequence[float] = (10_000, 1000),
) -> st.SearchStrategy[FaultSchedule]:
    """Schedules for :meth:`FaultSchedule.play`: ``min_faults`` to ``max_faults`` of ``kinds``.

    Times are multiples of ``resolution`` seconds: ``after`` from 0 to
    ``max_after``, ``duration`` from one ``resolution`` to ``max_duration``.
    A throttle's rate is one of ``rates``.  Schedules shrink towards fewer
    faults, shorter ones, sooner, towards the first kind in ``kinds`` and
    the first rate in ``rates``: put the mildest first.

    Raises:
      ValueError: an unknown kind, no kinds or rates, a bound below 0,
        ``min_faults`` above ``max_faults`` or a ``resolution`` that does not
        fit in ``max_duration``.
    """
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown or not kinds:
        raise ValueError(f"kinds must be some of {FAULT_KINDS}, not {tuple(kinds)!r}")
    if not rates or not all(map(is_rate, rates)):
        raise ValueError(f"rates must be positive finite numbers, not {tuple(rates)!r}")
    if not (resolution > 0 and max_duration >= resolution and max_after >= 0):
        raise ValueError("need resolution > 0, max_duration >= resolution and max_after >= 0")
    if not 0 <= min_faults <= max_faults:
        raise ValueError(f"need 0 <= min_faults <= max_faults, not {min_faults}, {max_faults}")
    after = _seconds(int(max_after / resolution + 1e-9), resolution, least=0)
    duration = _seconds(int(max_duration / resolution + 1e-9), resolution, least=1)
    makers: dict[str, st.SearchStrategy[Fault]] = {
        "stall": st.builds(Stall, after=after, duration=duration),
        "cut": st.builds(Cut, after=after, duration=duration),
        "slow": st.builds(
            Slow, after=after, duration=duration, bytes_per_second=st.sampled_from(list(rates))
        ),
    }
    fault = st.one_of([makers[kind] for kind in kinds])
    return st.lists(fault, min_size=min_faults, max_size=max_faults).map(
        lambda faults: FaultSchedule(*faults)
    )
