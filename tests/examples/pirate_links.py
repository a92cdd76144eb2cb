"""The Pirates through faulty links: the scenario, the run and the contract.

Everything runs in one trio run, in-process: the Paranoid Pirate queue
(examples/pirate/queue.py), its workers (examples/pirate/worker.py), each
connected to the backend through a faulty link of its own, and Lazy Pirate
clients (examples/pirate/client.py) connected to the frontend through one
more.  A :class:`Scenario` says which faults each link meets and when each
client sends; :func:`run_scenario` plays it and checks the contract as it
goes, raising :class:`PropertyViolation` at the first breach.

The contract, for every request: the reply it returns is the reply to its
own payload, from one of the workers, or it returns ``None``; no client
ever receives a reply to another request (``on_stray``); and an attempt
times out only if a fault excuses it.  Excused is an attempt [a, a+T]
during which, or less than E before which, a fault started on some link
(a request handed to a worker whose link had just failed is lost: the
queue has not yet expired that worker, or the request was in flight when
the link was cut; the client's retry is what covers it).  Not excused is
an attempt that meets no such start and either

* found the client's link and some worker's link healthy throughout
  [a-E, a+T] (a worker cut off for longer than E has expired: the queue
  must hand the request to a live one), or
* ended at least R after every link was healthy again (a request that
  waited for a worker to come back must then be answered).

Every client sends one last request once every fault has been over for E,
so a system that does not recover breaks the contract too.

The constants make the contract hold with a margin for the correct
examples: the queue expires a worker after 3 heartbeats of 25 ms and
purges every 25 ms, so a silent worker is gone 0.1 s after its last word
(E = 0.15 s); libzmq reconnects every 10 ms (``RECONNECT_IVL``, set on the
context), so R = 0.15 s covers a reconnect, a heartbeat and the work.
Fault times are multiples of 50 ms from the start of the faults, request
times multiples of 50 ms from the start of the clients, and the faults
start 25 ms later: no request is due within 25 ms of a fault's edge, so
whether a bug shows does not depend on the scheduler's whims, and a
failing scenario fails again when hypothesis replays it.  The workers' own
liveness is 3 s, longer than any outage drawn here: a worker that takes
the queue for dead drops its socket, and a request handed to it at that
moment is lost, which the pattern allows but this contract would count
against the queue (the worker's reconnect is tested on its own in
test_pirate.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import sys
from collections.abc import Callable
from typing import Any

import trio
import zmq
from hypothesis import strategies as st

import trio_zmq
from examples.pirate.client import LazyPirate
from examples.pirate.protocol import worker_reply
from examples.pirate.queue import Queue, Workers
from examples.pirate.worker import run_worker
from trio_zmq.testing import Fault, FaultSchedule, FaultyLink, fault_schedules, faulty_link

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

HEARTBEAT = 0.025  # seconds between heartbeats
QUEUE_LIVENESS = 3  # the queue expires a worker silent for 3 heartbeats
WORKER_LIVENESS = 120  # 3 s: longer than any outage drawn here
RECONNECT_IVL = 10  # milliseconds, for every socket of the run
#: Times are multiples of GRID seconds: the faults' from their start, the
#: requests' from theirs.
GRID = 0.05
#: The faults start this long after the clients: no request is due at the
#: instant a fault begins or ends, nor at E or R from it (which came first
#: would depend on the scheduler).
OFFSET = GRID / 2
#: A fault that starts less than E before an attempt, or during it, excuses it.
E = 0.15
#: Once every link has been healthy for R, a waiting request is answered.
R = 0.15
#: Bound on one request (its attempts, and slack) and on the whole run.
REQUEST_SLACK = 5
RUN_BOUND = 60


class PropertyViolation(AssertionError):
    """The Pirates broke their contract (not a bug of the test)."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Faults on each link, and when each client sends."""

    #: Faults on the link between the clients and the queue's frontend.
    client_faults: FaultSchedule
    #: One worker per schedule, each with a link of its own to the backend.
    worker_faults: tuple[FaultSchedule, ...]
    #: One client per tuple: the pause before each of its requests, in seconds.
    requests: tuple[tuple[float, ...], ...]
    #: The clients' wait per attempt, in seconds, and how often they retry.
    timeout: float
    retries: int


def link_faults(kinds: tuple[str, ...], min_faults: int = 0) -> st.SearchStrategy[FaultSchedule]:
    """Up to two faults of up to 0.5 s on a link, on the grid."""
    return fault_schedules(
        kinds=kinds,
        min_faults=min_faults,
        max_faults=2,
        max_after=0.2,
        max_duration=0.5,
        resolution=GRID,
    )


def pauses(*choices: float) -> st.SearchStrategy[tuple[float, ...]]:
    """A client's one to three requests: the pause before each, in seconds."""
    return st.lists(st.sampled_from(choices), min_size=1, max_size=3).map(tuple)


