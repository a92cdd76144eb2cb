"""The implementations ``python -m benchmarks bench`` compares, one section each.

Every implementation runs the same workload shapes, each a *trial*: a
function that takes a :class:`Job` and returns a :class:`Measurement`.  The
workload kind is ``job.kind``:

* ``recv``: the peer PUSHes ``warmup + messages`` messages; the trial
  connects a PULL, receives the warm-up message(s) untimed, then times the
  next ``messages`` receives -- first to last message at the receiver.
* ``send``: the peer PULLs; the trial connects a PUSH, sends the warm-up
  message untimed (with ZMQ_IMMEDIATE it only goes out once the connection
  is up), then times ``messages`` sends -- first to last send returning.
* ``reqrep`` and ``dealer``: the peer is a blocking REP (or ROUTER) echo;
  the trial connects a REQ (or DEALER) and times each of ``messages`` round
  trips after ``warmup`` untimed ones.
* ``pubsub``: the peer is an XPUB; the trial connects ``job.sockets`` SUB
  sockets, each received by its own task (one loop over all of them for
  the busy loop); the peer waits until all have subscribed, then publishes.
  Timed: from the first subscriber past its warm-up to the last one done,
  for ``sockets * messages`` deliveries.
* ``idle``: ``job.sockets`` DEALERs connected to one ROUTER echo; a task
  is parked in a receive on every one but the last, through which the
  ``reqrep`` round trips run: the wake-up cost with that many idle sockets.
* ``rss``: ``recv``, also reporting how much the process's resident memory
  grew over the timed part.

An implementation without a trial for a kind has no row in that table,
unless its ``no_trial`` says why.

After the timed part, a trial waits for the peer's report that it is done
(``job.peer_done``) before it closes its socket, so every socket can close
with LINGER 0: libzmq may drop messages that a receiver has not read yet
when the other side disconnects (over ipc, while the receiver is at its
high-water mark), so neither side closes before the other has everything.
For inproc, the peer is a thread bound on the trial's own context: every
trial hands its pyzmq context to ``job.attach`` before it connects.

The async implementations share one loop per shape (:func:`receive_n`,
:func:`send_n`, :func:`round_trips`, and the batch loops), so they differ
only in the calls they make.  Only the trio_zmq channel trial spells its
receive loop out, because ``async for`` is what it measures.  The trio_zmq
trials are written once over a :class:`Runtime`, so that "trio_zmq on
asyncio" and "trio_zmq channels on asyncio" run exactly the code of the
trio_zmq and trio_zmq channels rows: a row of trio_zmq
trials on another runtime is ``implementation(KEY, LABEL,
on_runtime(RUNTIME, TRIALS))`` in ``IMPLEMENTATIONS``.

Every trial is bounded: after ``job.timeout`` seconds (or, for blocking
pyzmq, that long without progress) it raises :exc:`TrialTimeout` instead of
waiting for a peer that may never answer.  Timeouts are set up once per
trial, never per message, so they cost nothing in the timed loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import importlib
import resource
import sys
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import trio
import zmq
import zmq.asyncio

import trio_zmq

from . import loops
from .framework import Implementation, TrialTimeout, timed_out

_NOBLOCK = int(zmq.NOBLOCK)

#: Messages a memory channel buffers: ZeroMQ's default high-water mark.
MEMORY_CHANNEL_BUFFER = 1000
#: Messages per batch call: recv_batch's default ``max_items``.
BATCH = 1024


@dataclasses.dataclass(frozen=True)
class Job:
    """One trial's work.  ``address`` is the peer's endpoint ("" if no peer)."""

    kind: str
    address: str
    messages: int
    warmup: int
    size: int
    timeout: float
    #: How many sockets the trial opens: subscribers (pubsub), or all the
    #: sockets, idle ones and the active one (idle).
    sockets: int = 1
    #: Blocks until the peer reports its job done (bounded by the timeout).
    peer_done: Callable[[], None] = lambda: None
    #: Called with the trial's pyzmq context before it connects: a peer
    #: thread binds its inproc endpoint there.
    attach: Callable[[zmq.Context[Any]], None] = lambda _context: None

    @property
    def payload(self) -> bytes:
        return b"x" * self.size


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What one trial measured: the timed span, and each round trip for latency.

    ``started`` is the ``time.perf_counter()`` the span began at (to merge
    subscribers); ``rss_growth`` the resident memory gained over the span,
    in bytes, for the ``rss`` kind.
    """

    messages: int
    seconds: float
    round_trips_ns: tuple[int, ...] = ()
    started: float = 0.0
    rss_growth: int | None = None


