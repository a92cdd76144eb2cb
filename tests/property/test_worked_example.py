"""The worked example of docs/testing.md: property-testing a user pattern.

tests/property/example_pattern.py is "user code": a lazy-pirate client and
a flaky echo server.  The property below draws what the server does with each
request it receives (reply at once, never, or too late), the requests
(frames from ``trio_zmq.testing.multipart_messages``), the client's retries
and a chaos schedule, runs the client against the server on real inproc
sockets, and checks the client's promise:

* every request returns exactly its own reply, or raises ServerUnreachable,
  and that only after ``1 + retries`` attempts the server did not answer at
  once;
* no request is sent more than ``1 + retries`` times;
* no other exception;
* no leaked socket: every socket the client opened is closed when it is,
  and the process has as many fds open afterwards as before.

Time is virtual (``trio.testing.MockClock`` with a small autojump threshold):
timeouts and late replies cost no real time, and inproc delivers within the
trio thread, so whether a reply beats a timeout depends only on the drawn
example.  The fixed client must pass; against the buggy one hypothesis must
find a counterexample, and it must be the bug we planted.
"""

from __future__ import annotations

import dataclasses
import functools

import trio
import trio.testing
import zmq
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import trio_zmq
from trio_zmq.testing import (
    ChaosSchedule,
    chaos_mode,
    chaos_schedules,
    multipart_messages,
    unique_endpoint,
)

from .example_pattern import Action, LazyPirateClient, ServerUnreachable, flaky_echo_server
from tests.helpers import assert_hypothesis_catches, open_fds

#: The client's timeout per attempt (virtual seconds).
TIMEOUT = 1.0
#: Real seconds of all-blocked idleness before virtual time jumps.
AUTOJUMP_AFTER = 0.003


def late_by(n: int) -> float:
    """How late the server's reply to the n-th request it receives is, if
    late: after that attempt timed out, before the next one does.

    1.3125 timeouts plus a power of two of its own for each request.  Every
    time in a run is then a sum of exact binary fractions in which each late
    reply's own bit shows, so no late reply is ever due at the very instant
    a timeout expires.  At such a tie, which comes first would depend on
    real time (libzmq processes its commands at most every few million CPU
    cycles when sending) and the example would be flaky.
    """
    return 1.3125 * TIMEOUT + 2.0 ** -(n + 10)


#: Examples per test, the same for both.  Generating alone, hypothesis
#: hits the bug after 10 to 120 examples (measured over 20 seeds).
BUDGET = 300


