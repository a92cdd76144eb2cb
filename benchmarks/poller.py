"""``python -m benchmarks.poller``: ``trio_zmq.Poller`` against ``zmq.asyncio.Poller``
and pyzmq's blocking ``zmq.Poller``, over 1, 10 and 100 sockets.

Two measurements, each in microseconds per operation:

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
pyzmq blocking.  Rounds are interleaved (every row and size once per round,
each in a fresh event loop and fresh sockets), and each cell shows the best
and the median round.  Nothing is asserted about timings: the numbers depend
on the machine; docs/poller.md quotes a run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import trio
import zmq
import zmq.asyncio

import trio_zmq

ROWS = ("trio_zmq/trio", "trio_zmq/asyncio", "zmq.asyncio", "pyzmq (thread)")
SCENARIOS = ("ready", "wake")

#: A run: (row, scenario, sockets, operations) -> microseconds per operation.
Run = Callable[[str, int, int], float]


# ----------------------------------------------------------------------
# ready: a poll that finds one socket of N ready
# ----------------------------------------------------------------------


def _inproc_pulls(ctx: Any, n: int, tag: str) -> tuple[list[Any], list[Any]]:
    pulls, pushes = [], []
    for i in range(n):
        endpoint = f"inproc://bench-poller-{tag}-{i}"
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


async def _ready_trio_zmq(n: int, ops: int) -> float:
    async with trio_zmq.Context(linger=0) as ctx:
        pulls, pushes = _inproc_pulls(ctx, n, "tz")
        poller = trio_zmq.Poller()
        for pull in pulls:
            poller.register(pull, zmq.POLLIN)
        await pushes[-1].send(b"x")
        while not trio_zmq.probe(pulls[-1]):
            await trio_zmq_sleep()
        _expect_one(await poller.poll(), pulls[-1])
        start = time.perf_counter()
        for _ in range(ops):
            await poller.poll()
        elapsed = time.perf_counter() - start
        _expect_one(await poller.poll(), pulls[-1])
        ctx.close_sockets(linger=0)
    return elapsed / ops * 1e6


async def trio_zmq_sleep() -> None:
    """A short sleep on whichever loop runs (for set-up only)."""
    if trio.lowlevel.in_trio_task():
        await trio.sleep(0.001)
    else:
        await asyncio.sleep(0.001)


async def _ready_zmq_asyncio(n: int, ops: int) -> float:
    ctx = zmq.asyncio.Context()
    try:
        pulls, pushes = _inproc_pulls(ctx, n, "za")
        poller = zmq.asyncio.Poller()
        for pull in pulls:
            poller.register(pull, zmq.POLLIN)
        await pushes[-1].send(b"x")
        _expect_one(await poller.poll(), pulls[-1])
        start = time.perf_counter()
        for _ in range(ops):
            await poller.poll()
        elapsed = time.perf_counter() - start
        _expect_one(await poller.poll(), pulls[-1])
    finally:
        ctx.destroy(linger=0)
    return elapsed / ops * 1e6


def _ready_pyzmq(n: int, ops: int) -> float:
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        pulls, pushes = _inproc_pulls(ctx, n, "pz")
        poller = zmq.Poller()
        for pull in pulls:
            poller.register(pull, zmq.POLLIN)
        pushes[-1].send(b"x")
        _expect_one(poller.poll(), pulls[-1])
        start = time.perf_counter()
        for _ in range(ops):
            poller.poll()
        elapsed = time.perf_counter() - start
    finally:
        ctx.destroy(linger=0)
    return elapsed / ops * 1e6


def run_ready(row: str, n: int, ops: int) -> float:
    if row == "trio_zmq/trio":
        return trio.run(_ready_trio_zmq, n, ops)
    if row == "trio_zmq/asyncio":
        return asyncio.run(_ready_trio_zmq(n, ops))
    if row == "zmq.asyncio":
        return asyncio.run(_ready_zmq_asyncio(n, ops))
    return _ready_pyzmq(n, ops)


# ----------------------------------------------------------------------
# wake: round trips through a server polling N sockets
# ----------------------------------------------------------------------


def _tcp_mesh(ctx: Any, n: int) -> tuple[list[Any], list[Any], Any, Any]:
    """Server PULLs and client PUSHes (n each, tcp), and a reply PUSH -> PULL."""
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
    return server_pulls, client_pushes, reply_push, reply_pull


async def _wake_trio_zmq(n: int, ops: int) -> float:
    async with trio_zmq.Context(linger=0) as ctx:
        server_pulls, client_pushes, reply_push, reply_pull = _tcp_mesh(ctx, n)
        poller = trio_zmq.Poller()
        for pull in server_pulls:
            poller.register(pull, zmq.POLLIN)

        async def serve(count: int) -> None:
            served = 0
            while served < count:
                for sock, _ in await poller.poll():
                    await reply_push.send(await sock.recv())
                    served += 1

        async def client(count: int) -> float:
            start = time.perf_counter()
            for i in range(count):
                await client_pushes[i % n].send(b"x")
                await reply_pull.recv()
            return time.perf_counter() - start

        elapsed = await _pair_up(serve, client, n, ops)
        ctx.close_sockets(linger=0)
    return elapsed / ops * 1e6


async def _pair_up(
    serve: Callable[[int], Any], client: Callable[[int], Any], n: int, ops: int
) -> float:
    """Run the server and the client together on the running loop: first a
    warm-up pass over every socket (connections made), then the timed ops."""
    result: list[float] = []

    async def both(count: int) -> None:
        async def timed() -> None:
            result.append(await client(count))

        if trio.lowlevel.in_trio_task():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve, count)
                nursery.start_soon(timed)
        else:
            await asyncio.gather(serve(count), timed())

    await both(n)
    result.clear()
    await both(ops)
    return result[0]


async def _wake_zmq_asyncio(n: int, ops: int) -> float:
    ctx = zmq.asyncio.Context()
    try:
        server_pulls, client_pushes, reply_push, reply_pull = _tcp_mesh(ctx, n)
        poller = zmq.asyncio.Poller()
        for pull in server_pulls:
            poller.register(pull, zmq.POLLIN)

        async def serve(count: int) -> None:
            served = 0
            while served < count:
                for sock, _ in await poller.poll():
                    await reply_push.send(await sock.recv())
                    served += 1

        async def client(count: int) -> float:
            start = time.perf_counter()
            for i in range(count):
                await client_pushes[i % n].send(b"x")
                await reply_pull.recv()
            return time.perf_counter() - start

        elapsed = await _pair_up(serve, client, n, ops)
    finally:
        ctx.destroy(linger=0)
    return elapsed / ops * 1e6


def _wake_pyzmq(n: int, ops: int) -> float:
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        server_pulls, client_pushes, reply_push, reply_pull = _tcp_mesh(ctx, n)
        poller = zmq.Poller()
        for pull in server_pulls:
            poller.register(pull, zmq.POLLIN)

        def serve(count: int) -> None:
            served = 0
            while served < count:
                for sock, _ in poller.poll():
                    reply_push.send(sock.recv())
                    served += 1

        def client(count: int) -> float:
            server = threading.Thread(target=serve, args=(count,))
            server.start()
            start = time.perf_counter()
            for i in range(count):
                client_pushes[i % n].send(b"x")
                reply_pull.recv()
            elapsed = time.perf_counter() - start
            server.join()
            return elapsed

        client(n)
        elapsed = client(ops)
    finally:
        ctx.destroy(linger=0)
    return elapsed / ops * 1e6


def run_wake(row: str, n: int, ops: int) -> float:
    if row == "trio_zmq/trio":
        return trio.run(_wake_trio_zmq, n, ops)
    if row == "trio_zmq/asyncio":
        return asyncio.run(_wake_trio_zmq(n, ops))
    if row == "zmq.asyncio":
        return asyncio.run(_wake_zmq_asyncio(n, ops))
    return _wake_pyzmq(n, ops)


# ----------------------------------------------------------------------
# Rounds and the report
# ----------------------------------------------------------------------


def measure(
    sizes: Sequence[int], rounds: int, ops: dict[str, int], progress: Callable[[str], None]
) -> dict[tuple[str, str, int], list[float]]:
    """Interleaved rounds: every (scenario, size, row) once per round."""
    runs: dict[str, Run] = {"ready": run_ready, "wake": run_wake}
    results: dict[tuple[str, str, int], list[float]] = {}
    for round_ in range(rounds):
        progress(f"round {round_ + 1}/{rounds}")
        for scenario in SCENARIOS:
            for n in sizes:
                for row in ROWS:
                    value = runs[scenario](row, n, ops[scenario])
                    results.setdefault((scenario, row, n), []).append(value)
    return results


def report(results: dict[tuple[str, str, int], list[float]], sizes: Sequence[int]) -> str:
    lines = []
    for scenario in SCENARIOS:
        header = f"| {scenario}: us per op, best / median |" + "".join(
            f" {n} socket{'s' if n > 1 else ''} |" for n in sizes
        )
        lines += [header, "|---|" + "---:|" * len(sizes)]
        for row in ROWS:
            cells = []
            for n in sizes:
                values = results[(scenario, row, n)]
                cells.append(f" {min(values):.1f} / {statistics.median(values):.1f} |")
            lines.append(f"| {row} |" + "".join(cells))
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.poller",
        description="trio_zmq.Poller against zmq.asyncio.Poller and pyzmq's blocking Poller.",
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--sizes", default="1,10,100", help="socket counts, comma-separated (default 1,10,100)"
    )
    parser.add_argument("--ready-ops", type=int, default=2000, help="polls per ready run")
    parser.add_argument("--wake-ops", type=int, default=500, help="round trips per wake run")
    parser.add_argument(
        "--quick", action="store_true", help="one short round over 1 and 10 sockets (smoke test)"
    )
    args = parser.parse_args(argv)
    try:
        sizes = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, not {args.sizes!r}")
    rounds, ops = args.rounds, {"ready": args.ready_ops, "wake": args.wake_ops}
    if args.quick:
        rounds, sizes, ops = 1, [1, 10], {"ready": 50, "wake": 20}
    if rounds < 1 or min(sizes) < 1 or min(ops.values()) < 1:
        parser.error("rounds, sizes and operation counts must be positive")

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    print(
        f"python {sys.version.split()[0]}, pyzmq {zmq.__version__}, libzmq "
        f"{zmq.zmq_version()}, trio {trio.__version__}, trio_zmq {trio_zmq.__version__}; "
        f"{rounds} rounds, {ops['ready']} polls (ready), {ops['wake']} round trips (wake)"
    )
    print()
    print(report(measure(sizes, rounds, ops, progress), sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