def client_scenarios() -> st.SearchStrategy[Scenario]:
    """The Lazy Pirate's side: faults on the clients' link only; one or two
    clients, one worker."""
    return st.builds(
        Scenario,
        client_faults=link_faults(("stall", "cut", "slow"), min_faults=1),
        worker_faults=st.just((FaultSchedule(),)),
        requests=st.lists(pauses(0.0, 0.2, 0.4), min_size=1, max_size=2).map(tuple),
        timeout=st.just(0.15),
        retries=st.integers(0, 1),
    )


def worker_scenarios() -> st.SearchStrategy[Scenario]:
    """The Paranoid Pirate's side: cuts and stalls on the workers' links
    only (a throttle does not silence a worker: its heartbeats are a few
    bytes); one worker or two, one client."""
    # A list of links, so that every hypothesis version shrinks a second
    # worker away by deleting it; at least one fault, or nothing is tested.
    links = st.lists(link_faults(("stall", "cut")), min_size=1, max_size=2)
    return st.builds(
        Scenario,
        client_faults=st.just(FaultSchedule()),
        worker_faults=links.filter(lambda schedules: any(schedules)).map(tuple),
        requests=pauses(0.2, 0.4).map(lambda each: (each,)),
        timeout=st.just(0.5),
        retries=st.just(1),
    )


@dataclasses.dataclass
class Outage:
    """A fault as it was played on a link: when it began and ended."""

    began: float
    ended: float | None = None  # None: not over yet

    def overlaps(self, start: float, end: float) -> bool:
        return self.began <= end and (self.ended is None or self.ended >= start)


@dataclasses.dataclass
class Attempt:
    """One attempt of a request: when its socket was made and closed."""

    began: float
    ended: float = float("inf")


class Timeline:
    """What happened when: the outages of each link, and the judgement of attempts."""

    def __init__(self, links: list[str]) -> None:
        self.outages: dict[str, list[Outage]] = {name: [] for name in links}

    def switched(self, link: str, _fault: Fault, on: bool) -> None:
        """``on_switch`` for the schedule played on ``link``."""
        now = trio.current_time()
        if on:
            self.outages[link].append(Outage(now))
        else:
            self.outages[link][-1].ended = now

    def healthy(self, link: str, start: float, end: float) -> bool:
        return not any(outage.overlaps(start, end) for outage in self.outages[link])

    def excuse(self, attempt: Attempt) -> str | None:
        """Why ``attempt`` may have timed out, or ``None``: it must not have."""
        start, end = attempt.began, attempt.ended
        for link, outages in self.outages.items():
            for outage in outages:
                if start - E <= outage.began <= end:
                    return f"a fault began on {link} at {outage.began:.2f}"
        workers = [link for link in self.outages if link != "client"]
        if not (
            self.healthy("client", start - E, end)
            and any(self.healthy(w, start - E, end) for w in workers)
        ):
            last_end = max(
                (
                    outage.ended if outage.ended is not None else float("inf")
                    for outages in self.outages.values()
                    for outage in outages
                    if outage.began <= end
                ),
                default=start,
            )
            if max(start, last_end) > end - R:
                return "the links were not healthy long enough"
        return None

    def describe(self) -> str:
        """The outages, e.g. ``client: 12.30-12.80; w0: none``."""

        def span(outage: Outage) -> str:
            ended = "..." if outage.ended is None else f"{outage.ended:.2f}"
            return f"{outage.began:.2f}-{ended}"

        return "; ".join(
            f"{link}: {', '.join(map(span, outages)) or 'none'}"
            for link, outages in self.outages.items()
        )


