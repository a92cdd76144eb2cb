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

Everything but the tcp pipelines runs over inproc.  As in the bench, rounds
interleave the implementations (their order rotates each round), every
figure is quoted as the median of the rounds and the best round, and the
ratios (against zmq.asyncio, and trio_zmq against the naive loop) are within
the run.  Every trial has a deadline (``--timeout``) and fails with a clear
message rather than hang.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import gc
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, cast

import trio
import zmq
import zmq.asyncio
from trio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled, wait_readable

import trio_zmq
from trio_zmq._cli._command import positive_int

from .arguments import add_selection, positive_float
from .environment import describe, environment
from .progress import progress

PROG = "python -m benchmarks wake"
PAYLOAD = b"x" * 64
#: What warms up a pipeline (the workers answer it like any job).
WARMUP = b"warm-up"
#: Worker tasks of the pipelines.
PIPELINE_WORKERS = (1, 4, 16)
#: Sender tasks of fan-in, client tasks of the router, tasks of the ring.
FAN_IN_SENDERS = 16
ROUTER_CLIENTS = 16
RING_TASKS = 3

GROUPS = ("pipeline", "ping-pong", "ring", "fan-in", "router")
BASELINE = "zmq_asyncio"
SUBJECT = "trio_zmq"
FLOOR = "naive"
DEFAULT_JSON = Path("bench-results/wake.json")

_NOBLOCK = int(zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)


class WakeError(Exception):
    """The benchmark could not finish; the message says where and why."""


class TrialTimeout(Exception):
    """A trial did not finish before its deadline."""


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


def _on_trio(open_api: Callable[[], AbstractAsyncContextManager[Api]]) -> Runner:
    """Runs a body on trio, with the Api ``open_api`` opens and closes."""

    def run(body: Body, timeout: float) -> float:
        async def main() -> float:
            with trio.fail_after(timeout):
                async with open_api() as api:
                    return await body(api)

        try:
            return trio.run(main)
        except trio.TooSlowError:
            raise TrialTimeout from None

    return run


_run_trio_zmq = _on_trio(_trio_zmq_api)
_run_naive = _on_trio(_naive_api)


def _run_zmq_asyncio(body: Body, timeout: float) -> float:
    async def main() -> float:
        api = _AsyncioApi(zmq.asyncio.Context())
        try:
            return await asyncio.wait_for(body(api), timeout)
        finally:
            api.close()

    try:
        return asyncio.run(main())
    except asyncio.TimeoutError:
        raise TrialTimeout from None


@dataclasses.dataclass(frozen=True)
class Implementation:
    key: str
    label: str
    run: Runner


IMPLEMENTATIONS = (
    Implementation(SUBJECT, "trio_zmq", _run_trio_zmq),
    Implementation(BASELINE, "zmq.asyncio", _run_zmq_asyncio),
    Implementation(FLOOR, "naive trio loop", _run_naive),
)
_LABELS = {impl.key: impl.label for impl in IMPLEMENTATIONS}


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


@dataclasses.dataclass(frozen=True)
class Workload:
    key: str
    #: What --only selects it by (see GROUPS).
    group: str
    title: str
    unit: str
    #: (api, jobs) -> rate per second.
    body: Callable[[Api, int], Awaitable[float]]


WORKLOADS = (
    *(
        Workload(
            f"pipeline-{transport}-{workers}",
            "pipeline",
            f"pipeline over {transport}, {workers} worker{'s' if workers > 1 else ''}",
            "jobs/s",
            functools.partial(pipeline, workers=workers, transport=transport),
        )
        for transport in ("inproc", "tcp")
        for workers in PIPELINE_WORKERS
    ),
    Workload("ping-pong", "ping-pong", "ping-pong over an inproc PAIR", "round trips/s", ping_pong),
    Workload(
        "ring",
        "ring",
        f"ring of {RING_TASKS} tasks over inproc PAIRs",
        "hops/s",
        ring,
    ),
    Workload(
        "fan-in",
        "fan-in",
        f"fan-in: {FAN_IN_SENDERS} senders -> 1 receiver, inproc",
        "messages/s",
        fan_in,
    ),
    Workload(
        "router",
        "router",
        f"ROUTER server, {ROUTER_CLIENTS} DEALER clients, inproc",
        "requests/s",
        router,
    ),
)


