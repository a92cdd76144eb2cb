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

import pytest
import trio
import zmq

from tests.faults.test_partition import start_traffic
from tests.faults.traffic import assert_publishers_contiguous, recover, scene
from tests.netns import Network

#: Liveness bound: the kernel resets the connections of a killed process.
DETECTION_BOUND = 5.0


@pytest.mark.parametrize("impl", ["trio", "pyzmq"])
async def test_killed_peer_restarts_on_the_same_endpoint(
    net: Network, figure: dict[str, float], impl: str
) -> None:
    stop = trio.Event()
    async with scene(net) as stage:
        flows, sockets = await start_traffic(stage, 0, stop, impl)
        (peer,) = stage.peers
        watches = {name: await stage.watch(sockets[name]) for name in ("push", "dealer")}
        for flow in flows.values():
            await flow.arrivals_after(trio.current_time())
        await trio.sleep(0.5)

        for flow in flows.values():
            flow.outage_begins()
        peer.signal(signal.SIGKILL)
        killed = trio.current_time()
        for name, watch in watches.items():
            seen = await watch.wait_for(zmq.Event.DISCONNECTED, killed, DETECTION_BOUND)
            figure[f"crash ({impl} peer): {name} disconnect seen after"] = seen - killed
        for flow in flows.values():
            flow.outage_detected()
        await trio.sleep(0.5)  # senders block or queue meanwhile: no peer
        await peer.start(stage.nursery)
        await recover(
            flows, stop, figure, f"crash ({impl} peer), after the restart", trio.current_time()
        )
        assert_publishers_contiguous(flows["sub"])
        assert len(flows["sub"].ledger.received) == 2  # the killed publisher and the new one
