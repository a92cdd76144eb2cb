"""``python -m benchmarks wake``: wake-up-bound services, in one process.

The bench (``python -m benchmarks bench``) measures one busy socket against a
peer process.  Real applications are services whose tasks mostly wait: a
message arrives, a parked task wakes, answers, and parks again.  This runs
such shapes, each in one process and one event loop, under seven
implementations side by side (:mod:`benchmarks.wake_impls`): trio_zmq's
sockets and its channel views, each on trio and on asyncio through anyio;
zmq.asyncio (the baseline of the ratios); and two floors, the simplest
correct loop a user might write around non-blocking pyzmq calls on trio
(``trio.lowlevel.wait_readable`` on ZMQ_FD) and on asyncio
(``loop.add_reader`` on ZMQ_FD).

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
  the naive trio loop's;
* ``fan-in``: 16 sender tasks, each with its own PUSH, into one PULL
  receiver task; messages/s;
* ``router``: a server task answering on a ROUTER socket, and 16 client
  tasks, each with its own DEALER, each parked in its request -> reply
  loop; requests/s;
* ``idle``: K = 1, 100 and 500 PAIR pairs over inproc, on each a task
  parked in a receive on the far end that echoes what comes; a driver
  task pings a random pair (the same seeded sequence for every
  implementation) and awaits the echo; round trips/s.  Once every pair has
  answered once, untimed, every echo task is parked: a cost per idle
  socket shows as a rate falling with K.  500 pairs are 1000 sockets: every
  context has room for them, and the soft limit on open files is raised
  (up to the hard limit, with a note in the report) if it is too low.

Everything but the tcp pipelines runs over inproc.  Every trial has a
deadline (``--timeout``) and fails with a clear message rather than hang.

Besides a table per workload, the report has a ratio table (a line per
workload, the ratios the project's targets are read from, see
:data:`RATIOS`), the idle workloads side by side (the rate at each K, and
K=500 against K=1), and the cost of one park and wake from the ring.

A workload is a function ``(api, jobs) -> rate`` in :func:`workloads`,
written once against :class:`~benchmarks.wake_impls.Api`; it calls
:func:`start` and :func:`rate` at the ends of its measured section, which is
where ``python -m benchmarks syscalls`` counts.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import random
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, final

import zmq

from .arguments import positive_int
from .framework import Implementation, Plan, Tables, Workload, WorkloadSet, find_row
from .limits import fit_counts
from .ratios import Ratio, render_ratios, render_spread
from .wake_impls import (
    ASYNCIO_FLOOR,
    BASELINE,
    CHANNELS,
    CHANNELS_ON_ASYNCIO,
    FLOOR,
    IMPLEMENTATIONS,
    ON_ASYNCIO,
    SUBJECT,
    Api,
    Body,
    Endpoint,
    Receive,
    Runner,
    Send,
)

__all__ = ["BASELINE", "FLOOR", "IMPLEMENTATIONS", "SUBJECT", "Api", "Body", "Runner"]

PAYLOAD = b"x" * 64
#: What warms up a pipeline (the workers answer it like any job).
WARMUP = b"warm-up"
#: Worker tasks of the pipelines.
PIPELINE_WORKERS = (1, 4, 16)
#: Sender tasks of fan-in, client tasks of the router, tasks of the ring.
FAN_IN_SENDERS = 16
ROUTER_CLIENTS = 16
RING_TASKS = 3
#: PAIR pairs of the idle workloads, and the seed of the driver's choices.
IDLE_PAIRS = (1, 100, 500)
IDLE_SEED = 5
#: Descriptors per idle pair: each inproc socket's mailbox.
FDS_PER_PAIR = 2

#: The ratio table's columns, and the targets they are read against.
RATIOS = (
    Ratio("tz-asyncio / zmq.asyncio", ON_ASYNCIO, BASELINE, 1.0),
    Ratio("channels / sockets (trio)", CHANNELS, SUBJECT, 0.95),
    Ratio("channels / sockets (asyncio)", CHANNELS_ON_ASYNCIO, ON_ASYNCIO, 0.95),
    Ratio("tz-trio / naive trio", SUBJECT, FLOOR, 0.95, ("pipeline",)),
    Ratio("tz-trio / zmq.asyncio", SUBJECT, BASELINE, 1.7, ("ping-pong",)),
    Ratio("naive asyncio / zmq.asyncio", ASYNCIO_FLOOR, BASELINE),
)
#: The idle target: round trips with the most pairs at least this times
#: those with one pair, for trio_zmq on trio and on asyncio.
IDLE_FLAT = 0.9
IDLE_SUBJECTS = (SUBJECT, ON_ASYNCIO)
#: The implementations the busy workload runs on (the counting sets'):
#: on asyncio a send that succeeds does not yield, so the comparison would
#: not hold.
BUSY_IMPLEMENTATIONS = (SUBJECT, FLOOR)

#: A workload's shape: (api, jobs) -> rate per second.
Shape = Callable[[Api, int], Any]


# ----------------------------------------------------------------------
# The measured section
# ----------------------------------------------------------------------

#: Called with "start" as a workload's measured section begins and with
#: "stop N" as it ends (N: the jobs it did); None calls nothing.  The
#: syscalls set's child process sets it to mark the section in its trace.
section_marker: Callable[[str], None] | None = None


def start() -> float:
    """The start of a measured section: its clock."""
    if section_marker is not None:
        section_marker("start")
    return time.perf_counter()


def rate(started: float, done: int) -> float:
    """The end of the measured section begun at ``started``: ``done`` jobs per second."""
    elapsed = time.perf_counter() - started
    if section_marker is not None:
        section_marker(f"stop {done}")
    return done / elapsed


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


async def _send_n(send: Send, message: Any, count: int) -> None:
    for _ in range(count):
        await send(message)


async def _receive_n(receive: Receive, count: int) -> None:
    for _ in range(count):
        await receive()


async def _request_n(send: Send, receive: Receive, message: Any, count: int) -> None:
    for _ in range(count):
        await send(message)
        await receive()


async def _echo(receive: Receive, send: Send) -> None:
    while True:
        await send(await receive())


async def _work(receive: Receive, send: Send, name: Any) -> None:
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
            name = api.message(b"w%d" % index)
            group.start(_work, api.receiver(source), api.sender(results), name)
        await _until_every_worker_answers(api, send_job, collect, workers)
        started = start()
        group.start(_send_n, send_job, api.message(PAYLOAD), jobs)
        await _receive_n(collect, jobs)
        jobs_per_second = rate(started, jobs)
        group.cancel()
    return jobs_per_second


async def _until_every_worker_answers(
    api: Api, send_job: Send, collect: Receive, workers: int
) -> None:
    """Warm up until every worker has answered: PUSH deals jobs out only to
    the workers connected by then (over tcp, connecting takes a moment).
    Bounded by the trial's deadline."""
    warmup = api.message(WARMUP)
    answered: list[Any] = []  # names: bytes, or lists of frames
    while True:
        for _ in range(workers):
            await send_job(warmup)
        for _ in range(workers):
            name = await collect()
            if name not in answered:
                answered.append(name)
        if len(answered) == workers:
            return
        await api.sleep(0.001)


