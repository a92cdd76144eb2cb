"""The trio side of the fault tests: sockets, flows of messages, monitors.

A :class:`Scene` is a trio_zmq context and a nursery in the test's run;
its peers are processes in the test hosts, killed (and the nursery
cancelled) when the scene ends, however it ends.

A :class:`Flow` is one stream of messages from one sender, and what its
receiver made of them.  :func:`send_flow` and :func:`recv_flow` move it
under the cancel rule: every send and receive runs under a short
``move_on_after``; a cancelled send is retried with the same message (so a
send that was cancelled *and* sent would arrive twice, which the ledger
reports) and a cancelled receive must leave its message for the next one
(a receive that was cancelled *and* took a message would lose it, which
:meth:`Ledger.assert_exactly_once` reports).  The counts of cancellations
show that the fault did block senders and receivers, and that they stayed
cancellable.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio
import zmq

import trio_zmq

from tests.faults.messages import Ledger, gaps, make
from tests.netns import Host, Network, PeerProcess

#: How long one send or receive may wait before it is cancelled and retried.
PATIENCE = 0.05
#: Liveness bound for a flow to deliver what was sent once a fault is over.
DRAIN_BOUND = 30.0


@dataclass
class Flow:
    """Messages of ``sender``, as sent and as received."""

    name: str
    sender: bytes
    ordered: bool = True
    ledger: Ledger = field(init=False)
    sent: int = 0
    cancelled_sends: int = 0
    cancelled_recvs: int = 0
    arrivals: list[float] = field(default_factory=list)
    #: The last message received when the outage began (see ``outage_begins``).
    last_before_outage: int = -1
    #: How many had been sent when the outage was detected (``outage_detected``).
    sent_at_detection: int = -1
    #: Set when :func:`send_flow` has stopped, and ``sent`` counts its last
    #: message (a send returns after a schedule point, during which the
    #: message may already have arrived).
    sender_stopped: trio.Event = field(default_factory=trio.Event)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.name, self.ordered)

    def outage_begins(self) -> None:
        """Note what had arrived when the fault struck: all of it, in order."""
        self.ledger.assert_exactly_once(self.sender, self.ledger.last(self.sender) + 1)
        self.last_before_outage = self.ledger.last(self.sender)

    def outage_detected(self) -> None:
        """Note how much was sent when libzmq dropped the connection: what
        is sent later waits in the socket's queue for the next connection."""
        self.sent_at_detection = self.sent

    def arrived_between(self, start: float, end: float) -> int:
        return sum(start <= t < end for t in self.arrivals)

    def first_arrival_after(self, moment: float) -> float:
        """Seconds from ``moment`` to the first arrival after it (inf: none)."""
        later = [t for t in self.arrivals if t >= moment]
        return min(later) - moment if later else math.inf

    async def drained(self, sender: bytes | None = None, bound: float = DRAIN_BOUND) -> None:
        """Wait until the sender has stopped and its last message has arrived."""
        with trio.move_on_after(bound):
            await self.sender_stopped.wait()
            while self.ledger.last(sender or self.sender) < self.sent - 1:  # noqa: ASYNC110
                await trio.sleep(0.01)
        assert self.sender_stopped.is_set(), (
            f"{self.name}: still sending #{self.sent} after {bound} s"
        )
        last = self.ledger.last(sender or self.sender)
        assert last == self.sent - 1, f"{self.name}: #{last} arrived, #{self.sent - 1} was sent"

    async def arrivals_after(self, moment: float, bound: float = DRAIN_BOUND) -> float:
        """Wait for an arrival after ``moment``; the seconds it took from there."""
        with trio.move_on_after(bound):
            while not self.arrivals or self.arrivals[-1] < moment:  # noqa: ASYNC110
                await trio.sleep(0.01)
        assert self.arrivals, f"{self.name}: nothing ever arrived"
        assert self.arrivals[-1] >= moment, f"{self.name}: nothing in {bound} s"
        return self.first_arrival_after(moment)


async def send_flow(
    sock: trio_zmq.Socket, flow: Flow, stop: trio.Event, *, rate: float, size: int = 64
) -> None:
    """Send ``flow``'s messages at ``rate`` a second until ``stop`` is set;
    then set ``flow.sender_stopped``."""
    try:
        while not stop.is_set():
            message = make(flow.sender, flow.sent, size)
            while True:
                with trio.move_on_after(PATIENCE) as scope:
                    await sock.send_multipart(message)
                if not scope.cancelled_caught:
                    break
                flow.cancelled_sends += 1  # nothing was sent: send the same message again
            flow.sent += 1
            await trio.sleep(1 / rate)
    finally:
        flow.sender_stopped.set()


async def recv_flow(sock: trio_zmq.Socket, flow: Flow) -> None:
    """Receive into ``flow``'s ledger forever (cancel to stop)."""
    while True:
        with trio.move_on_after(PATIENCE) as scope:
            frames = await sock.recv_multipart()
        if scope.cancelled_caught:
            flow.cancelled_recvs += 1  # no message was taken
            continue
        flow.ledger.record(frames)
        flow.arrivals.append(trio.current_time())


def assert_lost_only_in_flight(flow: Flow) -> list[tuple[int, int]]:
    """What ``flow`` lost: only messages in flight when the connection died,
    that is after the last one received when the fault struck
    (:meth:`Flow.outage_begins`) and sent before libzmq saw the connection
    drop (:meth:`Flow.outage_detected`); later ones waited in the queue of
    the trio socket for the next connection and must arrive.  The runs of
    lost messages."""
    assert flow.sent_at_detection >= 0, f"{flow.name}: outage_detected() was not called"
    missing = flow.ledger.missing(flow.sender, flow.sent)
    in_flight = range(flow.last_before_outage + 1, flow.sent_at_detection)
    assert all(n in in_flight for n in missing), (
        f"{flow.name}: lost {gaps(missing)}; only #{in_flight.start}..#{in_flight.stop - 1} "
        "were in flight when the connection dropped"
    )
    return gaps(missing)