# ----------------------------------------------------------------------
# Running the rounds
# ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WakeOptions:
    rounds: int = 5
    jobs: int = 20_000
    timeout: float = 60.0
    #: Workload groups to run; empty for all.
    only: frozenset[str] = frozenset()
    json_path: Path | None = DEFAULT_JSON
    quick: bool = False


QUICK = WakeOptions(rounds=2, jobs=400, quick=True)

#: {workload key: {implementation key: [rate per round]}}
Rates = dict[str, dict[str, list[float]]]


def selected(options: WakeOptions) -> list[Workload]:
    return [w for w in WORKLOADS if not options.only or w.group in options.only]


def run_trial(impl: Implementation, workload: Workload, options: WakeOptions) -> float:
    """One trial's rate per second.

    Raises:
      TrialTimeout: it did not finish within ``options.timeout`` seconds.
    """
    gc.collect()  # every trial starts with the same (empty) garbage
    jobs = options.jobs
    return impl.run(lambda api: workload.body(api, jobs), options.timeout)


def run_rounds(options: WakeOptions, workloads: Sequence[Workload]) -> Rates:
    """Every round: every workload under every implementation, the
    implementations' order rotated each round; a progress line per workload.

    Raises:
      WakeError: a trial missed its deadline.
    """
    rates: Rates = {w.key: {impl.key: [] for impl in IMPLEMENTATIONS} for w in workloads}
    for round_index in range(options.rounds):
        shift = round_index % len(IMPLEMENTATIONS)
        order = IMPLEMENTATIONS[shift:] + IMPLEMENTATIONS[:shift]
        for workload in workloads:
            for impl in order:
                try:
                    rate = run_trial(impl, workload, options)
                except TrialTimeout:
                    raise WakeError(
                        f"{impl.label}, {workload.title}, round {round_index + 1}: "
                        f"not done within {options.timeout:g} s"
                    ) from None
                rates[workload.key][impl.key].append(rate)
            figures = ", ".join(
                f"{impl.label} {rates[workload.key][impl.key][-1]:,.0f}" for impl in order
            )
            progress(
                f"  round {round_index + 1}/{options.rounds}, {workload.title} "
                f"({workload.unit}): {figures}"
            )
    return rates


# ----------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    impl: str
    median: float
    best: float


def rows(per_impl: dict[str, list[float]]) -> dict[str, Row]:
    """Median and best (highest) rate of each implementation."""
    return {
        key: Row(key, statistics.median(values), max(values)) for key, values in per_impl.items()
    }


def park_and_wake_us(hops_per_second: float) -> float:
    """Microseconds per park-and-wake cycle (with its send and receive),
    from the ring's hops per second."""
    return 1e6 / hops_per_second


def render_workload(workload: Workload, table: dict[str, Row], jobs: int, rounds: int) -> str:
    base, subject, floor = table[BASELINE], table[SUBJECT], table[FLOOR]
    lines = [
        f"{workload.title} ({workload.unit}; {jobs} jobs, {rounds} rounds)",
        f"  {'implementation':<16} {'median':>11} {'best':>11} "
        f"{'median vs zmq.asyncio':>22} {'best vs zmq.asyncio':>20}",
    ]
    for impl in IMPLEMENTATIONS:
        row = table[impl.key]
        lines.append(
            f"  {impl.label:<16} {row.median:>11,.0f} {row.best:>11,.0f} "
            f"{row.median / base.median:>21.2f}x {row.best / base.best:>19.2f}x"
        )
    lines.append(
        f"  trio_zmq vs naive trio loop: {subject.median / floor.median:.2f}x median, "
        f"{subject.best / floor.best:.2f}x best"
    )
    return "\n".join(lines)


def render_park_and_wake(table: dict[str, Row]) -> str:
    floor = park_and_wake_us(table[FLOOR].median)
    lines = [
        "park-and-wake cost: µs per hop of the ring (a send, a park, a wake, a receive)",
        f"  {'implementation':<16} {'median µs':>10} {'best µs':>10} {'median - naive':>15}",
    ]
    for impl in IMPLEMENTATIONS:
        row = table[impl.key]
        median = park_and_wake_us(row.median)
        lines.append(
            f"  {impl.label:<16} {median:>10.2f} {park_and_wake_us(row.best):>10.2f} "
            f"{median - floor:>+15.2f}"
        )
    return "\n".join(lines)


