"""ZMTP heartbeats: a hung or cut-off peer is detected within the bound.

Without heartbeats a peer that stops answering (SIGSTOP, or a partition)
keeps its TCP session for minutes.  With ``HEARTBEAT_IVL`` and
``HEARTBEAT_TIMEOUT`` set, libzmq pings every interval and drops the
connection when no traffic came back within the timeout; with
``HEARTBEAT_TTL`` set by the *peer*, our side drops it when the peer's
pings stop for that long, though our socket configures nothing.  Either
way the trio side's monitor reports ``DISCONNECTED``; the tests measure
when, from the moment the peer was stopped or cut off.  (libzmq arms the
TTL timer on each PING and cancels it on any later message: a TTL catches
a connection whose last inbound message was a ping, such as our PUSH's,
which only receives pings.  Connections that carry data towards us need
their own ``HEARTBEAT_TIMEOUT``.)

Then the peer comes back (SIGCONT, link up) and the trio side reconnects
by itself: what was in flight in the dropped connection may be lost,
nothing is duplicated, reordered or torn, everything sent once the peer is
back arrives, and the senders, blocked meanwhile, stay cancellable.
"""

from __future__ import annotations

import signal

import pytest
import trio
import zmq

from tests.faults.test_partition import start_traffic
from tests.faults.traffic import recover, scene
from tests.netns import Network

IVL, TIMEOUT = 200, 1000  # milliseconds
HEARTBEATS = {zmq.HEARTBEAT_IVL: IVL, zmq.HEARTBEAT_TIMEOUT: TIMEOUT}
#: The bound on detection: the timeout, a ping interval, and slack for a
#: busy machine (the monitor is read by a task of this run).
DETECTION_BOUND = (TIMEOUT + IVL) / 1000 + 1.5
OUTAGE = 3.0  # seconds the peer is stopped or cut off: longer than the timeout


@pytest.mark.parametrize(
    ("fault", "impl", "ours", "theirs"),
    [
        ("hung", "trio", HEARTBEATS, ("--heartbeat-ivl", "200", "--heartbeat-timeout", "1000")),
        ("hung", "pyzmq", HEARTBEATS, ()),
        (
            "partition",
            "trio",
            HEARTBEATS,
            ("--heartbeat-ivl", "200", "--heartbeat-timeout", "1000"),
        ),
        ("hung", "pyzmq-ttl", {}, ("--heartbeat-ivl", "200", "--heartbeat-ttl", "1000")),
    ],
    ids=["hung-trio", "hung-pyzmq", "partition-trio", "hung-ttl-from-pyzmq"],
)
async def test_dead_peer_detected_by_heartbeats(
    net: Network,
    figure: dict[str, float],
    fault: str,
    impl: str,
    ours: dict[zmq.SocketOption, int],
    theirs: tuple[str, ...],
) -> None:
    host = net.hosts[0]
    stop = trio.Event()
    async with scene(net) as stage:
        flows, sockets = await start_traffic(
            stage, 0, stop, impl.removesuffix("-ttl"), *theirs, options=ours, ordered=False
        )
        (peer,) = stage.peers
        watches = {name: await stage.watch(sock) for name, sock in sockets.items()}
        for flow in flows.values():
            await flow.arrivals_after(trio.current_time())
        await trio.sleep(0.5)

        for flow in flows.values():
            flow.outage_begins()
        if fault == "hung":
            peer.signal(signal.SIGSTOP)
        else:
            await net.link_down(host)
        began = trio.current_time()
        # HEARTBEAT_TTL: libzmq arms its timer when a PING arrives and
        # cancels it on any later message, so only a connection on which
        # the peer sent nothing but pings (the PUSH's) is sure to time out.
        detecting = ["push"] if impl == "pyzmq-ttl" else list(watches)
        for name in detecting:
            seen = await watches[name].wait_for(zmq.Event.DISCONNECTED, began, DETECTION_BOUND)
            figure[f"heartbeat, {fault} ({impl} peer): {name} disconnect after"] = seen - began
            assert seen - began >= IVL / 1000, f"{name}: dropped before any heartbeat was due"
        for flow in flows.values():
            flow.outage_detected()
        await trio.sleep(max(0.0, began + OUTAGE - trio.current_time()))
        back = trio.current_time()
        if fault == "hung":
            peer.signal(signal.SIGCONT)
        else:
            await net.link_up(host)
        await recover(flows, stop, figure, f"heartbeat, {fault} ({impl} peer)", back)
