"""``python -m benchmarks.proxy``: the proxy, beside libzmq's and a zmq.asyncio loop.

Messages per second through ``PUSH -> proxy -> PULL``: a producer PUSHes
to the proxy's frontend (a bound PULL), the proxy forwards to its backend
(a bound PUSH), a consumer PULLs from it.  The proxies:

* ``trio_zmq (trio)``: :func:`trio_zmq.proxy` under ``anyio.run(backend="trio")``;
* ``trio_zmq (asyncio)``: the same call under ``anyio.run(backend="asyncio")``;
* ``zmq.asyncio loop``: what a zmq.asyncio user writes, one asyncio task per
  direction doing ``send_multipart(await recv_multipart())`` (here one
  direction: a PUSH backend cannot receive), under ``asyncio.run``;
* ``zmq.proxy (thread)``: libzmq's C proxy in a thread, as pyzmq runs it
  (``zmq.proxy_steerable`` with a control socket, so that TERMINATE can end
  it: the same C loop as ``zmq.proxy``, which only a context termination
  stops).  It needs no GIL.

The producer and consumer are blocking pyzmq, the same for every proxy:
threads of this process over inproc (they share the GIL with the Python
proxies, as any inproc peer must), separate processes over tcp on
127.0.0.1.  The consumer times ``--messages`` messages from the moment the
last of 1000 warm-up messages arrives.

A second table measures what the proxy's design rests on: the cost per
message of trio_zmq's forwarding step alone (no event loop, no peers: a
backlog in an inproc PULL moved to an inproc PUSH), checked (ZMQ_EVENTS
read on the destination before each message, as the proxy does unless a
checked burst went through whole) and unchecked.

Rounds interleave the proxies (their order rotates each round); each row
gives the best and the median of the rounds, and the ratios are taken
within this run, best to best and median to median.  Every trial has a
deadline (``--timeout``): a hung proxy fails the run with a message.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import anyio.to_thread
import zmq
import zmq.asyncio
import zmq.backend

import trio_zmq
from trio_zmq._tools import _proxy

WARM_UP = 1000
_names = itertools.count()


@dataclasses.dataclass(frozen=True)
class Trial:
    """One measurement: how many messages of what shape, over what."""

    transport: str
    messages: int
    frames: int
    size: int
    timeout: float

    def message(self) -> list[bytes]:
        return [b"x" * self.size] * self.frames


# ----------------------------------------------------------------------
# The peers: blocking pyzmq, in threads (inproc) or processes (tcp)
# ----------------------------------------------------------------------


def produce(ctx: zmq.Context[Any], address: str, total: int, message: list[bytes]) -> None:
    """PUSH ``total`` copies of ``message`` to ``address``, then close.

    Frame by frame, with pyzmq's compiled send: as fast as a Python peer
    goes, so that the proxy, not the peer, sets the pace where it can."""
    sock = ctx.socket(zmq.PUSH)
    sock.connect(address)
    send = zmq.backend.Socket.send.__get__(sock)
    *first, last = message
    more = int(zmq.SNDMORE)
    for _ in range(total):
        for frame in first:
            send(frame, more)
        send(last, 0)
    sock.close(linger=-1)


def consume(
    ctx: zmq.Context[Any], address: str, messages: int, frames: int, timeout: float
) -> float:
    """PULL the warm-up, then ``messages`` messages of ``frames`` frames;
    return the seconds the latter took.  Raises zmq.Again if the proxy
    stalls for ``timeout`` s."""
    sock = ctx.socket(zmq.PULL)
    sock.rcvtimeo = int(timeout * 1000)
    sock.connect(address)
    recv = sock.recv
    try:
        for _ in range(WARM_UP * frames):
            recv()
        start = time.perf_counter()
        for _ in range(messages * frames):
            recv()
        return time.perf_counter() - start
    finally:
        sock.close(linger=0)


class Peers:
    """A producer and a consumer around a proxy's bound sockets."""

    def __init__(self, trial: Trial, ctx: zmq.Context[Any], frontend: str, backend: str) -> None:
        self.trial = trial
        self.ctx = ctx
        self.frontend = frontend
        self.backend = backend
        self.elapsed: float | None = None
        self.error: BaseException | None = None
        self._threads: list[threading.Thread] = []
        self._processes: list[subprocess.Popen[str]] = []

    def start(self) -> None:
        trial = self.trial
        total = WARM_UP + trial.messages
        if trial.transport == "inproc":
            self._threads = [
                threading.Thread(target=self._consume),
                threading.Thread(
                    target=produce, args=(self.ctx, self.frontend, total, trial.message())
                ),
            ]
            for thread in self._threads:
                thread.start()
            return
        shape = [str(trial.frames), str(trial.size), str(trial.timeout)]
        command = [sys.executable, "-m", "benchmarks.proxy", "--peer"]
        self._processes = [
            subprocess.Popen(
                [*command, "consume", self.backend, str(trial.messages), *shape],
                stdout=subprocess.PIPE,
                text=True,
            ),
            subprocess.Popen(
                [*command, "produce", self.frontend, str(total), *shape],
                stdout=subprocess.DEVNULL,
                text=True,
            ),
        ]

    def _consume(self) -> None:
        trial = self.trial
        try:
            self.elapsed = consume(
                self.ctx, self.backend, trial.messages, trial.frames, trial.timeout
            )
        except BaseException as exc:
            self.error = exc

    def wait(self) -> float:
        """Block until both are done; the consumer's seconds.

        Raises:
          RuntimeError: a peer failed (the proxy stalled, or crashed).
        """
        for thread in self._threads:
            thread.join(self.trial.timeout * 2)
        for process in self._processes:
            out, _ = process.communicate(timeout=self.trial.timeout * 2)
            if process.returncode:
                raise RuntimeError(f"a peer process failed ({process.returncode})")
            if out and out.strip():
                self.elapsed = float(out)
        if self.error is not None:
            raise RuntimeError(f"the consumer failed: {self.error!r}") from self.error
        if self.elapsed is None:
            raise RuntimeError("the peers did not finish")
        return self.elapsed