Trial = Callable[[Job], Measurement]
#: A socket of the trial's kind: pyzmq's, zmq.asyncio's or trio_zmq's.
S = TypeVar("S", bound="zmq.Socket[Any] | trio_zmq.Socket")
#: A trial's coroutine function, for an event loop to run.
AsyncTrial = Callable[[Job], Awaitable[Measurement]]


@dataclasses.dataclass(frozen=True)
class Trials:
    """How one implementation runs each workload kind it implements."""

    trials: Mapping[str, Trial]
    #: Whether it talks to the peer (else it has no zmq, and no inproc rows).
    uses_peer: bool = True
    #: What the table says for a workload kind without a trial; kinds not
    #: listed leave the row out.
    no_trial: Mapping[str, str] = dataclasses.field(default_factory=dict)


def implementation(
    key: str,
    label: str,
    trials: Mapping[str, Trial],
    *,
    uses_peer: bool = True,
    no_trial: Mapping[str, str] | None = None,
    missing: str | None = None,
) -> Implementation[Trials]:
    """A row of the bench's tables."""
    return Implementation(key, label, Trials(trials, uses_peer, no_trial or {}), missing)


# ----------------------------------------------------------------------
# The shared loops
# ----------------------------------------------------------------------


def rss_bytes() -> int:
    """The process's resident set size now (Linux), else its peak so far."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _rss_mark(job: Job) -> int | None:
    """Read RSS at the start of the timed part, for the ``rss`` kind only."""
    return rss_bytes() if job.kind == "rss" else None


def _measured(job: Job, messages: int, started: float, rss_before: int | None) -> Measurement:
    """The measurement of a span that began at ``started`` and ends now."""
    seconds = time.perf_counter() - started
    growth = None if rss_before is None else rss_bytes() - rss_before
    return Measurement(messages, seconds, started=started, rss_growth=growth)


def merged(parts: Sequence[Measurement]) -> Measurement:
    """Parallel spans as one: every message, from the first start to the last end."""
    start = min(part.started for part in parts)
    end = max(part.started + part.seconds for part in parts)
    return Measurement(sum(part.messages for part in parts), end - start, started=start)


async def receive_n(receive: Callable[[], Awaitable[object]], job: Job) -> Measurement:
    for _ in range(job.warmup):
        await receive()
    rss_before = _rss_mark(job)
    started = time.perf_counter()
    for _ in range(job.messages):
        await receive()
    return _measured(job, job.messages, started, rss_before)


async def send_n(send: Callable[[Any], Awaitable[object]], message: Any, job: Job) -> Measurement:
    for _ in range(job.warmup):
        await send(message)
    started = time.perf_counter()
    for _ in range(job.messages):
        await send(message)
    return _measured(job, job.messages, started, None)


async def receive_batches(
    receive: Callable[[], Awaitable[object]],
    receive_batch: Callable[[], Awaitable[Sequence[object]]],
    job: Job,
) -> Measurement:
    """As :func:`receive_n`, a batch per call (the warm-up one by one)."""
    for _ in range(job.warmup):
        await receive()
    rss_before = _rss_mark(job)
    started = time.perf_counter()
    received = 0
    while received < job.messages:  # the peer sends no more than that
        received += len(await receive_batch())
    return _measured(job, job.messages, started, rss_before)


async def send_batches(
    send_batch: Callable[[Sequence[Any]], Awaitable[int]], message: Any, job: Job
) -> Measurement:
    """As :func:`send_n`, offering up to ``BATCH`` messages per call.

    Each call sends the prefix the socket takes now; the loop offers the
    rest again, as ``send_all`` does.
    """
    for _ in range(job.warmup):
        await send_batch([message])
    full = [message] * min(BATCH, job.messages)
    started = time.perf_counter()
    remaining = job.messages
    while remaining:
        remaining -= await send_batch(full if remaining >= len(full) else full[:remaining])
    return _measured(job, job.messages, started, None)


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


async def park(receive: Callable[[], Awaitable[object]]) -> None:
    """An idle socket's task: waits in a receive, for ever (nothing comes)."""
    while True:
        await receive()


