"""CURVE-secured sessions across a partition.

The peer's ROUTER is a CURVE server (trio_zmq or plain pyzmq); two trio
DEALERs are CURVE clients of it, one without heartbeats and one with
``HEARTBEAT_IVL`` 200 ms / ``HEARTBEAT_TIMEOUT`` 1 s.  The link goes down
for 3 s.  The first session survives: no disconnect, one handshake, every
message echoed exactly once and in order.  The second is dropped by its
heartbeat and made again with a fresh CURVE handshake once the link is
up; in-flight messages may be lost, nothing is duplicated or torn, and
everything sent after the link came back is echoed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import zmq
import zmq.auth

from tests.curve import client_options
from tests.faults.traffic import Flow, assert_lost_only_in_flight, recv_flow, scene
from tests.netns import Network

PORT = 5020
RATE, SIZE = 200, 4096
PARTITION = 3.0
DETECTION_BOUND = 2.5  # the heartbeat timeout, a ping interval, slack
HEARTBEATS = {zmq.HEARTBEAT_IVL: 200, zmq.HEARTBEAT_TIMEOUT: 1000}
BLOCKING = {zmq.SNDHWM: 50, zmq.SNDBUF: 64 * 1024}


@pytest.mark.parametrize("impl", ["trio", "pyzmq"])
async def test_curve_sessions_across_a_partition(
    net: Network, figure: dict[str, float], impl: str, tmp_path: Path
) -> None:
    host = net.hosts[0]
    _, secret_file = zmq.auth.create_certificates(tmp_path, "server")
    server_public, _ = zmq.auth.load_certificate(secret_file)
    stop = trio.Event()
    async with scene(net) as stage:
        curve = ("--curve-secret-file", secret_file)  # never the key itself: see peer.py
        await stage.peer(host, "--impl", impl, "--echo", str(PORT), *curve)
        flows: dict[str, Flow] = {}
        watches = {}
        for name, extra in (("steady", {}), ("heartbeat", HEARTBEATS)):
            keys = client_options(server_public)
            dealer = stage.socket(zmq.DEALER, host.endpoint(PORT), {**BLOCKING, **extra, **keys})
            watches[name] = await stage.watch(dealer)
            flows[name] = stage.flow(name, dealer, stop, name == "steady", rate=RATE, size=SIZE)
            stage.nursery.start_soon(recv_flow, dealer, flows[name])
        for flow in flows.values():
            await flow.arrivals_after(trio.current_time())
        await trio.sleep(0.5)

        for flow in flows.values():
            flow.outage_begins()
        await net.link_down(host)
        down = trio.current_time()
        await watches["heartbeat"].wait_for(zmq.Event.DISCONNECTED, down, DETECTION_BOUND)
        flows["heartbeat"].outage_detected()
        await trio.sleep(max(0.0, down + PARTITION - trio.current_time()))
        up = trio.current_time()
        await net.link_up(host)
        for name, flow in flows.items():
            figure[
                f"curve ({impl} server), partition 3 s: {name} flows again after"
            ] = await flow.arrivals_after(up)
        await trio.sleep(1)
        stop.set()
        for flow in flows.values():
            await flow.drained()
            assert flow.cancelled_sends > 0, f"{flow.name}: the partition never blocked the sender"

        steady, beating = watches["steady"], watches["heartbeat"]
        assert steady.count(zmq.Event.DISCONNECTED) == 0
        assert steady.count(zmq.Event.HANDSHAKE_SUCCEEDED) == 1
        flows["steady"].ledger.assert_exactly_once(flows["steady"].sender, flows["steady"].sent)

        dropped = beating.times(zmq.Event.DISCONNECTED, down)
        assert dropped, "the heartbeat never dropped the session"
        figure[f"curve ({impl} server): heartbeat dropped the session after"] = dropped[0] - down
        assert beating.times(zmq.Event.HANDSHAKE_SUCCEEDED, up), "no new CURVE handshake"
        print("heartbeat flow lost", assert_lost_only_in_flight(flows["heartbeat"]))