def assert_publishers_contiguous(flow: Flow, skip: Mapping[bytes, int] | None = None) -> None:
    """Each publisher's messages, from the first received (past the first
    ``skip[publisher]``) to the last: no gap.  (A killed publisher loses its
    tail, a new one its head, a dropped connection what it carried.)"""
    for publisher, seqs in flow.ledger.received.items():
        tail = seqs[(skip or {}).get(publisher, 0) :]
        assert not tail or tail == list(range(tail[0], tail[-1] + 1)), (
            f"{publisher!r}: {gaps(tail)}"
        )


async def recover(
    flows: Mapping[str, Flow], stop: trio.Event, figure: dict[str, float], label: str, back: float
) -> None:
    """After an outage that ended at ``back`` (a peer restarted or resumed, a
    link up): measure when each flow delivers again, let the traffic run a
    second, stop the senders, wait for the last message of each, and check
    the contract after an outage.  Messages in flight during it may be lost
    (or come late, if the ledger allows it); everything sent afterwards
    arrives, nothing twice, nothing torn; the senders blocked meanwhile and
    the receivers waited, and were cancelled and retried; the publisher's
    stream has no gap after it.
    """
    published = {p: len(seqs) for p, seqs in flows["sub"].ledger.received.items()}
    for name, flow in flows.items():
        figure[f"{label}: {name} flows again after"] = await flow.arrivals_after(back)
    await trio.sleep(1)
    stop.set()
    for name in ("push", "dealer"):
        flow = flows[name]
        await flow.drained()
        lost = assert_lost_only_in_flight(flow)
        print(
            f"{label}: {name}: sent {flow.sent}, lost {lost}, {flow.ledger.late} late, "
            f"{flow.cancelled_sends} sends cancelled"
        )
        assert flow.cancelled_sends > 0, f"{name}: the sender never blocked"
    for name, flow in flows.items():
        assert flow.cancelled_recvs > 0, f"{name}: the receiver never waited"
    assert_publishers_contiguous(flows["sub"], published)


@dataclass
class Watch:
    """The monitor events of one socket, with their times."""

    events: list[tuple[float, zmq.Event]] = field(default_factory=list)

    def times(self, kind: zmq.Event, after: float = -math.inf) -> list[float]:
        return [t for t, event in self.events if event == kind and t >= after]

    def count(self, kind: zmq.Event) -> int:
        return len(self.times(kind))

    async def wait_for(self, kind: zmq.Event, after: float, bound: float) -> float:
        """The first ``kind`` at or after ``after``, waiting at most ``bound`` s."""
        with trio.move_on_after(bound):
            while not self.times(kind, after):  # noqa: ASYNC110
                await trio.sleep(0.01)
        seen = self.times(kind, after)
        assert seen, f"no {kind.name} within {bound} s; events since: {self.names(after)}"
        return seen[0]

    def names(self, after: float) -> list[str]:
        return [f"{event.name}@{t - after:+.2f}" for t, event in self.events if t >= after - 1]


class Scene:
    """A context, a nursery and peer processes; see :func:`scene`."""

    def __init__(self, net: Network, ctx: trio_zmq.Context, nursery: trio.Nursery) -> None:
        self.net = net
        self.ctx = ctx
        self.nursery = nursery
        self.peers: list[PeerProcess] = []

    async def peer(self, host: Host, *args: str) -> PeerProcess:
        """Start ``tests.faults.peer`` in ``host`` with ``args`` (and its address)."""
        process = PeerProcess(host, "--address", host.address, *args)
        self.peers.append(process)
        await process.start(self.nursery)
        return process

    def socket(
        self, kind: int, endpoint: str, options: Mapping[zmq.SocketOption, Any] | None = None
    ) -> trio_zmq.Socket:
        """A trio_zmq socket with ``options``, connected to ``endpoint``."""
        sock = self.ctx.socket(kind)
        for option, value in (options or {}).items():
            sock.set(option, value)
        if kind == zmq.SUB:
            sock.subscribe(b"")
        sock.connect(endpoint)
        return sock

    async def watch(self, sock: trio_zmq.Socket) -> Watch:
        """Record ``sock``'s monitor events from now on, in the nursery."""
        watch = Watch()

        async def run(task_status: trio.TaskStatus[None]) -> None:
            async with sock.monitor() as events:
                task_status.started()
                async for event in events:
                    watch.events.append((trio.current_time(), event.event))

        await self.nursery.start(run)
        return watch

    def flow(
        self, name: str, sock: trio_zmq.Socket, stop: trio.Event, ordered: bool, **send: Any
    ) -> Flow:
        """A flow sent on ``sock`` (unless it is a SUB) at ``send``'s rate."""
        flow = Flow(name, f"{name}-trio".encode(), ordered)
        if sock.type != zmq.SUB:
            self.nursery.start_soon(lambda: send_flow(sock, flow, stop, **send))
        return flow


@asynccontextmanager
async def scene(net: Network) -> AsyncIterator[Scene]:
    """A :class:`Scene`; on the way out its peers are killed, the nursery
    cancelled and the context's sockets closed."""
    async with trio_zmq.Context(linger=0) as ctx, trio.open_nursery() as nursery:
        stage = Scene(net, ctx, nursery)
        try:
            yield stage
        finally:
            for process in stage.peers:
                await process.kill()
            nursery.cancel_scope.cancel()
