"""The engine's promises, checked by hypothesis over generated programs.

See property_model.py for the steps and the invariants.  The hypothesis
profile comes from TRIO_ZMQ_HYPOTHESIS_PROFILE (``dev`` or ``ci``; ``ci`` is
the default when the CI environment variable is set).
"""

from __future__ import annotations

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_zmq.testing import chaos_schedules

from .property_model import (
    TOPOLOGIES,
    Program,
    Settle,
    StartCancelledAfter,
    StartSend,
    StartWaitReadable,
    programs,
    run_program,
)


@pytest.mark.parametrize("transport", ["inproc", "ipc", "tcp"])
@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
@given(data=st.data())
def test_engine_keeps_its_promises(topology: str, transport: str, data: st.DataObject) -> None:
    program = data.draw(programs([topology], [transport]), label="program")
    trio.run(run_program, program)


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
@given(data=st.data())
def test_engine_keeps_its_promises_under_chaos(topology: str, data: st.DataObject) -> None:
    """Spurious wake-ups, forced EAGAIN and extra checkpoints change nothing."""
    program = data.draw(programs([topology], ["inproc"]), label="program")
    chaos = data.draw(chaos_schedules(), label="chaos")
    trio.run(run_program, program, chaos)


#: Found by this suite (then shrunk): a sender whose own failed attempt
#: processed the command that made room in the pipe parked without anyone
#: serving it -- the edge was gone and the watcher (a receiver) slept on.
#: The engine now serves once more after queueing a waiter, before parking.
LOST_WAKEUP_AFTER_OWN_ATTEMPT = Program(
    topology="DEALER_ROUTER",
    transport="inproc",
    start="connected",
    hwm=(1, 2),
    steps=(
        StartWaitReadable("A"),
        StartCancelledAfter("B", count=0, ticks=2),
        StartWaitReadable("B"),
        StartCancelledAfter("B", count=1, ticks=1),
        StartWaitReadable("A"),
        StartSend("B", count=3, tasks=1),
        StartSend("B", count=1, tasks=2),
        StartCancelledAfter("A", count=2, ticks=0),
        StartCancelledAfter("B", count=2, ticks=1),
        StartWaitReadable("A"),
        Settle(),
    ),
)


@settings(max_examples=30)
@given(schedule_seed=st.integers())
def test_regression_park_after_own_attempt(schedule_seed: int) -> None:
    # Each example gives trio's scheduler another deterministic seed.
    trio.run(run_program, LOST_WAKEUP_AFTER_OWN_ATTEMPT)