class Recording(LazyPirate):
    """The example's client, noting its attempts (for the contract), and
    nothing else; a planted bug's subclass is recorded by putting this
    class first among its bases."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempts: list[Attempt] = []

    def socket_for_attempt(self) -> trio_zmq.Socket:
        self.attempts.append(Attempt(trio.current_time()))
        return super().socket_for_attempt()

    def attempt_over(self, sock: trio_zmq.Socket) -> None:
        self.attempts[-1].ended = trio.current_time()
        super().attempt_over(sock)


ClientClass = Callable[..., Recording]
QueueClass = Callable[..., Queue]


async def run_scenario(
    scenario: Scenario,
    *,
    client_class: ClientClass = Recording,
    queue_class: QueueClass = Queue,
    workers: Callable[[float], Workers] = Workers,
) -> None:
    """Play ``scenario``; raise :class:`PropertyViolation` at the first breach.

    ``client_class``, ``queue_class`` and ``workers`` (made with the
    expiry in seconds) are where the tests plant bugs.
    """
    worker_ids = [b"w%d" % number for number in range(len(scenario.worker_faults))]
    timeline = Timeline(["client", *(w.decode() for w in worker_ids)])
    with trio.fail_after(RUN_BOUND):
        async with trio_zmq.Context(linger=0) as ctx, trio.open_nursery() as nursery:
            ctx.zmq_context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL)
            queue = queue_class(
                ctx,
                "tcp://127.0.0.1:*",
                "tcp://127.0.0.1:*",
                heartbeat_interval=HEARTBEAT,
                workers=workers(HEARTBEAT * QUEUE_LIVENESS),
            )
            frontend, backend = await nursery.start(queue.run)
            async with contextlib.AsyncExitStack() as links:
                client_link = await links.enter_async_context(faulty_link(frontend))
                worker_links = [
                    await links.enter_async_context(faulty_link(backend)) for _ in worker_ids
                ]
                async with trio.open_nursery() as crew:
                    # One after the other, each idle before the next starts:
                    # the queue's rotation starts in the same order every run.
                    for worker_id, link in zip(worker_ids, worker_links, strict=True):
                        crew.start_soon(
                            functools.partial(
                                run_worker,
                                ctx,
                                link.endpoint,
                                worker_id,
                                heartbeat_interval=HEARTBEAT,
                                liveness=WORKER_LIVENESS,
                            )
                        )
                        while worker_id not in queue.workers.idle:  # noqa: ASYNC110 - no event
                            await trio.sleep(0.005)
                    await play_and_ask(
                        scenario, timeline, client_link, worker_links, worker_ids, client_class, ctx
                    )
                    crew.cancel_scope.cancel()
            nursery.cancel_scope.cancel()


async def play_and_ask(
    scenario: Scenario,
    timeline: Timeline,
    client_link: FaultyLink,
    worker_links: list[FaultyLink],
    worker_ids: list[bytes],
    client_class: ClientClass,
    ctx: trio_zmq.Context,
) -> None:
    """Play the faults while the clients send; then, every fault over for E,
    one last request from each client."""
    schedules = [("client", client_link, scenario.client_faults)] + [
        (worker_id.decode(), link, faults)
        for worker_id, link, faults in zip(
            worker_ids, worker_links, scenario.worker_faults, strict=True
        )
    ]
    clients = [
        client_class(
            ctx,
            client_link.endpoint,
            timeout=scenario.timeout,
            retries=scenario.retries,
            on_stray=functools.partial(stray, number),
        )
        for number in range(len(scenario.requests))
    ]

    async def ask(number: int, payload: bytes) -> None:
        client = clients[number]
        first = len(client.attempts)
        with trio.fail_after((1 + scenario.retries) * scenario.timeout + REQUEST_SLACK):
            reply = await client.request(payload)
        if reply is not None and reply not in [worker_reply(w, payload) for w in worker_ids]:
            raise PropertyViolation(f"{payload!r} got {reply!r}, no worker's reply to it")
        failed = client.attempts[first:] if reply is None else client.attempts[first:-1]
        for attempt in failed:
            if timeline.excuse(attempt) is None:
                raise PropertyViolation(
                    f"client {number}: an attempt of {payload!r} from {attempt.began:.2f} "
                    f"to {attempt.ended:.2f} timed out, and no fault excuses it "
                    f"(outages: {timeline.describe()})"
                )

    start = trio.current_time()

    async def client_task(number: int, pauses: tuple[float, ...]) -> None:
        due = start
        for index, pause in enumerate(pauses):
            # On the grid: the next grid point once the last request is over.
            since = max(due, trio.current_time()) - start
            due = start + math.ceil(since / GRID - 0.1) * GRID + pause
            await trio.sleep_until(due)
            await ask(number, b"client %d request %d" % (number, index))

    async def play(name: str, link: FaultyLink, faults: FaultSchedule) -> None:
        await trio.sleep(OFFSET)
        await faults.play(link, on_switch=functools.partial(timeline.switched, name))

    async with trio.open_nursery() as run:
        for name, link, faults in schedules:
            run.start_soon(play, name, link, faults)
        for number, pauses in enumerate(scenario.requests):
            run.start_soon(client_task, number, pauses)
    await trio.sleep(E)
    async with trio.open_nursery() as last:
        for number in range(len(clients)):
            last.start_soon(ask, number, b"client %d: the last request" % number)


def stray(client: int, frames: list[bytes]) -> None:
    """``on_stray``: a client received a reply to another request."""
    raise PropertyViolation(f"client {client} received a reply to another request: {frames!r}")


def run(scenario: Scenario, **planted: Any) -> None:
    """:func:`run_scenario` in a trio run of its own; a breach is raised as
    itself, out of the task groups' exception groups."""
    try:
        trio.run(functools.partial(run_scenario, scenario, **planted))
    except BaseExceptionGroup as group:
        violations = group.subgroup(PropertyViolation)
        if violations is None:
            raise
        first: BaseException = violations
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
