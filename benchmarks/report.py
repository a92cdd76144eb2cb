"""What ``python -m benchmarks bench`` makes of its samples: rows, targets, text, JSON.

Every figure is quoted as the median over the rounds and as the best round;
ratios compare medians (or bests with bests), within the run, against
zmq.asyncio and against raw pyzmq.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .impls import IMPLEMENTATIONS, Measurement
from .plan import BenchOptions, Workload

BASELINE = "zmq_asyncio"
LIMIT = "raw"
#: The trio_zmq row the idle-socket summary and targets are about.
SUBJECT = "trio_zmq"

#: A round of each (workload key, implementation key).
Samples = Mapping[tuple[str, str], Sequence[Measurement]]


def percentile(sorted_values: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile of an already sorted sequence."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


# ----------------------------------------------------------------------
# Rows: one implementation on one workload
# ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    """One implementation on one workload, over all rounds.

    ``values`` holds each round's figure: msg/s for throughput, the p50 round
    trip in microseconds for latency (``p99`` holds the p99s), MB of RSS
    growth for memory.  ``status`` is "ok" or the reason it did not run.
    """

    key: str
    label: str
    status: str
    values: tuple[float, ...] = ()
    p99: tuple[float, ...] = ()
    higher_is_better: bool = True

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def best(self) -> float:
        return max(self.values) if self.higher_is_better else min(self.values)

    @property
    def p99_median(self) -> float:
        return statistics.median(self.p99)

    @property
    def p99_best(self) -> float:
        return min(self.p99)

    def speed_ratio(self, other: Row, *, best: bool = False) -> float:
        """How many times faster than ``other`` (medians, or bests)."""
        mine, theirs = (self.best, other.best) if best else (self.median, other.median)
        return mine / theirs if self.higher_is_better else theirs / mine


def summarize(workload: Workload, samples: Samples, unavailable: Mapping[str, str]) -> list[Row]:
    """The workload's rows, in table order; implementations without a
    trial for its kind are left out (unless they say why)."""
    rows = []
    for impl in IMPLEMENTATIONS:
        if workload.inproc and not impl.uses_peer:
            continue  # no zmq: its figures are in the other tables
        if workload.kind not in impl.trials:
            if workload.kind in impl.no_trial:
                rows.append(Row(impl.key, impl.label, impl.no_trial[workload.kind]))
            continue
        measurements = samples.get((workload.key, impl.key))
        if impl.missing is not None:
            rows.append(Row(impl.key, impl.label, impl.missing))
        elif not measurements:
            rows.append(Row(impl.key, impl.label, unavailable.get(impl.key, "n/a (did not run)")))
        else:
            rows.append(_row_of(workload, impl.key, impl.label, measurements))
    return rows


def _row_of(workload: Workload, key: str, label: str, measurements: Sequence[Measurement]) -> Row:
    if workload.is_latency:
        p50s, p99s = [], []
        for measurement in measurements:
            ordered = sorted(measurement.round_trips_ns)
            p50s.append(percentile(ordered, 0.50) / 1000)
            p99s.append(percentile(ordered, 0.99) / 1000)
        return Row(key, label, "ok", tuple(p50s), tuple(p99s), higher_is_better=False)
    if workload.is_memory:
        # Rounded to 10 kB (RSS moves by 4 KiB pages), so that no "-0.00" shows.
        growth = tuple(round((m.rss_growth or 0) / 1e6, 2) + 0.0 for m in measurements)
        return Row(key, label, "ok", growth, higher_is_better=False)
    return Row(key, label, "ok", tuple(m.messages / m.seconds for m in measurements))


def find_row(rows: Sequence[Row], key: str) -> Row | None:
    for row in rows:
        if row.key == key and row.ok:
            return row
    return None


# ----------------------------------------------------------------------
# Targets
# ----------------------------------------------------------------------


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


RowsByWorkload = Mapping[str, Sequence[Row]]


@dataclasses.dataclass(frozen=True)
class SpeedTarget:
    """``subject`` at least ``minimum`` times as fast as ``reference``."""

    workload: Workload
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

    workload: Workload
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

    few: Workload
    many: Workload
    subject: str
    maximum: float

    def verdict(self, rows_by_workload: RowsByWorkload) -> Verdict | None:
        few = find_row(rows_by_workload[self.few.key], self.subject)
        many = find_row(rows_by_workload[self.many.key], self.subject)
        if few is None or many is None:
            return None
        median = many.median / few.median
        return Verdict(
            f"wake-up, {many.label}: p50 with {self.many.sockets} sockets / "
            f"with {self.few.sockets}",
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


def targets(workloads: Sequence[Workload]) -> list[Target]:
    """The project's goals for this list of workloads (none for inproc).

    The per-message targets are about the cost per call, so they apply to
    small messages only: at 64 KiB copying the payload dominates, which a
    memory channel (passing a reference) never does.  The batch targets
    compare with pyzmq, which copies alike, so they apply at every size.
    """
    goals: list[Target] = []
    for workload in workloads:
        if workload.inproc:
            continue
        small = workload.size <= 1024
        if workload.kind in ("recv", "send") and small:
            goals.append(SpeedTarget(workload, SUBJECT, "memory_channel", 0.9))
            goals.append(SpeedTarget(workload, SUBJECT, "memory_channel_1task", 0.9))
        if workload.kind == "recv" and small:
            goals.append(SpeedTarget(workload, SUBJECT, BASELINE, 3.0))
            goals.append(SpeedTarget(workload, "trio_zmq_asyncio", BASELINE, 2.0))
        if workload.kind == "recv":
            goals.append(SpeedTarget(workload, "trio_zmq_batch", LIMIT, 0.8))
        if workload.kind == "send":
            goals.append(SpeedTarget(workload, "trio_zmq_batch", "blocking", 0.8))
        if workload.kind == "reqrep":
            goals.append(SpeedTarget(workload, SUBJECT, "blocking", 0.9))
            goals.append(SpeedTarget(workload, SUBJECT, BASELINE, 1.3))
        if workload.is_memory:
            goals.append(GrowthTarget(workload, SUBJECT, MAX_GROWTH_MB))
            goals.append(GrowthTarget(workload, "trio_zmq_batch", MAX_GROWTH_MB))
    idle = sorted((w for w in workloads if w.kind == "idle"), key=lambda w: w.sockets)
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


# ----------------------------------------------------------------------
# Text
# ----------------------------------------------------------------------


def _ratio(row: Row, reference: Row | None) -> str:
    return f"{row.speed_ratio(reference):.2f}x" if reference is not None else "-"


def _heading(workload: Workload) -> str:
    per_round = "in one round" if workload.rounds == 1 else "per round"
    if workload.is_latency:
        return (
            f"{workload.title}: {workload.messages} round trips {per_round}, "
            "microseconds, lower is better"
        )
    if workload.is_memory:
        return f"{workload.title}, {per_round}: MB, lower is better"
    if workload.kind == "pubsub":
        return (
            f"{workload.title}: {workload.messages} messages to each {per_round}, "
            "msg/s delivered in total, higher is better"
        )
    return (
        f"{workload.title}: {workload.messages} messages {per_round}, "
        "msg/s at the bench side, higher is better"
    )


def render_workload(workload: Workload, rows: Sequence[Row]) -> str:
    baseline, limit = find_row(rows, BASELINE), find_row(rows, LIMIT)
    width = max([len("implementation"), *(len(row.label) for row in rows)])
    if workload.is_latency:
        columns: tuple[str, ...] = ("p50 median", "p50 best", "p99 median", "p99 best")
    else:
        columns = ("median", "best")
    ratios = not workload.is_memory
    lines = [_heading(workload), f"  {'implementation':<{width}}"]
    lines[-1] += "".join(f"{c:>12}" for c in columns)
    if ratios:
        lines[-1] += f"{'vs asyncio':>12}{'vs raw':>9}"
    for row in rows:
        if not row.ok:
            lines.append(f"  {row.label:<{width}}  {row.status}")
            continue
        if workload.is_latency:
            figures = [row.median, row.best, row.p99_median, row.p99_best]
            cells = "".join(f"{value:>12,.1f}" for value in figures)
        elif workload.is_memory:
            cells = "".join(f"{value:>12,.2f}" for value in (row.median, row.best))
        else:
            cells = "".join(f"{value:>12,.0f}" for value in (row.median, row.best))
        if ratios:
            cells += f"{_ratio(row, baseline):>12}{_ratio(row, limit):>9}"
        lines.append(f"  {row.label:<{width}}{cells}")
    return "\n".join(lines)


def render_wakeups(workloads: Sequence[Workload], rows_by_workload: RowsByWorkload) -> str | None:
    """The idle-socket tables side by side: p50 per idle count, and the spread."""
    idle = sorted((w for w in workloads if w.kind == "idle"), key=lambda w: w.sockets)
    if not idle:
        return None
    labels = [row.label for row in rows_by_workload[idle[0].key] if row.ok]
    width = max([len("implementation"), *(len(label) for label in labels)])
    spread = f"{idle[-1].sockets}/{idle[0].sockets}"
    lines = [
        "Wake-up cost with idle sockets: p50 round trip through the active socket, "
        "microseconds, median over the rounds (best in brackets)",
        f"  {'implementation':<{width}}"
        + "".join(f"{f'{w.sockets} sockets':>20}" for w in idle)
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


# ----------------------------------------------------------------------
# JSON, and the figures the chart draws
# ----------------------------------------------------------------------


def _unit(workload: Workload) -> str:
    if workload.is_latency:
        return "us (p50 per round)"
    if workload.is_memory:
        return "MB of RSS growth"
    return "msg/s"


def _row_record(row: Row, rows: Sequence[Row], workload: Workload) -> dict[str, Any]:
    if not row.ok:
        return {"status": row.status, "label": row.label}
    record: dict[str, Any] = {
        "status": "ok",
        "label": row.label,
        "rounds": list(row.values),
        "median": row.median,
        "best": row.best,
    }
    if not workload.is_memory:
        baseline, limit = find_row(rows, BASELINE), find_row(rows, LIMIT)
        record["vs_zmq_asyncio"] = row.speed_ratio(baseline) if baseline else None
        record["vs_raw"] = row.speed_ratio(limit) if limit else None
    if row.p99:
        record.update(p99_rounds=list(row.p99), p99_median=row.p99_median, p99_best=row.p99_best)
    return record


def write_json(
    path: Path,
    options: BenchOptions,
    environment: dict[str, Any],
    workloads: Sequence[Workload],
    rows_by_workload: RowsByWorkload,
    target_records: list[dict[str, Any]],
    notes: Sequence[str],
    seconds: float,
) -> None:
    document = {
        "environment": environment,
        "options": {
            "rounds": options.rounds,
            "messages": options.messages,
            "transport": options.transport,
            "timeout": options.timeout,
            "quick": options.quick,
            "only": sorted(options.only),
        },
        "seconds": seconds,
        "notes": list(notes),
        "workloads": [
            {
                "key": workload.key,
                "title": workload.title,
                "kind": workload.kind,
                "size": workload.size,
                "messages": workload.messages,
                "sockets": workload.sockets,
                "transport": "inproc" if workload.inproc else options.transport,
                "unit": _unit(workload),
                "results": {
                    row.key: _row_record(row, rows_by_workload[workload.key], workload)
                    for row in rows_by_workload[workload.key]
                },
            }
            for workload in workloads
        ],
        "targets": target_records,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


#: One panel of the chart: (group title, {implementation label: figure}).
Series = list[tuple[str, dict[str, float]]]


def chart_series(
    workloads: Sequence[Workload], rows_by_workload: RowsByWorkload
) -> tuple[Series, Series]:
    """Throughput speed vs zmq.asyncio, and p50 round trips in µs, per workload."""
    speeds: Series = []
    latencies: Series = []
    for workload in workloads:
        rows = rows_by_workload[workload.key]
        if workload.is_memory:
            continue
        if workload.is_latency:
            latencies.append((workload.label, {r.label: r.median for r in rows if r.ok}))
            continue
        baseline = find_row(rows, BASELINE)
        if baseline is not None:
            speeds.append(
                (workload.label, {r.label: r.speed_ratio(baseline) for r in rows if r.ok})
            )
    return speeds, latencies
