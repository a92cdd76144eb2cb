"""``python -m benchmarks bench``: trio_zmq side by side with the other ways to use pyzmq.

A workload set of :mod:`benchmarks.framework`: its rounds interleave the
implementations, and its tables quote medians, best rounds and ratios
against zmq.asyncio and against raw pyzmq, within the run.  Figures:
messages per second, the p50 (and p99) round trip in microseconds, or the
growth of the resident memory.

The other end of most zmq workloads is a separate process using blocking
pyzmq (:mod:`benchmarks.peer`), driven one job at a time over its
stdin and stdout; the inproc workloads run the same peer code in a thread
instead.  The workloads are planned in :mod:`benchmarks.plan`, the
implementations are in :mod:`benchmarks.impls`, and the targets the
report checks are in :mod:`benchmarks.targets`.

Nothing here waits without a bound: every trial has a deadline, every answer
from the peer a timeout, and the peer process is ended on the way out,
whether the run finished, failed or was interrupted with Ctrl-C.

To add an implementation: an ``implementation(...)`` in
:mod:`benchmarks.impls` with a trial per workload kind, in its
``IMPLEMENTATIONS``.  To add a workload: give it a kind in
:mod:`benchmarks.plan`, a peer job in ``PEER_JOBS`` and the peer, and a
trial per implementation; implementations without a trial for a kind have
no row in its table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import math
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, final

from .arguments import positive_int
from .framework import (
    BenchmarkError,
    Implementation,
    Plan,
    Sample,
    Tables,
    TrialUnavailable,
    Workload,
    WorkloadSet,
)
from .impls import IMPLEMENTATIONS, Job, Measurement, Trial, Trials
from .peer import PeerError, ThreadPeer
from .plan import FULL, GROUPS, QUICK, BenchOptions, Spec, fit_idle_counts, plan_workloads
from .targets import BASELINE, LIMIT, render_targets, render_wakeups, targets

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

#: The peer process runs this file as a script: it needs only pyzmq, and
#: works from a checkout wherever the bench was started.
PEER_SCRIPT = Path(__file__).with_name("peer.py")


# ----------------------------------------------------------------------
# The peer process
# ----------------------------------------------------------------------


@final
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
            raise BenchmarkError(self._exited()) from None
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
            raise BenchmarkError(f"the peer process failed: {reply.get('error', reply)}")
        return reply[expected]

    def _read_line(self, timeout: float) -> bytes:
        stdout = self._process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchmarkError(f"the peer process did not answer within {timeout:g} s")
            readable, _, _ = select.select([stdout], [], [], remaining)
            if readable:
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    raise BenchmarkError(self._exited())
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
    peer: Peer, spec: Spec, trials: Trials, transport: str, timeout: float
) -> Measurement:
    """One trial of ``spec``: against the peer process, a peer thread, or alone."""
    job = Job(spec.kind, "", spec.messages, spec.warmup, spec.size, timeout, sockets=spec.sockets)
    trial = trials.trials[spec.kind]
    if not trials.uses_peer:
        return trial(job)
    if spec.inproc:
        return _run_with_thread_peer(trial, job)
    address = peer.start(
        PEER_JOBS[spec.kind], transport, spec.warmup + spec.messages, spec.size, spec.sockets
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


def sample(spec: Spec, measurement: Measurement) -> Sample:
    """The figure of a measurement: the p50 round trip in µs (and the p99),
    MB of RSS growth, or messages per second."""
    if spec.is_latency:
        ordered = sorted(measurement.round_trips_ns)
        return Sample(percentile(ordered, 0.50) / 1000, {"p99": percentile(ordered, 0.99) / 1000})
    if spec.is_memory:
        # Rounded to 10 kB (RSS moves by 4 KiB pages), so that no "-0.00" shows.
        return Sample(round((measurement.rss_growth or 0) / 1e6, 2) + 0.0)
    return Sample(measurement.messages / measurement.seconds)


def percentile(sorted_values: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile of an already sorted sequence."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


# ----------------------------------------------------------------------
# The set
# ----------------------------------------------------------------------


@final
class BenchSet(WorkloadSet[Spec, Trials]):
    name = "bench"
    help = "trio_zmq beside pyzmq, zmq.asyncio, zmq-anyio and a trio memory channel"
    description = (
        "Compare trio_zmq with pyzmq, zmq.asyncio, zmq-anyio and a trio memory channel "
        "against a blocking-pyzmq peer process (and a peer thread over inproc); checks "
        "the project's targets."
    )
    implementations = IMPLEMENTATIONS
    baselines = ((BASELINE, "vs asyncio"), (LIMIT, "vs raw"))
    groups = GROUPS
    quick_help = "tiny runs, 2 rounds, no 64 KiB messages: proves the bench works (CI)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
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

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[Spec]]:
        preset = QUICK if args.quick else FULL
        options = BenchOptions(args.messages or preset.messages, preset.sizes, args.quick)
        only: tuple[str, ...] = args.only
        if not only or "idle" in only:
            idle_counts, fitted = fit_idle_counts(options.idle_counts)
            notes.extend(fitted)
            options = dataclasses.replace(options, idle_counts=idle_counts)
        return plan_workloads(options)

    def applies(self, workload: Workload[Spec], impl: Implementation[Trials]) -> bool | str:
        spec, trials = workload.params, impl.run
        if spec.inproc and not trials.uses_peer:
            return False  # no zmq: its figures are in the other tables
        if spec.kind not in trials.trials:
            return trials.no_trial.get(spec.kind, False)
        return True

    @contextlib.contextmanager
    def session(self, plan: Plan[Spec]) -> Iterator[BenchTrial]:
        """The peer process, for the whole run (ended on the way out)."""
        transport = str(plan.options["transport"])
        with (
            tempfile.TemporaryDirectory(prefix="trio-zmq-bench-") as ipc_dir,
            Peer(ipc_dir, plan.timeout) as peer,
        ):

            def trial(workload: Workload[Spec], impl: Implementation[Trials]) -> Sample:
                try:
                    measurement = run_trial(
                        peer, workload.params, impl.run, transport, plan.timeout
                    )
                except TrialUnavailable:
                    peer.abandon()
                    raise
                except PeerError as exc:
                    raise BenchmarkError(str(exc)) from exc
                return sample(workload.params, measurement)

            yield trial

    def sections(self, plan: Plan[Spec], tables: Tables) -> list[str]:
        wakeups = render_wakeups(plan.workloads, tables)
        text, _ = render_targets(targets(plan.workloads), tables)
        return [part for part in (wakeups, text) if part]

    def records(self, plan: Plan[Spec], tables: Tables) -> dict[str, Any]:
        return {"targets": render_targets(targets(plan.workloads), tables)[1]}


#: What the bench's session hands the framework: one trial.
BenchTrial = Callable[[Workload[Spec], Implementation[Trials]], Sample]

SET = BenchSet()
