"""REQ/REP across a crash: the Lazy Pirate client (examples/pirate/client.py).

The server in the host takes the request, says so, and hangs on it; the
test kills it (SIGKILL) and starts a new one on the same endpoint.  The
client's attempt times out, it closes that REQ socket and sends the same
request on a fresh one, which the new server answers: the client gets one
reply, the reply to its own request, and the new server saw the request
once.  The trio side is the client; the server runs on trio_zmq and on
plain pyzmq.
"""

from __future__ import annotations

import uuid

import pytest
import trio

from examples.pirate.client import request

from tests.faults.traffic import scene
from tests.netns import Network

PORT = 5010
TIMEOUT, RETRIES = 1.0, 5


@pytest.mark.parametrize("impl", ["trio", "pyzmq"])
async def test_lazy_pirate_retries_across_a_crash(
    net: Network, figure: dict[str, float], impl: str
) -> None:
    host = net.hosts[0]
    request_id = uuid.uuid4().bytes
    got = f"got {request_id.hex()}"
    replies: list[bytes | None] = []
    async with scene(net) as stage:
        hung = await stage.peer(host, "--impl", impl, "--rep", str(PORT), "--delay", "3600")

        async def client() -> None:
            with trio.fail_after((1 + RETRIES) * TIMEOUT + 10):
                replies.append(
                    await request(
                        stage.ctx,
                        host.endpoint(PORT),
                        b"job",
                        timeout=TIMEOUT,
                        retries=RETRIES,
                        request_id=request_id,
                    )
                )

        async with trio.open_nursery() as nursery:
            began = trio.current_time()
            nursery.start_soon(client)
            with trio.fail_after(10):
                while got not in hung.lines:  # noqa: ASYNC110
                    await trio.sleep(0.01)
            await hung.kill()
            server = await stage.peer(host, "--impl", impl, "--rep", str(PORT))
        figure[f"lazy pirate ({impl} server): answered after crash and restart"] = (
            trio.current_time() - began
        )
        assert replies == [b"reply job"]
        assert hung.lines.count(got) == 1, hung.lines
        assert server.lines.count(got) == 1, server.lines