async def ping_pong(api: Api, jobs: int) -> float:
    """Round trips per second between two tasks over an inproc PAIR."""
    ping = api.socket(zmq.PAIR)
    pong = _connected(api, zmq.PAIR, _bind(ping, "inproc", "ping-pong"))
    send, receive, message = api.sender(ping), api.receiver(ping), api.message(PAYLOAD)
    async with api.group() as group:
        group.start(_echo, api.receiver(pong), api.sender(pong))
        await _request_n(send, receive, message, 1)  # warm-up
        started = start()
        await _request_n(send, receive, message, jobs)
        round_trips = rate(started, jobs)
        group.cancel()
    return round_trips


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
    message = api.message(PAYLOAD)
    async with api.group() as group:
        for index in range(1, RING_TASKS):
            group.start(_echo, api.receiver(inlets[index - 1]), api.sender(outlets[index]))
        await _request_n(send, receive, message, 1)  # warm-up
        started = start()
        await _request_n(send, receive, message, laps)
        hops = rate(started, laps * RING_TASKS)
        group.cancel()
    return hops


async def fan_in(api: Api, jobs: int) -> float:
    """Messages per second from many sender tasks into one receiver task."""
    receiver = api.socket(zmq.PULL)
    address = _bind(receiver, "inproc", "fan-in")
    senders = [_connected(api, zmq.PUSH, address) for _ in range(FAN_IN_SENDERS)]
    each = max(1, jobs // FAN_IN_SENDERS)
    receive, message = api.receiver(receiver), api.message(PAYLOAD)
    async with api.group() as group:
        started = start()
        for sender in senders:
            group.start(_send_n, api.sender(sender), message, each)
        await _receive_n(receive, each * len(senders))
        return rate(started, each * len(senders))


async def router(api: Api, jobs: int) -> float:
    """Requests per second: client tasks parked in request -> reply loops
    on their own DEALERs, one server task answering on a ROUTER."""
    server = api.socket(zmq.ROUTER)
    address = _bind(server, "inproc", "router")
    clients = [_connected(api, zmq.DEALER, address) for _ in range(ROUTER_CLIENTS)]
    each = max(1, jobs // ROUTER_CLIENTS)
    message = api.message(PAYLOAD)
    async with api.group() as serving:
        serving.start(_echo, api.multipart_receiver(server), api.multipart_sender(server))
        started = start()
        async with api.group() as requesting:
            for client in clients:
                requesting.start(
                    _request_n, api.sender(client), api.receiver(client), message, each
                )
        requests = rate(started, each * len(clients))
        serving.cancel()
    return requests


async def idle(api: Api, jobs: int, pairs: int) -> float:
    """Round trips per second to a random one of ``pairs`` inproc PAIR
    pairs, each with an echo task parked in a receive on its far end."""
    message = api.message(PAYLOAD)
    near_ends: list[tuple[Send, Receive]] = []
    async with api.group() as group:
        for index in range(pairs):
            near = api.socket(zmq.PAIR)
            far = _connected(api, zmq.PAIR, _bind(near, "inproc", f"idle-{index}"))
            group.start(_echo, api.receiver(far), api.sender(far))
            near_ends.append((api.sender(near), api.receiver(near)))
        for send, receive in near_ends:  # each echo task answers once
            await _request_n(send, receive, message, 1)
        # The last to answer may not be back in its receive yet: a pause
        # the echo tasks need one turn of the loop for, untimed.
        await api.sleep(0.01)
        choices = random.Random(IDLE_SEED)
        picked = [near_ends[choices.randrange(pairs)] for _ in range(jobs)]
        started = start()
        for send, receive in picked:
            await send(message)
            await receive()
        round_trips = rate(started, jobs)
        group.cancel()
    return round_trips


def workloads(jobs: int, idle_pairs: Sequence[int] = IDLE_PAIRS) -> list[Workload[Body]]:
    """Every wake workload, ``jobs`` jobs a trial, in report order; an
    idle one per count in ``idle_pairs``."""
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
    shapes += [
        (
            f"idle-{pairs}",
            "idle",
            f"idle: {pairs} inproc PAIR pair{'s' if pairs > 1 else ''}, a task parked on "
            f"each, round trips to a random one",
            "round trips/s",
            functools.partial(idle, pairs=pairs),
        )
        for pairs in idle_pairs
    ]
    return [
        Workload(
            key,
            title,
            unit,
            _body(shape, jobs),
            group,
            detail=detail,
            info={"jobs": jobs, **({"pairs": _pairs(key)} if group == "idle" else {})},
        )
        for key, group, title, unit, shape in shapes
    ]


def _pairs(key: str) -> int:
    """The pairs of idle workload ``key`` ("idle-500")."""
    return int(key.removeprefix("idle-"))


def _body(shape: Shape, jobs: int) -> Body:
    """``shape`` with ``jobs`` jobs."""
    return lambda api: shape(api, jobs)


def planned(jobs: int, only: Collection[str], notes: list[str]) -> list[Workload[Body]]:
    """The workloads of a run, ``jobs`` jobs a trial: the idle pair counts
    fitted to the open-file limit, raised if need be (a note says so), when
    an idle workload is to run (``only`` empty, or naming one)."""
    pairs: Sequence[int] = IDLE_PAIRS
    if not only or any(name.startswith("idle") for name in only):
        pairs, fitted = fit_counts(IDLE_PAIRS, FDS_PER_PAIR, "idle PAIR pairs")
        notes.extend(fitted)
    return workloads(jobs, pairs)


def named(keys: Sequence[str], jobs: int) -> list[Workload[Body]]:
    """The workloads ``keys`` name, in that order (``idle-N`` for any N,
    ``busy`` too): what a child process of a counting set runs."""
    pairs = [_pairs(key) for key in keys if key.startswith("idle-")]
    found = {w.key: w for w in [*workloads(jobs, pairs), busy_workload(jobs)]}
    return [found[key] for key in keys]


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
    started = start()
    await _send_n(send, api.message(PAYLOAD), jobs)
    await _receive_n(receive, jobs)
    return rate(started, jobs)


def busy_workload(jobs: int) -> Workload[Body]:
    return Workload(
        "busy",
        "busy: a send and a receive, nothing waits",
        "jobs/s",
        _body(busy, jobs),
        "busy",
        detail=f"{jobs} jobs per trial",
        info={"jobs": jobs},
    )


# ----------------------------------------------------------------------
# The summaries
# ----------------------------------------------------------------------


def summaries(
    workloads: Sequence[Workload[Any]],
    tables: Tables,
    ratios: Sequence[Ratio] = RATIOS,
    idle_flat: float | None = IDLE_FLAT,
) -> tuple[list[str], dict[str, Any]]:
    """The ratio table and the idle workloads side by side (the sections of
    the report; the idle target ``idle_flat``, None for none), and their
    figures for the JSON file."""
    counted = sorted(
        ((_pairs(w.key), w) for w in workloads if w.group == "idle"), key=lambda pair: pair[0]
    )
    parts = {
        "ratios": render_ratios(
            "Ratios per workload: median (best); >1: the first is faster (for a count per "
            "job: makes fewer)",
            workloads,
            tables,
            ratios,
        ),
        "idle_spread": render_spread(
            f"idle pairs: {counted[0][1].unit if counted else ''} at each count of pairs, "
            "median (best), and the most pairs against one pair",
            counted,
            tables,
            idle_flat,
            IDLE_SUBJECTS,
        ),
    }
    sections, records = [], {}
    for name, (text, figures) in parts.items():
        if text is not None:
            sections.append(text)
            records[name] = figures
    return sections, records


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
    help = (
        "wake-up-bound services in one process: trio_zmq sockets and channels on trio "
        "and asyncio, zmq.asyncio, naive trio and asyncio loops"
    )
    description = (
        "Wake-up-bound workloads in one process (pipelines, ping-pong, a relay ring, "
        "fan-in, a ROUTER with parked clients, idle pairs with a task parked on each), "
        "trio_zmq's sockets and channel views on trio and on asyncio (anyio) side by side "
        "with zmq.asyncio and naive trio and asyncio loops; a ratio table of the targets; "
        "the cost of one park and wake."
    )
    implementations = IMPLEMENTATIONS
    baselines = ((BASELINE, "vs zmq.asyncio"), (FLOOR, "vs naive"))
    groups = ("pipeline", "ping-pong", "ring", "fan-in", "router", "idle")
    quick_help = "a smoke run of a few seconds: 2 rounds of 400 jobs"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--jobs", type=positive_int, help="jobs per trial (20000; 400 with --quick)"
        )

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[Body]]:
        return planned(args.jobs or (400 if args.quick else 20_000), args.only, notes)

    def trial(
        self, plan: Plan[Body], workload: Workload[Body], impl: Implementation[Runner]
    ) -> float:
        return impl.run(workload.params, plan.timeout)

    def sections(self, plan: Plan[Body], tables: Tables) -> list[str]:
        """The ratio table, the idle pairs, the park-and-wake cost."""
        sections, _ = summaries(plan.workloads, tables)
        rows = [row for row in tables.get("ring", ()) if row.ok]
        floor = find_row(rows, FLOOR)
        if not rows or floor is None:
            return sections
        lines = [
            "park-and-wake cost: µs per hop of the ring (a send, a park, a wake, a receive)",
            f"  {'implementation':<28} {'median µs':>10} {'best µs':>10} {'median - naive':>15}",
        ]
        for row in rows:
            median = park_and_wake_us(row.median)
            lines.append(
                f"  {row.label:<28} {median:>10.2f} {park_and_wake_us(row.best):>10.2f} "
                f"{median - park_and_wake_us(floor.median):>+15.2f}"
            )
        return [*sections, "\n".join(lines)]

    def records(self, plan: Plan[Body], tables: Tables) -> dict[str, Any]:
        _, records = summaries(plan.workloads, tables)
        rows = [row for row in tables.get("ring", ()) if row.ok]
        if rows:
            records["park_and_wake_us"] = {
                row.key: {
                    "median": park_and_wake_us(row.median),
                    "best": park_and_wake_us(row.best),
                }
                for row in rows
            }
        return records


