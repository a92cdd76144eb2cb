"""Fault schedules (``trio_zmq.testing``'s Stall, Cut, Slow, FaultSchedule and
fault_schedules): what hypothesis draws, how it shrinks and prints, and what
playing a schedule does to a real link.

The play tests run on every loop and watch the link's state as the
schedule switches it: the order of the states is checked, not their times.
"""

from __future__ import annotations

import anyio
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import trio_zmq.testing
from trio_zmq.testing import (
    Cut,
    FaultSchedule,
    FaultyLink,
    Slow,
    Stall,
    fault_schedules,
    faulty_link,
)

from tests.conftest import ON_EVERY_LOOP

#: Liveness bound on every wait.
BOUND = 5


def state(link: FaultyLink) -> str:
    """The faults on now, as a word: "healthy", "stalled", "cut" or "slowed <rate>"."""
    stats = link.statistics()
    if stats.stalled:
        return "stalled"
    if stats.cut:
        return "cut"
    if stats.bytes_per_second is not None:
        return f"slowed {stats.bytes_per_second:g}"
    return "healthy"


def is_multiple(value: float, resolution: float) -> bool:
    return abs(value / resolution - round(value / resolution)) < 1e-6


# ----------------------------------------------------------------------
# What is drawn
# ----------------------------------------------------------------------


@given(
    schedule=fault_schedules(
        kinds=("cut", "slow"), max_faults=4, max_after=0.5, max_duration=2, rates=(500, 50)
    )
)
def test_drawn_schedules_keep_to_their_bounds(schedule: FaultSchedule) -> None:
    assert len(schedule) <= 4
    for fault in schedule:
        assert isinstance(fault, (Cut, Slow))
        assert 0 <= fault.after <= 0.5
        assert 0.05 <= fault.duration <= 2
        assert is_multiple(fault.after, 0.05)
        assert is_multiple(fault.duration, 0.05)
        if isinstance(fault, Slow):
            assert fault.bytes_per_second in (500, 50)
    assert schedule.duration == pytest.approx(sum(f.after + f.duration for f in schedule))


@given(schedule=fault_schedules())
def test_a_schedule_prints_as_the_code_that_makes_it(schedule: FaultSchedule) -> None:
    pasted = eval(repr(schedule), vars(trio_zmq.testing))
    assert pasted == schedule
    assert hash(pasted) == hash(schedule)
    # Times print short: multiples of 0.05 s, no float noise.
    assert all(len(repr(fault.after)) <= 4 for fault in schedule), repr(schedule)


def test_schedules_shrink_towards_fewer_shorter_sooner_faults() -> None:
    """hypothesis's minimal example of "a cut of at least 0.3 s, and a stall" is
    exactly those two faults, as short and as soon as allowed."""

    def wanted(schedule: FaultSchedule) -> bool:
        kinds = [type(fault) for fault in schedule]
        long_cut = any(isinstance(f, Cut) and f.duration >= 0.3 for f in schedule)
        return long_cut and Stall in kinds

    minimal = find(
        fault_schedules(max_faults=5), wanted, settings=settings(database=None, max_examples=2000)
    )
    assert minimal in (
        FaultSchedule(Stall(after=0.0, duration=0.05), Cut(after=0.0, duration=0.3)),
        FaultSchedule(Cut(after=0.0, duration=0.3), Stall(after=0.0, duration=0.05)),
    )


def test_a_failing_property_reports_its_schedule_as_code() -> None:
    @settings(database=None, max_examples=200)
    @given(schedule=fault_schedules())
    def property_that_fails_on_a_slow_link(schedule: FaultSchedule) -> None:
        assert not any(isinstance(fault, Slow) for fault in schedule)

    with pytest.raises(AssertionError) as raised:
        property_that_fails_on_a_slow_link()
    notes = "\n".join(getattr(raised.value, "__notes__", []))
    assert (
        "schedule=FaultSchedule(Slow(after=0.0, duration=0.05, bytes_per_second=10000))" in notes
    ), notes


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: Stall(after=-1, duration=1), "after must be a finite number"),
        (lambda: Cut(after=0, duration=float("inf")), "duration must be a finite number"),
        (lambda: Slow(after=0, duration=1, bytes_per_second=0), "bytes_per_second must be"),
        (lambda: fault_schedules(kinds=["drop"]), "kinds must be some of"),
        (lambda: fault_schedules(kinds=[]), "kinds must be some of"),
        (lambda: fault_schedules(rates=[0]), "rates must be positive"),
        (lambda: fault_schedules(max_duration=0.01), "resolution"),
    ],
)
def test_bad_faults_and_bounds_are_refused(make: object, error: str) -> None:
    assert callable(make)
    with pytest.raises(ValueError, match=error):
        make()


def test_a_schedule_holds_only_faults() -> None:
    with pytest.raises(TypeError, match="a fault is a Stall, Cut or Slow"):
        FaultSchedule("stall")  # type: ignore[arg-type]


@given(schedule=fault_schedules(), start=st.floats(0, 100))
def test_windows_follow_one_another(schedule: FaultSchedule, start: float) -> None:
    now = start
    for (begins, ends, fault), expected in zip(schedule.windows(start), schedule, strict=True):
        assert fault is expected
        assert begins == pytest.approx(now + fault.after)
        assert ends == pytest.approx(begins + fault.duration)
        now = ends
    assert now == pytest.approx(start + schedule.duration)


# ----------------------------------------------------------------------
# Playing a schedule on a link
# ----------------------------------------------------------------------


async def watch(link: FaultyLink, seen: list[str]) -> None:
    """Note each state the link goes through, until cancelled."""
    while True:
        if not seen or seen[-1] != state(link):
            seen.append(state(link))
        await anyio.sleep(0.005)


@ON_EVERY_LOOP
async def test_play_switches_each_fault_on_and_off_in_order() -> None:
    schedule = FaultSchedule(
        Stall(after=0.05, duration=0.1),
        Cut(after=0.05, duration=0.1),
        Slow(after=0.05, duration=0.1, bytes_per_second=500),
    )
    seen: list[str] = []
    async with faulty_link("tcp://127.0.0.1:9") as link, anyio.create_task_group() as tasks:
        tasks.start_soon(watch, link, seen)
        with anyio.fail_after(schedule.duration + BOUND):
            await schedule.play(link)
        await anyio.sleep(0.02)
        tasks.cancel_scope.cancel()
    assert seen == ["healthy", "stalled", "healthy", "cut", "healthy", "slowed 500", "healthy"]


@ON_EVERY_LOOP
@pytest.mark.parametrize(
    "fault",
    [Stall(after=0, duration=60), Cut(after=0, duration=60), Slow(after=0, duration=60)],
    ids=repr,
)
async def test_a_cancelled_play_leaves_the_link_healthy(fault: Stall | Cut | Slow) -> None:
    async with faulty_link("tcp://127.0.0.1:9") as link:
        with anyio.move_on_after(0.1):
            await FaultSchedule(fault).play(link)
        assert state(link) == "healthy"
