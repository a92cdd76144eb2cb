"""The implementations ``trio-zmq bench`` compares, one section each.

Every implementation runs the same workload shapes, each a *trial*: a
function that takes a :class:`Job` and returns a :class:`Measurement`.

* ``recv``: the peer PUSHes ``warmup + messages`` messages; the trial
  connects a PULL, receives the warm-up message(s) untimed, then times the
  next ``messages`` receives -- first to last message at the receiver.
* ``send``: the peer PULLs; the trial connects a PUSH, sends the warm-up
  message untimed (with ZMQ_IMMEDIATE it only goes out once the connection
  is up), then times ``messages`` sends -- first to last send returning.
* ``reqrep``: the peer is a blocking REP echo; the trial connects a REQ and
  times each of ``messages`` round trips after ``warmup`` untimed ones.

After the timed part, a trial waits for the peer's report that it is done
(``job.peer_done``) before it closes its socket, so every socket can close
with LINGER 0: libzmq may drop messages that a receiver has not read yet
when the other side disconnects (over ipc, while the receiver is at its
high-water mark), so neither side closes before the other has everything.

The async implementations share one loop per shape (:func:`receive_n`,
:func:`send_n`, :func:`round_trips`), so they differ only in the calls they
make.  Only the trio_zmq channel trial spells its receive loop out, because
``async for`` is what it measures.

Every trial is bounded: after ``job.timeout`` seconds (or, for blocking
pyzmq, that long without progress) it raises :exc:`TrialTimeout` instead of
waiting for a peer that may never answer.  Timeouts are set up once per
trial, never per message, so they cost nothing in the timed loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import trio
import zmq
import zmq.asyncio

import trio_zmq

_NOBLOCK = int(zmq.NOBLOCK)

#: Messages a memory channel buffers: ZeroMQ's default high-water mark.
MEMORY_CHANNEL_BUFFER = 1000


class TrialTimeout(Exception):
    """A trial ran out of time: the peer is stuck, dead or too slow."""


@dataclasses.dataclass(frozen=True)
class Job:
    """One trial's work.  ``address`` is the peer's endpoint ("" if no peer)."""

    address: str
    messages: int
    warmup: int
    size: int
    timeout: float
    #: Blocks until the peer reports its job done (bounded by the timeout).
    peer_done: Callable[[], None] = lambda: None

    @property
    def payload(self) -> bytes:
        return b"x" * self.size


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What one trial measured: the timed span, and each round trip for reqrep."""

    messages: int
    seconds: float
    round_trips_ns: tuple[int, ...] = ()


Trial = Callable[[Job], Measurement]


@dataclasses.dataclass(frozen=True)
class Implementation:
    """One column of the comparison.

    ``trials`` maps each workload kind it implements to its trial; ``missing``
    says why it cannot run here (then the table shows that reason instead).
    """

    key: str
    label: str
    uses_peer: bool
    trials: Mapping[str, Trial]
    missing: str | None = None
    #: What the table says for a workload kind without a trial.
    no_trial: str = "n/a (not implemented)"


# ----------------------------------------------------------------------
# The shared loops
# ----------------------------------------------------------------------


def _timed_out(job: Job) -> TrialTimeout:
    return TrialTimeout(
        f"the trial took more than {job.timeout:g} s: is the peer stuck? (--timeout sets the limit)"
    )


async def receive_n(receive: Callable[[], Awaitable[object]], job: Job) -> Measurement:
    for _ in range(job.warmup):
        await receive()
    started = time.perf_counter()
    for _ in range(job.messages):
        await receive()
    return Measurement(job.messages, time.perf_counter() - started)


async def send_n(send: Callable[[Any], Awaitable[object]], message: Any, job: Job) -> Measurement:
    for _ in range(job.warmup):
        await send(message)
    started = time.perf_counter()
    for _ in range(job.messages):
        await send(message)
    return Measurement(job.messages, time.perf_counter() - started)


async def round_trips(
    send: Callable[[Any], Awaitable[object]],
    receive: Callable[[], Awaitable[object]],
    message: Any,
    job: Job,
) -> Measurement:
    for _ in range(job.warmup):
        await send(message)
        await receive()
    clock = time.perf_counter_ns
    latencies: list[int] = []
    started = clock()
    for _ in range(job.messages):
        sent = clock()
        await send(message)
        await receive()
        latencies.append(clock() - sent)
    return Measurement(job.messages, (clock() - started) / 1e9, tuple(latencies))