SET = WakeSet()


class CountingSet(WorkloadSet[Body, Runner]):
    """A set whose figure is a count per job of the wake workloads
    (``instructions``, ``syscalls``): the wake rows, baselines and
    workloads (``--only`` also takes a workload's key), and the summaries
    with the columns of :attr:`ratios`, no idle target."""

    implementations = IMPLEMENTATIONS
    baselines = SET.baselines
    groups = tuple(dict.fromkeys([*SET.groups, *(w.key for w in workloads(1)), "busy"]))
    #: The ratio table's columns.
    ratios: Sequence[Ratio] = tuple(ratio.untargeted() for ratio in RATIOS)

    def counted(
        self, jobs: int, args: argparse.Namespace, notes: list[str], **changes: Any
    ) -> list[Workload[Body]]:
        """The wake workloads of the run and busy, ``jobs`` jobs each, with
        ``changes`` (the unit...); the lower the figure the better."""
        return [
            dataclasses.replace(workload, higher_is_better=False, **changes)
            for workload in [*planned(jobs, args.only, notes), busy_workload(jobs)]
        ]

    def applies(self, workload: Workload[Body], impl: Implementation[Runner]) -> bool:
        return workload.key != "busy" or impl.key in BUSY_IMPLEMENTATIONS

    def sections(self, plan: Plan[Body], tables: Tables) -> list[str]:
        sections, _ = summaries(plan.workloads, tables, self.ratios, idle_flat=None)
        return sections

    def records(self, plan: Plan[Body], tables: Tables) -> dict[str, Any]:
        _, records = summaries(plan.workloads, tables, self.ratios, idle_flat=None)
        return records
