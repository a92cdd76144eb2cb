"""``python -m benchmarks costs``: what one call costs, in process, against its floor.

The bench (``python -m benchmarks bench``) measures throughput against a peer process,
where libzmq's I/O threads and the peer share the machine's cores with the
measured loop.  This measures the other side: microseconds per call in one
process and one task, over inproc, with the messages already queued (for
receives) or room for all of them (for sends), so that nothing waits and
only the call's own cost is left.  Two workloads, receive and send, each
call made by every implementation, compared with three baselines:

* trio's memory channel with one task (one channel call per message); the
  *floor* row is the least a trio call can do: trio's cancel point, the raw
  non-blocking pyzmq call, trio's schedule point;
* zmq.asyncio on asyncio (and trio_zmq on asyncio beside it);
* pyzmq with no event loop at all: a NOBLOCK receive loop, a blocking send
  loop (the batch calls' reference).

A trial's figure is the *fastest* of many short samples (2 000 calls each):
on a shared machine the minimum filters out the moments the CPU was taken
away, which is what makes medians of longer runs swing.  The framework
quotes the median over the rounds and the best round.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, final

import trio
import zmq
import zmq.asyncio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled

from trio_zmq import Socket

from . import loops
from .framework import Implementation, Plan, Trial, Workload, WorkloadSet

PAYLOAD = b"x" * 64
_NOBLOCK = int(zmq.NOBLOCK)


@dataclass(frozen=True)
class Sizes:
    calls: int  # per sample
    samples: int  # per trial
    #: Seconds a trial may take.
    timeout: float = 60.0


FULL = Sizes(calls=2_000, samples=40)
QUICK = Sizes(calls=200, samples=3)

#: Runs one implementation's samples of one call; returns the best µs per call.
Measure = Callable[[zmq.Context[Any], Sizes], float]


class _Pipe:
    """A PUSH -> PULL pair over inproc, unbounded, on a plain pyzmq context."""

    count = 0

    def __init__(self, zctx: zmq.Context[Any]) -> None:
        _Pipe.count += 1
        address = f"inproc://trio-zmq-costs-{_Pipe.count}"
        self.pull: zmq.Socket[Any] = zctx.socket(zmq.PULL)
        self.push: zmq.Socket[Any] = zctx.socket(zmq.PUSH)
        self.pull.rcvhwm = self.push.sndhwm = 0
        self.pull.bind(address)
        self.push.connect(address)
        self._wrappers: list[Socket] = []

    def wrap(self, zsock: zmq.Socket[Any]) -> Socket:
        """A trio_zmq wrapper of one end, closed with the pipe."""
        sock = Socket.from_socket(zsock)
        self._wrappers.append(sock)
        return sock

    def fill(self, count: int) -> None:
        for _ in range(count):
            self.push.send(PAYLOAD)

    def drain(self, count: int) -> None:
        for _ in range(count):
            self.pull.recv()

    def close(self) -> None:
        # Through the wrappers first: they own their engine's registration.
        for sock in self._wrappers:
            sock.close(linger=0)
        self.pull.close(linger=0)
        self.push.close(linger=0)


async def _best(
    sizes: Sizes, call: Callable[[], Awaitable[object]], before: Callable[[], None]
) -> float:
    """Fastest sample of ``sizes.calls`` awaited calls, in µs per call;
    ``before`` runs untimed ahead of each sample."""
    best = math.inf
    for _ in range(sizes.samples):
        before()
        start = time.perf_counter()
        for _ in range(sizes.calls):
            await call()
        best = min(best, time.perf_counter() - start)
    return best / sizes.calls * 1e6


#: Makes the timed call for one end of a pipe.
_MakeCall = Callable[["_Pipe", zmq.Socket[Any]], Callable[[], Awaitable[object]]]


def _pipe_loop(run: loops.Loop[float], make_call: _MakeCall, *, receive: bool) -> Measure:
    """Under ``run``: receive from a pipe filled before each sample, or
    send into one emptied before each sample."""

    def measure(zctx: zmq.Context[Any], sizes: Sizes) -> float:
        pipe = _Pipe(zctx)
        try:
            if receive:
                call = make_call(pipe, pipe.pull)
                before: Callable[[], None] = lambda: pipe.fill(sizes.calls)  # noqa: E731
            else:
                call = make_call(pipe, pipe.push)
                before = _emptier(pipe, sizes)
            return run(lambda: _best(sizes, call, before), sizes.timeout)
        finally:
            pipe.close()

    return measure


def _receive_loop(run: loops.Loop[float], make_call: _MakeCall) -> Measure:
    return _pipe_loop(run, make_call, receive=True)


def _send_loop(run: loops.Loop[float], make_call: _MakeCall) -> Measure:
    return _pipe_loop(run, make_call, receive=False)


def _emptier(pipe: _Pipe, sizes: Sizes) -> Callable[[], None]:
    """Before each send sample: receive what the previous one sent."""
    sent = 0

    def empty() -> None:
        nonlocal sent
        pipe.drain(sent)
        sent = sizes.calls

    return empty


# -- the calls ------------------------------------------------------------


def _memory_receive(zctx: zmq.Context[Any], sizes: Sizes) -> float:
    async def job() -> float:
        tx, rx = trio.open_memory_channel[bytes](sizes.calls)

        def fill() -> None:
            for _ in range(sizes.calls):
                tx.send_nowait(PAYLOAD)

        return await _best(sizes, rx.receive, fill)

    return loops.on_trio(job, sizes.timeout)


def _memory_send(zctx: zmq.Context[Any], sizes: Sizes) -> float:
    async def job() -> float:
        tx, rx = trio.open_memory_channel[bytes](sizes.calls)

        def drain() -> None:
            while True:
                try:
                    rx.receive_nowait()
                except trio.WouldBlock:
                    return

        return await _best(sizes, lambda: tx.send(PAYLOAD), drain)

    return loops.on_trio(job, sizes.timeout)


def _floor_receive(pipe: _Pipe, zsock: zmq.Socket[Any]) -> Callable[[], Awaitable[object]]:
    recv = zsock.recv

    async def call() -> object:
        await checkpoint_if_cancelled()
        message = recv(_NOBLOCK)
        await cancel_shielded_checkpoint()
        return message

    return call


def _floor_send(pipe: _Pipe, zsock: zmq.Socket[Any]) -> Callable[[], Awaitable[object]]:
    send = zsock.send

    async def call() -> object:
        await checkpoint_if_cancelled()
        send(PAYLOAD, _NOBLOCK)
        await cancel_shielded_checkpoint()
        return None

    return call


def _sync_best(sizes: Sizes, call: Callable[[], object], before: Callable[[], None]) -> float:
    best = math.inf
    for _ in range(sizes.samples):
        before()
        start = time.perf_counter()
        for _ in range(sizes.calls):
            call()
        best = min(best, time.perf_counter() - start)
    return best / sizes.calls * 1e6


def _raw_receive(zctx: zmq.Context[Any], sizes: Sizes) -> float:
    pipe = _Pipe(zctx)
    try:
        return _sync_best(sizes, lambda: pipe.pull.recv(_NOBLOCK), lambda: pipe.fill(sizes.calls))
    finally:
        pipe.close()


def _blocking_send(zctx: zmq.Context[Any], sizes: Sizes) -> float:
    pipe = _Pipe(zctx)
    try:
        return _sync_best(sizes, lambda: pipe.push.send(PAYLOAD), _emptier(pipe, sizes))
    finally:
        pipe.close()


def _batch_receive(zctx: zmq.Context[Any], sizes: Sizes) -> float:
    """µs per message of ``recv_batch(1024)`` over one sample's messages."""
    pipe = _Pipe(zctx)
    sock = pipe.wrap(pipe.pull)

    async def job() -> float:
        async def all_of_them() -> None:
            got = 0
            while got < sizes.calls:
                got += len(await sock.recv_batch(1024))

        sample = Sizes(calls=1, samples=sizes.samples)
        return await _best(sample, all_of_them, lambda: pipe.fill(sizes.calls)) / sizes.calls

    try:
        return loops.on_trio(job, sizes.timeout)
    finally:
        pipe.close()