def _receive_n_blocking(receive: Callable[[], object], job: Job) -> Measurement:
    for _ in range(job.warmup):
        receive()
    rss_before = _rss_mark(job)
    started = time.perf_counter()
    for _ in range(job.messages):
        receive()
    return _measured(job, job.messages, started, rss_before)


def _send_n_blocking(send: Callable[[bytes], object], job: Job) -> Measurement:
    payload = job.payload
    for _ in range(job.warmup):
        send(payload)
    started = time.perf_counter()
    for _ in range(job.messages):
        send(payload)
    return _measured(job, job.messages, started, None)


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
SOCKET_TYPES: Mapping[str, int] = {
    "recv": zmq.PULL,
    "send": zmq.PUSH,
    "reqrep": zmq.REQ,
    "dealer": zmq.DEALER,
    "pubsub": zmq.SUB,
    "idle": zmq.DEALER,
    "rss": zmq.PULL,
}


def _allow_sockets(zctx: zmq.Context[Any], job: Job) -> None:
    """Lift libzmq's limit of 1023 sockets per context if the job needs more."""
    if job.sockets > 512:
        zctx.set(zmq.MAX_SOCKETS, job.sockets + 64)


def _prepare(sock: zmq.Socket[Any] | trio_zmq.Socket, job: Job) -> None:
    """Options every implementation sets alike, then connect."""
    zsock = sock.zmq_socket if isinstance(sock, trio_zmq.Socket) else sock
    job.attach(zsock.context)
    # The trial closes only once the peer has everything (see the top).
    sock.linger = 0
    if job.kind == "send":
        # Queue nothing before the connection is up: the warm-up waits for
        # it.  Only here: with ZMQ_IMMEDIATE a disconnect drops what was
        # received but not yet read, such as the last reply of a peer that
        # has just closed its socket.
        sock.immediate = 1
    elif job.kind == "pubsub":
        # No high-water mark, so that no message is dropped (the peer has
        # none either), and everything subscribed.
        sock.rcvhwm = 0
        sock.subscribe(b"")
    sock.connect(job.address)


def _open_sockets(
    zctx: zmq.Context[Any], make: Callable[[int], S], job: Job, sockets: list[S]
) -> None:
    """Add ``job.sockets`` sockets made by ``make``, connected, to
    ``sockets`` (whoever holds the list closes them, even after a failure)."""
    _allow_sockets(zctx, job)
    for _ in range(job.sockets):
        sockets.append(make(SOCKET_TYPES[job.kind]))
        _prepare(sockets[-1], job)


