"""``python -m benchmarks costs``: what one call costs, in process, against its floor.

The bench (``python -m benchmarks bench``) measures throughput against a peer process,
where libzmq's I/O threads and the peer share the machine's cores with the
measured loop.  This measures the other side: microseconds per call in one
process and one task, over inproc, with the messages already queued (for
receives) or room for all of them (for sends), so that nothing waits and
only the call's own cost is left.  Each loop is compared with its
reference:

* receive and send: trio's memory channel with one task (one channel call
  per message), and the *floor*: trio's cancel point, the raw non-blocking
  pyzmq call, trio's schedule point -- the least a trio call can do;
* zmq.asyncio on asyncio, and trio_zmq on asyncio;
* batches: the raw pyzmq loop (receive) and blocking pyzmq (send), with no
  event loop at all.

A figure is the *fastest* of many short samples (2 000 calls each): on a
shared machine the minimum filters out the moments the CPU was taken away,
which is what makes medians of longer runs swing.  Rounds repeat every loop
in turn; the table gives the best round and the median of the rounds.
docs/performance.md ("After the trimming") quotes a run.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio
import zmq
import zmq.asyncio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled

from trio_zmq import Socket

from .progress import progress

PROG = "python -m benchmarks costs"
PAYLOAD = b"x" * 64
_NOBLOCK = int(zmq.NOBLOCK)


@dataclass(frozen=True)
class Sizes:
    calls: int  # per sample
    samples: int  # per loop and round


FULL = Sizes(calls=2_000, samples=40)
QUICK = Sizes(calls=200, samples=3)


@dataclass(frozen=True)
class Loop:
    name: str
    #: The loop this one is compared with (None: it is a reference).
    reference: str | None
    #: Runs the loop's samples; returns the best µs per call.
    measure: Callable[[zmq.Context[Any], Sizes], float]


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


def _pipe_loop(
    run: Callable[[Callable[[], Awaitable[float]]], float],
    make_call: _MakeCall,
    *,
    receive: bool,
) -> Callable[[zmq.Context[Any], Sizes], float]:
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
            return run(lambda: _best(sizes, call, before))
        finally:
            pipe.close()

    return measure


def _receive_loop(
    run: Callable[[Callable[[], Awaitable[float]]], float], make_call: _MakeCall
) -> Callable[[zmq.Context[Any], Sizes], float]:
    return _pipe_loop(run, make_call, receive=True)


def _send_loop(
    run: Callable[[Callable[[], Awaitable[float]]], float], make_call: _MakeCall
) -> Callable[[zmq.Context[Any], Sizes], float]:
    return _pipe_loop(run, make_call, receive=False)


def _emptier(pipe: _Pipe, sizes: Sizes) -> Callable[[], None]:
    """Before each send sample: receive what the previous one sent."""
    sent = 0

    def empty() -> None:
        nonlocal sent
        pipe.drain(sent)
        sent = sizes.calls

    return empty


def _on_trio(job: Callable[[], Awaitable[float]]) -> float:
    return trio.run(job)


def _on_asyncio(job: Callable[[], Awaitable[float]]) -> float:
    async def main() -> float:
        return await job()

    return asyncio.run(main())


# -- the calls ------------------------------------------------------------


def _memory_receive(zctx: zmq.Context[Any], sizes: Sizes) -> float:
    async def job() -> float:
        tx, rx = trio.open_memory_channel[bytes](sizes.calls)

        def fill() -> None:
            for _ in range(sizes.calls):
                tx.send_nowait(PAYLOAD)

        return await _best(sizes, rx.receive, fill)

    return trio.run(job)


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

    return trio.run(job)


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
        return trio.run(job)
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
        return trio.run(job)
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


_MEMORY_RECEIVE = "memory channel receive (1 task)"
_MEMORY_SEND = "memory channel send (1 task)"
_ZMQ_ASYNCIO_RECV = "zmq.asyncio recv()"
_RAW_RECEIVE = "raw pyzmq recv(NOBLOCK) loop"
_BLOCKING_SEND = "blocking pyzmq send loop"

LOOPS = (
    Loop(_MEMORY_RECEIVE, None, _memory_receive),
    Loop("floor: receive", _MEMORY_RECEIVE, _receive_loop(_on_trio, _floor_receive)),
    Loop("trio_zmq recv()", _MEMORY_RECEIVE, _receive_loop(_on_trio, _socket_call("recv"))),
    Loop(
        "trio_zmq recv_multipart()",
        _MEMORY_RECEIVE,
        _receive_loop(_on_trio, _socket_call("recv_multipart")),
    ),
    Loop("trio_zmq channel receive()", _MEMORY_RECEIVE, _receive_loop(_on_trio, _channel_receive)),
    Loop(_ZMQ_ASYNCIO_RECV, None, _receive_loop(_on_asyncio, _zmq_asyncio_recv)),
    Loop(
        "trio_zmq recv() on asyncio",
        _ZMQ_ASYNCIO_RECV,
        _receive_loop(_on_asyncio, _socket_call("recv")),
    ),
    Loop(_MEMORY_SEND, None, _memory_send),
    Loop("floor: send", _MEMORY_SEND, _send_loop(_on_trio, _floor_send)),
    Loop("trio_zmq send()", _MEMORY_SEND, _send_loop(_on_trio, _socket_call("send", PAYLOAD))),
    Loop(
        "trio_zmq send_multipart()",
        _MEMORY_SEND,
        _send_loop(_on_trio, _socket_call("send_multipart", [PAYLOAD])),
    ),
    Loop("trio_zmq channel send()", _MEMORY_SEND, _send_loop(_on_trio, _channel_send)),
    Loop("zmq.asyncio send()", None, _send_loop(_on_asyncio, _zmq_asyncio_send)),
    Loop(_RAW_RECEIVE, None, _raw_receive),
    Loop("trio_zmq recv_batch(1024), per message", _RAW_RECEIVE, _batch_receive),
    Loop(_BLOCKING_SEND, None, _blocking_send),
    Loop("trio_zmq send_batch(), per message", _BLOCKING_SEND, _batch_send),
)


def measure(
    rounds: int, sizes: Sizes, progress: Callable[[str], None] = lambda _line: None
) -> dict[str, list[float]]:
    """{loop name: [best µs per call, one per round]}, loops in turn.

    Args:
      rounds: how many times every loop runs.
      sizes: calls per sample and samples per loop and round.
      progress: called with a line of text after every round.
    """
    results: dict[str, list[float]] = {loop.name: [] for loop in LOOPS}
    with zmq.Context() as zctx:
        for round_index in range(rounds):
            started = time.perf_counter()
            for loop in LOOPS:
                results[loop.name].append(loop.measure(zctx, sizes))
            progress(
                f"  round {round_index + 1}/{rounds} done in {time.perf_counter() - started:.1f} s"
            )
    return results


def render(results: dict[str, list[float]]) -> str:
    """One line per loop: best and median µs per call, and the speed ratio
    to its reference (best over best)."""
    width = max(len(name) for name in results)
    lines = [f"{'loop':<{width}} {'best µs':>8} {'median µs':>10}  speed vs reference (best)"]
    for loop in LOOPS:
        times = results[loop.name]
        best = min(times)
        line = f"{loop.name:<{width}} {best:>8.2f} {statistics.median(times):>10.2f}"
        if loop.reference is not None:
            line += f"  {min(results[loop.reference]) / best:.2f}x {loop.reference}"
        lines.append(line)
    return "\n".join(lines)


def main(rounds: int, quick: bool) -> int:
    """``python -m benchmarks costs``: the table on stdout, progress on stderr."""
    sizes = QUICK if quick else FULL
    progress(
        f"{PROG}: {len(LOOPS)} loops, {rounds} rounds of {sizes.samples} samples "
        f"of {sizes.calls} calls"
    )
    print(render(measure(rounds, sizes, progress)))
    return 0