def report(options: WakeOptions, workloads: Sequence[Workload], rates: Rates) -> str:
    """The tables: one per workload, then the park-and-wake cost."""
    tables = {w.key: rows(rates[w.key]) for w in workloads}
    sections = [render_workload(w, tables[w.key], options.jobs, options.rounds) for w in workloads]
    if "ring" in tables:
        sections.append(render_park_and_wake(tables["ring"]))
    return "\n\n".join(sections)


def write_json(
    path: Path,
    options: WakeOptions,
    env: dict[str, Any],
    workloads: Sequence[Workload],
    rates: Rates,
    seconds: float,
) -> None:
    """Every round's rate, the medians, bests and ratios, as JSON."""
    records = []
    for workload in workloads:
        table = rows(rates[workload.key])
        base = table[BASELINE]
        records.append(
            {
                "key": workload.key,
                "title": workload.title,
                "unit": workload.unit,
                "rates": rates[workload.key],
                "median": {key: row.median for key, row in table.items()},
                "best": {key: row.best for key, row in table.items()},
                "median_vs_zmq_asyncio": {
                    key: row.median / base.median for key, row in table.items()
                },
                "best_vs_zmq_asyncio": {key: row.best / base.best for key, row in table.items()},
            }
        )
    document: dict[str, Any] = {
        "environment": env,
        "options": {
            "rounds": options.rounds,
            "jobs": options.jobs,
            "timeout": options.timeout,
            "quick": options.quick,
            "only": sorted(options.only),
        },
        "implementations": _LABELS,
        "seconds": seconds,
        "workloads": records,
    }
    if "ring" in rates:
        document["park_and_wake_us"] = {
            key: {"median": park_and_wake_us(row.median), "best": park_and_wake_us(row.best)}
            for key, row in rows(rates["ring"]).items()
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def run_wake(options: WakeOptions) -> str:
    """Run every round, write the JSON file if asked, return the report."""
    workloads = selected(options)
    env = environment()
    progress(
        f"{PROG}: {len(workloads)} workloads x {len(IMPLEMENTATIONS)} implementations, "
        f"{options.rounds} rounds of {options.jobs} jobs, implementations interleaved\n"
        f"  {describe(env)}"
    )
    started = time.perf_counter()
    rates = run_rounds(options, workloads)
    seconds = time.perf_counter() - started
    header = (
        f"{PROG}: {options.rounds} rounds, {seconds:.1f} s; {describe(env)}\n"
        "Rates per second, median and best round; ratios are speed relative to "
        "zmq.asyncio (>1 is faster), only comparable within one run."
    )
    parts = [header, report(options, workloads, rates)]
    if options.json_path is not None:
        write_json(options.json_path, options, env, workloads, rates, seconds)
        parts.append(f"Results: {options.json_path}")
    return "\n\n".join(parts)


# ----------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of a few seconds: 2 rounds of 400 jobs"
    )
    parser.add_argument("--rounds", type=positive_int, help="rounds (5; 2 with --quick)")
    parser.add_argument(
        "--jobs", type=positive_int, help="jobs per trial (20000; 400 with --quick)"
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=WakeOptions.timeout,
        help="seconds a trial may take before the benchmark fails (60)",
    )
    add_selection(parser, GROUPS, DEFAULT_JSON)


def options_from(args: argparse.Namespace) -> WakeOptions:
    preset = QUICK if args.quick else WakeOptions()
    return WakeOptions(
        rounds=args.rounds or preset.rounds,
        jobs=args.jobs or preset.jobs,
        timeout=args.timeout,
        only=args.only,
        json_path=args.json,
        quick=args.quick,
    )


def main(args: argparse.Namespace) -> int:
    """``python -m benchmarks wake``: 0 if it ran, 1 if a trial failed."""
    try:
        text = run_wake(options_from(args))
    except WakeError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 0