class PropertyViolation(AssertionError):
    """The client broke its promise."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    #: The requests, sent one after the other (each gets its number as a
    #: first frame, so that no two are equal).
    requests: tuple[tuple[bytes, ...], ...]
    #: What the server does with the n-th request it receives ("ok" after).
    actions: tuple[Action, ...]
    retries: int


ACTIONS: tuple[Action, ...] = ("ok", "drop", "late")

scenarios = st.builds(
    Scenario,
    requests=st.lists(multipart_messages(max_frames=3).map(tuple), min_size=1, max_size=5).map(
        tuple
    ),
    actions=st.lists(st.sampled_from(ACTIONS), max_size=10).map(tuple),
    retries=st.integers(0, 3),
)


class TrackingFactory:
    """Makes sockets through a context and remembers them (leak check)."""

    def __init__(self, ctx: trio_zmq.Context) -> None:
        self._ctx = ctx
        self.made: list[trio_zmq.Socket] = []

    def socket(self, socket_type: int) -> trio_zmq.Socket:
        sock = self._ctx.socket(socket_type)
        self.made.append(sock)
        return sock


async def exercise(scenario: Scenario, chaos: ChaosSchedule, *, reuse_socket: bool) -> None:
    requests = [[b"request %d" % i, *frames] for i, frames in enumerate(scenario.requests)]
    outcomes: list[list[bytes] | None] = []  # None: ServerUnreachable
    log: list[tuple[list[bytes], Action]] = []
    async with trio_zmq.Context(linger=0) as ctx:
        server = ctx.socket(zmq.ROUTER)
        endpoint = unique_endpoint("inproc")
        server.bind(endpoint)
        factory = TrackingFactory(ctx)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                functools.partial(
                    flaky_echo_server, server, scenario.actions, late_by=late_by, log=log
                )
            )
            with chaos_mode(chaos):
                async with LazyPirateClient(
                    factory,
                    endpoint,
                    retries=scenario.retries,
                    timeout=TIMEOUT,
                    reuse_socket=reuse_socket,
                ) as client:
                    for request in requests:
                        try:
                            outcomes.append(await client.request(request))
                        except ServerUnreachable:
                            outcomes.append(None)
            nursery.cancel_scope.cancel()
        leaked = [repr(sock) for sock in factory.made if not sock.closed]
    check(requests, outcomes, log, scenario.retries, leaked)


def check(
    requests: list[list[bytes]],
    outcomes: list[list[bytes] | None],
    log: list[tuple[list[bytes], Action]],
    retries: int,
    leaked: list[str],
) -> None:
    for i, (request, outcome) in enumerate(zip(requests, outcomes, strict=True)):
        fates = [action for payload, action in log if payload == request]
        if len(fates) > 1 + retries:
            raise PropertyViolation(
                f"request {i} was sent {len(fates)} times with retries={retries}"
            )
        if outcome is None:
            if "ok" in fates or len(fates) < 1 + retries:
                raise PropertyViolation(
                    f"request {i}: gave up too soon (fates: {fates}, retries={retries})"
                )
        elif outcome != request:
            owner = requests.index(outcome) if outcome in requests else "none"
            raise PropertyViolation(
                f"request {i} got the reply to request {owner}: {outcome!r} (fates: {fates})"
            )
    if leaked:
        raise PropertyViolation(f"{len(leaked)} sockets of the client left open: {leaked}")


def run_example(scenario: Scenario, chaos: ChaosSchedule, *, reuse_socket: bool) -> None:
    fds_before = open_fds()
    trio.run(
        functools.partial(exercise, scenario, chaos, reuse_socket=reuse_socket),
        # Jump only after a few real milliseconds with every task blocked:
        # libzmq's reaper thread, which finishes closing the discarded
        # sockets, gets to run first even on a loaded machine.
        clock=trio.testing.MockClock(autojump_threshold=AUTOJUMP_AFTER),
    )
    fds_after = open_fds()
    if fds_after != fds_before:
        raise PropertyViolation(f"open fds went from {fds_before} to {fds_after}")


#: Hypothesis's phases minus "explain", which traces every line of a failing
#: example to say which ran only when it failed: seven times slower here.
PHASES = [phase for phase in Phase if phase is not Phase.explain]


def test_fixed_client_keeps_its_promise() -> None:
    @settings(max_examples=BUDGET, database=None, deadline=None, phases=PHASES)
    @given(scenario=scenarios, chaos=chaos_schedules(max_decisions=16))
    def check_fixed(scenario: Scenario, chaos: ChaosSchedule) -> None:
        run_example(scenario, chaos, reuse_socket=False)

    check_fixed()


def test_kit_finds_the_planted_bug() -> None:
    failing: list[Scenario] = []

    @settings(
        max_examples=BUDGET,
        database=None,
        deadline=None,
        derandomize=True,
        report_multiple_bugs=False,
        phases=PHASES,
    )
    @given(scenario=scenarios, chaos=chaos_schedules(max_decisions=16))
    def check_buggy(scenario: Scenario, chaos: ChaosSchedule) -> None:
        try:
            run_example(scenario, chaos, reuse_socket=True)
        except PropertyViolation:
            failing.append(scenario)
            raise

    # The planted bug, not some other failure: a request took the late reply
    # to an earlier one...
    assert_hypothesis_catches(check_buggy, PropertyViolation, match="got the reply to request")
    # ...and the shrunk counterexample (the last one run) says how: a reply
    # delayed past its timeout, and another request after it.
    shrunk = failing[-1]
    assert "late" in shrunk.actions
    assert len(shrunk.requests) >= 2
