"""``python -m benchmarks engines``: the engine's trio-native path against its anyio path.

Issue 4 asked whether the engine should run on trio's own primitives or on
anyio's, and to decide by measurement.  This runs the same workloads, in one
process, through:

* ``trio``: trio's scheduler, the trio-native engine path (what trio code,
  and anyio code on the trio backend, gets);
* ``trio, anyio path``: trio's scheduler, the engine forced onto the anyio
  path (what the engine would cost on trio had it been written on anyio);
* ``asyncio``: anyio on asyncio, the anyio path (the only choice there).

Rounds interleave the three (order rotated) so machine drift hits all alike;
it prints the median and the best round of each, and ratios to ``trio``.

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

import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import trio
import zmq

from trio_zmq import Context
from trio_zmq._core import _backend

from .progress import progress

PROG = "python -m benchmarks engines"
PATHS = ("trio", "trio, anyio path", "asyncio")


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


WORKLOADS: dict[str, Callable[[Sizes], Callable[[], Awaitable[float]]]] = {
    "recv": lambda s: lambda: _recv(s.recv),
    "ping-pong": lambda s: lambda: _ping_pong(s.ping_pong),
    "fan-in": lambda s: lambda: _fan_in(s.fan_in),
}


def _run_on(path: str, job: Callable[[], Awaitable[float]]) -> float:
    if path == "asyncio":
        return anyio.run(job, backend="asyncio")
    if path == "trio, anyio path":
        with _backend.force_anyio():
            return trio.run(job)
    return trio.run(job)


def measure(
    rounds: int, sizes: Sizes, progress: Callable[[str], None] = lambda _line: None
) -> dict[str, dict[str, list[float]]]:
    """{workload: {path: [rate per round]}}, paths interleaved per round.

    Args:
      rounds: how many times every workload runs on every path.
      sizes: messages per workload.
      progress: called with a line of text after every round.
    """
    results: dict[str, dict[str, list[float]]] = {w: {p: [] for p in PATHS} for w in WORKLOADS}
    for round_index in range(rounds):
        started = time.perf_counter()
        order = PATHS[round_index % 3 :] + PATHS[: round_index % 3]
        for workload, make in WORKLOADS.items():
            for path in order:
                results[workload][path].append(_run_on(path, make(sizes)))
        progress(
            f"  round {round_index + 1}/{rounds} done in {time.perf_counter() - started:.1f} s"
        )
    return results


def render(results: dict[str, dict[str, list[float]]]) -> str:
    lines = [
        f"{'workload':<10} {'engine path':<18} {'median/s':>10} {'best/s':>10} "
        f"{'median vs trio':>15} {'best vs trio':>13}"
    ]
    for workload, per_path in results.items():
        base_median = statistics.median(per_path["trio"])
        base_best = max(per_path["trio"])
        for path, rates in per_path.items():
            median, best = statistics.median(rates), max(rates)
            lines.append(
                f"{workload:<10} {path:<18} {median:>10,.0f} {best:>10,.0f} "
                f"{median / base_median:>14.2f}x {best / base_best:>12.2f}x"
            )
    return "\n".join(lines)


def main(rounds: int, quick: bool) -> int:
    """``python -m benchmarks engines``: the table on stdout, progress on stderr."""
    progress(f"{PROG}: {len(WORKLOADS)} workloads on {len(PATHS)} engine paths, {rounds} rounds")
    print(render(measure(rounds, QUICK if quick else FULL, progress)))
    return 0