def _receive_n_blocking(receive: Callable[[], object], job: Job) -> Measurement:
    for _ in range(job.warmup):
        receive()
    started = time.perf_counter()
    for _ in range(job.messages):
        receive()
    return Measurement(job.messages, time.perf_counter() - started)


def _send_n_blocking(send: Callable[[bytes], object], job: Job) -> Measurement:
    payload = job.payload
    for _ in range(job.warmup):
        send(payload)
    started = time.perf_counter()
    for _ in range(job.messages):
        send(payload)
    return Measurement(job.messages, time.perf_counter() - started)


def _round_trips_blocking(
    send: Callable[[bytes], object], receive: Callable[[], object], job: Job
) -> Measurement:
    payload = job.payload
    for _ in range(job.warmup):
        send(payload)
        receive()
    clock = time.perf_counter_ns
    latencies: list[int] = []
    started = clock()
    for _ in range(job.messages):
        sent = clock()
        send(payload)
        receive()
        latencies.append(clock() - sent)
    return Measurement(job.messages, (clock() - started) / 1e9, tuple(latencies))


# ----------------------------------------------------------------------
# Sockets: the bench side connects, the peer has bound
# ----------------------------------------------------------------------

#: The socket type the trial connects, per workload kind.
SOCKET_TYPES: Mapping[str, int] = {"recv": zmq.PULL, "send": zmq.PUSH, "reqrep": zmq.REQ}


def _prepare(sock: zmq.Socket[Any] | trio_zmq.Socket, kind: str, job: Job) -> None:
    """Options every implementation sets alike, then connect."""
    # The trial closes only once the peer has everything (see the top).
    sock.linger = 0
    if kind == "send":
        # Queue nothing before the connection is up: the warm-up waits for
        # it.  Only here: with ZMQ_IMMEDIATE a disconnect drops what was
        # received but not yet read, such as the last reply of a peer that
        # has just closed its socket.
        sock.immediate = 1
    sock.connect(job.address)


@contextlib.contextmanager
def _blocking_socket(kind: str, job: Job) -> Iterator[zmq.Socket[bytes]]:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        sock = ctx.socket(SOCKET_TYPES[kind])
        try:
            _prepare(sock, kind, job)
            yield sock
            job.peer_done()
        finally:
            sock.close()
    finally:
        ctx.term()


# ----------------------------------------------------------------------
# raw: pyzmq with NOBLOCK in a busy loop -- the limit
# ----------------------------------------------------------------------


def _spin_until(deadline: float, job: Job) -> None:
    if time.perf_counter() > deadline:
        raise _timed_out(job)


def _raw_recv(job: Job) -> Measurement:
    with _blocking_socket("recv", job) as sock:
        recv = sock.recv
        deadline = time.perf_counter() + job.timeout

        def receive() -> None:
            while True:
                try:
                    recv(_NOBLOCK)
                except zmq.Again:
                    _spin_until(deadline, job)
                else:
                    return

        return _receive_n_blocking(receive, job)


def _raw_send(job: Job) -> Measurement:
    with _blocking_socket("send", job) as sock:
        send = sock.send
        deadline = time.perf_counter() + job.timeout

        def send_one(payload: bytes) -> None:
            while True:
                try:
                    send(payload, _NOBLOCK)
                except zmq.Again:
                    _spin_until(deadline, job)
                else:
                    return

        return _send_n_blocking(send_one, job)


def _raw_reqrep(job: Job) -> Measurement:
    with _blocking_socket("reqrep", job) as sock:
        send, recv = sock.send, sock.recv
        deadline = time.perf_counter() + job.timeout

        def send_one(payload: bytes) -> None:
            while True:
                try:
                    send(payload, _NOBLOCK)
                except zmq.Again:
                    _spin_until(deadline, job)
                else:
                    return

        def receive() -> None:
            while True:
                try:
                    recv(_NOBLOCK)
                except zmq.Again:
                    _spin_until(deadline, job)
                else:
                    return

        return _round_trips_blocking(send_one, receive, job)


