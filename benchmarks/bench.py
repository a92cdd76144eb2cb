"""``python -m benchmarks bench``: trio_zmq side by side with the other ways to use pyzmq.

The machine this runs on is shared and noisy, so absolute numbers mean
little; what a run reports is *ratios within the same run*:

* every round runs every implementation once on every workload, and the
  implementations take turns (their order rotates each round), so slow
  spells of the machine hit them all alike;
* each figure is quoted as the median over the rounds and as the best one;
* the ratios compare medians against zmq.asyncio and against raw pyzmq.

The other end of most zmq workloads is a separate process using blocking
pyzmq (:mod:`benchmarks.peer`), driven one job at a time over its
stdin and stdout; the inproc workloads run the same peer code in a thread
instead.  The workloads are planned in :mod:`benchmarks.plan`, the
implementations are in :mod:`benchmarks.impls`, and the figures
are summarized in :mod:`benchmarks.report`.

Nothing here waits without a bound: every trial has a deadline, every answer
from the peer a timeout, and the peer process is ended on the way out,
whether the run finished, failed or was interrupted with Ctrl-C.

To add a workload: give it a kind in :mod:`.plan`, a peer job in
``PEER_JOBS`` and the peer, and a trial per implementation; implementations
without a trial for a kind have no row in its table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trio_zmq._cli._command import positive_int

from .arguments import add_selection, positive_float
from .environment import describe, environment
from .impls import (
    IMPLEMENTATIONS,
    Implementation,
    Job,
    Measurement,
    Trial,
    TrialTimeout,
    TrialUnavailable,
)
from .peer import PeerError, ThreadPeer
from .plan import (
    FULL,
    GROUPS,
    QUICK,
    BenchOptions,
    Workload,
    fit_idle_counts,
    plan_workloads,
)
from .progress import progress
from .report import (
    Row,
    chart_series,
    render_targets,
    render_wakeups,
    render_workload,
    summarize,
    targets,
    write_json,
)

PROG = "python -m benchmarks bench"

#: The job the peer does for each workload kind (see benchmarks.peer).
PEER_JOBS = {
    "recv": "push",
    "send": "pull",
    "reqrep": "echo",
    "dealer": "router",
    "pubsub": "publish",
    "idle": "router",
    "rss": "push",
}

#: Extra time the peer may take to start (import pyzmq) before its first answer.
PEER_START_SECONDS = 30.0
#: Extra time for a report, so that the peer's own timeout fires first.
PEER_SLACK_SECONDS = 5.0

DEFAULT_JSON = Path("bench-results/bench.json")

#: The peer process runs this file as a script: it needs only pyzmq, and
#: works from a checkout wherever the bench was started.
PEER_SCRIPT = Path(__file__).with_name("peer.py")


class BenchError(Exception):
    """The bench could not finish; the message says where and why."""


# ----------------------------------------------------------------------
# What to run
# ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny runs, 2 rounds, no 64 KiB messages: proves the bench works (CI)",
    )
    parser.add_argument("--rounds", type=positive_int, help="rounds (5; 2 with --quick)")
    parser.add_argument(
        "--messages",
        type=positive_int,
        help="timed messages per throughput trial (100000; 2000 with --quick); "
        "64 KiB and round trips use a tenth of it, idle sockets a fiftieth, "
        "PUB/SUB shares it among the subscribers, RSS growth takes ten times it",
    )
    parser.add_argument(
        "--transport",
        choices=["tcp", "ipc"],
        default="tcp",
        help="between bench and peer process (tcp); the inproc tables always use a thread",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=60.0,
        help="seconds a trial, or an answer from the peer, may take before the bench fails (60)",
    )
    add_selection(parser, GROUPS, DEFAULT_JSON)
    parser.add_argument(
        "--chart",
        type=Path,
        metavar="PNG",
        help="also draw the medians into this PNG file (needs matplotlib)",
    )


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
        chart_path=args.chart,
        only=args.only,
    )


# ----------------------------------------------------------------------
# The peer process
# ----------------------------------------------------------------------


class Peer:
    """The blocking-pyzmq peer process, one job at a time.

    ``start()`` hands it a job and returns the endpoint it bound; once the
    trial is over, ``finish()`` collects its report (only the first call per
    job waits).  Every answer is awaited with a timeout.  Use as a context
    manager: leaving it ends the process.  ``abandon()`` replaces a process
    whose job the bench gave up on (it would wait for the job's timeout).
    """

    def __init__(self, ipc_dir: str, timeout: float) -> None:
        self._ipc_dir = ipc_dir
        self._timeout = timeout
        self._process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._buffer = b""
        self._started = False
        self._job_running = False
        return subprocess.Popen(
            [sys.executable, str(PEER_SCRIPT), "--ipc-dir", self._ipc_dir],
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
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def abandon(self) -> None:
        """If a job is still running, end the process and start a fresh one."""
        if self._job_running:
            self.close()
            self._process = self._spawn()

    def start(self, job: str, transport: str, messages: int, size: int, subscribers: int) -> str:
        """Give the peer its next job; return the address it bound."""
        request = {
            "job": job,
            "transport": transport,
            "messages": messages,
            "size": size,
            "timeout": self._timeout,
            "subscribers": subscribers,
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
        self._job_running = True
        address = self._answer("ready", self._timeout + slack)
        return str(address)

    def finish(self) -> None:
        """Wait for the peer's report on the current job, if not yet seen."""
        if self._job_running:
            # A little longer than the peer's own timeout, so that a stuck
            # job is reported by the peer itself ("no progress for ...").
            self._answer("done", self._timeout + PEER_SLACK_SECONDS)
            self._job_running = False

    def _answer(self, expected: str, timeout: float) -> Any:
        reply = json.loads(self._read_line(timeout))
        if expected not in reply:
            self._job_running = False
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

_INPROC_SERIAL = itertools.count()


def run_trial(
    peer: Peer, workload: Workload, impl: Implementation, options: BenchOptions
) -> Measurement:
    job = Job(
        workload.kind,
        "",
        workload.messages,
        workload.warmup,
        workload.size,
        options.timeout,
        sockets=workload.sockets,
    )
    trial = impl.trials[workload.kind]
    gc.collect()  # start every trial with the same (empty) garbage
    if not impl.uses_peer:
        return trial(job)
    if workload.inproc:
        return _run_with_thread_peer(trial, job)
    address = peer.start(
        PEER_JOBS[workload.kind],
        options.transport,
        workload.warmup + workload.messages,
        workload.size,
        workload.sockets,
    )
    measurement = trial(dataclasses.replace(job, address=address, peer_done=peer.finish))
    peer.finish()  # a no-op if the trial has collected the report already
    return measurement


def _run_with_thread_peer(trial: Trial, job: Job) -> Measurement:
    """The trial against a peer thread bound on the trial's own context."""
    request = {
        "job": PEER_JOBS[job.kind],
        "messages": job.warmup + job.messages,
        "size": job.size,
        "timeout": job.timeout,
        "subscribers": job.sockets,
    }
    address = f"inproc://trio-zmq-bench-{next(_INPROC_SERIAL)}"
    thread_peer = ThreadPeer(request, address)
    job = dataclasses.replace(
        job, address=address, attach=thread_peer.attach, peer_done=thread_peer.finish
    )
    measurement = trial(job)
    thread_peer.finish()  # a no-op if the trial has done it already
    return measurement


@dataclasses.dataclass
class Results:
    """Every round's measurement per (workload key, implementation key), and
    the implementations that turned out unavailable, with the reason."""

    samples: dict[tuple[str, str], list[Measurement]] = dataclasses.field(default_factory=dict)
    unavailable: dict[str, str] = dataclasses.field(default_factory=dict)


def run_rounds(options: BenchOptions, workloads: Sequence[Workload]) -> Results:
    """Every round: every workload, every runnable implementation, in turn."""
    runnable = [impl for impl in IMPLEMENTATIONS if impl.missing is None]
    results = Results()
    with (
        tempfile.TemporaryDirectory(prefix="trio-zmq-bench-") as ipc_dir,
        Peer(ipc_dir, options.timeout) as peer,
    ):
        for round_index in range(options.rounds):
            started = time.perf_counter()
            shift = round_index % len(runnable)
            order = runnable[shift:] + runnable[:shift]
            for workload in workloads:
                if workload.rounds is not None and round_index >= workload.rounds:
                    continue
                for impl in order:
                    if _applies(impl, workload) and impl.key not in results.unavailable:
                        _run_one(peer, workload, impl, options, round_index, results)
            progress(
                f"  round {round_index + 1}/{options.rounds} done in "
                f"{time.perf_counter() - started:.1f} s"
            )
    return results


def _applies(impl: Implementation, workload: Workload) -> bool:
    """Whether ``impl`` has a trial for ``workload`` (inproc needs a peer)."""
    return workload.kind in impl.trials and (impl.uses_peer or not workload.inproc)


def _run_one(
    peer: Peer,
    workload: Workload,
    impl: Implementation,
    options: BenchOptions,
    round_index: int,
    results: Results,
) -> None:
    """One trial into ``results``; an unavailable implementation is noted, once."""
    try:
        measurement = run_trial(peer, workload, impl, options)
    except TrialUnavailable as exc:
        results.unavailable[impl.key] = str(exc)
        progress(f"  {impl.label}, {workload.title}: {exc}; skipped from now on")
        peer.abandon()
        return
    except (TrialTimeout, BenchError, PeerError) as exc:
        raise BenchError(f"{impl.label}, {workload.title}, round {round_index + 1}: {exc}") from exc
    results.samples.setdefault((workload.key, impl.key), []).append(measurement)


# ----------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------


def run_bench(options: BenchOptions) -> str:
    """Run every round, write the JSON file (and chart), return the report to print."""
    notes = []
    idle_counts, note = fit_idle_counts(options.idle_counts)
    if note is not None:
        notes.append(note)
        progress(f"  {note}")
    options = dataclasses.replace(options, idle_counts=idle_counts)
    workloads = plan_workloads(options)
    env = environment()
    versions = describe(env)
    progress(
        f"{PROG}: {options.rounds} rounds over {options.transport} (and inproc), "
        f"implementations interleaved round by round\n  {versions}"
    )
    started = time.perf_counter()
    results = run_rounds(options, workloads)
    seconds = time.perf_counter() - started
    rows_by_workload: dict[str, list[Row]] = {
        workload.key: summarize(workload, results.samples, results.unavailable)
        for workload in workloads
    }
    sections = [render_workload(workload, rows_by_workload[workload.key]) for workload in workloads]
    wakeups = render_wakeups(workloads, rows_by_workload)
    target_text, target_records = render_targets(targets(workloads), rows_by_workload)
    write_json(
        options.json_path,
        options,
        env,
        workloads,
        rows_by_workload,
        target_records,
        notes,
        seconds,
    )
    outputs = [f"Results: {options.json_path}"]
    if options.chart_path is not None:
        outputs.append(_chart(options, workloads, rows_by_workload, versions))
    header = (
        f"{PROG}: {options.rounds} rounds over {options.transport} (and inproc), "
        f"{seconds:.1f} s; {versions}\n"
        "Ratios are speed relative to zmq.asyncio and to raw pyzmq (>1 is faster), "
        "from medians over the rounds; only ratios within one run are comparable."
    )
    parts = [header, *notes, *sections, wakeups, target_text, "\n".join(outputs)]
    return "\n\n".join(part for part in parts if part)


def _chart(
    options: BenchOptions,
    workloads: Sequence[Workload],
    rows_by_workload: dict[str, list[Row]],
    versions: str,
) -> str:
    from .chart import write_chart  # imports matplotlib, if installed

    assert options.chart_path is not None
    speeds, latencies = chart_series(workloads, rows_by_workload)
    title = f"{PROG}, {options.rounds} rounds over {options.transport}: {versions}"
    return write_chart(options.chart_path, speeds, latencies, title)


def main(args: argparse.Namespace) -> int:
    """``python -m benchmarks bench``: 0 if the bench ran (targets are reported,
    not enforced), 1 if it failed; Ctrl-C raises KeyboardInterrupt once the
    peer process is ended (``benchmarks.cli`` turns it into one line)."""
    # SIGTERM takes the Ctrl-C path, which whoever runs at the moment (trio,
    # asyncio, plain Python) turns into KeyboardInterrupt at a safe point:
    # so the peer process is ended on the way out in both cases.  A shell
    # starting the bench in the background ignores SIGINT for it, which
    # would make SIGTERM do nothing: so that path is opened for the run.
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    previous_interrupt = signal.getsignal(signal.SIGINT)
    if previous_interrupt is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        report = run_bench(options_from(args))
    except BenchError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_interrupt)
    print(report)
    return 0


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    signal.raise_signal(signal.SIGINT)
