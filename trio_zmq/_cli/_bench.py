"""``trio-zmq bench``: trio_zmq side by side with the other ways to use pyzmq.

The machine this runs on is shared and noisy, so absolute numbers mean
little; what a run reports is *ratios within the same run*:

* every round runs every implementation once on every workload, and the
  implementations take turns (their order rotates each round), so slow
  spells of the machine hit them all alike;
* each figure is quoted as the median over the rounds and as the best one;
* the ratios compare medians against zmq.asyncio and against raw pyzmq.

The other end of every zmq workload is a separate process using blocking
pyzmq (:mod:`trio_zmq._cli._bench_peer`), driven one job at a time over its
stdin and stdout; the implementations are in :mod:`trio_zmq._cli._bench_impls`.

Nothing here waits without a bound: every trial has a deadline, every answer
from the peer a timeout, and the peer process is ended on the way out,
whether the run finished, failed or was interrupted with Ctrl-C.

To add a workload later (PUB/SUB fan-out, idle-socket wake-ups, RSS growth):
give it a kind in :func:`plan_workloads`, a peer job in ``PEER_JOBS`` and the
peer, and a trial per implementation; implementations without a trial for a
kind show "n/a" for it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import math
import os
import platform
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio
import zmq

import trio_zmq

from ._bench_impls import IMPLEMENTATIONS, Implementation, Job, Measurement, TrialTimeout

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # a dependency of trio there

BASELINE = "zmq_asyncio"
LIMIT = "raw"

#: The job the peer does for each workload kind (see _bench_peer).
PEER_JOBS = {"recv": "push", "send": "pull", "reqrep": "echo"}

#: Extra time the peer may take to start (import pyzmq) before its first answer.
PEER_START_SECONDS = 30.0
#: Extra time for a report, so that the peer's own timeout fires first.
PEER_SLACK_SECONDS = 5.0

DEFAULT_JSON = Path("bench-results/bench.json")


class BenchError(Exception):
    """The bench could not finish; the message says where and why."""


# ----------------------------------------------------------------------
# What to run
# ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    rounds: int
    #: Timed messages per throughput trial at 64 B and 1 KiB; the other
    #: workloads derive theirs from it (see plan_workloads).
    messages: int
    transport: str
    timeout: float
    sizes: tuple[int, ...]
    json_path: Path
    quick: bool


@dataclasses.dataclass(frozen=True)
class Preset:
    rounds: int
    messages: int
    sizes: tuple[int, ...]


FULL = Preset(rounds=5, messages=100_000, sizes=(64, 1024, 65536))
#: For CI: proves that every trial works, in a few seconds; no figures to quote.
QUICK = Preset(rounds=2, messages=2_000, sizes=(64, 1024))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny runs, 2 rounds, no 64 KiB messages: proves the bench works (CI)",
    )
    parser.add_argument("--rounds", type=_positive, help="rounds (5; 2 with --quick)")
    parser.add_argument(
        "--messages",
        type=_positive,
        help="timed messages per throughput trial (100000; 2000 with --quick); "
        "64 KiB and REQ/REP use a tenth of it",
    )
    parser.add_argument(
        "--transport", choices=["tcp", "ipc"], default="tcp", help="between bench and peer (tcp)"
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=60.0,
        help="seconds a trial, or an answer from the peer, may take before the bench fails (60)",
    )
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"results file ({DEFAULT_JSON})"
    )


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return value


def options_from(args: argparse.Namespace) -> BenchOptions:
    preset = QUICK if args.quick else FULL
    return BenchOptions(
        rounds=args.rounds or preset.rounds,
        messages=args.messages or preset.messages,
        transport=args.transport,
        timeout=args.timeout,
        sizes=preset.sizes,
        json_path=args.json,
        quick=args.quick,
    )


@dataclasses.dataclass(frozen=True)
class Workload:
    key: str
    kind: str
    size: int
    messages: int
    warmup: int
    title: str

    @property
    def is_latency(self) -> bool:
        return self.kind == "reqrep"


def plan_workloads(options: BenchOptions) -> list[Workload]:
    """Throughput at each size (a tenth of the messages at 64 KiB), then REQ/REP."""
    workloads = []
    for kind, title in (("recv", "PUSH/PULL receive"), ("send", "PUSH/PULL send")):
        for size in options.sizes:
            messages = options.messages if size <= 1024 else max(1, options.messages // 10)
            workloads.append(
                Workload(f"{kind}-{size}", kind, size, messages, 1, f"{title}, {_size(size)}")
            )
    round_trips = max(10, options.messages // 10)
    workloads.append(
        Workload(
            "reqrep-64",
            "reqrep",
            64,
            round_trips,
            min(100, round_trips),
            "REQ/REP round trip, 64 B",
        )
    )
    return workloads


def _size(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


# ----------------------------------------------------------------------
# The peer process
# ----------------------------------------------------------------------


class Peer:
    """The blocking-pyzmq peer process, one job at a time.

    ``start()`` hands it a job and returns the endpoint it bound; once the
    trial is over, ``finish()`` collects its report (only the first call per
    job waits).  Every answer is awaited with a timeout.  Use as a context
    manager: leaving it ends the process.
    """

    def __init__(self, ipc_dir: str, timeout: float) -> None:
        self._timeout = timeout
        self._buffer = b""
        self._started = False
        self._job_running = False
        self._process = subprocess.Popen(
            [sys.executable, "-m", "trio_zmq._cli._bench_peer", "--ipc-dir", ipc_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Ctrl-C goes to the bench only; the bench ends the peer itself.
            start_new_session=True,
        )

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the peer: close its stdin, then terminate, then kill."""
        process = self._process
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
        try:
            process.wait(timeout=0.5)  # an idle peer exits at the end of its input
        except subprocess.TimeoutExpired:
            process.terminate()  # one busy with a job does not read it
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def start(self, kind: str, transport: str, messages: int, size: int) -> str:
        """Give the peer its next job; return the address it bound."""
        request = {
            "job": PEER_JOBS[kind],
            "transport": transport,
            "messages": messages,
            "size": size,
            "timeout": self._timeout,
        }
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except BrokenPipeError:
            raise BenchError(self._exited()) from None
        # The first answer also waits for the process to start (import pyzmq).
        slack = 0.0 if self._started else PEER_START_SECONDS
        self._started = True
        address = self._answer("ready", self._timeout + slack)
        self._job_running = True
        return str(address)

    def finish(self) -> None:
        """Wait for the peer's report on the current job, if not yet seen."""
        if self._job_running:
            self._job_running = False
            # A little longer than the peer's own timeout, so that a stuck
            # job is reported by the peer itself ("no progress for ...").
            self._answer("done", self._timeout + PEER_SLACK_SECONDS)

    def _answer(self, expected: str, timeout: float) -> Any:
        reply = json.loads(self._read_line(timeout))
        if expected not in reply:
            raise BenchError(f"the peer process failed: {reply.get('error', reply)}")
        return reply[expected]

    def _read_line(self, timeout: float) -> bytes:
        stdout = self._process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"the peer process did not answer within {timeout:g} s")
            readable, _, _ = select.select([stdout], [], [], remaining)
            if readable:
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    raise BenchError(self._exited())
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _exited(self) -> str:
        try:
            code = self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the peer process closed its output but did not exit"
        return f"the peer process exited unexpectedly (exit code {code})"


