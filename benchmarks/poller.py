"""``python -m benchmarks poller``: ``trio_zmq.Poller`` against ``zmq.asyncio.Poller``
and pyzmq's blocking ``zmq.Poller``, over 1, 10 and 100 sockets.

Two workloads per socket count, each in microseconds per operation:

* **ready** -- ``poll()`` over N PULL sockets (inproc) of which one always
  has a message waiting (never received): the cost of a poll that finds
  something at once.  trio_zmq answers from its probe pass, without a task;
  zmq.asyncio registers a future per socket and polls them all each time.
* **wake** -- a round trip through a server that polls N PULL sockets (tcp):
  a client sends on one of its N PUSH sockets in turn (and so to the server's
  next socket) and waits for the reply; the server's ``poll()`` usually has to
  sleep until the message arrives (tcp goes through libzmq's I/O thread), then
  receives it from the socket it reported and replies.  trio_zmq then waits
  with one child task per socket; zmq.asyncio with a future per socket.  The
  pyzmq row runs the server in a thread with the blocking ``zmq.Poller``.

Rows: trio_zmq under trio, trio_zmq under asyncio, zmq.asyncio under asyncio,
pyzmq blocking; each trial in a fresh event loop with fresh sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, final

import trio
import zmq
import zmq.asyncio

import trio_zmq

from . import loops
from .arguments import listed, positive_int
from .framework import Implementation, Plan, Workload, WorkloadSet, timed_out


@dataclasses.dataclass(frozen=True)
class Spec:
    scenario: str
    sockets: int
    #: Polls (ready) or round trips (wake) per trial.
    ops: int


#: A scenario run: (sockets, operations, timeout) -> microseconds per operation.
Run = Callable[[int, int, float], float]


@dataclasses.dataclass(frozen=True)
class Scenarios:
    """How one row runs each scenario."""

    ready: Run
    wake: Run


# ----------------------------------------------------------------------
# ready: a poll that finds one socket of N ready
# ----------------------------------------------------------------------


def _inproc_pulls(ctx: Any, n: int) -> tuple[list[Any], list[Any]]:
    pulls, pushes = [], []
    for i in range(n):
        endpoint = f"inproc://bench-poller-{i}"
        pull = ctx.socket(zmq.PULL)
        pull.bind(endpoint)
        push = ctx.socket(zmq.PUSH)
        push.connect(endpoint)
        pulls.append(pull)
        pushes.append(push)
    return pulls, pushes


def _expect_one(ready: Sequence[tuple[Any, int]], sock: Any) -> None:
    if len(ready) != 1 or ready[0][0] is not sock:
        raise RuntimeError(f"expected only {sock!r} to be ready, got {ready!r}")


def _registered(poller: Any, socks: Sequence[Any]) -> Any:
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    return poller


async def _time_polls(poll: Callable[[], Awaitable[Any]], ready: Any, ops: int) -> float:
    """µs per ``poll()`` that finds ``ready`` (alone) ready."""
    _expect_one(await poll(), ready)
    start = time.perf_counter()
    for _ in range(ops):
        await poll()
    elapsed = time.perf_counter() - start
    _expect_one(await poll(), ready)
    return elapsed / ops * 1e6


async def _short_sleep() -> None:
    """A short sleep on whichever loop runs (for set-up only)."""
    if trio.lowlevel.in_trio_task():
        await trio.sleep(0.001)
    else:
        await asyncio.sleep(0.001)


async def _ready_trio_zmq(n: int, ops: int) -> float:
    async with trio_zmq.Context(linger=0) as ctx:
        pulls, pushes = _inproc_pulls(ctx, n)
        poller = _registered(trio_zmq.Poller(), pulls)
        await pushes[-1].send(b"x")
        while not trio_zmq.probe(pulls[-1]):
            await _short_sleep()
        return await _time_polls(poller.poll, pulls[-1], ops)


async def _ready_zmq_asyncio(n: int, ops: int) -> float:
    ctx = zmq.asyncio.Context()
    try:
        pulls, pushes = _inproc_pulls(ctx, n)
        poller = _registered(zmq.asyncio.Poller(), pulls)
        await pushes[-1].send(b"x")
        return await _time_polls(poller.poll, pulls[-1], ops)
    finally:
        ctx.destroy(linger=0)


def _ready_pyzmq(n: int, ops: int, timeout: float) -> float:
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        pulls, pushes = _inproc_pulls(ctx, n)
        poller = _registered(zmq.Poller(), pulls)
        pushes[-1].send(b"x")
        _expect_one(poller.poll(int(timeout * 1000)), pulls[-1])
        start = time.perf_counter()
        for _ in range(ops):
            poller.poll()
        elapsed = time.perf_counter() - start
    finally:
        ctx.destroy(linger=0)
    return elapsed / ops * 1e6


# ----------------------------------------------------------------------
# wake: round trips through a server polling N sockets
# ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Mesh:
    """Server PULLs and client PUSHes (n each, tcp), and a reply PUSH -> PULL."""

    server_pulls: list[Any]
    client_pushes: list[Any]
    reply_push: Any
    reply_pull: Any


def _tcp_mesh(ctx: Any, n: int) -> Mesh:
    server_pulls, client_pushes = [], []
    for _ in range(n):
        pull = ctx.socket(zmq.PULL)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        push = ctx.socket(zmq.PUSH)
        push.connect(f"tcp://127.0.0.1:{port}")
        server_pulls.append(pull)
        client_pushes.append(push)
    reply_pull = ctx.socket(zmq.PULL)
    port = reply_pull.bind_to_random_port("tcp://127.0.0.1")
    reply_push = ctx.socket(zmq.PUSH)
    reply_push.connect(f"tcp://127.0.0.1:{port}")
    return Mesh(server_pulls, client_pushes, reply_push, reply_pull)


async def _time_round_trips(mesh: Mesh, poller: Any, ops: int) -> float:
    """µs per round trip through a server task polling ``mesh.server_pulls``:
    first a warm-up pass over every socket (connections made), then ``ops``."""
    n = len(mesh.server_pulls)

    async def serve(count: int) -> None:
        served = 0
        while served < count:
            for sock, _ in await poller.poll():
                await mesh.reply_push.send(await sock.recv())
                served += 1

    async def client(count: int) -> float:
        start = time.perf_counter()
        for i in range(count):
            await mesh.client_pushes[i % n].send(b"x")
            await mesh.reply_pull.recv()
        return time.perf_counter() - start

    async def both(count: int) -> float:
        result: list[float] = []

        async def timed() -> None:
            result.append(await client(count))

        if trio.lowlevel.in_trio_task():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve, count)
                nursery.start_soon(timed)
        else:
            await asyncio.gather(serve(count), timed())
        return result[0]

    await both(n)
    return await both(ops) / ops * 1e6


async def _wake_trio_zmq(n: int, ops: int) -> float:
    async with trio_zmq.Context(linger=0) as ctx:
        mesh = _tcp_mesh(ctx, n)
        return await _time_round_trips(mesh, _registered(trio_zmq.Poller(), mesh.server_pulls), ops)


async def _wake_zmq_asyncio(n: int, ops: int) -> float:
    ctx = zmq.asyncio.Context()
    try:
        mesh = _tcp_mesh(ctx, n)
        poller = _registered(zmq.asyncio.Poller(), mesh.server_pulls)
        return await _time_round_trips(mesh, poller, ops)
    finally:
        ctx.destroy(linger=0)


def _wake_pyzmq(n: int, ops: int, timeout: float) -> float:
    """The server in a thread, on the blocking poller; every wait bounded."""
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        mesh = _tcp_mesh(ctx, n)
        mesh.reply_pull.rcvtimeo = int(timeout * 1000)
        poller = _registered(zmq.Poller(), mesh.server_pulls)

        def serve(count: int) -> None:
            served = 0
            while served < count:
                ready = poller.poll(int(timeout * 1000))
                if not ready:
                    return  # the client times out too
                for sock, _ in ready:
                    mesh.reply_push.send(sock.recv())
                    served += 1

        def client(count: int) -> float:
            server = threading.Thread(target=serve, args=(count,))
            server.start()
            try:
                start = time.perf_counter()
                for i in range(count):
                    mesh.client_pushes[i % n].send(b"x")
                    mesh.reply_pull.recv()
                return time.perf_counter() - start
            except zmq.Again:
                raise timed_out(timeout) from None
            finally:
                server.join()

        client(n)
        return client(ops) / ops * 1e6
    finally:
        ctx.destroy(linger=0)


# ----------------------------------------------------------------------
# The set
# ----------------------------------------------------------------------


def _on(loop: loops.Loop[float], function: Callable[[int, int], Awaitable[float]]) -> Run:
    """The run of ``function(sockets, ops)`` on ``loop``."""
    return lambda n, ops, timeout: loop(functools.partial(function, n, ops), timeout)


IMPLEMENTATIONS: tuple[Implementation[Scenarios], ...] = (
    Implementation(
        "trio_zmq",
        "trio_zmq/trio",
        Scenarios(_on(loops.on_trio, _ready_trio_zmq), _on(loops.on_trio, _wake_trio_zmq)),
    ),
    Implementation(
        "trio_zmq_asyncio",
        "trio_zmq/asyncio",
        Scenarios(_on(loops.on_asyncio, _ready_trio_zmq), _on(loops.on_asyncio, _wake_trio_zmq)),
    ),
    Implementation(
        "zmq_asyncio",
        "zmq.asyncio",
        Scenarios(
            _on(loops.on_asyncio, _ready_zmq_asyncio), _on(loops.on_asyncio, _wake_zmq_asyncio)
        ),
    ),
    Implementation("pyzmq", "pyzmq (thread)", Scenarios(_ready_pyzmq, _wake_pyzmq)),
)


@final
class PollerSet(WorkloadSet[Spec, Scenarios]):
    name = "poller"
    help = "trio_zmq.Poller against zmq.asyncio.Poller and pyzmq's blocking zmq.Poller"
    description = (
        "A poll that finds one of N sockets ready, and a round trip through a server "
        "polling N sockets: trio_zmq.Poller on trio and on asyncio, zmq.asyncio.Poller, "
        "pyzmq's zmq.Poller in a thread."
    )
    implementations = IMPLEMENTATIONS
    baselines = (("zmq_asyncio", "vs asyncio"), ("pyzmq", "vs pyzmq"))
    groups = ("ready", "wake")
    quick_rounds = 1
    quick_help = "one short round over 1 and 10 sockets (smoke test)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--sizes", type=listed(positive_int), help="socket counts, comma-separated (1,10,100)"
        )
        parser.add_argument("--ready-ops", type=positive_int, help="polls per ready trial (2000)")
        parser.add_argument(
            "--wake-ops", type=positive_int, help="round trips per wake trial (500)"
        )

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[Spec]]:
        sizes = args.sizes or ((1, 10) if args.quick else (1, 10, 100))
        ops = {
            "ready": args.ready_ops or (50 if args.quick else 2000),
            "wake": args.wake_ops or (20 if args.quick else 500),
        }
        what = {"ready": "polls", "wake": "round trips"}
        titles = {
            "ready": "ready: poll() with one socket of {n} ready (inproc)",
            "wake": "wake: round trip through a server polling {n} sockets (tcp)",
        }
        return [
            Workload(
                f"{scenario}-{n}",
                titles[scenario].format(n=n),
                "µs per op",
                Spec(scenario, n, ops[scenario]),
                scenario,
                higher_is_better=False,
                fmt=",.1f",
                detail=f"{ops[scenario]} {what[scenario]} per trial",
                short=f"{scenario} {n}",
            )
            for scenario in self.groups
            for n in sizes
        ]

    def trial(
        self, plan: Plan[Spec], workload: Workload[Spec], impl: Implementation[Scenarios]
    ) -> float:
        spec = workload.params
        run: Run = getattr(impl.run, spec.scenario)
        return run(spec.sockets, spec.ops, plan.timeout)


SET = PollerSet()
