"""What ``python -m benchmarks bench`` runs: the workloads its options make.

A workload is one table of the report; its :class:`Spec` says what the
trials do: a kind (which trial every implementation runs, see
:mod:`benchmarks.impls`), a message size and count, and where the peer is
-- the peer process over the run's transport, or a thread over inproc.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .framework import Workload
from .limits import fit_counts

#: Workload groups ``--only`` can pick: the kinds, and inproc.
GROUPS = ("recv", "send", "reqrep", "dealer", "inproc", "pubsub", "idle", "rss")
#: Kinds whose figure is a round trip time (lower is better).
LATENCY_KINDS = frozenset({"reqrep", "dealer", "idle"})


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    #: Timed messages per throughput trial at 64 B and 1 KiB; the other
    #: workloads derive theirs from it (see plan_workloads).
    messages: int
    sizes: tuple[int, ...]
    quick: bool
    #: Subscriber counts of the PUB/SUB fan-out.
    fanouts: tuple[int, ...] = (1, 4, 16)
    #: Socket counts of the idle-socket wake-up (fit_idle_counts may lower them).
    idle_counts: tuple[int, ...] = (10, 100, 1000)


@dataclasses.dataclass(frozen=True)
class Preset:
    messages: int
    sizes: tuple[int, ...]


FULL = Preset(messages=100_000, sizes=(64, 1024, 65536))
#: For CI: proves that every trial works, in a few seconds; no figures to quote.
QUICK = Preset(messages=2_000, sizes=(64, 1024))


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a bench workload's trials do (see :mod:`benchmarks.impls`)."""

    kind: str
    size: int
    #: Timed messages or round trips (per subscriber, for pubsub).
    messages: int
    warmup: int
    #: Subscribers (pubsub), or all the sockets (idle).
    sockets: int = 1
    #: The peer is a thread in this process, over inproc.
    inproc: bool = False

    @property
    def is_latency(self) -> bool:
        return self.kind in LATENCY_KINDS

    @property
    def is_memory(self) -> bool:
        return self.kind == "rss"

    @property
    def group(self) -> str:
        return "inproc" if self.inproc else self.kind


def _workload(
    key: str,
    title: str,
    spec: Spec,
    *,
    rounds: int | None = None,
    short: str = "",
) -> Workload[Spec]:
    """The table of ``spec``: its unit and heading follow from its kind."""
    per_round = "in one round" if rounds == 1 else "per round"
    if spec.is_latency:
        unit, fmt, detail = "µs, p50 round trip", ",.1f", f"{spec.messages} round trips {per_round}"
    elif spec.is_memory:
        unit, fmt, detail = "MB of RSS growth", ",.2f", per_round
    elif spec.kind == "pubsub":
        unit, fmt = "msg/s delivered in total", ",.0f"
        detail = f"{spec.messages} messages to each {per_round}"
    else:
        unit, fmt, detail = (
            "msg/s at the bench side",
            ",.0f",
            f"{spec.messages} messages {per_round}",
        )
    return Workload(
        key,
        title,
        unit,
        spec,
        spec.group,
        higher_is_better=not (spec.is_latency or spec.is_memory),
        fmt=fmt,
        detail=detail,
        rounds=rounds,
        ratios=not spec.is_memory,
        short=short,
        info={
            "kind": spec.kind,
            "size": spec.size,
            "messages": spec.messages,
            "sockets": spec.sockets,
            "inproc": spec.inproc,
        },
    )


def plan_workloads(options: BenchOptions) -> list[Workload[Spec]]:
    """Every table of the run, in report order."""
    return [
        *_throughput(options),
        *_round_trips(options),
        *_inproc(options),
        *_fan_out(options),
        *_idle(options),
        _memory(options),
    ]