# ----------------------------------------------------------------------
# Running the rounds
# ----------------------------------------------------------------------


def run_trial(
    peer: Peer, workload: Workload, impl: Implementation, options: BenchOptions
) -> Measurement:
    job = Job("", workload.messages, workload.warmup, workload.size, options.timeout)
    trial = impl.trials[workload.kind]
    gc.collect()  # start every trial with the same (empty) garbage
    if not impl.uses_peer:
        return trial(job)
    address = peer.start(
        workload.kind, options.transport, workload.warmup + workload.messages, workload.size
    )
    measurement = trial(dataclasses.replace(job, address=address, peer_done=peer.finish))
    peer.finish()  # a no-op if the trial has collected the report already
    return measurement


def run_rounds(
    options: BenchOptions, workloads: Sequence[Workload]
) -> dict[tuple[str, str], list[Measurement]]:
    """Every round: every workload, every runnable implementation, in turn."""
    runnable = [impl for impl in IMPLEMENTATIONS if impl.missing is None]
    samples: dict[tuple[str, str], list[Measurement]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="trio-zmq-bench-") as ipc_dir,
        Peer(ipc_dir, options.timeout) as peer,
    ):
        for round_index in range(options.rounds):
            started = time.perf_counter()
            shift = round_index % len(runnable)
            order = runnable[shift:] + runnable[:shift]
            for workload in workloads:
                for impl in order:
                    if workload.kind not in impl.trials:
                        continue
                    try:
                        measurement = run_trial(peer, workload, impl, options)
                    except (TrialTimeout, BenchError) as exc:
                        raise BenchError(
                            f"{impl.label}, {workload.title}, round {round_index + 1}: {exc}"
                        ) from exc
                    samples.setdefault((workload.key, impl.key), []).append(measurement)
            print(
                f"  round {round_index + 1}/{options.rounds} done in "
                f"{time.perf_counter() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    return samples


# ----------------------------------------------------------------------
# Summaries: medians, bests, ratios
# ----------------------------------------------------------------------


def percentile(sorted_values: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile of an already sorted sequence."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclasses.dataclass(frozen=True)
class Row:
    """One implementation on one workload, over all rounds.

    ``values`` holds each round's figure: msg/s for throughput, the p50 round
    trip in microseconds for latency (``p99`` holds the p99s).  ``status`` is
    "ok" or the reason it did not run.
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


def summarize(workload: Workload, samples: dict[tuple[str, str], list[Measurement]]) -> list[Row]:
    rows = []
    for impl in IMPLEMENTATIONS:
        measurements = samples.get((workload.key, impl.key))
        if impl.missing is not None:
            rows.append(Row(impl.key, impl.label, impl.missing))
        elif not measurements:
            rows.append(Row(impl.key, impl.label, impl.no_trial))
        elif workload.is_latency:
            p50s, p99s = [], []
            for measurement in measurements:
                ordered = sorted(measurement.round_trips_ns)
                p50s.append(percentile(ordered, 0.50) / 1000)
                p99s.append(percentile(ordered, 0.99) / 1000)
            rows.append(
                Row(impl.key, impl.label, "ok", tuple(p50s), tuple(p99s), higher_is_better=False)
            )
        else:
            rates = tuple(m.messages / m.seconds for m in measurements)
            rows.append(Row(impl.key, impl.label, "ok", rates))
    return rows


def _row(rows: Sequence[Row], key: str) -> Row | None:
    for row in rows:
        if row.key == key and row.ok:
            return row
    return None


@dataclasses.dataclass(frozen=True)
class Target:
    workload: Workload
    subject: str
    reference: str
    minimum: float


def targets(workloads: Sequence[Workload]) -> list[Target]:
    """The project's goals for this list of workloads.

    The receive targets are about the cost per call, so they apply to small
    messages only: at 64 KiB copying the payload dominates, which a memory
    channel (passing a reference) never does.
    """
    goals = []
    for workload in workloads:
        if workload.kind == "recv" and workload.size <= 1024:
            goals.append(Target(workload, "trio_zmq", "memory_channel", 0.9))
            goals.append(Target(workload, "trio_zmq", "memory_channel_1task", 0.9))
            goals.append(Target(workload, "trio_zmq", "zmq_asyncio", 3.0))
        elif workload.kind == "reqrep":
            goals.append(Target(workload, "trio_zmq", "blocking", 0.9))
            goals.append(Target(workload, "trio_zmq", "zmq_asyncio", 1.3))
    return goals


# ----------------------------------------------------------------------
# Output: the table and the JSON file
# ----------------------------------------------------------------------


def _ratio(row: Row, reference: Row | None) -> str:
    return f"{row.speed_ratio(reference):.2f}x" if reference is not None else "-"


def render_workload(workload: Workload, rows: Sequence[Row]) -> str:
    baseline, limit = _row(rows, BASELINE), _row(rows, LIMIT)
    width = max(len(row.label) for row in rows)
    if workload.is_latency:
        heading = (
            f"{workload.title}: {workload.messages} round trips per round, "
            "microseconds, lower is better"
        )
        columns: tuple[str, ...] = ("p50 median", "p50 best", "p99 median", "p99 best")
    else:
        heading = (
            f"{workload.title}: {workload.messages} messages per round, "
            "msg/s at the bench side, higher is better"
        )
        columns = ("median", "best")
    lines = [heading, f"  {'implementation':<{width}}"]
    lines[-1] += "".join(f"{c:>12}" for c in columns) + f"{'vs asyncio':>12}{'vs raw':>9}"
    for row in rows:
        if not row.ok:
            lines.append(f"  {row.label:<{width}}  {row.status}")
            continue
        if workload.is_latency:
            figures = [row.median, row.best, row.p99_median, row.p99_best]
            cells = "".join(f"{value:>12,.1f}" for value in figures)
        else:
            cells = "".join(f"{value:>12,.0f}" for value in (row.median, row.best))
        lines.append(
            f"  {row.label:<{width}}{cells}{_ratio(row, baseline):>12}{_ratio(row, limit):>9}"
        )
    return "\n".join(lines)


def render_targets(
    goals: Sequence[Target], rows_by_workload: dict[str, list[Row]]
) -> tuple[str, list[dict[str, Any]]]:
    lines = ["Targets (trio_zmq per-message; speed ratios of medians, bests in brackets):"]
    records = []
    for goal in goals:
        rows = rows_by_workload[goal.workload.key]
        subject, reference = _row(rows, goal.subject), _row(rows, goal.reference)
        if subject is None or reference is None:
            continue
        median = subject.speed_ratio(reference)
        best = subject.speed_ratio(reference, best=True)
        met = median >= goal.minimum
        lines.append(
            f"  {goal.workload.title}: vs {reference.label} {median:.2f}x ({best:.2f}x), "
            f"target >= {goal.minimum}x: {'met' if met else 'NOT met'}"
        )
        records.append(
            {
                "workload": goal.workload.key,
                "subject": goal.subject,
                "reference": goal.reference,
                "minimum": goal.minimum,
                "median_ratio": median,
                "best_ratio": best,
                "met": met,
            }
        )
    return "\n".join(lines), records


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "pyzmq": zmq.pyzmq_version(),
        "libzmq": zmq.zmq_version(),
        "trio": trio.__version__,
        "trio_zmq": trio_zmq.__version__,
    }


def write_json(
    path: Path,
    options: BenchOptions,
    workloads: Sequence[Workload],
    rows_by_workload: dict[str, list[Row]],
    target_records: list[dict[str, Any]],
    seconds: float,
) -> None:
    def row_record(row: Row, rows: Sequence[Row]) -> dict[str, Any]:
        if not row.ok:
            return {"status": row.status}
        baseline, limit = _row(rows, BASELINE), _row(rows, LIMIT)
        record: dict[str, Any] = {
            "status": "ok",
            "label": row.label,
            "rounds": list(row.values),
            "median": row.median,
            "best": row.best,
            "vs_zmq_asyncio": row.speed_ratio(baseline) if baseline else None,
            "vs_raw": row.speed_ratio(limit) if limit else None,
        }
        if row.p99:
            record.update(
                p99_rounds=list(row.p99), p99_median=row.p99_median, p99_best=row.p99_best
            )
        return record

    document = {
        "environment": environment(),
        "options": {
            "rounds": options.rounds,
            "messages": options.messages,
            "transport": options.transport,
            "timeout": options.timeout,
            "quick": options.quick,
        },
        "seconds": seconds,
        "workloads": [
            {
                "key": workload.key,
                "title": workload.title,
                "kind": workload.kind,
                "size": workload.size,
                "messages": workload.messages,
                "unit": "us (p50 per round)" if workload.is_latency else "msg/s",
                "results": {
                    row.key: row_record(row, rows_by_workload[workload.key])
                    for row in rows_by_workload[workload.key]
                },
            }
            for workload in workloads
        ],
        "targets": target_records,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


# ----------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------


def run_bench(options: BenchOptions) -> str:
    """Run every round, write the JSON file, return the report to print."""
    workloads = plan_workloads(options)
    env = environment()
    print(
        f"trio-zmq bench: {options.rounds} rounds over {options.transport}, "
        f"implementations interleaved round by round\n"
        f"  python {env['python']}, pyzmq {env['pyzmq']}, libzmq {env['libzmq']}, "
        f"trio {env['trio']}, {env['cpus']} CPUs",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    samples = run_rounds(options, workloads)
    seconds = time.perf_counter() - started
    rows_by_workload = {workload.key: summarize(workload, samples) for workload in workloads}
    sections = [render_workload(workload, rows_by_workload[workload.key]) for workload in workloads]
    target_text, target_records = render_targets(targets(workloads), rows_by_workload)
    write_json(options.json_path, options, workloads, rows_by_workload, target_records, seconds)
    header = (
        f"trio-zmq bench: {options.rounds} rounds over {options.transport}, {seconds:.1f} s; "
        f"python {env['python']}, pyzmq {env['pyzmq']}, libzmq {env['libzmq']}, "
        f"trio {env['trio']}, {env['cpus']} CPUs\n"
        "Ratios are speed relative to zmq.asyncio and to raw pyzmq (>1 is faster), "
        "from medians over the rounds; only ratios within one run are comparable."
    )
    return "\n\n".join([header, *sections, target_text, f"Results: {options.json_path}"])


def main(args: argparse.Namespace) -> int:
    """``trio-zmq bench``: 0 if the bench ran (targets are reported, not enforced)."""
    # SIGTERM takes the Ctrl-C path, which whoever runs at the moment (trio,
    # asyncio, plain Python) turns into KeyboardInterrupt at a safe point:
    # so the peer process is ended on the way out in both cases.
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        report = run_bench(options_from(args))
    except BenchError as exc:
        print(f"trio-zmq bench: error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, BaseExceptionGroup) as exc:
        if not _is_interrupt(exc):
            raise
        print("trio-zmq bench: interrupted; the peer process was stopped", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(report)
    return 0


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    signal.raise_signal(signal.SIGINT)


def _is_interrupt(exc: BaseException) -> bool:
    """KeyboardInterrupt, possibly inside a trio nursery's exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(KeyboardInterrupt) is not None
    return isinstance(exc, KeyboardInterrupt)