@contextlib.contextmanager
def _blocking_sockets(job: Job) -> Iterator[list[zmq.Socket[bytes]]]:
    """``job.sockets`` connected pyzmq sockets (usually ``as [sock]``)."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sockets: list[zmq.Socket[bytes]] = []
    try:
        _open_sockets(ctx, ctx.socket, job, sockets)
        yield sockets
        job.peer_done()
    finally:
        for sock in sockets:
            sock.close()
        ctx.term()


# ----------------------------------------------------------------------
# raw: pyzmq with NOBLOCK in a busy loop -- the limit
# ----------------------------------------------------------------------


def _spin_until(deadline: float, job: Job) -> None:
    if time.perf_counter() > deadline:
        raise timed_out(job.timeout)


def _spinning_receive(sock: zmq.Socket[bytes], job: Job) -> Callable[[], None]:
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

    return receive


def _spinning_send(sock: zmq.Socket[bytes], job: Job) -> Callable[[bytes], None]:
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

    return send_one


def _raw_recv(job: Job) -> Measurement:
    with _blocking_sockets(job) as [sock]:
        return _receive_n_blocking(_spinning_receive(sock, job), job)


def _raw_send(job: Job) -> Measurement:
    with _blocking_sockets(job) as [sock]:
        return _send_n_blocking(_spinning_send(sock, job), job)


def _raw_round_trips(job: Job) -> Measurement:
    with _blocking_sockets(job) as [sock]:
        return _round_trips_blocking(_spinning_send(sock, job), _spinning_receive(sock, job), job)


def _raw_fan_in(job: Job) -> Measurement:
    """Every subscriber in one busy loop: one NOBLOCK receive each per pass."""
    with _blocking_sockets(job) as sockets:
        for sock in sockets:
            receive = _spinning_receive(sock, job)
            for _ in range(job.warmup):
                receive()
        receivers = [sock.recv for sock in sockets]
        left = [job.messages] * len(sockets)
        pending = list(range(len(sockets)))
        deadline = time.perf_counter() + job.timeout
        started = time.perf_counter()
        while pending:
            for index in pending:
                try:
                    receivers[index](_NOBLOCK)
                except zmq.Again:
                    continue
                left[index] -= 1
            pending = [index for index in pending if left[index]]
            _spin_until(deadline, job)
        return _measured(job, job.sockets * job.messages, started, None)


RAW = implementation(
    "raw",
    "raw pyzmq (NOBLOCK busy loop)",
    {
        "recv": _raw_recv,
        "send": _raw_send,
        "reqrep": _raw_round_trips,
        "dealer": _raw_round_trips,
        "pubsub": _raw_fan_in,
        "rss": _raw_recv,
    },
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
    with _blocking_sockets(job) as [sock], _blocking_timeouts(job):
        _with_timeouts(sock, job)
        return _receive_n_blocking(sock.recv, job)


def _blocking_send(job: Job) -> Measurement:
    with _blocking_sockets(job) as [sock], _blocking_timeouts(job):
        _with_timeouts(sock, job)
        return _send_n_blocking(sock.send, job)


def _blocking_round_trips(job: Job) -> Measurement:
    with _blocking_sockets(job) as [sock], _blocking_timeouts(job):
        _with_timeouts(sock, job)
        return _round_trips_blocking(sock.send, sock.recv, job)


BLOCKING = implementation(
    "blocking",
    "blocking pyzmq",
    {
        "recv": _blocking_recv,
        "send": _blocking_send,
        "reqrep": _blocking_round_trips,
        "dealer": _blocking_round_trips,
    },
)


def _on(run: Callable[[AsyncTrial, Job], Measurement], **trials: AsyncTrial) -> dict[str, Trial]:
    """``trials`` by workload kind, each run by ``run``."""
    return {kind: functools.partial(run, trial) for kind, trial in trials.items()}


def _run_trio(trial: Callable[[Job], Awaitable[Measurement]], job: Job) -> Measurement:
    return loops.on_trio(functools.partial(trial, job), job.timeout)


# ----------------------------------------------------------------------
# trio memory channel: no zmq, one checkpoint per call -- the trio floor
# ----------------------------------------------------------------------
#
# Both ends are tasks in the same trio thread, so the figure
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


MEMORY_CHANNEL = implementation(
    "memory_channel",
    "memory channel, 2 tasks",
    _on(_run_trio, recv=_memory_recv, send=_memory_send, reqrep=_memory_reqrep),
    uses_peer=False,
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


MEMORY_CHANNEL_ALONE = implementation(
    "memory_channel_1task",
    "memory channel, 1 task",
    _on(_run_trio, recv=_memory_recv_alone, send=_memory_send_alone),
    uses_peer=False,
    no_trial={"reqrep": "n/a (a round trip needs a second task)"},
)


# ----------------------------------------------------------------------
# trio_zmq: per-message calls, batches, and channel views
# ----------------------------------------------------------------------
#
# The trials take a Runtime as well as the job: the trio one here, and the
# anyio-on-asyncio one of the "on asyncio" rows.  trio's nursery and
# anyio's task group have the same start_soon / cancel_scope shape, so one
# body serves both.


#: A trio_zmq trial: one body, on the runtime it is given.
RuntimeTrial = Callable[["Runtime", Job], Awaitable[Measurement]]


@dataclasses.dataclass(frozen=True)
class Runtime:
    """What a trio_zmq trial needs from the event loop it runs on."""

    #: Runs ``trial(runtime, job)`` to completion under the job's deadline.
    run: Callable[[Callable[[Runtime, Job], Awaitable[Measurement]], Job], Measurement]
    to_thread: Callable[[Callable[[], None]], Awaitable[None]]
    open_task_group: Callable[[], AbstractAsyncContextManager[Any]]


async def _to_thread_trio(function: Callable[[], None]) -> None:
    await trio.to_thread.run_sync(function)


def _run_trio_runtime(
    trial: Callable[[Runtime, Job], Awaitable[Measurement]], job: Job
) -> Measurement:
    return loops.on_trio(functools.partial(trial, TRIO, job), job.timeout)


TRIO = Runtime(_run_trio_runtime, _to_thread_trio, trio.open_nursery)


async def gather(
    runtime: Runtime, functions: Sequence[Callable[[], Awaitable[Measurement]]]
) -> list[Measurement]:
    """Run ``functions`` as concurrent tasks; their results, in order."""
    results: list[Measurement | None] = [None] * len(functions)

    async def run_one(index: int) -> None:
        results[index] = await functions[index]()

    async with runtime.open_task_group() as group:
        for index in range(len(functions)):
            group.start_soon(run_one, index)
    return [result for result in results if result is not None]


async def beside_parked(
    runtime: Runtime,
    idle: Sequence[Callable[[], Awaitable[object]]],
    measure: Callable[[], Awaitable[Measurement]],
) -> Measurement:
    """``measure()`` while a task is parked in each of the ``idle`` receives."""
    async with runtime.open_task_group() as group:
        for receive in idle:
            group.start_soon(park, receive)
        measurement = await measure()
        group.cancel_scope.cancel()
    return measurement


@contextlib.asynccontextmanager
async def _trio_zmq_sockets(runtime: Runtime, job: Job) -> AsyncIterator[list[trio_zmq.Socket]]:
    """``job.sockets`` connected trio_zmq sockets (usually ``as [sock]``)."""
    async with trio_zmq.Context() as ctx:
        sockets: list[trio_zmq.Socket] = []
        _open_sockets(ctx.zmq_context, ctx.socket, job, sockets)
        yield sockets
        await runtime.to_thread(job.peer_done)


async def _trio_zmq_recv(runtime: Runtime, job: Job) -> Measurement:
    async with _trio_zmq_sockets(runtime, job) as [sock]:
        return await receive_n(sock.recv, job)


async def _trio_zmq_send(runtime: Runtime, job: Job) -> Measurement:
    async with _trio_zmq_sockets(runtime, job) as [sock]:
        return await send_n(sock.send, job.payload, job)


async def _trio_zmq_round_trips(runtime: Runtime, job: Job) -> Measurement:
    async with _trio_zmq_sockets(runtime, job) as [sock]:
        return await round_trips(sock.send, sock.recv, job.payload, job)


async def _trio_zmq_fan_in(runtime: Runtime, job: Job) -> Measurement:
    async with _trio_zmq_sockets(runtime, job) as sockets:
        subscribers = [functools.partial(receive_n, sock.recv, job) for sock in sockets]
        return merged(await gather(runtime, subscribers))


async def _trio_zmq_idle(runtime: Runtime, job: Job) -> Measurement:
    async with _trio_zmq_sockets(runtime, job) as sockets:
        *idle, active = sockets
        measure = functools.partial(round_trips, active.send, active.recv, job.payload, job)
        return await beside_parked(runtime, [sock.recv for sock in idle], measure)


def on_runtime(runtime: Runtime, trials: Mapping[str, RuntimeTrial]) -> dict[str, Trial]:
    """``trials`` (one body for every event loop), run on ``runtime``."""
    return {kind: functools.partial(runtime.run, trial) for kind, trial in trials.items()}


#: The per-message trials.
TRIO_ZMQ_TRIALS: Mapping[str, RuntimeTrial] = {
    "recv": _trio_zmq_recv,
    "send": _trio_zmq_send,
    "reqrep": _trio_zmq_round_trips,
    "dealer": _trio_zmq_round_trips,
    "pubsub": _trio_zmq_fan_in,
    "idle": _trio_zmq_idle,
    "rss": _trio_zmq_recv,
}

TRIO_ZMQ = implementation("trio_zmq", "trio_zmq per-message", on_runtime(TRIO, TRIO_ZMQ_TRIALS))


def on_trio(key: str, label: str, **trials: RuntimeTrial) -> Implementation[Trials]:
    """A trio_zmq row on trio: its trials by workload kind."""
    return implementation(key, label, on_runtime(TRIO, trials))


async def _batch_recv(runtime: Runtime, job: Job) -> Measurement:
    async with _trio_zmq_sockets(runtime, job) as [sock]:
        return await receive_batches(sock.recv, functools.partial(sock.recv_batch, BATCH), job)


async def _batch_send(runtime: Runtime, job: Job) -> Measurement:
    async with _trio_zmq_sockets(runtime, job) as [sock]:
        return await send_batches(sock.send_batch, [job.payload], job)


async def _batch_fan_in(runtime: Runtime, job: Job) -> Measurement:
    async with _trio_zmq_sockets(runtime, job) as sockets:
        subscribers = [
            functools.partial(
                receive_batches, sock.recv, functools.partial(sock.recv_batch, BATCH), job
            )
            for sock in sockets
        ]
        return merged(await gather(runtime, subscribers))


TRIO_ZMQ_BATCH = on_trio(
    "trio_zmq_batch",
    "trio_zmq batch",
    recv=_batch_recv,
    send=_batch_send,
    pubsub=_batch_fan_in,
    rss=_batch_recv,
)


@contextlib.asynccontextmanager
async def _receive_channel(
    runtime: Runtime, job: Job
) -> AsyncIterator[trio_zmq.MessageReceiveChannel[Any]]:
    """A connected trio_zmq socket's receive channel."""
    async with _trio_zmq_sockets(runtime, job) as [sock], sock.receive_channel() as messages:
        yield messages


