"""``python -m benchmarks wake``: wake-up-bound services, in one process.

The bench (``python -m benchmarks bench``) measures one busy socket against a
peer process.  Real applications are services whose tasks mostly wait: a
message arrives, a parked task wakes, answers, and parks again.  This runs
such shapes, each in one process and one event loop, with three
implementations side by side:

* ``trio_zmq``: its public API only (:class:`trio_zmq.Context`,
  ``Socket.recv``/``send``/``recv_multipart``/``send_multipart``), on trio;
* ``zmq.asyncio``: pyzmq's own asyncio sockets, on asyncio (the baseline of
  the ratios);
* ``naive trio loop``: the floor of what a trio call can cost -- one task per
  socket, each call ``trio.lowlevel.checkpoint_if_cancelled()``, the
  non-blocking pyzmq call, and on ``zmq.Again`` a look at ZMQ_EVENTS and, if
  the socket is still not ready, ``trio.lowlevel.wait_readable`` on ZMQ_FD
  before trying again; every call ends with
  ``trio.lowlevel.cancel_shielded_checkpoint()``, so every call is a
  checkpoint as trio's rule asks.  That includes a call that parked, as
  trio_zmq's do: without that schedule point a consumer woken by its
  producer takes the next message in the same step, drains the producer's
  backlog and then parks for every message (docs/design.md, "Waiting costs
  what a plain loop costs"), so both implementations keep it and the ratio
  measures the machinery, not a scheduling difference.  It is correct only
  with one task per socket, which is all these shapes use.

The workloads (``--jobs`` each, 20 000 by default):

* ``pipeline``: a ventilator task (PUSH) -> N worker tasks (each its own PULL
  from the ventilator and its own PUSH to the sink) -> the sink (PULL), for
  N = 1, 4 and 16, over inproc and over tcp on 127.0.0.1; jobs/s from the
  first job sent to the last one collected, once every worker is connected;
* ``ping-pong``: two tasks bounce a message over an inproc PAIR; round
  trips/s.  On asyncio every receive parks; on trio, where every send is a
  schedule point, the other task often answers before the receive is made,
  and only about one receive per round trip parks;
* ``ring``: a message goes round a ring of 3 tasks, each receiving from the
  one before it and sending to the one after it over its own inproc PAIR;
  hops/s.  Here every receive parks on every implementation (its message
  needs the two other tasks first), so a hop is one park-and-wake cycle
  with a send and a receive: the report quotes it in microseconds, beside
  the naive loop's;
* ``fan-in``: 16 sender tasks, each with its own PUSH, into one PULL
  receiver task; messages/s;
* ``router``: a server task answering on a ROUTER socket, and 16 client
  tasks, each with its own DEALER, each parked in its request -> reply
  loop; requests/s.

Everything but the tcp pipelines runs over inproc.  The ratios are against
zmq.asyncio and against the naive loop.  Every trial has a deadline
(``--timeout``) and fails with a clear message rather than hang.

The workloads are written once against :class:`Api` (sockets, their calls,
tasks): an implementation is an ``Api`` and the loop it runs on,
``Implementation(KEY, LABEL, runner(LOOP, OPEN_API))`` in
``IMPLEMENTATIONS``; a workload is a function ``(api, jobs) -> rate`` in
:func:`workloads`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, cast, final

import trio
import zmq
import zmq.asyncio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled, wait_readable

import trio_zmq

from . import loops
from .arguments import positive_int
from .framework import Implementation, Plan, Tables, Workload, WorkloadSet, find_row

PAYLOAD = b"x" * 64
#: What warms up a pipeline (the workers answer it like any job).
WARMUP = b"warm-up"
#: Worker tasks of the pipelines.
PIPELINE_WORKERS = (1, 4, 16)
#: Sender tasks of fan-in, client tasks of the router, tasks of the ring.
FAN_IN_SENDERS = 16
ROUTER_CLIENTS = 16
RING_TASKS = 3

BASELINE = "zmq_asyncio"
SUBJECT = "trio_zmq"
FLOOR = "naive"

_NOBLOCK = int(zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)


# ----------------------------------------------------------------------
# What the workloads are written against
# ----------------------------------------------------------------------


class Endpoint(Protocol):
    """The part of a socket the workloads use directly: where it connects."""

    def bind(self, addr: str) -> object: ...
    def connect(self, addr: str) -> object: ...
    def bind_to_random_port(self, addr: str) -> int: ...


class Group(Protocol):
    """The tasks of a workload: a trio nursery, or its equivalent on asyncio.

    Leaving the ``async with`` block waits for every task started in it;
    :meth:`cancel` ends the ones that wait forever (workers, servers).
    """

    def start(self, function: Callable[..., Awaitable[object]], *args: Any) -> None: ...
    def cancel(self) -> None: ...


#: A socket's call, bound once before the loop that makes it.
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[Any]]


class Api(Protocol):
    """One implementation's sockets and tasks, inside its event loop."""

    def socket(self, socket_type: int) -> Endpoint: ...
    def receiver(self, sock: Any) -> Receive: ...
    def sender(self, sock: Any) -> Send: ...
    def multipart_receiver(self, sock: Any) -> Receive: ...
    def multipart_sender(self, sock: Any) -> Send: ...
    def group(self) -> AbstractAsyncContextManager[Group]: ...
    async def sleep(self, seconds: float) -> None: ...