RAW = Implementation(
    "raw",
    "raw pyzmq (NOBLOCK busy loop)",
    uses_peer=True,
    trials={"recv": _raw_recv, "send": _raw_send, "reqrep": _raw_reqrep},
)


# ----------------------------------------------------------------------
# blocking pyzmq: plain recv() / send()
# ----------------------------------------------------------------------


@contextlib.contextmanager
def _blocking_timeouts(job: Job) -> Iterator[None]:
    try:
        yield
    except zmq.Again:
        raise TrialTimeout(
            f"no progress for {job.timeout:g} s: is the peer stuck? (--timeout sets the limit)"
        ) from None


def _with_timeouts(sock: zmq.Socket[bytes], job: Job) -> None:
    # RCVTIMEO / SNDTIMEO bound each call, the only way to bound a blocking
    # loop without adding work to it: a stall fails, a slow run does not.
    sock.rcvtimeo = sock.sndtimeo = int(job.timeout * 1000)


def _blocking_recv(job: Job) -> Measurement:
    with _blocking_socket("recv", job) as sock, _blocking_timeouts(job):
        _with_timeouts(sock, job)
        return _receive_n_blocking(sock.recv, job)


def _blocking_send(job: Job) -> Measurement:
    with _blocking_socket("send", job) as sock, _blocking_timeouts(job):
        _with_timeouts(sock, job)
        return _send_n_blocking(sock.send, job)


def _blocking_reqrep(job: Job) -> Measurement:
    with _blocking_socket("reqrep", job) as sock, _blocking_timeouts(job):
        _with_timeouts(sock, job)
        return _round_trips_blocking(sock.send, sock.recv, job)


BLOCKING = Implementation(
    "blocking",
    "blocking pyzmq",
    uses_peer=True,
    trials={"recv": _blocking_recv, "send": _blocking_send, "reqrep": _blocking_reqrep},
)


# ----------------------------------------------------------------------
# trio: a deadline for the whole trial
# ----------------------------------------------------------------------


def _run_trio(trial: Callable[[Job], Awaitable[Measurement]], job: Job) -> Measurement:
    async def bounded() -> Measurement:
        with trio.move_on_after(job.timeout):
            return await trial(job)
        raise _timed_out(job)

    return trio.run(bounded)


# ----------------------------------------------------------------------
# trio memory channel: no zmq, one checkpoint per call -- the trio floor
# ----------------------------------------------------------------------
#
# As the project defines this row, both ends are tasks in the same trio thread, so the figure
# includes the partner task's work too: a producer for ``recv``, a consumer
# for ``send``, an echo task for ``reqrep``.  With zmq that partner is the
# peer process, on the other core.  The "1 task" variant below takes the
# partner out, leaving one memory-channel call -- one checkpoint -- per
# message and nothing else.


async def _memory_recv(job: Job) -> Measurement:
    tx, rx = trio.open_memory_channel[bytes](MEMORY_CHANNEL_BUFFER)

    async def produce() -> None:
        payload = job.payload
        async with tx:
            for _ in range(job.warmup + job.messages):
                await tx.send(payload)

    async with trio.open_nursery() as nursery, rx:
        nursery.start_soon(produce)
        return await receive_n(rx.receive, job)


async def _memory_send(job: Job) -> Measurement:
    tx, rx = trio.open_memory_channel[bytes](MEMORY_CHANNEL_BUFFER)

    async def consume() -> None:
        async with rx:
            async for _ in rx:
                pass

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        async with tx:
            return await send_n(tx.send, job.payload, job)


async def _memory_reqrep(job: Job) -> Measurement:
    request_tx, request_rx = trio.open_memory_channel[bytes](MEMORY_CHANNEL_BUFFER)
    reply_tx, reply_rx = trio.open_memory_channel[bytes](MEMORY_CHANNEL_BUFFER)

    async def echo() -> None:
        async with request_rx, reply_tx:
            async for request in request_rx:
                await reply_tx.send(request)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo)
        async with request_tx:
            return await round_trips(request_tx.send, reply_rx.receive, job.payload, job)