async def _channels_recv(runtime: Runtime, job: Job) -> Measurement:
    async with _receive_channel(runtime, job) as messages:
        received = 0
        started = time.perf_counter()
        async for _ in messages:
            received += 1
            if received == job.warmup:
                started = time.perf_counter()
            elif received == job.warmup + job.messages:
                break
        return _measured(job, job.messages, started, None)


async def _channels_send(runtime: Runtime, job: Job) -> Measurement:
    async with _trio_zmq_sockets(runtime, job) as [sock], sock.send_channel() as out:
        return await send_n(out.send, [job.payload], job)


async def _channels_round_trips(runtime: Runtime, job: Job) -> Measurement:
    async with (
        _trio_zmq_sockets(runtime, job) as [sock],
        sock.send_channel() as requests,
        sock.receive_channel() as replies,
    ):
        return await round_trips(requests.send, replies.receive, [job.payload], job)


#: The channel views' per-message trials.
CHANNEL_TRIALS: Mapping[str, RuntimeTrial] = {
    "recv": _channels_recv,
    "send": _channels_send,
    "reqrep": _channels_round_trips,
    "dealer": _channels_round_trips,
}

TRIO_ZMQ_CHANNELS = implementation(
    "trio_zmq_channels", "trio_zmq channels", on_runtime(TRIO, CHANNEL_TRIALS)
)