#: A workload's body: runs under an implementation, returns its rate per second.
Body = Callable[[Api], Awaitable[float]]
#: Runs a body in a fresh event loop and context, within a deadline
#: (seconds); raises TrialTimeout when it passes.
Runner = Callable[[Body, float], float]
#: A workload's shape: (api, jobs) -> rate per second.
Shape = Callable[[Api, int], Awaitable[float]]


# -- on trio --------------------------------------------------------------


class _TrioGroup:
    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery

    def start(self, function: Callable[..., Awaitable[object]], *args: Any) -> None:
        self._nursery.start_soon(function, *args)

    def cancel(self) -> None:
        self._nursery.cancel_scope.cancel()


class _OnTrio:
    """Tasks and sleeps on trio, for the two trio implementations."""

    @asynccontextmanager
    async def group(self) -> AsyncIterator[Group]:
        async with trio.open_nursery() as nursery:
            yield _TrioGroup(nursery)

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)


class _TrioZmqApi(_OnTrio):
    """trio_zmq's public API: its context, its sockets' bound methods."""

    def __init__(self, ctx: trio_zmq.Context) -> None:
        self._ctx = ctx

    def socket(self, socket_type: int) -> Endpoint:
        return self._ctx.socket(socket_type)

    def receiver(self, sock: trio_zmq.Socket) -> Receive:
        return sock.recv

    def sender(self, sock: trio_zmq.Socket) -> Send:
        return sock.send

    def multipart_receiver(self, sock: trio_zmq.Socket) -> Receive:
        return sock.recv_multipart

    def multipart_sender(self, sock: trio_zmq.Socket) -> Send:
        return sock.send_multipart


def _naive(
    zsock: zmq.Socket[bytes], operation: Callable[..., Any], ready: int
) -> Callable[..., Awaitable[Any]]:
    """The naive trio loop around ``operation`` (a pyzmq call taking flags last).

    ``ready`` is the ZMQ_EVENTS bit the operation needs.  ZMQ_FD signals
    both directions by becoming readable, so both wait with wait_readable.
    """
    fd = cast(int, zsock.getsockopt(zmq.FD))
    events = zsock.getsockopt

    async def call(*args: Any) -> Any:
        await checkpoint_if_cancelled()
        while True:
            try:
                result = operation(*args, _NOBLOCK)
            except zmq.Again:
                if not cast(int, events(_EVENTS)) & ready:
                    await wait_readable(fd)
                continue
            await cancel_shielded_checkpoint()
            return result

    return call


