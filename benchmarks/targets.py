"""What ``python -m benchmarks bench`` checks its rows against: the project's targets.

Besides its tables, the bench reports whether each target holds in the run
(ratios of medians, bests in brackets), and the idle-socket tables side by
side: the wake-up cost as the count of idle sockets grows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .framework import Row, Tables, Workload, find_row
from .plan import Spec

BASELINE = "zmq_asyncio"
LIMIT = "raw"
#: The trio_zmq row the idle-socket summary and targets are about.
SUBJECT = "trio_zmq"

RowsByWorkload = Tables
BenchWorkload = Workload[Spec]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One target checked against the run: the median figure, the best."""

    text: str
    median: float
    best: float
    goal: str
    met: bool
    #: What the figures are: "x" for ratios, " MB" for memory.
    unit: str = "x"

    def line(self) -> str:
        return (
            f"  {self.text}: {self.median:.2f}{self.unit} ({self.best:.2f}{self.unit}), "
            f"target {self.goal}: {'met' if self.met else 'NOT met'}"
        )

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SpeedTarget:
    """``subject`` at least ``minimum`` times as fast as ``reference``."""

    workload: BenchWorkload
    subject: str
    reference: str
    minimum: float

    def verdict(self, rows_by_workload: RowsByWorkload) -> Verdict | None:
        rows = rows_by_workload[self.workload.key]
        subject, reference = find_row(rows, self.subject), find_row(rows, self.reference)
        if subject is None or reference is None:
            return None
        median = subject.speed_ratio(reference)
        return Verdict(
            f"{self.workload.title}: {subject.label} vs {reference.label}",
            median,
            subject.speed_ratio(reference, best=True),
            f">= {self.minimum}x",
            median >= self.minimum,
        )


@dataclasses.dataclass(frozen=True)
class GrowthTarget:
    """``subject``'s RSS growth below ``maximum`` MB (figures in MB, not x)."""

    workload: BenchWorkload
    subject: str
    maximum: float

    def verdict(self, rows_by_workload: RowsByWorkload) -> Verdict | None:
        row = find_row(rows_by_workload[self.workload.key], self.subject)
        if row is None:
            return None
        return Verdict(
            f"{self.workload.title}: {row.label}",
            row.median,
            row.best,
            f"< {self.maximum:g} MB",
            row.median < self.maximum,
            unit=" MB",
        )


@dataclasses.dataclass(frozen=True)
class FlatTarget:
    """``subject``'s p50 with many idle sockets at most ``maximum`` times that with few."""

    few: BenchWorkload
    many: BenchWorkload
    subject: str
    maximum: float

    def verdict(self, rows_by_workload: RowsByWorkload) -> Verdict | None:
        few = find_row(rows_by_workload[self.few.key], self.subject)
        many = find_row(rows_by_workload[self.many.key], self.subject)
        if few is None or many is None:
            return None
        median = many.median / few.median
        return Verdict(
            f"wake-up, {many.label}: p50 with {self.many.params.sockets} sockets / "
            f"with {self.few.params.sockets}",
            median,
            many.best / few.best,
            f"<= {self.maximum}x (flat)",
            median <= self.maximum,
        )


Target = SpeedTarget | GrowthTarget | FlatTarget

#: "Flat" wake-up cost: p50 at the largest idle count within this factor of
#: the smallest.  Generous, as latency medians move by more than that
#: between runs here; a cost linear in the idle count would be about 100x.
FLAT = 1.5
#: RSS growth allowed over the memory workload (1M messages by default).
MAX_GROWTH_MB = 10.0