def _batch_send(zctx: zmq.Context[Any], sizes: Sizes) -> float:
    """µs per message of ``send_batch`` with one sample's messages."""
    pipe = _Pipe(zctx)
    sock = pipe.wrap(pipe.push)
    batch = [[PAYLOAD]] * sizes.calls

    async def job() -> float:
        async def all_of_them() -> None:
            sent = 0
            while sent < len(batch):
                sent += await sock.send_batch(batch[sent:])

        sample = Sizes(calls=1, samples=sizes.samples)
        return await _best(sample, all_of_them, _emptier(pipe, sizes)) / sizes.calls

    try:
        return loops.on_trio(job, sizes.timeout)
    finally:
        pipe.close()


def _socket_call(method: str, *args: Any) -> _MakeCall:
    def make(pipe: _Pipe, zsock: zmq.Socket[Any]) -> Callable[[], Awaitable[object]]:
        bound = getattr(pipe.wrap(zsock), method)
        return lambda: bound(*args)

    return make


def _channel_receive(pipe: _Pipe, zsock: zmq.Socket[Any]) -> Callable[[], Awaitable[object]]:
    return pipe.wrap(zsock).receive_channel().receive


def _channel_send(pipe: _Pipe, zsock: zmq.Socket[Any]) -> Callable[[], Awaitable[object]]:
    send = pipe.wrap(zsock).send_channel().send
    return lambda: send([PAYLOAD])