class _Sockets:
    """A trial's pyzmq context and the sockets it made, closed together
    once the trial's tasks are over (pyzmq's context keeps only weak
    references: a socket must not be left to the garbage collector)."""

    def __init__(self, zctx: zmq.Context[Any]) -> None:
        self._zctx = zctx
        self._made: list[zmq.Socket[Any]] = []

    def socket(self, socket_type: int) -> Endpoint:
        sock: zmq.Socket[Any] = self._zctx.socket(socket_type)
        self._made.append(sock)
        return sock

    def close(self) -> None:
        """Close every socket (LINGER 0), then terminate the context."""
        for sock in self._made:
            sock.close(linger=0)
        self._zctx.term()


class _NaiveApi(_OnTrio, _Sockets):
    """Plain pyzmq sockets, each call the naive trio loop."""

    def receiver(self, sock: zmq.Socket[bytes]) -> Receive:
        return _naive(sock, sock.recv, _POLLIN)

    def sender(self, sock: zmq.Socket[bytes]) -> Send:
        return _naive(sock, sock.send, _POLLOUT)

    def multipart_receiver(self, sock: zmq.Socket[bytes]) -> Receive:
        return _naive(sock, sock.recv_multipart, _POLLIN)

    def multipart_sender(self, sock: zmq.Socket[bytes]) -> Send:
        return _naive(sock, sock.send_multipart, _POLLOUT)


# -- on asyncio -----------------------------------------------------------


class _AsyncioGroup:
    """A nursery of plain asyncio tasks (asyncio.TaskGroup is not in 3.10).

    The first task to fail cancels the host task, which then cancels the
    others and raises that task's exception.
    """

    def __init__(self) -> None:
        host = asyncio.current_task()
        assert host is not None
        self._host = host
        self.tasks: set[asyncio.Task[object]] = set()
        self.error: BaseException | None = None

    def start(self, function: Callable[..., Awaitable[object]], *args: Any) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(function(*args))
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()

    def _done(self, task: asyncio.Task[object]) -> None:
        if task.cancelled() or task.exception() is None or self.error is not None:
            return
        self.error = task.exception()
        self._host.cancel()


@asynccontextmanager
async def _asyncio_group() -> AsyncIterator[Group]:
    group = _AsyncioGroup()
    try:
        yield group
        if group.tasks:
            await asyncio.wait(group.tasks)
    except asyncio.CancelledError:
        if group.error is None:
            raise
        raise group.error from None
    finally:
        group.cancel()
        if group.tasks:
            await asyncio.gather(*group.tasks, return_exceptions=True)


class _AsyncioApi(_Sockets):
    """zmq.asyncio's sockets on asyncio, with plain asyncio tasks."""

    def receiver(self, sock: zmq.asyncio.Socket) -> Receive:
        return sock.recv

    def sender(self, sock: zmq.asyncio.Socket) -> Send:
        return sock.send

    def multipart_receiver(self, sock: zmq.asyncio.Socket) -> Receive:
        return sock.recv_multipart

    def multipart_sender(self, sock: zmq.asyncio.Socket) -> Send:
        return sock.send_multipart

    def group(self) -> AbstractAsyncContextManager[Group]:
        return _asyncio_group()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# -- running a body under each implementation ----------------------------


@asynccontextmanager
async def _trio_zmq_api() -> AsyncIterator[Api]:
    async with trio_zmq.Context(linger=0) as ctx:
        yield _TrioZmqApi(ctx)


@asynccontextmanager
async def _naive_api() -> AsyncIterator[Api]:
    api = _NaiveApi(zmq.Context())
    try:
        yield api
    finally:
        api.close()  # the trial's tasks are over: nobody waits on an FD


@asynccontextmanager
async def _zmq_asyncio_api() -> AsyncIterator[Api]:
    api = _AsyncioApi(zmq.asyncio.Context())
    try:
        yield api
    finally:
        api.close()