def targets(workloads: Sequence[BenchWorkload]) -> list[Target]:
    """The project's goals for this list of workloads (none for inproc).

    The per-message targets are about the cost per call, so they apply to
    small messages only: at 64 KiB copying the payload dominates, which a
    memory channel (passing a reference) never does.  The batch targets
    compare with pyzmq, which copies alike, so they apply at every size.
    """
    goals: list[Target] = []
    for workload in workloads:
        spec = workload.params
        if spec.inproc:
            continue
        small = spec.size <= 1024
        if spec.kind in ("recv", "send") and small:
            goals.append(SpeedTarget(workload, SUBJECT, "memory_channel", 0.9))
            goals.append(SpeedTarget(workload, SUBJECT, "memory_channel_1task", 0.9))
        if spec.kind == "recv" and small:
            goals.append(SpeedTarget(workload, "trio_zmq_channels", "memory_channel", 0.9))
        if spec.kind == "recv" and small:
            goals.append(SpeedTarget(workload, SUBJECT, BASELINE, 3.0))
            goals.append(SpeedTarget(workload, "trio_zmq_asyncio", BASELINE, 2.0))
        if spec.kind == "recv":
            goals.append(SpeedTarget(workload, "trio_zmq_batch", LIMIT, 0.8))
        if spec.kind == "send":
            goals.append(SpeedTarget(workload, "trio_zmq_batch", "blocking", 0.8))
        if spec.kind == "reqrep":
            goals.append(SpeedTarget(workload, SUBJECT, "blocking", 0.9))
            goals.append(SpeedTarget(workload, SUBJECT, BASELINE, 1.3))
        if spec.is_memory:
            goals.append(GrowthTarget(workload, SUBJECT, MAX_GROWTH_MB))
            goals.append(GrowthTarget(workload, "trio_zmq_batch", MAX_GROWTH_MB))
    idle = _idle(workloads)
    if len(idle) >= 2:
        goals.append(FlatTarget(idle[0], idle[-1], SUBJECT, FLAT))
    return goals


def render_targets(
    goals: Sequence[Target], rows_by_workload: RowsByWorkload
) -> tuple[str, list[dict[str, Any]]]:
    lines = ["Targets (ratios of medians, bests in brackets; RSS growth in MB):"]
    records = []
    for goal in goals:
        verdict = goal.verdict(rows_by_workload)
        if verdict is None:
            continue
        lines.append(verdict.line())
        records.append(verdict.record())
    return "\n".join(lines), records


def render_wakeups(
    workloads: Sequence[BenchWorkload], rows_by_workload: RowsByWorkload
) -> str | None:
    """The idle-socket tables side by side: p50 per idle count, and the spread."""
    idle = _idle(workloads)
    if not idle:
        return None
    labels = [row.label for row in rows_by_workload[idle[0].key] if row.ok]
    width = max([len("implementation"), *(len(label) for label in labels)])
    spread = f"{idle[-1].params.sockets}/{idle[0].params.sockets}"
    lines = [
        "Wake-up cost with idle sockets: p50 round trip through the active socket, "
        "microseconds, median over the rounds (best in brackets)",
        f"  {'implementation':<{width}}"
        + "".join(f"{f'{w.params.sockets} sockets':>20}" for w in idle)
        + f"{spread:>10}",
    ]
    for label in labels:
        found = [_row_by_label(rows_by_workload[w.key], label) for w in idle]
        cells = "".join(
            f"{f'{row.median:,.1f} ({row.best:,.1f})':>20}" if row else f"{'-':>20}"
            for row in found
        )
        first, last = found[0], found[-1]
        ratio = f"{last.median / first.median:.2f}x" if first and last else "-"
        lines.append(f"  {label:<{width}}{cells}{ratio:>10}")
    return "\n".join(lines)


def _row_by_label(rows: Sequence[Row], label: str) -> Row | None:
    return next((row for row in rows if row.label == label and row.ok), None)


def _idle(workloads: Sequence[BenchWorkload]) -> list[BenchWorkload]:
    """The idle-socket workloads, fewest sockets first."""
    idle = [w for w in workloads if w.params.kind == "idle"]
    return sorted(idle, key=lambda w: w.params.sockets)