# ----------------------------------------------------------------------
# One trial per proxy
# ----------------------------------------------------------------------


def _bind(sock: zmq.Socket[Any], transport: str) -> str:
    if transport == "tcp":
        return f"tcp://127.0.0.1:{sock.bind_to_random_port('tcp://127.0.0.1')}"
    address = f"inproc://proxy-bench-{os.getpid()}-{next(_names)}"
    sock.bind(address)
    return address


def run_trial(
    trial: Trial, proxy: Callable[[zmq.Socket[Any], zmq.Socket[Any], Peers], float]
) -> float:
    """Messages per second through ``proxy`` for ``trial``, in a fresh context."""
    ctx: zmq.Context[Any] = zmq.Context()
    frontend, backend = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    try:
        peers = Peers(trial, ctx, _bind(frontend, trial.transport), _bind(backend, trial.transport))
        return trial.messages / proxy(frontend, backend, peers)
    finally:
        frontend.close(linger=0)
        backend.close(linger=0)
        ctx.term()


def trio_zmq_proxy(
    backend_name: str, frontend: zmq.Socket[Any], backend: zmq.Socket[Any], peers: Peers
) -> float:
    async def main() -> float:
        front = trio_zmq.Socket.from_socket(frontend)
        back = trio_zmq.Socket.from_socket(backend)
        async with anyio.create_task_group() as group:
            group.start_soon(trio_zmq.proxy, front, back)
            peers.start()
            elapsed = await anyio.to_thread.run_sync(peers.wait)
            group.cancel_scope.cancel()
        return elapsed

    return anyio.run(main, backend=backend_name)


def zmq_asyncio_loop(frontend: zmq.Socket[Any], backend: zmq.Socket[Any], peers: Peers) -> float:
    async def forward(source: zmq.asyncio.Socket, destination: zmq.asyncio.Socket) -> None:
        while True:
            await destination.send_multipart(await source.recv_multipart())

    async def main() -> float:
        front = zmq.asyncio.Socket.from_socket(frontend)
        back = zmq.asyncio.Socket.from_socket(backend)
        task = asyncio.create_task(forward(front, back))
        peers.start()
        try:
            return await asyncio.get_running_loop().run_in_executor(None, peers.wait)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return asyncio.run(main())


def pyzmq_thread(frontend: zmq.Socket[Any], backend: zmq.Socket[Any], peers: Peers) -> float:
    ctx = peers.ctx
    address = f"inproc://proxy-bench-control-{next(_names)}"
    steer, control = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    steer.bind(address)
    control.connect(address)
    thread = threading.Thread(target=zmq.proxy_steerable, args=(frontend, backend, None, control))
    thread.start()
    try:
        peers.start()
        return peers.wait()
    finally:
        steer.send(b"TERMINATE")
        thread.join()
        steer.close(linger=0)
        control.close(linger=0)


PROXIES: dict[str, Callable[[zmq.Socket[Any], zmq.Socket[Any], Peers], float]] = {
    "trio_zmq (trio)": functools.partial(trio_zmq_proxy, "trio"),
    "trio_zmq (asyncio)": functools.partial(trio_zmq_proxy, "asyncio"),
    "zmq.asyncio loop": zmq_asyncio_loop,
    "zmq.proxy (thread)": pyzmq_thread,
}
BASELINES = ("zmq.asyncio loop", "zmq.proxy (thread)")


# ----------------------------------------------------------------------
# The forwarding step alone
# ----------------------------------------------------------------------


