"""A request-reply broker: REQ clients -> ROUTER | proxy | DEALER -> REP workers.

The ZeroMQ guide's "shared queue", with trio_zmq's proxy in a nursery you
can see: clients send requests to the broker's frontend (a ROUTER), the
proxy passes them to its backend (a DEALER), which spreads them over the
workers; each reply finds its way back to the client that asked, through
the envelope the ROUTER added and the proxy passed on unchanged.

Run it from a checkout: ``python examples/proxy_broker.py``.
"""

from __future__ import annotations

import trio
import zmq

import trio_zmq

CLIENTS = 4
WORKERS = 2
REQUESTS = 5  # per client


async def worker(ctx: trio_zmq.Context, address: str, number: int) -> None:
    """Answer requests until cancelled."""
    sock = ctx.socket(zmq.REP)
    sock.connect(address)
    while True:
        request = await sock.recv()
        await sock.send(b"worker %d answers: %s" % (number, request))


async def client(ctx: trio_zmq.Context, address: str, number: int, replies: list[bytes]) -> None:
    """Send REQUESTS requests, one at a time; check each reply is ours."""
    sock = ctx.socket(zmq.REQ)
    sock.connect(address)
    for index in range(REQUESTS):
        request = b"request %d from client %d" % (index, number)
        await sock.send(request)
        reply = await sock.recv()
        if not reply.endswith(request):
            raise AssertionError(f"client {number} got someone else's reply: {reply!r}")
        replies.append(reply)


async def main() -> None:
    async with trio_zmq.Context(linger=0) as ctx:
        frontend = ctx.socket(zmq.ROUTER)
        frontend_address = f"tcp://127.0.0.1:{frontend.bind_to_random_port('tcp://127.0.0.1')}"
        backend = ctx.socket(zmq.DEALER)
        backend_address = f"tcp://127.0.0.1:{backend.bind_to_random_port('tcp://127.0.0.1')}"
        broker = trio_zmq.Proxy(frontend, backend)
        replies: list[bytes] = []
        async with trio.open_nursery() as nursery:
            await nursery.start(broker.run)  # returns once it forwards
            for number in range(WORKERS):
                nursery.start_soon(worker, ctx, backend_address, number)
            with trio.fail_after(10):
                async with trio.open_nursery() as clients:
                    for number in range(CLIENTS):
                        clients.start_soon(client, ctx, frontend_address, number, replies)
            statistics = broker.statistics()
            broker.terminate()  # run() returns
            nursery.cancel_scope.cancel()  # the workers
    print(f"{len(replies)} replies, each to the client that asked")
    print(
        f"frontend: {statistics.frontend_frames_in} frames in, "
        f"{statistics.frontend_frames_out} out; "
        f"backend: {statistics.backend_frames_in} in, {statistics.backend_frames_out} out"
    )


if __name__ == "__main__":
    trio.run(main)
