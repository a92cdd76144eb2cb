"""A crashed peer: SIGKILL mid-stream, then a restart on the same endpoints.

The trio side keeps its sockets; libzmq reconnects them to the new
process.  The contract: messages in flight when the peer died (in its
memory, in the kernel's buffers) may be lost, but nothing arrives twice,
out of order or torn, every message sent once the new peer is up arrives,
and the senders, blocked while no peer was there, stay cancellable.  The
peer runs on trio_zmq and on plain pyzmq.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping

import pytest
import trio
import zmq

from tests.faults.messages import gaps
from tests.faults.test_partition import start_traffic
from tests.faults.traffic import Flow
from tests.faults.traffic import scene as open_scene
from tests.netns import Network

#: Liveness bound: the kernel resets the connections of a killed process.
DETECTION_BOUND = 5.0


def assert_lost_only_in_flight(flow: Flow, sent_before_recovery: int) -> list[tuple[int, int]]:
    """What ``flow`` lost: only messages sent before the new peer took
    traffic; afterwards, everything.  The runs of lost messages."""
    missing = flow.ledger.missing(flow.sender, flow.sent)
    assert not missing or max(missing) < sent_before_recovery, (
        f"{flow.name}: lost {gaps(missing)}, after the peer was back at #{sent_before_recovery}"
    )
    return gaps(missing)


def assert_publishers_contiguous(flow: Flow, skip: Mapping[bytes, int] | None = None) -> None:
    """Each publisher's messages, from the first received (past the first
    ``skip[publisher]``) to the last: no gap.  (A killed publisher loses its
    tail, a new one its head, a dropped connection what it carried.)"""
    for publisher, seqs in flow.ledger.received.items():
        tail = seqs[(skip or {}).get(publisher, 0) :]
        assert tail == list(range(tail[0], tail[-1] + 1)), f"{publisher!r}: {gaps(tail)}"


@pytest.mark.parametrize("impl", ["trio", "pyzmq"])
async def test_killed_peer_restarts_on_the_same_endpoint(
    net: Network, figure: dict[str, float], impl: str
) -> None:
    stop = trio.Event()
    async with open_scene(net) as stage:
        flows, sockets = await start_traffic(stage, 0, stop, impl)
        (peer,) = stage.peers
        watch = await stage.watch(sockets["push"])
        for flow in flows.values():
            await flow.arrivals_after(trio.current_time())
        await trio.sleep(0.5)

        peer.signal(signal.SIGKILL)
        killed = trio.current_time()
        disconnected = await watch.wait_for(zmq.Event.DISCONNECTED, killed, DETECTION_BOUND)
        figure[f"crash ({impl} peer): disconnect seen after"] = disconnected - killed
        await trio.sleep(0.5)  # senders block or queue meanwhile: no peer
        await peer.start(stage.nursery)
        restarted = trio.current_time()
        sent_before = {name: flow.sent for name, flow in flows.items()}
        for name, flow in flows.items():
            recovery = await flow.arrivals_after(restarted)
            figure[f"crash ({impl} peer): {name} flows again after restart"] = recovery
        await trio.sleep(1)
        stop.set()

        for name in ("push", "dealer"):
            flow = flows[name]
            await flow.drained()
            lost = assert_lost_only_in_flight(flow, sent_before[name])
            print(f"{name}: sent {flow.sent}, lost {lost}, {flow.cancelled_sends} sends cancelled")
            assert flow.cancelled_sends > 0, f"{name}: the sender never blocked"
        assert_publishers_contiguous(flows["sub"])
        assert len(flows["sub"].ledger.received) == 2  # the killed publisher and the new one