def runner(
    loop: loops.Loop[float], open_api: Callable[[], AbstractAsyncContextManager[Api]]
) -> Runner:
    """Runs a body on ``loop``, with the Api ``open_api`` opens and closes."""

    def run(body: Body, timeout: float) -> float:
        async def main() -> float:
            async with open_api() as api:
                return await body(api)

        return loop(main, timeout)

    return run


#: In table order.  Each round runs them in this order, rotated by one.
IMPLEMENTATIONS: tuple[Implementation[Runner], ...] = (
    Implementation(SUBJECT, "trio_zmq", runner(loops.on_trio, _trio_zmq_api)),
    Implementation(BASELINE, "zmq.asyncio", runner(loops.on_asyncio, _zmq_asyncio_api)),
    Implementation(FLOOR, "naive trio loop", runner(loops.on_trio, _naive_api)),
)


# ----------------------------------------------------------------------
# The workloads
# ----------------------------------------------------------------------


def _bind(sock: Endpoint, transport: str, name: str) -> str:
    """Bind ``sock`` and return the address to connect to."""
    if transport == "tcp":
        return f"tcp://127.0.0.1:{sock.bind_to_random_port('tcp://127.0.0.1')}"
    address = f"inproc://wake-{name}"
    sock.bind(address)
    return address


def _connected(api: Api, socket_type: int, address: str) -> Endpoint:
    sock = api.socket(socket_type)
    sock.connect(address)
    return sock


async def _send_n(send: Send, count: int) -> None:
    for _ in range(count):
        await send(PAYLOAD)


async def _receive_n(receive: Receive, count: int) -> None:
    for _ in range(count):
        await receive()


async def _request_n(send: Send, receive: Receive, count: int) -> None:
    for _ in range(count):
        await send(PAYLOAD)
        await receive()


async def _echo(receive: Receive, send: Send) -> None:
    while True:
        await send(await receive())


async def _work(receive: Receive, send: Send, name: bytes) -> None:
    """A pipeline worker: every job is answered with the worker's name."""
    while True:
        await receive()
        await send(name)


async def pipeline(api: Api, jobs: int, workers: int, transport: str) -> float:
    """Ventilator -> ``workers`` workers -> sink; jobs per second."""
    ventilator = api.socket(zmq.PUSH)
    sink = api.socket(zmq.PULL)
    jobs_address = _bind(ventilator, transport, "ventilator")
    results_address = _bind(sink, transport, "sink")
    send_job, collect = api.sender(ventilator), api.receiver(sink)
    async with api.group() as group:
        for index in range(workers):
            source = _connected(api, zmq.PULL, jobs_address)
            results = _connected(api, zmq.PUSH, results_address)
            group.start(_work, api.receiver(source), api.sender(results), b"w%d" % index)
        await _until_every_worker_answers(api, send_job, collect, workers)
        started = time.perf_counter()
        group.start(_send_n, send_job, jobs)
        await _receive_n(collect, jobs)
        elapsed = time.perf_counter() - started
        group.cancel()
    return jobs / elapsed


async def _until_every_worker_answers(
    api: Api, send_job: Send, collect: Receive, workers: int
) -> None:
    """Warm up until every worker has answered: PUSH deals jobs out only to
    the workers connected by then (over tcp, connecting takes a moment).
    Bounded by the trial's deadline."""
    answered: set[bytes] = set()
    while True:
        for _ in range(workers):
            await send_job(WARMUP)
        for _ in range(workers):
            answered.add(await collect())
        if len(answered) == workers:
            return
        await api.sleep(0.001)


async def ping_pong(api: Api, jobs: int) -> float:
    """Round trips per second between two tasks over an inproc PAIR."""
    ping = api.socket(zmq.PAIR)
    pong = _connected(api, zmq.PAIR, _bind(ping, "inproc", "ping-pong"))
    send, receive = api.sender(ping), api.receiver(ping)
    async with api.group() as group:
        group.start(_echo, api.receiver(pong), api.sender(pong))
        await _request_n(send, receive, 1)  # warm-up
        started = time.perf_counter()
        await _request_n(send, receive, jobs)
        elapsed = time.perf_counter() - started
        group.cancel()
    return jobs / elapsed


