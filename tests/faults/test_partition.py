"""A partition shorter than every timeout: the TCP sessions survive it.

The link to the host goes down for 1 to 10 seconds while PUSH/PULL (through
the peer's relay and back), DEALER/ROUTER (echoed) and PUB/SUB traffic
flows (the peer on trio_zmq, and for 4 s also on pyzmq); then it comes
up again.  No heartbeat is configured and TCP gives
up only after minutes, so libzmq keeps every session: the contract is then
that every message arrives exactly once and in order per sender.  The PUB
peer's high-water marks are far above what a partition can queue, so even
PUB, which drops at its high-water mark, must lose nothing.

The trio senders block during the partition (small high-water marks and
send buffers) and are cancelled every 50 ms and retry, which must neither
duplicate nor drop (``tests/faults/traffic.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import trio
import zmq

import trio_zmq

from tests.faults.traffic import Flow, Scene, recv_flow, scene
from tests.netns import Network

RATE = 200  # messages a second per trio sender
SIZE = 4096  # bytes of payload: a partition fills the queues within a second
#: Small queues on the trio side, so that senders block during a partition.
BLOCKING = {zmq.SNDHWM: 50, zmq.SNDBUF: 64 * 1024}
PEER_HWM = "1000000"  # the peer's: a PUB must not drop what a partition queues
RELAY, ECHO, PUB = 5000, 5002, 5003


async def start_traffic(
    stage: Scene,
    host_index: int,
    stop: trio.Event,
    impl: str = "trio",
    *peer_args: str,
    options: Mapping[zmq.SocketOption, int] | None = None,
    ordered: bool = True,
    size: int = SIZE,
    rate: float = RATE,
) -> tuple[dict[str, Flow], dict[str, trio_zmq.Socket]]:
    """The peer in host ``host_index`` and flows through it: push (relay
    and back), dealer (echo) and sub (pub); the flows and the sockets.
    ``options`` are set on every trio socket; ``ordered=False``: the
    receivers accept late messages (see ``tests/faults/messages.py``);
    the trio senders send ``rate`` messages a second of ``size`` bytes."""
    host = stage.net.hosts[host_index]
    await stage.peer(
        host, "--impl", impl, "--relay", str(RELAY), "--echo", str(ECHO), "--pub", str(PUB),
        "--hwm", PEER_HWM, "--rate", str(RATE), *peer_args,
    )  # fmt: skip
    common = dict(options or {})
    push = stage.socket(zmq.PUSH, host.endpoint(RELAY), {**BLOCKING, **common})
    pull = stage.socket(zmq.PULL, host.endpoint(RELAY + 1), common)
    dealer = stage.socket(zmq.DEALER, host.endpoint(ECHO), {**BLOCKING, **common})
    sub = stage.socket(zmq.SUB, host.endpoint(PUB), {zmq.RCVHWM: 0, **common})
    flows = {
        "push": stage.flow("push", push, stop, ordered, rate=rate, size=size),
        "dealer": stage.flow("dealer", dealer, stop, ordered, rate=rate, size=size),
        "sub": stage.flow("sub", sub, stop, ordered=True),
    }
    for sock, name in ((pull, "push"), (dealer, "dealer"), (sub, "sub")):
        stage.nursery.start_soon(recv_flow, sock, flows[name])
    return flows, {"push": push, "pull": pull, "dealer": dealer, "sub": sub}


@pytest.mark.parametrize(
    ("seconds", "impl"), [(1, "trio"), (4, "trio"), (10, "trio"), (4, "pyzmq")]
)
async def test_partition_shorter_than_timeouts(
    net: Network, figure: dict[str, float], seconds: float, impl: str
) -> None:
    host = net.hosts[0]
    stop = trio.Event()
    async with scene(net) as stage:
        flows, sockets = await start_traffic(stage, 0, stop, impl)
        watches = {name: await stage.watch(sock) for name, sock in sockets.items()}
        for flow in flows.values():
            await flow.arrivals_after(trio.current_time())  # flowing
        await trio.sleep(0.5)

        await net.link_down(host)
        down = trio.current_time()
        await trio.sleep(seconds)
        up = trio.current_time()  # as the link comes up: packets may flow at once
        await net.link_up(host)
        for name, flow in flows.items():
            # The partition was real: nothing arrived in it, after what was
            # in flight (100 ms).
            assert flow.arrived_between(down + 0.1, up) == 0, name
            recovery = await flow.arrivals_after(up)
            figure[f"partition {seconds:>2} s ({impl} peer): {name} recovered after"] = recovery
        await trio.sleep(1)
        stop.set()

        for name in ("push", "dealer"):
            flow = flows[name]
            await flow.drained()
            flow.ledger.assert_exactly_once(flow.sender, flow.sent)
            assert flow.cancelled_sends > 0, f"{name}: the partition never blocked the sender"
        for name, flow in flows.items():
            assert flow.cancelled_recvs > 0, f"{name}: the receiver never waited"
        sub = flows["sub"]
        (publisher,) = sub.ledger.received
        first = sub.ledger.received[publisher][0]
        sub.ledger.assert_exactly_once(publisher, sub.ledger.last(publisher) + 1, first)
        assert sub.ledger.count() > RATE * 1.5
        for name, watch in watches.items():
            assert watch.count(zmq.Event.DISCONNECTED) == 0, f"{name}: the session broke"