async def _channel_batch_recv(runtime: Runtime, job: Job) -> Measurement:
    async with _receive_channel(runtime, job) as messages:
        receive_batch = functools.partial(messages.receive_batch, BATCH)
        return await receive_batches(messages.receive, receive_batch, job)


async def _channel_batch_send(runtime: Runtime, job: Job) -> Measurement:
    async with _trio_zmq_sockets(runtime, job) as [sock], sock.send_channel() as out:
        return await send_batches(out.send_batch, [job.payload], job)


TRIO_ZMQ_CHANNEL_BATCH = on_trio(
    "trio_zmq_channel_batch",
    "trio_zmq channels, batch",
    recv=_channel_batch_recv,
    send=_channel_batch_send,
)


# ----------------------------------------------------------------------
# zmq.asyncio: pyzmq's own asyncio integration -- the baseline
# ----------------------------------------------------------------------


def _run_asyncio(trial: Callable[[Job], Awaitable[Measurement]], job: Job) -> Measurement:
    return loops.on_asyncio(functools.partial(trial, job), job.timeout)


@contextlib.asynccontextmanager
async def _asyncio_sockets(job: Job) -> AsyncIterator[list[zmq.asyncio.Socket]]:
    """``job.sockets`` connected zmq.asyncio sockets (usually ``as [sock]``)."""
    ctx = zmq.asyncio.Context()
    sockets: list[zmq.asyncio.Socket] = []
    try:
        _open_sockets(ctx, ctx.socket, job, sockets)
        yield sockets
        await asyncio.get_running_loop().run_in_executor(None, job.peer_done)
    finally:
        for sock in sockets:
            sock.close()
        ctx.term()