async def ring(api: Api, jobs: int) -> float:
    """Hops per second of a message relayed round a ring of tasks; this
    task starts every lap and waits for its end."""
    outlets = [api.socket(zmq.PAIR) for _ in range(RING_TASKS)]
    # Task i sends on outlets[i]; the next one receives on inlets[i].
    inlets = [
        _connected(api, zmq.PAIR, _bind(outlet, "inproc", f"ring-{index}"))
        for index, outlet in enumerate(outlets)
    ]
    laps = max(1, jobs // RING_TASKS)
    send, receive = api.sender(outlets[0]), api.receiver(inlets[-1])
    async with api.group() as group:
        for index in range(1, RING_TASKS):
            group.start(_echo, api.receiver(inlets[index - 1]), api.sender(outlets[index]))
        await _request_n(send, receive, 1)  # warm-up
        started = time.perf_counter()
        await _request_n(send, receive, laps)
        elapsed = time.perf_counter() - started
        group.cancel()
    return laps * RING_TASKS / elapsed


async def fan_in(api: Api, jobs: int) -> float:
    """Messages per second from many sender tasks into one receiver task."""
    receiver = api.socket(zmq.PULL)
    address = _bind(receiver, "inproc", "fan-in")
    senders = [_connected(api, zmq.PUSH, address) for _ in range(FAN_IN_SENDERS)]
    each = max(1, jobs // FAN_IN_SENDERS)
    receive = api.receiver(receiver)
    async with api.group() as group:
        started = time.perf_counter()
        for sender in senders:
            group.start(_send_n, api.sender(sender), each)
        await _receive_n(receive, each * len(senders))
        elapsed = time.perf_counter() - started
    return each * len(senders) / elapsed


async def router(api: Api, jobs: int) -> float:
    """Requests per second: client tasks parked in request -> reply loops
    on their own DEALERs, one server task answering on a ROUTER."""
    server = api.socket(zmq.ROUTER)
    address = _bind(server, "inproc", "router")
    clients = [_connected(api, zmq.DEALER, address) for _ in range(ROUTER_CLIENTS)]
    each = max(1, jobs // ROUTER_CLIENTS)
    async with api.group() as serving:
        serving.start(_echo, api.multipart_receiver(server), api.multipart_sender(server))
        started = time.perf_counter()
        async with api.group() as requesting:
            for client in clients:
                requesting.start(_request_n, api.sender(client), api.receiver(client), each)
        elapsed = time.perf_counter() - started
        serving.cancel()
    return each * len(clients) / elapsed


def workloads(jobs: int) -> list[Workload[Body]]:
    """Every wake workload, ``jobs`` jobs a trial, in report order."""
    detail = f"{jobs} jobs per trial"
    shapes: list[tuple[str, str, str, str, Shape]] = [
        (
            f"pipeline-{transport}-{workers}",
            "pipeline",
            f"pipeline over {transport}, {workers} worker{'s' if workers > 1 else ''}",
            "jobs/s",
            functools.partial(pipeline, workers=workers, transport=transport),
        )
        for transport in ("inproc", "tcp")
        for workers in PIPELINE_WORKERS
    ]
    shapes += [
        ("ping-pong", "ping-pong", "ping-pong over an inproc PAIR", "round trips/s", ping_pong),
        ("ring", "ring", f"ring of {RING_TASKS} tasks over inproc PAIRs", "hops/s", ring),
        (
            "fan-in",
            "fan-in",
            f"fan-in: {FAN_IN_SENDERS} senders -> 1 receiver, inproc",
            "messages/s",
            fan_in,
        ),
        (
            "router",
            "router",
            f"ROUTER server, {ROUTER_CLIENTS} DEALER clients, inproc",
            "requests/s",
            router,
        ),
    ]
    return [
        Workload(key, title, unit, _body(shape, jobs), group, detail=detail)
        for key, group, title, unit, shape in shapes
    ]


def _body(shape: Shape, jobs: int) -> Body:
    """``shape`` with ``jobs`` jobs."""
    return lambda api: shape(api, jobs)


async def busy(api: Api, jobs: int) -> float:
    """``jobs`` sends, then ``jobs`` receives, by one task on an inproc PAIR
    whose high-water marks hold them all: nothing waits.  (No wake table
    has it: ``python -m benchmarks instructions`` counts it.)"""
    sender = api.socket(zmq.PAIR)
    receiver = _connected(api, zmq.PAIR, _bind(sender, "inproc", "busy"))
    for sock in (sender, receiver):
        zsock: Any = getattr(sock, "zmq_socket", sock)  # pyzmq's own
        zsock.setsockopt(zmq.SNDHWM, jobs + 1)
        zsock.setsockopt(zmq.RCVHWM, jobs + 1)
    send, receive = api.sender(sender), api.receiver(receiver)
    started = time.perf_counter()
    await _send_n(send, jobs)
    await _receive_n(receive, jobs)
    return jobs / (time.perf_counter() - started)


def busy_workload(jobs: int) -> Workload[Body]:
    return Workload(
        "busy",
        "busy: a send and a receive, nothing waits",
        "jobs/s",
        _body(busy, jobs),
        "busy",
        detail=f"{jobs} jobs per trial",
    )


# ----------------------------------------------------------------------
# The set
# ----------------------------------------------------------------------


def park_and_wake_us(hops_per_second: float) -> float:
    """Microseconds per park-and-wake cycle (with its send and receive),
    from the ring's hops per second."""
    return 1e6 / hops_per_second


@final
class WakeSet(WorkloadSet[Body, Runner]):
    name = "wake"
    help = "wake-up-bound services in one process: trio_zmq, zmq.asyncio, a naive trio loop"
    description = (
        "Wake-up-bound workloads in one process (pipelines, ping-pong, a relay ring, "
        "fan-in, a ROUTER with parked clients), trio_zmq side by side with zmq.asyncio "
        "and a naive trio loop; also the cost of one park and wake."
    )
    implementations = IMPLEMENTATIONS
    baselines = ((BASELINE, "vs zmq.asyncio"), (FLOOR, "vs naive"))
    groups = ("pipeline", "ping-pong", "ring", "fan-in", "router")
    quick_help = "a smoke run of a few seconds: 2 rounds of 400 jobs"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--jobs", type=positive_int, help="jobs per trial (20000; 400 with --quick)"
        )

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[Body]]:
        return workloads(args.jobs or (400 if args.quick else 20_000))

    def trial(
        self, plan: Plan[Body], workload: Workload[Body], impl: Implementation[Runner]
    ) -> float:
        return impl.run(workload.params, plan.timeout)

    def sections(self, plan: Plan[Body], tables: Tables) -> list[str]:
        """The park-and-wake cost, from the ring's table."""
        rows = [row for row in tables.get("ring", ()) if row.ok]
        floor = find_row(rows, FLOOR)
        if not rows or floor is None:
            return []
        lines = [
            "park-and-wake cost: µs per hop of the ring (a send, a park, a wake, a receive)",
            f"  {'implementation':<16} {'median µs':>10} {'best µs':>10} {'median - naive':>15}",
        ]
        for row in rows:
            median = park_and_wake_us(row.median)
            lines.append(
                f"  {row.label:<16} {median:>10.2f} {park_and_wake_us(row.best):>10.2f} "
                f"{median - park_and_wake_us(floor.median):>+15.2f}"
            )
        return ["\n".join(lines)]

    def records(self, plan: Plan[Body], tables: Tables) -> dict[str, Any]:
        rows = [row for row in tables.get("ring", ()) if row.ok]
        if not rows:
            return {}
        return {
            "park_and_wake_us": {
                row.key: {
                    "median": park_and_wake_us(row.median),
                    "best": park_and_wake_us(row.best),
                }
                for row in rows
            }
        }


SET = WakeSet()