MEMORY_CHANNEL = Implementation(
    "memory_channel",
    "memory channel, 2 tasks",
    uses_peer=False,
    trials={
        "recv": lambda job: _run_trio(_memory_recv, job),
        "send": lambda job: _run_trio(_memory_send, job),
        "reqrep": lambda job: _run_trio(_memory_reqrep, job),
    },
)


async def _memory_recv_alone(job: Job) -> Measurement:
    """Receive from a channel filled beforehand: no producer while timed."""
    tx, rx = trio.open_memory_channel[bytes](job.warmup + job.messages)
    payload = job.payload
    with tx, rx:
        for _ in range(job.warmup + job.messages):
            tx.send_nowait(payload)
        return await receive_n(rx.receive, job)


async def _memory_send_alone(job: Job) -> Measurement:
    """Send into a channel with room for everything: no consumer while timed."""
    tx, rx = trio.open_memory_channel[bytes](job.warmup + job.messages)
    with tx, rx:
        return await send_n(tx.send, job.payload, job)


MEMORY_CHANNEL_ALONE = Implementation(
    "memory_channel_1task",
    "memory channel, 1 task",
    uses_peer=False,
    trials={
        "recv": lambda job: _run_trio(_memory_recv_alone, job),
        "send": lambda job: _run_trio(_memory_send_alone, job),
    },
    no_trial="n/a (a round trip needs a second task)",
)


# ----------------------------------------------------------------------
# trio_zmq: per-message calls, and channel views
# ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _trio_zmq_socket(kind: str, job: Job) -> Any:
    async with trio_zmq.Context() as ctx:
        sock = ctx.socket(SOCKET_TYPES[kind])
        _prepare(sock, kind, job)
        yield sock
        await trio.to_thread.run_sync(job.peer_done)


async def _trio_zmq_recv(job: Job) -> Measurement:
    async with _trio_zmq_socket("recv", job) as sock:
        return await receive_n(sock.recv, job)


async def _trio_zmq_send(job: Job) -> Measurement:
    async with _trio_zmq_socket("send", job) as sock:
        return await send_n(sock.send, job.payload, job)


async def _trio_zmq_reqrep(job: Job) -> Measurement:
    async with _trio_zmq_socket("reqrep", job) as sock:
        return await round_trips(sock.send, sock.recv, job.payload, job)


TRIO_ZMQ = Implementation(
    "trio_zmq",
    "trio_zmq per-message",
    uses_peer=True,
    trials={
        "recv": lambda job: _run_trio(_trio_zmq_recv, job),
        "send": lambda job: _run_trio(_trio_zmq_send, job),
        "reqrep": lambda job: _run_trio(_trio_zmq_reqrep, job),
    },
)


async def _channels_recv(job: Job) -> Measurement:
    async with _trio_zmq_socket("recv", job) as sock, sock.receive_channel() as messages:
        received = 0
        started = time.perf_counter()
        async for _ in messages:
            received += 1
            if received == job.warmup:
                started = time.perf_counter()
            elif received == job.warmup + job.messages:
                break
        return Measurement(job.messages, time.perf_counter() - started)


async def _channels_send(job: Job) -> Measurement:
    async with _trio_zmq_socket("send", job) as sock, sock.send_channel() as out:
        return await send_n(out.send, [job.payload], job)


async def _channels_reqrep(job: Job) -> Measurement:
    async with (
        _trio_zmq_socket("reqrep", job) as sock,
        sock.send_channel() as requests,
        sock.receive_channel() as replies,
    ):
        return await round_trips(requests.send, replies.receive, [job.payload], job)


TRIO_ZMQ_CHANNELS = Implementation(
    "trio_zmq_channels",
    "trio_zmq channels",
    uses_peer=True,
    trials={
        "recv": lambda job: _run_trio(_channels_recv, job),
        "send": lambda job: _run_trio(_channels_send, job),
        "reqrep": lambda job: _run_trio(_channels_reqrep, job),
    },
)


# ----------------------------------------------------------------------
# zmq.asyncio: pyzmq's own asyncio integration -- the baseline
# ----------------------------------------------------------------------


def _run_asyncio(trial: Callable[[Job], Awaitable[Measurement]], job: Job) -> Measurement:
    async def bounded() -> Measurement:
        try:
            return await asyncio.wait_for(trial(job), job.timeout)
        except asyncio.TimeoutError:
            raise _timed_out(job) from None

    return asyncio.run(bounded())