def _size(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def _throughput(options: BenchOptions) -> list[Workload[Spec]]:
    """PUSH/PULL at each size, a tenth of the messages at 64 KiB."""
    workloads = []
    for kind, title in (("recv", "PUSH/PULL receive"), ("send", "PUSH/PULL send")):
        for size in options.sizes:
            messages = options.messages if size <= 1024 else max(1, options.messages // 10)
            workloads.append(
                _workload(
                    f"{kind}-{size}",
                    f"{title}, {_size(size)}",
                    Spec(kind, size, messages, 1),
                    short=f"{kind} {_size(size)}",
                )
            )
    return workloads


def _round_trip_count(options: BenchOptions) -> int:
    return max(10, options.messages // 10)


def _round_trips(options: BenchOptions) -> list[Workload[Spec]]:
    count = _round_trip_count(options)
    return [
        _workload(
            key, f"{title} round trip, 64 B", Spec(kind, 64, count, min(100, count)), short=title
        )
        for key, kind, title in (
            ("reqrep-64", "reqrep", "REQ/REP"),
            ("dealer-64", "dealer", "DEALER/ROUTER"),
        )
    ]


def _inproc(options: BenchOptions) -> list[Workload[Spec]]:
    """64 B receive, send and REQ/REP again, against a peer thread over inproc.

    The peer shares the process, hence the GIL, with the implementation
    under test: these tables show what that costs each of them.
    """
    count = _round_trip_count(options)
    suffix = "64 B, inproc (peer thread)"
    return [
        _workload("recv-64-inproc", f"PUSH/PULL receive, {suffix}",
                  Spec("recv", 64, options.messages, 1, inproc=True), short="recv 64 B inproc"),
        _workload("send-64-inproc", f"PUSH/PULL send, {suffix}",
                  Spec("send", 64, options.messages, 1, inproc=True), short="send 64 B inproc"),
        _workload("reqrep-64-inproc", f"REQ/REP round trip, {suffix}",
                  Spec("reqrep", 64, count, min(100, count), inproc=True), short="REQ/REP inproc"),
    ]  # fmt: skip


def _fan_out(options: BenchOptions) -> list[Workload[Spec]]:
    """The same number of deliveries in total whatever the subscriber count."""
    workloads = []
    for subscribers in options.fanouts:
        plural = "s" if subscribers > 1 else ""
        workloads.append(
            _workload(
                f"pubsub-{subscribers}",
                f"PUB/SUB fan-out to {subscribers} subscriber{plural}, 64 B",
                Spec("pubsub", 64, max(1, options.messages // subscribers), 1, subscribers),
                short=f"PUB/SUB to {subscribers}",
            )
        )
    return workloads


def _idle(options: BenchOptions) -> list[Workload[Spec]]:
    """Round trips through one socket while a task waits on each of the others.

    Fewer round trips than REQ/REP (a fiftieth of ``--messages``): the
    question is how the figure moves with the idle count, not its tail.
    With ``--quick``, one round only: setting up and closing a thousand
    sockets is the slowest part of a quick run.
    """
    count = max(10, options.messages // 50)
    rounds = 1 if options.quick else None
    return [
        _workload(
            f"idle-{sockets}",
            f"Wake-up with {sockets} sockets ({sockets - 1} parked in recv), "
            "DEALER/ROUTER round trip, 64 B",
            Spec("idle", 64, count, min(100, count), sockets),
            rounds=rounds,
            short=f"idle: {sockets} sockets",
        )
        for sockets in options.idle_counts
    ]


def _memory(options: BenchOptions) -> Workload[Spec]:
    """Ten times ``--messages`` (1M by default) in one round: a slow table.

    The warm-up (a tenth of that) fills libzmq's queues and the allocator's
    pools first, so that what grows over the timed part is what keeps
    growing.
    """
    messages = options.messages * 10
    return _workload(
        "rss-64",
        f"RSS growth over {messages:,} messages received, PUSH/PULL, 64 B",
        Spec("rss", 64, messages, options.messages),
        rounds=1,
    )


# ----------------------------------------------------------------------
# File descriptors for the idle sockets
# ----------------------------------------------------------------------

#: Descriptors per idle socket in this process: its mailbox's eventfd and
#: its TCP connection, and one spare (the peer needs one per connection).
FDS_PER_SOCKET = 3


def fit_idle_counts(counts: Sequence[int]) -> tuple[tuple[int, ...], list[str]]:
    """The idle-socket counts that fit the open-file limit, raised if needed
    (see :func:`benchmarks.limits.fit_counts`), and the notes saying so.

    Called before the peer process starts, which inherits the limit.
    """
    return fit_counts(counts, FDS_PER_SOCKET, "idle sockets", least=2)
