"""``python -m benchmarks engines``: the engine's trio-native path against its anyio path.

The engine runs on trio's own primitives under trio, and on anyio's
elsewhere.  This runs the same workloads, in one process, through:

* ``trio``: trio's scheduler, the trio-native engine path (what trio code,
  and anyio code on the trio backend, gets);
* ``trio, anyio path``: trio's scheduler, the engine forced onto the anyio
  path (what the engine would cost on trio had it been written on anyio);
* ``asyncio``: anyio on asyncio, the anyio path (the only choice there).

The rows are compared with ``trio``.  Forcing the anyio path under trio
takes the engine's own switch, ``trio_zmq._core._backend.force_anyio()``:
no public API chooses the path, as the library picks it by the running loop.

Workloads, all over inproc so that no I/O thread competes for the 2 cores:

* ``recv``: a peer thread floods a PULL socket with blocking pyzmq; one task
  receives message by message (the fast path: no waiting);
* ``ping-pong``: two tasks bounce a message over a PAIR pair; every receive
  parks first (the waiting path: park, wake, serve);
* ``fan-in``: four tasks wait in ``recv()`` on one PULL socket fed by a peer
  thread (serving parked tasks: in place on trio, woken to serve themselves
  on the anyio path).
"""

from __future__ import annotations

import argparse
import functools
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar, final

import anyio
import zmq

from trio_zmq import Context
from trio_zmq._core import _backend

from . import loops
from .framework import Implementation, Plan, Workload, WorkloadSet

T = TypeVar("T")


@dataclass(frozen=True)
class Sizes:
    recv: int
    ping_pong: int
    fan_in: int


FULL = Sizes(recv=100_000, ping_pong=10_000, fan_in=50_000)
QUICK = Sizes(recv=3_000, ping_pong=300, fan_in=2_000)


def _flood(zctx: zmq.Context[zmq.Socket[bytes]], address: str, count: int) -> threading.Thread:
    def run() -> None:
        # zmq.Socket(zctx, ...), not zctx.socket(): leaving a trio_zmq.Context
        # closes the sockets zctx.socket() made, from the event loop's thread,
        # and this one belongs to this thread.  If the context ends first
        # (Ctrl-C), the blocked send raises ContextTerminated: drop the rest.
        push: zmq.Socket[bytes] = zmq.Socket(zctx, zmq.PUSH)
        linger = 0
        try:
            push.connect(address)
            for _ in range(count):
                push.send(b"x" * 64)
            linger = -1  # all sent: let every message arrive
        except zmq.ContextTerminated:
            pass  # the receiving side ended first (Ctrl-C): so does the flood
        finally:
            push.close(linger=linger)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def _recv(count: int) -> float:
    async with Context(linger=0) as ctx:
        pull = ctx.socket(zmq.PULL)
        pull.bind("inproc://engines-recv")
        thread = _flood(ctx.zmq_context, "inproc://engines-recv", count)
        start = time.perf_counter()
        for _ in range(count):
            await pull.recv()
        elapsed = time.perf_counter() - start
        thread.join()
    return count / elapsed


async def _ping_pong(count: int) -> float:
    async with Context(linger=0) as ctx:
        a = ctx.socket(zmq.PAIR)
        b = ctx.socket(zmq.PAIR)
        a.bind("inproc://engines-pp")
        b.connect("inproc://engines-pp")

        async def echo() -> None:
            for _ in range(count):
                await b.send(await b.recv())

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(echo)
            for _ in range(count):
                await a.send(b"ping")
                await a.recv()
        elapsed = time.perf_counter() - start
    return count / elapsed


async def _fan_in(count: int) -> float:
    async with Context(linger=0) as ctx:
        pull = ctx.socket(zmq.PULL)
        pull.bind("inproc://engines-fan-in")
        received = 0

        async def worker() -> None:
            nonlocal received
            while received < count:
                await pull.recv()
                received += 1
            tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(worker)
            await anyio.wait_all_tasks_blocked()
            start = time.perf_counter()
            thread = _flood(ctx.zmq_context, "inproc://engines-fan-in", count)
        elapsed = time.perf_counter() - start
        thread.join()
    return count / elapsed


def _on_trio_anyio_path(main: Callable[[], Awaitable[T]], timeout: float) -> T:
    """``main()`` under trio, the engine forced onto its anyio path."""
    with _backend.force_anyio():
        return loops.on_trio(main, timeout)


#: The rows, each a way to run a workload's coroutine function.
IMPLEMENTATIONS: tuple[Implementation[loops.Loop[float]], ...] = (
    Implementation("trio", "trio", loops.on_trio),
    Implementation("trio_anyio_path", "trio, anyio path", _on_trio_anyio_path),
    Implementation("asyncio", "asyncio", loops.on_anyio_asyncio),
)

#: A workload: its coroutine function.
Job = Callable[[], Awaitable[float]]


@final
class EnginesSet(WorkloadSet[Job, loops.Loop[float]]):
    name = "engines"
    help = "the engine's trio-native path against its anyio path"
    description = (
        "The same workloads through the engine's trio-native path, its anyio path under "
        "trio, and anyio on asyncio."
    )
    implementations = IMPLEMENTATIONS
    baselines = (("trio", "vs trio"),)
    groups = ("recv", "ping-pong", "fan-in")
    quick_help = "a smoke run of a few seconds: a few thousand messages a trial"

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[Job]]:
        sizes = QUICK if args.quick else FULL
        shapes: list[tuple[str, str, str, int, Callable[[int], Awaitable[float]]]] = [
            ("recv", "recv: one task receives a flood", "messages/s", sizes.recv, _recv),
            (
                "ping-pong",
                "ping-pong: two tasks, a PAIR",
                "round trips/s",
                sizes.ping_pong,
                _ping_pong,
            ),
            ("fan-in", "fan-in: four tasks parked in recv()", "messages/s", sizes.fan_in, _fan_in),
        ]
        return [
            Workload(
                key, title, unit, functools.partial(job, count), key, detail=f"{count} per trial"
            )
            for key, title, unit, count, job in shapes
        ]

    def trial(
        self, plan: Plan[Job], workload: Workload[Job], impl: Implementation[loops.Loop[float]]
    ) -> float:
        return impl.run(workload.params, plan.timeout)


SET = EnginesSet()