@contextlib.asynccontextmanager
async def _asyncio_socket(kind: str, job: Job) -> AsyncIterator[zmq.asyncio.Socket]:
    ctx = zmq.asyncio.Context()
    try:
        sock = ctx.socket(SOCKET_TYPES[kind])
        try:
            _prepare(sock, kind, job)
            yield sock
            await asyncio.get_running_loop().run_in_executor(None, job.peer_done)
        finally:
            sock.close()
    finally:
        ctx.term()


async def _asyncio_recv(job: Job) -> Measurement:
    async with _asyncio_socket("recv", job) as sock:
        return await receive_n(sock.recv, job)


async def _asyncio_send(job: Job) -> Measurement:
    async with _asyncio_socket("send", job) as sock:
        return await send_n(sock.send, job.payload, job)


async def _asyncio_reqrep(job: Job) -> Measurement:
    async with _asyncio_socket("reqrep", job) as sock:
        return await round_trips(sock.send, sock.recv, job.payload, job)


ZMQ_ASYNCIO = Implementation(
    "zmq_asyncio",
    "zmq.asyncio",
    uses_peer=True,
    trials={
        "recv": lambda job: _run_asyncio(_asyncio_recv, job),
        "send": lambda job: _run_asyncio(_asyncio_send, job),
        "reqrep": lambda job: _run_asyncio(_asyncio_reqrep, job),
    },
)


# ----------------------------------------------------------------------
# zmq-anyio (optional, on anyio's trio backend)
# ----------------------------------------------------------------------
#
# Imported by name: it is not a dependency, and may not be installed.  Its
# ``async with socket`` starts the library's own background task.


def _zmq_anyio() -> Any:
    try:
        return importlib.import_module("zmq_anyio")
    except ImportError:
        return None


@contextlib.asynccontextmanager
async def _zmq_anyio_socket(kind: str, job: Job) -> Any:
    zmq_anyio = _zmq_anyio()
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        zsock = ctx.socket(SOCKET_TYPES[kind])
        try:
            _prepare(zsock, kind, job)
            async with zmq_anyio.Socket(zsock) as sock:
                yield sock
                await trio.to_thread.run_sync(job.peer_done)
        finally:
            zsock.close()
    finally:
        await trio.to_thread.run_sync(ctx.term)


async def _zmq_anyio_recv(job: Job) -> Measurement:
    async with _zmq_anyio_socket("recv", job) as sock:
        return await receive_n(sock.arecv, job)


async def _zmq_anyio_send(job: Job) -> Measurement:
    async with _zmq_anyio_socket("send", job) as sock:
        return await send_n(sock.asend, job.payload, job)


async def _zmq_anyio_reqrep(job: Job) -> Measurement:
    async with _zmq_anyio_socket("reqrep", job) as sock:
        return await round_trips(sock.asend, sock.arecv, job.payload, job)


ZMQ_ANYIO = Implementation(
    "zmq_anyio",
    "zmq-anyio (trio backend)",
    uses_peer=True,
    trials={
        "recv": lambda job: _run_trio(_zmq_anyio_recv, job),
        "send": lambda job: _run_trio(_zmq_anyio_send, job),
        "reqrep": lambda job: _run_trio(_zmq_anyio_reqrep, job),
    },
    missing=None if _zmq_anyio() is not None else "skipped (not installed)",
)


# ----------------------------------------------------------------------
# Not implemented yet
# ----------------------------------------------------------------------

TRIO_ZMQ_ON_ASYNCIO = Implementation(
    "trio_zmq_asyncio",
    "trio_zmq on asyncio",
    uses_peer=True,
    trials={},
    missing="n/a (issue 4)",
)


#: In table order.  Each round runs them in this order, rotated by one.
IMPLEMENTATIONS = (
    RAW,
    BLOCKING,
    MEMORY_CHANNEL,
    MEMORY_CHANNEL_ALONE,
    TRIO_ZMQ,
    TRIO_ZMQ_CHANNELS,
    ZMQ_ASYNCIO,
    ZMQ_ANYIO,
    TRIO_ZMQ_ON_ASYNCIO,
)
