"""How many connections does a ROUTER accept while nobody reads its monitor?
And what happens when pyzmq's monitor PAIR is closed without disable_monitor()?

Run ``python -m benchmarks.monitor_unread`` (the numbers in docs/monitor.md come
from it).  Each way of monitoring runs in a process of its own, since a
stalled libzmq I/O thread never recovers before its context is terminated:

* pyzmq, blocking (the threads way): ``get_monitor_socket()``;
* zmq.asyncio: ``get_monitor_socket()``;
* trio_zmq: ``async with sock.monitor() as events``.

For each, clients connect one after another (3000 at most), send a frame
and close; the server receives each frame within 2 s or counts as stalled.
Nobody reads the monitor meanwhile.

The last line closes pyzmq's monitor PAIR without ``disable_monitor()`` and
counts how many connections *another* socket of the same context then
accepts.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import trio
import zmq
import zmq.asyncio

import trio_zmq

CONNECTIONS = 3000
STALL = 2.0  # seconds without the server hearing from a client


def report(accepted: int) -> None:
    """Print the result and leave at once: a stalled context cannot be
    terminated, not even by the garbage collector."""
    print(accepted, flush=True)
    os._exit(0)


def blocking_clients(ctx: zmq.Context[zmq.Socket[bytes]], server: zmq.Socket[bytes]) -> int:
    """Clients of ``server`` one after another, until it stops hearing them."""
    port = server.bind_to_random_port("tcp://127.0.0.1")
    for n in range(CONNECTIONS):
        client = ctx.socket(zmq.DEALER)
        client.connect(f"tcp://127.0.0.1:{port}")
        client.send(b"x")
        if not server.poll(int(STALL * 1000)):
            report(n)
        server.recv_multipart()
        client.close(linger=0)
    report(CONNECTIONS)
    return CONNECTIONS


def pyzmq_threads() -> int:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    server = ctx.socket(zmq.ROUTER)
    server.get_monitor_socket()  # a thread would read it; none does
    return blocking_clients(ctx, server)


async def zmq_asyncio() -> int:
    ctx = zmq.asyncio.Context()
    server = ctx.socket(zmq.ROUTER)
    port = server.bind_to_random_port("tcp://127.0.0.1")
    server.get_monitor_socket()  # a task would read it; none does
    for n in range(CONNECTIONS):
        client = ctx.socket(zmq.DEALER)
        client.connect(f"tcp://127.0.0.1:{port}")
        await client.send(b"x")
        try:
            await asyncio.wait_for(server.recv_multipart(), STALL)
        except asyncio.TimeoutError:
            report(n)
        client.close(linger=0)
    report(CONNECTIONS)
    return CONNECTIONS


async def with_trio_zmq() -> int:
    async with trio_zmq.Context(linger=0) as ctx:
        server = ctx.socket(zmq.ROUTER)
        port = server.bind_to_random_port("tcp://127.0.0.1")
        async with server.monitor():  # nobody reads it
            for n in range(CONNECTIONS):
                client = ctx.socket(zmq.DEALER)
                client.connect(f"tcp://127.0.0.1:{port}")
                await client.send(b"x")
                with trio.move_on_after(STALL):
                    await server.recv_multipart()
                    client.close()
                    continue
                report(n)
    report(CONNECTIONS)
    return CONNECTIONS


def pyzmq_pair_closed() -> int:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    monitored = ctx.socket(zmq.ROUTER)
    monitored_port = monitored.bind_to_random_port("tcp://127.0.0.1")
    monitored.get_monitor_socket().close()  # no disable_monitor() first
    visitor = ctx.socket(zmq.DEALER)
    visitor.connect(f"tcp://127.0.0.1:{monitored_port}")  # one event: ACCEPTED
    return blocking_clients(ctx, ctx.socket(zmq.ROUTER))  # another socket


WAYS = {
    "pyzmq (threads)": lambda: pyzmq_threads(),
    "zmq.asyncio": lambda: asyncio.run(zmq_asyncio()),
    "trio_zmq": lambda: trio.run(with_trio_zmq),
    "pyzmq, PAIR closed": lambda: pyzmq_pair_closed(),
}


def main() -> None:
    if len(sys.argv) > 1:
        WAYS[sys.argv[1]]()  # reports and exits
    print(f"libzmq {zmq.zmq_version()}, pyzmq {zmq.__version__}")
    for way in WAYS:
        result = subprocess.run(
            [sys.executable, __file__, way], capture_output=True, text=True, check=True
        )
        accepted = int(result.stdout)
        verdict = "no stall" if accepted == CONNECTIONS else "then the socket stalled"
        print(f"{way:<19} {accepted:>5} of {CONNECTIONS} connections, {verdict}")


if __name__ == "__main__":
    main()