async def _asyncio_recv(job: Job) -> Measurement:
    async with _asyncio_sockets(job) as [sock]:
        return await receive_n(sock.recv, job)


async def _asyncio_send(job: Job) -> Measurement:
    async with _asyncio_sockets(job) as [sock]:
        return await send_n(sock.send, job.payload, job)


async def _asyncio_round_trips(job: Job) -> Measurement:
    async with _asyncio_sockets(job) as [sock]:
        return await round_trips(sock.send, sock.recv, job.payload, job)


async def _asyncio_fan_in(job: Job) -> Measurement:
    async with _asyncio_sockets(job) as sockets:
        return merged(await asyncio.gather(*(receive_n(sock.recv, job) for sock in sockets)))


async def _asyncio_idle(job: Job) -> Measurement:
    async with _asyncio_sockets(job) as sockets:
        *idle, active = sockets
        parked = [asyncio.ensure_future(park(sock.recv)) for sock in idle]
        try:
            return await round_trips(active.send, active.recv, job.payload, job)
        finally:
            for task in parked:
                task.cancel()
            await asyncio.gather(*parked, return_exceptions=True)


ZMQ_ASYNCIO = implementation(
    "zmq_asyncio",
    "zmq.asyncio",
    _on(
        _run_asyncio,
        recv=_asyncio_recv,
        send=_asyncio_send,
        reqrep=_asyncio_round_trips,
        dealer=_asyncio_round_trips,
        pubsub=_asyncio_fan_in,
        idle=_asyncio_idle,
    ),
)


