"""``python -m benchmarks proxy``: the proxy, beside libzmq's and a zmq.asyncio loop.

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
127.0.0.1 (``python -m benchmarks proxy --child produce|consume ...``).
The consumer times ``--messages`` messages from the moment the last of 1000
warm-up messages arrives.

The ``step`` workload measures what the proxy's design rests on: the cost
per message of trio_zmq's forwarding step alone (no event loop, no peers: a
backlog in an inproc PULL moved to an inproc PUSH), checked (ZMQ_EVENTS
read on the destination before each message, as the proxy does unless a
checked burst went through whole) and unchecked.  No public API runs one
step, so this drives the proxy's internal ``_Direction`` object: it breaks
if that changes, and is the one benchmark that reaches inside trio_zmq.

Every trial has a deadline (``--timeout``): a hung proxy fails the run with
a message.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import itertools
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, final

import anyio
import anyio.to_thread
import zmq
import zmq.asyncio
import zmq.backend

import trio_zmq
from trio_zmq._tools import _proxy

from .arguments import choice_of, listed, positive_int
from .framework import (
    CHECKOUT,
    BenchmarkError,
    Implementation,
    Plan,
    Workload,
    WorkloadSet,
    child_command,
    timed_out,
)

WARM_UP = 1000
_names = itertools.count()


@dataclasses.dataclass(frozen=True)
class Shape:
    """What a workload's trial moves: how many messages of what shape, over
    what (``step``: the forwarding step alone)."""

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


def produce(
    ctx: zmq.Context[Any], address: str, total: int, message: list[bytes], timeout: float
) -> None:
    """PUSH ``total`` copies of ``message`` to ``address``, then close;
    give up if the proxy takes nothing for ``timeout`` seconds.

    Frame by frame, with pyzmq's compiled send: as fast as a Python peer
    goes, so that the proxy, not the peer, sets the pace where it can."""
    sock = ctx.socket(zmq.PUSH)
    sock.sndtimeo = int(timeout * 1000)
    sock.connect(address)
    send = zmq.backend.Socket.send.__get__(sock)
    *first, last = message
    more = int(zmq.SNDMORE)
    try:
        for _ in range(total):
            for frame in first:
                send(frame, more)
            send(last, 0)
    except zmq.Again:
        sock.close(linger=0)  # the consumer reports the stall
    else:
        sock.close(linger=int(timeout * 1000))


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

    def __init__(self, trial: Shape, ctx: zmq.Context[Any], frontend: str, backend: str) -> None:
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
                    target=produce,
                    args=(self.ctx, self.frontend, total, trial.message(), trial.timeout),
                ),
            ]
            for thread in self._threads:
                thread.start()
            return
        shape = [str(trial.frames), str(trial.size), str(trial.timeout)]
        self._processes = [
            subprocess.Popen(
                child_command("proxy", "consume", self.backend, str(trial.messages), *shape),
                stdout=subprocess.PIPE,
                text=True,
                cwd=CHECKOUT,
            ),
            subprocess.Popen(
                child_command("proxy", "produce", self.frontend, str(total), *shape),
                stdout=subprocess.DEVNULL,
                text=True,
                cwd=CHECKOUT,
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
          TrialTimeout: the proxy stalled.
          BenchmarkError: a peer failed.
        """
        for thread in self._threads:
            thread.join(self.trial.timeout * 2)
        try:
            for process in self._processes:
                out, _ = process.communicate(timeout=self.trial.timeout * 2)
                if process.returncode:
                    raise BenchmarkError(f"a peer process failed ({process.returncode})")
                if out and out.strip():
                    self.elapsed = float(out)
        except subprocess.TimeoutExpired:
            raise timed_out(self.trial.timeout * 2) from None
        finally:
            for process in self._processes:
                process.kill()
                process.wait()
        if isinstance(self.error, zmq.Again):
            raise timed_out(self.trial.timeout)
        if self.error is not None:
            raise BenchmarkError(f"the consumer failed: {self.error!r}") from self.error
        if self.elapsed is None:
            raise BenchmarkError("the peers did not finish")
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
    trial: Shape, proxy: Callable[[zmq.Socket[Any], zmq.Socket[Any], Peers], float]
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


# ----------------------------------------------------------------------
# The set
# ----------------------------------------------------------------------

