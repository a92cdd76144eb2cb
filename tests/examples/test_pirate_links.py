"""examples/pirate through faulty links: the Lazy Pirate client and the
Paranoid Pirate queue and workers keep their contract whatever the links
do (tests/examples/pirate_links.py says what the contract is), and the kit
catches each of three planted bugs and shrinks it to a small scenario.

The planted bugs live here, as subclasses of the examples' classes
overriding one method each; the examples hold no switch for them:

* a client that keeps its REQ socket after a timeout, the classic Lazy
  Pirate mistake (made relaxed, so that it may send again);
* a heartbeat that never expires: the queue keeps a silent worker;
* a queue that loses a request while its workers reconnect: with no
  worker idle, it drops the request instead of holding it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import trio_zmq
from examples.pirate.client import LazyPirate
from examples.pirate.queue import Queue, Workers
from trio_zmq.testing import Cut, Fault, Stall

from tests.examples.pirate_links import (
    PropertyViolation,
    Recording,
    Scenario,
    client_scenarios,
    run,
    worker_scenarios,
)
from tests.helpers import assert_hypothesis_catches


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(scenario=client_scenarios())
def test_lazy_pirate_clients_keep_the_contract_through_a_faulty_link(scenario: Scenario) -> None:
    run(scenario)


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(scenario=worker_scenarios())
def test_the_paranoid_pirate_queue_keeps_the_contract_through_faulty_worker_links(
    scenario: Scenario,
) -> None:
    run(scenario)


# ----------------------------------------------------------------------
# The planted bugs
# ----------------------------------------------------------------------


class KeepsItsSocket(LazyPirate):
    """Planted bug: after a timeout, send again on the same REQ socket.

    A plain REQ would refuse (EFSM), so the socket is made relaxed; it is
    kept for the next requests too.
    """

    kept: trio_zmq.Socket | None = None

    def socket_for_attempt(self) -> trio_zmq.Socket:
        if self.kept is None:
            self.kept = super().socket_for_attempt()
            self.kept.req_relaxed = 1
        return self.kept

    def attempt_over(self, sock: trio_zmq.Socket) -> None:
        """Keep it: the reply was only slow."""


class RecordedKeepsItsSocket(Recording, KeepsItsSocket):
    """The buggy client, recorded."""


class HeartbeatNeverExpires(Workers):
    """Planted bug: a worker's heartbeat never expires."""

    def purge(self) -> list[bytes]:
        return []


class LosesRequestsWhileWorkersReconnect(Queue):
    """Planted bug: with no worker idle (they are reconnecting), drop the
    request: "the client will retry"."""

    async def dispatch(self, request: list[bytes]) -> None:
        worker_id = self.workers.take_idle()
        if worker_id is not None:
            await self.back.send_multipart([worker_id, *request])


@dataclasses.dataclass(frozen=True)
class Planted:
    """A planted bug: the scenarios of its side, what plants it, and the
    faults the shrunk scenario is made of."""

    scenarios: Callable[[], st.SearchStrategy[Scenario]]
    plant: dict[str, Any]
    faults: tuple[type[Fault], ...]


PLANTED = {
    "client-keeps-its-req-socket": Planted(
        client_scenarios, {"client_class": RecordedKeepsItsSocket}, (Stall,)
    ),
    "heartbeat-never-expires": Planted(
        worker_scenarios, {"workers": HeartbeatNeverExpires}, (Cut,)
    ),
    "queue-loses-a-request-while-workers-reconnect": Planted(
        worker_scenarios, {"queue_class": LosesRequestsWhileWorkersReconnect}, (Stall, Cut)
    ),
}


@pytest.mark.parametrize("bug", list(PLANTED))
def test_the_kit_catches_a_planted_bug_and_shrinks_it(bug: str) -> None:
    """The property of the bug's side, with a generous budget (generating
    and shrinking only: the explain phase would trace every line), must
    fail, and shrink to one or two faults of the kind the bug needs."""
    planted = PLANTED[bug]
    failures: list[tuple[float, Scenario, str]] = []
    started = time.monotonic()

    @settings(
        max_examples=300,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(scenario=planted.scenarios())
    def with_the_bug(scenario: Scenario) -> None:
        try:
            run(scenario, **planted.plant)
        except PropertyViolation as violation:
            failures.append((time.monotonic() - started, scenario, str(violation)))
            raise

    assert_hypothesis_catches(with_the_bug, PropertyViolation)
    caught_after, _, _ = failures[0]
    _, shrunk, why = failures[-1]
    print(
        f"\n{bug}: caught after {caught_after:.1f} s, shrunk after "
        f"{time.monotonic() - started:.1f} s ({len(failures)} failing runs) to\n"
        f"  {shrunk!r}\n  {why}"
    )
    faults = [
        fault for schedule in (shrunk.client_faults, *shrunk.worker_faults) for fault in schedule
    ]
    assert 1 <= len(faults) <= 2, shrunk
    assert all(isinstance(fault, planted.faults) for fault in faults), shrunk
    assert len(shrunk.requests) == len(shrunk.worker_faults) == 1, shrunk
