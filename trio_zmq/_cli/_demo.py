"""``trio-zmq demo``: a ventilator -> workers -> sink pipeline in one nursery.

The classic ZeroMQ "divide and conquer" pattern, written the trio way:

* the **ventilator** (PUSH, bound) hands out jobs, building each one lazily
  only once the socket can take it (``wait_writable`` on the send channel);
* each **worker** (PULL connected to the ventilator, PUSH connected to the
  sink) squares numbers, each worker in its own task, its sockets views as
  channels;
* the **sink** (PULL, bound) collects results with ``async for`` and shows
  progress; when every result is in, it cancels the pipeline.

Everything runs in one visible nursery; nothing runs in the background.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence

import trio
import zmq

import trio_zmq

from ._command import Command, positive_int, run_command

#: How long the sink waits for the next result before it gives up.
STALL_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    tasks: int = 20_000
    workers: int = 4
    transport: str = "inproc"
    progress: bool = True


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    options: DemoOptions
    received: int
    total: int
    expected_total: int
    per_worker: dict[str, int]
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.received == self.options.tasks and self.total == self.expected_total

    def render(self) -> str:
        rate = self.received / self.elapsed if self.elapsed > 0 else float("inf")
        shares = ", ".join(f"{name}={count}" for name, count in sorted(self.per_worker.items()))
        verdict = "ok" if self.ok else "MISMATCH"
        return (
            f"summary: {self.received}/{self.options.tasks} results through "
            f"{self.options.workers} workers over {self.options.transport} in "
            f"{self.elapsed:.2f} s ({rate:,.0f} msg/s)\n"
            f"  per worker: {shares}\n"
            f"  sum of squares: {self.total} (expected {self.expected_total}): {verdict}"
        )


def _encode(obj: object) -> Sequence[bytes]:
    return [json.dumps(obj).encode()]


def _decode(frames: list[bytes]) -> object:
    return json.loads(frames[0])


def _endpoints(transport: str, tmpdir: str) -> tuple[str, str]:
    if transport == "inproc":
        tag = f"{os.getpid()}-{id(tmpdir)}"
        return f"inproc://ventilator-{tag}", f"inproc://sink-{tag}"
    if transport == "ipc":
        return f"ipc://{tmpdir}/ventilator", f"ipc://{tmpdir}/sink"
    return "tcp://127.0.0.1", "tcp://127.0.0.1"


async def _ventilator(sock: trio_zmq.Socket, tasks: int) -> None:
    async with sock.send_channel(_encode) as jobs:
        for n in range(tasks):
            # The lazy producer: make the job only once it can be sent.
            await jobs.wait_writable()
            await jobs.send({"n": n})


async def _worker(name: str, source: trio_zmq.Socket, results: trio_zmq.Socket) -> None:
    async with source.receive_channel(_decode) as jobs, results.send_channel(_encode) as out:
        async for job in jobs:
            assert isinstance(job, dict)
            n = job["n"]
            await out.send({"worker": name, "n": n, "square": n * n})


def _draw(done: int, tasks: int) -> str:
    width = 30
    filled = done * width // tasks
    return f"  [{'#' * filled}{'.' * (width - filled)}] {done * 100 // tasks:3d}%  {done}/{tasks}"


async def run_demo(options: DemoOptions) -> DemoSummary:
    """Run the pipeline to completion and return what the sink saw."""
    per_worker: Counter[str] = Counter()
    total = 0
    received = 0
    if options.progress:
        print(
            f"trio_zmq demo: ventilator -> {options.workers} workers -> sink "
            f"over {options.transport}, {options.tasks} jobs",
            flush=True,
        )
    with tempfile.TemporaryDirectory(prefix="trio-zmq-demo-") as tmpdir:
        async with trio_zmq.Context(linger=0) as ctx:
            vent_addr, sink_addr = _endpoints(options.transport, tmpdir)
            ventilator = ctx.socket(zmq.PUSH)
            sink = ctx.socket(zmq.PULL)
            if options.transport == "tcp":
                vent_addr = f"{vent_addr}:{ventilator.bind_to_random_port(vent_addr)}"
                sink_addr = f"{sink_addr}:{sink.bind_to_random_port(sink_addr)}"
            else:
                ventilator.bind(vent_addr)
                sink.bind(sink_addr)
            started = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for index in range(options.workers):
                    source = ctx.socket(zmq.PULL)
                    source.connect(vent_addr)
                    results = ctx.socket(zmq.PUSH)
                    results.connect(sink_addr)
                    nursery.start_soon(_worker, f"w{index}", source, results)
                nursery.start_soon(_ventilator, ventilator, options.tasks)
                step = max(1, options.tasks // 10)
                # A lost result must not leave the sink waiting forever: stop
                # once none has come for STALL_SECONDS (the summary then
                # shows the mismatch).
                with trio.move_on_after(STALL_SECONDS) as stall:
                    async with sink.receive_channel(_decode) as collected:
                        async for result in collected:
                            assert isinstance(result, dict)
                            per_worker[result["worker"]] += 1
                            total += result["square"]
                            received += 1
                            if options.progress and (received % step == 0):
                                print(_draw(received, options.tasks), flush=True)
                            if received == options.tasks:
                                break
                            stall.deadline = trio.current_time() + STALL_SECONDS
                if stall.cancelled_caught:
                    print(
                        f"trio_zmq demo: no result for {STALL_SECONDS:g} s; "
                        f"stopping at {received}/{options.tasks}",
                        flush=True,
                    )
                # Workers wait for jobs that will never come: end them.
                nursery.cancel_scope.cancel()
            elapsed = time.perf_counter() - started
    expected = sum(n * n for n in range(options.tasks))
    return DemoSummary(options, received, total, expected, dict(per_worker), elapsed)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``demo``'s arguments."""
    parser.add_argument("--tasks", type=positive_int, default=20_000, help="jobs to send (20000)")
    parser.add_argument("--workers", type=positive_int, default=4, help="worker tasks (4)")
    parser.add_argument(
        "--transport",
        choices=["inproc", "ipc", "tcp"],
        default="inproc",
        help="how the stages connect (inproc)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")


def _demo(options: DemoOptions) -> int:
    summary = trio.run(run_demo, options)
    print(summary.render())
    return 0 if summary.ok else 1


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``trio-zmq demo``: 0 if every result came in and adds up, else 1."""
    options = DemoOptions(
        tasks=args.tasks, workers=args.workers, transport=args.transport, progress=not args.quiet
    )
    return run_command(parser.prog, lambda: _demo(options))


COMMAND = Command(
    name="demo",
    help="run a ventilator -> workers -> sink pipeline through trio_zmq channels",
    description=(
        "Run a ventilator -> workers -> sink pipeline in one nursery and print "
        "its progress and a summary."
    ),
    add_arguments=add_arguments,
    run=run,
)