#: A row: runs a workload's shape, returns its figure.
Run = Callable[[Shape], float]
Proxy = Callable[[zmq.Socket[Any], zmq.Socket[Any], Peers], float]


def _through(proxy: Proxy) -> Run:
    """Messages per second through ``proxy`` (throughput workloads only)."""
    return lambda shape: run_trial(shape, proxy)


def _step(careful: bool) -> Run:
    """µs per message of the forwarding step alone (the step workload only)."""
    return lambda shape: step_cost(careful, shape.messages)


PROXIES: tuple[Implementation[Run], ...] = (
    Implementation(
        "trio_zmq", "trio_zmq (trio)", _through(functools.partial(trio_zmq_proxy, "trio"))
    ),
    Implementation(
        "trio_zmq_asyncio",
        "trio_zmq (asyncio)",
        _through(functools.partial(trio_zmq_proxy, "asyncio")),
    ),
    Implementation("zmq_asyncio", "zmq.asyncio loop", _through(zmq_asyncio_loop)),
    Implementation("zmq_proxy", "zmq.proxy (thread)", _through(pyzmq_thread)),
)
STEPS: tuple[Implementation[Run], ...] = (
    Implementation("step_unchecked", "trio_zmq step, unchecked", _step(False)),
    Implementation("step_checked", "trio_zmq step, checked (ZMQ_EVENTS per message)", _step(True)),
)


@final
class ProxySet(WorkloadSet[Shape, Run]):
    name = "proxy"
    help = "trio_zmq.proxy beside libzmq's proxy and a zmq.asyncio loop, and its step"
    description = (
        "Messages per second through PUSH -> proxy -> PULL: trio_zmq.proxy on trio and "
        "on asyncio, a zmq.asyncio forwarding loop, libzmq's proxy in a thread; and the "
        "cost of trio_zmq's forwarding step alone, checked and unchecked."
    )
    implementations = (*PROXIES, *STEPS)
    baselines = (
        ("zmq_asyncio", "vs asyncio loop"),
        ("zmq_proxy", "vs zmq.proxy"),
        ("step_unchecked", "vs unchecked"),
    )
    groups = ("inproc", "tcp", "step")
    quick_rounds = 1
    quick_help = "one round of 2000 messages (smoke test)"
    child_usage = ("ROLE", "ADDRESS", "COUNT", "FRAMES", "SIZE", "TIMEOUT")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--messages", type=positive_int, help="per trial (100000)")
        parser.add_argument("--frames", type=positive_int, default=1, help="frames per message (1)")
        parser.add_argument("--size", type=positive_int, default=16, help="bytes per frame (16)")
        parser.add_argument(
            "--transports",
            type=listed(choice_of(("inproc", "tcp"))),
            default=("inproc", "tcp"),
            help="inproc,tcp",
        )

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[Shape]]:
        messages = args.messages or (2_000 if args.quick else 100_000)
        shape = f"{messages:,} messages of {args.frames} x {args.size} B per trial"
        workloads = [
            Workload(
                transport,
                f"PUSH -> proxy -> PULL over {transport}",
                "msg/s",
                Shape(transport, messages, args.frames, args.size, args.timeout),
                transport,
                detail=shape,
            )
            for transport in args.transports
        ]
        workloads.append(
            Workload(
                "step",
                "the forwarding step alone",
                "µs per message",
                Shape("inproc", messages, 1, 16, args.timeout),
                "step",
                higher_is_better=False,
                fmt=",.2f",
                detail=f"{messages:,} messages of 1 x 16 B per trial",
            )
        )
        return workloads

    def applies(self, workload: Workload[Shape], impl: Implementation[Run]) -> bool:
        return (workload.key == "step") == (impl in STEPS)

    def trial(
        self, plan: Plan[Shape], workload: Workload[Shape], impl: Implementation[Run]
    ) -> float:
        return impl.run(workload.params)

    def child(self, argv: Sequence[str]) -> int:
        """A producer or consumer of a tcp trial."""
        role, address, count, frames, size, timeout = argv
        ctx: zmq.Context[Any] = zmq.Context()
        try:
            if role == "produce":
                message = [b"x" * int(size)] * int(frames)
                produce(ctx, address, int(count), message, float(timeout))
            else:
                print(consume(ctx, address, int(count), int(frames), float(timeout)))
        finally:
            ctx.term()
        return 0


SET = ProxySet()