def _zmq_asyncio_recv(pipe: _Pipe, zsock: zmq.Socket[Any]) -> Callable[[], Awaitable[object]]:
    return zmq.asyncio.Socket.from_socket(zsock).recv


def _zmq_asyncio_send(pipe: _Pipe, zsock: zmq.Socket[Any]) -> Callable[[], Awaitable[object]]:
    send = zmq.asyncio.Socket.from_socket(zsock).send
    return lambda: send(PAYLOAD)


def _calls(receive: Measure | None, send: Measure | None) -> dict[str, Measure]:
    """An implementation's measures, by workload."""
    measures = {"receive": receive, "send": send}
    return {key: measure for key, measure in measures.items() if measure is not None}


_on_trio: loops.Loop[float] = loops.on_trio
_on_asyncio: loops.Loop[float] = loops.on_asyncio

#: In table order.  Each round runs them in this order, rotated by one.
IMPLEMENTATIONS: tuple[Implementation[Mapping[str, Measure]], ...] = (
    Implementation(
        "memory_channel_1task", "memory channel (1 task)", _calls(_memory_receive, _memory_send)
    ),
    Implementation(
        "floor",
        "floor: trio checkpoints around NOBLOCK pyzmq",
        _calls(_receive_loop(_on_trio, _floor_receive), _send_loop(_on_trio, _floor_send)),
    ),
    Implementation(
        "trio_zmq",
        "trio_zmq recv() / send()",
        _calls(
            _receive_loop(_on_trio, _socket_call("recv")),
            _send_loop(_on_trio, _socket_call("send", PAYLOAD)),
        ),
    ),
    Implementation(
        "trio_zmq_multipart",
        "trio_zmq recv_multipart() / send_multipart()",
        _calls(
            _receive_loop(_on_trio, _socket_call("recv_multipart")),
            _send_loop(_on_trio, _socket_call("send_multipart", [PAYLOAD])),
        ),
    ),
    Implementation(
        "trio_zmq_channels",
        "trio_zmq channel receive() / send()",
        _calls(_receive_loop(_on_trio, _channel_receive), _send_loop(_on_trio, _channel_send)),
    ),
    Implementation(
        "trio_zmq_batch",
        "trio_zmq recv_batch(1024) / send_batch(), per message",
        _calls(_batch_receive, _batch_send),
    ),
    Implementation(
        "zmq_asyncio",
        "zmq.asyncio recv() / send()",
        _calls(
            _receive_loop(_on_asyncio, _zmq_asyncio_recv),
            _send_loop(_on_asyncio, _zmq_asyncio_send),
        ),
    ),
    Implementation(
        "trio_zmq_asyncio",
        "trio_zmq recv() on asyncio",
        _calls(_receive_loop(_on_asyncio, _socket_call("recv")), None),
    ),
    Implementation(
        "pyzmq",
        "pyzmq, no loop: recv(NOBLOCK) / blocking send",
        _calls(_raw_receive, _blocking_send),
    ),
)


@final
class CostsSet(WorkloadSet[Sizes, Mapping[str, Measure]]):
    name = "costs"
    help = "microseconds per call in one process, against trio's floor and zmq.asyncio"
    description = (
        "Microseconds per call in one process and one task, nothing waiting: every way "
        "to receive and to send, against a trio memory channel, zmq.asyncio and pyzmq "
        "without an event loop."
    )
    implementations = IMPLEMENTATIONS
    baselines = (
        ("memory_channel_1task", "vs memory"),
        ("zmq_asyncio", "vs asyncio"),
        ("pyzmq", "vs pyzmq"),
    )
    quick_help = "a smoke run: 3 samples of 200 calls per trial"

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[Sizes]]:
        preset = QUICK if args.quick else FULL
        sizes = Sizes(preset.calls, preset.samples, args.timeout)
        detail = f"fastest of {sizes.samples} samples of {sizes.calls} calls"
        return [
            Workload(
                key,
                f"{key} a 64 B message, {nothing}, over inproc",
                "µs per call",
                sizes,
                key,
                higher_is_better=False,
                fmt=",.2f",
                detail=detail,
            )
            for key, nothing in (
                ("receive", "already queued"),
                ("send", "with room for it"),
            )
        ]

    @contextlib.contextmanager
    def session(self, plan: Plan[Sizes]) -> Iterator[Trial[Sizes, Mapping[str, Measure]]]:
        """One pyzmq context for the run's pipes."""
        with zmq.Context() as zctx:
            yield lambda workload, impl: impl.run[workload.key](zctx, workload.params)

    def applies(
        self, workload: Workload[Sizes], impl: Implementation[Mapping[str, Measure]]
    ) -> bool:
        return workload.key in impl.run


SET = CostsSet()