def step_cost(careful: bool, messages: int) -> float:
    """Microseconds per message of the proxy's step, checked or not."""
    ctx: zmq.Context[Any] = zmq.Context()
    socks = [ctx.socket(kind) for kind in (zmq.PUSH, zmq.PULL, zmq.PUSH, zmq.PULL)]
    producer, frontend, backend, consumer = socks
    try:
        for sock in socks:
            sock.sndhwm = sock.rcvhwm = 0
        for sock, peer in ((frontend, producer), (backend, consumer)):
            address = _bind(sock, "inproc")
            peer.connect(address)
        for _ in range(messages):
            producer.send(b"x" * 16)
        source = trio_zmq.Socket.from_socket(frontend)
        destination = trio_zmq.Socket.from_socket(backend)
        direction = _proxy._Direction(source, destination, None)
        start = time.perf_counter()
        while direction.frames_out < messages:
            direction.careful = careful
            direction.step(0)
        return (time.perf_counter() - start) / messages * 1e6
    finally:
        for sock in socks:
            sock.close(linger=0)
        ctx.term()


def step_report(rounds: int, messages: int) -> str:
    costs: dict[bool, list[float]] = {True: [], False: []}
    for round_number in range(rounds):
        for careful in (round_number % 2 == 0, round_number % 2 == 1):
            costs[careful].append(step_cost(careful, messages))
    best = {careful: min(values) for careful, values in costs.items()}
    median = {careful: statistics.median(values) for careful, values in costs.items()}
    return "\n".join(
        [
            f"The forwarding step alone, {messages:,} messages of 1 x 16 B, {rounds} rounds",
            "",
            "| step | best us/msg | median us/msg |",
            "|---|---:|---:|",
            f"| unchecked | {best[False]:.2f} | {median[False]:.2f} |",
            f"| checked (ZMQ_EVENTS per message) | {best[True]:.2f} | {median[True]:.2f} |",
            f"| checked / unchecked | {best[True] / best[False]:.2f}x"
            f" | {median[True] / median[False]:.2f}x |",
        ]
    )


# ----------------------------------------------------------------------
# Rounds and the report
# ----------------------------------------------------------------------


def measure(trials: Sequence[Trial], rounds: int) -> dict[tuple[str, str], list[float]]:
    """``rounds`` interleaved rounds; messages/s per (transport, proxy)."""
    results: dict[tuple[str, str], list[float]] = {}
    names = list(PROXIES)
    for round_number in range(rounds):
        order = names[round_number % len(names) :] + names[: round_number % len(names)]
        for trial in trials:
            for name in order:
                rate = run_trial(trial, PROXIES[name])
                results.setdefault((trial.transport, name), []).append(rate)
                print(
                    f"  round {round_number + 1}/{rounds} {trial.transport:6} "
                    f"{name:20} {rate:12,.0f} msg/s",
                    file=sys.stderr,
                    flush=True,
                )
    return results


def report(trials: Sequence[Trial], results: dict[tuple[str, str], list[float]]) -> str:
    """The table: best and median per proxy, and the ratios of each to the
    baselines within this run."""
    lines = [
        f"PUSH -> proxy -> PULL, {trials[0].messages:,} messages of "
        f"{trials[0].frames} x {trials[0].size} B per trial, "
        f"{len(next(iter(results.values())))} interleaved rounds",
        "",
        "| transport | proxy | best msg/s | median msg/s | vs zmq.asyncio loop (best / median)"
        " | vs zmq.proxy thread (best / median) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for trial in trials:
        summary = {
            name: (max(rates), statistics.median(rates))
            for (transport, name), rates in results.items()
            if transport == trial.transport
        }
        for name, (best, median) in summary.items():
            ratios = [
                f"{best / summary[base][0]:.2f}x / {median / summary[base][1]:.2f}x"
                for base in BASELINES
            ]
            lines.append(
                f"| {trial.transport} | {name} | {best:,.0f} | {median:,.0f} | "
                + " | ".join(ratios)
                + " |"
            )
    return "\n".join(lines)


def peer_main(argv: Sequence[str]) -> None:
    """``--peer produce|consume ADDRESS COUNT FRAMES SIZE TIMEOUT`` (tcp trials)."""
    role, address, count, frames, size, timeout = argv
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        if role == "produce":
            produce(ctx, address, int(count), [b"x" * int(size)] * int(frames))
        else:
            print(consume(ctx, address, int(count), int(frames), float(timeout)))
    finally:
        ctx.term()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--peer"]:
        peer_main(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proxy", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=100_000, help="per trial")
    parser.add_argument("--frames", type=int, default=1, help="frames per message")
    parser.add_argument("--size", type=int, default=16, help="bytes per frame")
    parser.add_argument("--transports", default="inproc,tcp")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per trial")
    args = parser.parse_args(argv)
    trials = [
        Trial(transport, args.messages, args.frames, args.size, args.timeout)
        for transport in args.transports.split(",")
    ]
    print(
        f"python {sys.version.split()[0]}, pyzmq {zmq.__version__}, "
        f"libzmq {zmq.zmq_version()}, {os.cpu_count()} CPUs",
        flush=True,
    )
    print(report(trials, measure(trials, args.rounds)))
    print()
    print(step_report(args.rounds, args.messages))


if __name__ == "__main__":
    main()
