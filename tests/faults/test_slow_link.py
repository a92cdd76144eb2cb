"""A slow link: a token bucket (tbf) at a low rate under large messages.

The link towards the host is limited to 2 Mbit/s with a short queue.  The
trio senders push 32 KiB messages as fast as they may, with small
high-water marks: the queues fill and the senders block, cancelled every
50 ms and retried (``tests/faults/traffic.py``).  Nothing may be lost,
duplicated, reordered or torn, and what arrives may not come faster than
the link allows -- the proof that the senders were held back rather than
the messages dropped.  Then the limit is lifted and the backlog drains.
"""

from __future__ import annotations

import trio

from tests.faults.test_partition import start_traffic
from tests.faults.traffic import scene
from tests.netns import Network

RATE_BITS = 2_000_000
SIZE = 32 * 1024
SECONDS = 3.0


async def test_slow_link_blocks_senders_and_loses_nothing(
    net: Network, figure: dict[str, float]
) -> None:
    host = net.hosts[0]
    stop = trio.Event()
    await net.shape(host, rate=f"{RATE_BITS}bit", burst="32kbit", latency="400ms")
    async with scene(net) as stage:
        flows, _ = await start_traffic(stage, 0, stop, "trio", size=SIZE, rate=1000)
        began = trio.current_time()
        await trio.sleep(SECONDS)
        arrived = sum(flows[name].ledger.count() for name in ("push", "dealer"))
        elapsed = trio.current_time() - began
        stop.set()
        throughput = arrived * SIZE * 8 / elapsed
        figure["slow link 2 Mbit/s: throughput of 32 KiB messages, Mbit/s"] = throughput / 1e6
        assert arrived > 0, "nothing crossed the slow link"
        # At most the link's rate, and its burst and queue (generous slack).
        assert throughput < 1.5 * RATE_BITS, f"{throughput / 1e6:.1f} Mbit/s on a 2 Mbit/s link"
        await net.unshape(host)
        for name in ("push", "dealer"):
            flow = flows[name]
            assert flow.cancelled_sends > 0, f"{name}: the sender never blocked"
            await flow.drained()
            flow.ledger.assert_exactly_once(flow.sender, flow.sent)
