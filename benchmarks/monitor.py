"""``python -m benchmarks monitor``: how many connections does a ROUTER accept
while nobody reads its monitor?  And what happens when pyzmq's monitor PAIR
is closed without ``disable_monitor()``?

Each way of monitoring runs in a process of its own
(``python -m benchmarks monitor --child WAY CONNECTIONS``), since a stalled
libzmq I/O thread never recovers before its context is terminated:

* pyzmq, blocking (the threads way): ``get_monitor_socket()``;
* zmq.asyncio: ``get_monitor_socket()``;
* trio_zmq: ``async with sock.monitor() as events``.

For each, clients connect one after another (``--connections``, 3000 by
default), send a frame and close; the server receives each frame within 2 s
or counts as stalled.  Nobody reads the monitor meanwhile.

The ``pair-closed`` workload closes pyzmq's monitor PAIR without
``disable_monitor()`` and counts how many connections *another* socket of
the same context then accepts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable, Sequence
from typing import final

import trio
import zmq
import zmq.asyncio

import trio_zmq

from .arguments import positive_int
from .framework import (
    BenchmarkError,
    Implementation,
    Plan,
    Tables,
    Workload,
    WorkloadSet,
    run_child,
)

STALL = 2.0  # seconds without the server hearing from a client


def report(accepted: int) -> None:
    """Print the result and leave at once: a stalled context cannot be
    terminated, not even by the garbage collector."""
    print(accepted, flush=True)
    os._exit(0)


def blocking_clients(
    ctx: zmq.Context[zmq.Socket[bytes]], server: zmq.Socket[bytes], connections: int
) -> None:
    """Clients of ``server`` one after another, until it stops hearing them."""
    port = server.bind_to_random_port("tcp://127.0.0.1")
    for n in range(connections):
        client = ctx.socket(zmq.DEALER)
        client.connect(f"tcp://127.0.0.1:{port}")
        client.send(b"x")
        if not server.poll(int(STALL * 1000)):
            report(n)
        server.recv_multipart()
        client.close(linger=0)
    report(connections)


def pyzmq_threads(connections: int) -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    server = ctx.socket(zmq.ROUTER)
    server.get_monitor_socket()  # a thread would read it; none does
    blocking_clients(ctx, server, connections)


async def zmq_asyncio(connections: int) -> None:
    ctx = zmq.asyncio.Context()
    server = ctx.socket(zmq.ROUTER)
    port = server.bind_to_random_port("tcp://127.0.0.1")
    server.get_monitor_socket()  # a task would read it; none does
    for n in range(connections):
        client = ctx.socket(zmq.DEALER)
        client.connect(f"tcp://127.0.0.1:{port}")
        await client.send(b"x")
        try:
            await asyncio.wait_for(server.recv_multipart(), STALL)
        except asyncio.TimeoutError:
            report(n)
        client.close(linger=0)
    report(connections)


async def with_trio_zmq(connections: int) -> None:
    async with trio_zmq.Context(linger=0) as ctx:
        server = ctx.socket(zmq.ROUTER)
        port = server.bind_to_random_port("tcp://127.0.0.1")
        async with server.monitor():  # nobody reads it
            for n in range(connections):
                client = ctx.socket(zmq.DEALER)
                client.connect(f"tcp://127.0.0.1:{port}")
                await client.send(b"x")
                with trio.move_on_after(STALL):
                    await server.recv_multipart()
                    client.close()
                    continue
                report(n)
    report(connections)


def pyzmq_pair_closed(connections: int) -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    monitored = ctx.socket(zmq.ROUTER)
    monitored_port = monitored.bind_to_random_port("tcp://127.0.0.1")
    monitored.get_monitor_socket().close()  # no disable_monitor() first
    visitor = ctx.socket(zmq.DEALER)
    visitor.connect(f"tcp://127.0.0.1:{monitored_port}")  # one event: ACCEPTED
    blocking_clients(ctx, ctx.socket(zmq.ROUTER), connections)  # another socket


#: What a child runs, by way: it reports its count and exits.
WAYS: dict[str, Callable[[int], None]] = {
    "pyzmq": pyzmq_threads,
    "zmq_asyncio": lambda connections: asyncio.run(zmq_asyncio(connections)),
    "trio_zmq": lambda connections: trio.run(with_trio_zmq, connections),
    "pyzmq_pair_closed": pyzmq_pair_closed,
}

IMPLEMENTATIONS: tuple[Implementation[str], ...] = (
    Implementation("pyzmq", "pyzmq (threads)", "pyzmq"),
    Implementation("zmq_asyncio", "zmq.asyncio", "zmq_asyncio"),
    Implementation("trio_zmq", "trio_zmq", "trio_zmq"),
)


@final
class MonitorSet(WorkloadSet[int, str]):
    name = "monitor"
    help = "connections a ROUTER accepts while nobody reads its monitor"
    description = (
        "How many connections a ROUTER accepts while nobody reads its monitor: pyzmq, "
        "zmq.asyncio and trio_zmq, each in a process of its own; and what closing "
        "pyzmq's monitor PAIR without disable_monitor() does to another socket."
    )
    implementations = IMPLEMENTATIONS
    groups = ("unread", "pair-closed")
    rounds = 1
    quick_rounds = 1
    quick_help = "1000 connections (enough to see the stall)"
    timeout = 300.0
    child_usage = ("WAY", "CONNECTIONS")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--connections", type=positive_int, help="clients at most (3000; 1000 with --quick)"
        )

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[int]]:
        connections = args.connections or (1000 if args.quick else 3000)
        detail = f"of {connections}"
        return [
            Workload(
                "unread",
                "connections accepted while nobody reads the monitor",
                "connections",
                connections,
                "unread",
                detail=detail,
                ratios=False,
            ),
            Workload(
                "pair-closed",
                "connections another socket accepts after the monitor PAIR was closed "
                "without disable_monitor()",
                "connections",
                connections,
                "pair-closed",
                detail=detail,
                ratios=False,
            ),
        ]

    def applies(self, workload: Workload[int], impl: Implementation[str]) -> bool:
        return workload.key == "unread" or impl.key == "pyzmq"

    def trial(self, plan: Plan[int], workload: Workload[int], impl: Implementation[str]) -> float:
        way = impl.run if workload.key == "unread" else "pyzmq_pair_closed"
        done = run_child(self.name, (way, str(workload.params)), plan.timeout)
        if not done.stdout.strip().isdigit():
            raise BenchmarkError(f"the child process printed no count: {done.stdout[-500:]}")
        return int(done.stdout)

    def sections(self, plan: Plan[int], tables: Tables) -> list[str]:
        """Whether each way stalled."""
        lines = []
        for workload in plan.workloads:
            for row in tables[workload.key]:
                if row.ok:
                    stalled = row.best < workload.params
                    verdict = "then the socket stalled" if stalled else "no stall"
                    lines.append(f"  {workload.key}, {row.label}: {verdict}")
        return ["Stalls:\n" + "\n".join(lines)] if lines else []

    def child(self, argv: Sequence[str]) -> int:
        """Run one way; it prints its count and exits."""
        way, connections = argv
        WAYS[way](int(connections))
        return 0


SET = MonitorSet()