# ----------------------------------------------------------------------
# zmq-anyio (optional, on anyio's trio backend)
# ----------------------------------------------------------------------
#
# Imported by name: it is not a dependency, and may not be installed.  Its
# ``async with socket`` starts the library's own background task.


def _optional_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


@contextlib.asynccontextmanager
async def _zmq_anyio_socket(job: Job) -> Any:
    zmq_anyio = _optional_module("zmq_anyio")
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        zsock = ctx.socket(SOCKET_TYPES[job.kind])
        try:
            _prepare(zsock, job)
            async with zmq_anyio.Socket(zsock) as sock:
                yield sock
                await trio.to_thread.run_sync(job.peer_done)
        finally:
            zsock.close()
    finally:
        await trio.to_thread.run_sync(ctx.term)


async def _zmq_anyio_recv(job: Job) -> Measurement:
    async with _zmq_anyio_socket(job) as sock:
        return await receive_n(sock.arecv, job)


async def _zmq_anyio_send(job: Job) -> Measurement:
    async with _zmq_anyio_socket(job) as sock:
        return await send_n(sock.asend, job.payload, job)


async def _zmq_anyio_round_trips(job: Job) -> Measurement:
    async with _zmq_anyio_socket(job) as sock:
        return await round_trips(sock.asend, sock.arecv, job.payload, job)


ZMQ_ANYIO = implementation(
    "zmq_anyio",
    "zmq-anyio (trio backend)",
    _on(
        _run_trio,
        recv=_zmq_anyio_recv,
        send=_zmq_anyio_send,
        reqrep=_zmq_anyio_round_trips,
        dealer=_zmq_anyio_round_trips,
    ),
    missing=None if _optional_module("zmq_anyio") is not None else "skipped (not installed)",
)


# ----------------------------------------------------------------------
# trio_zmq on asyncio: the trio_zmq rows' code under anyio.run(backend="asyncio")
# ----------------------------------------------------------------------


def _run_anyio_asyncio(
    trial: Callable[[Runtime, Job], Awaitable[Measurement]], job: Job
) -> Measurement:
    return loops.on_anyio_asyncio(functools.partial(trial, ANYIO_ASYNCIO, job), job.timeout)


async def _to_thread_anyio(function: Callable[[], None]) -> None:
    await anyio.to_thread.run_sync(function)


ANYIO_ASYNCIO = Runtime(_run_anyio_asyncio, _to_thread_anyio, anyio.create_task_group)

TRIO_ZMQ_ON_ASYNCIO = implementation(
    "trio_zmq_asyncio",
    "trio_zmq on asyncio (anyio)",
    on_runtime(
        ANYIO_ASYNCIO,
        # The memory question is about trio_zmq itself.
        {kind: trial for kind, trial in TRIO_ZMQ_TRIALS.items() if kind != "rss"},
    ),
)

TRIO_ZMQ_CHANNELS_ON_ASYNCIO = implementation(
    "trio_zmq_channels_asyncio",
    "trio_zmq channels on asyncio (anyio)",
    on_runtime(ANYIO_ASYNCIO, CHANNEL_TRIALS),
)


#: In table order.  Each round runs them in this order, rotated by one.
IMPLEMENTATIONS = (
    RAW,
    BLOCKING,
    MEMORY_CHANNEL,
    MEMORY_CHANNEL_ALONE,
    TRIO_ZMQ,
    TRIO_ZMQ_BATCH,
    TRIO_ZMQ_CHANNELS,
    TRIO_ZMQ_CHANNEL_BATCH,
    ZMQ_ASYNCIO,
    TRIO_ZMQ_ON_ASYNCIO,
    TRIO_ZMQ_CHANNELS_ON_ASYNCIO,
    ZMQ_ANYIO,
)
