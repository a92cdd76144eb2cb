"""``python -m benchmarks syscalls``: the wake workloads in system calls per job.

Each round runs, per implementation, one child process under ``strace -f``
(every thread, libzmq's I/O threads included) writing its trace to a file;
the child runs every workload of the run in turn.  A workload marks the
start and the end of its measured section (the part its rate is timed
over: after the sockets are set up and warmed up, before they are closed)
with a system call nothing else makes, an ``access()`` of a path under
:data:`MARK` that names the workload and, at the end, the jobs the section
did.  The parent reads the trace and counts, per workload, the system calls
each thread started between its two marks, by name, and divides by the
jobs: start-up, set-up, warm-up and teardown are left out without
subtracting one run from another.

The tables give the total per job and, beside it, the calls the engines
make on every wake: ``getpid`` (libzmq checks for a fork in its
signaller), ``poll`` (with ``ppoll``), ``epoll_wait`` (with
``epoll_pwait`` and ``epoll_pwait2``), ``epoll_ctl``, ``read`` and
``write``.  The ratios compare totals, as speeds: above 1 the first makes
fewer (the target: trio_zmq on asyncio makes no more than zmq.asyncio).

A count does not depend on the machine's load, but it does on the order in
which the tasks and libzmq's I/O thread run, which decides whether a task
parks for every message or finds several waiting (and strace, stopping the
process at every call, shifts that order): run several rounds and read the
median and the best.

Needs strace (``apt-get install strace``) and the right to trace a child
process (in a container, ``--cap-add SYS_PTRACE`` may be needed).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import final

from . import wake
from .arguments import positive_int
from .framework import (
    BenchmarkError,
    Implementation,
    Plan,
    Sample,
    Workload,
    progress,
    run_child,
)

#: The folder (which does not exist) whose paths mark the measured sections.
MARK = "/trio-zmq-benchmark-mark"
#: The columns beside the total, and the system calls each counts.
NAMES: Mapping[str, frozenset[str]] = {
    "getpid": frozenset({"getpid"}),
    "poll": frozenset({"poll", "ppoll"}),
    "epoll_wait": frozenset({"epoll_wait", "epoll_pwait", "epoll_pwait2"}),
    "epoll_ctl": frozenset({"epoll_ctl"}),
    "read": frozenset({"read"}),
    "write": frozenset({"write"}),
}
TOTAL = "total"
#: The workloads of ``--quick``: a pipeline over each transport, two shapes
#: of parked tasks, and the fewest and most idle pairs.
QUICK_WORKLOADS = (
    "pipeline-inproc-4",
    "pipeline-tcp-4",
    "ping-pong",
    "router",
    "idle-1",
    "idle-500",
)
#: The ratio table's columns: the target on trio_zmq on asyncio only.
RATIOS = (wake.RATIOS[0], *(ratio.untargeted() for ratio in wake.RATIOS[1:]))

# A line of the trace: the thread's id (padded to 5 digits), the call.
_MARKED = re.compile(rf'^\d+\s+\w*access\w*\((?:\w+, )?"{MARK}/([^/"]+)/(start|stop/(\d+))"')
_CALL = re.compile(r"^\d+\s+(\w+)\(")


def mark(workload: str, event: str) -> None:
    """The marking system call: ``event`` ("start", "stop N") of ``workload``."""
    os.access(f"{MARK}/{workload}/{event.replace(' ', '/')}", os.F_OK)


@dataclasses.dataclass
class _Section:
    calls: Counter[str] = dataclasses.field(default_factory=Counter)
    jobs: int = 0


def count_sections(trace: Iterator[str]) -> dict[str, _Section]:
    """Per workload, the system calls started between its marks, by name,
    and its jobs, from the lines of ``strace -f -o FILE``'s trace.

    Raises:
      BenchmarkError: a workload's marks are missing or out of order.
    """
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    for line in trace:
        marked = _MARKED.match(line)
        if marked is not None:
            workload, event, jobs = marked.groups()
            if event == "start":
                current = sections[workload] = _Section()
            elif current is not None and current is sections.get(workload):
                current.jobs = int(jobs)
                current = None
            else:
                raise BenchmarkError(f"the trace has {workload}'s end without its start")
            continue
        if current is not None:
            call = _CALL.match(line)  # the start of a call, not "<... resumed>"
            if call is not None:
                current.calls[call.group(1)] += 1
    unfinished = [key for key, section in sections.items() if not section.jobs]
    if unfinished:
        raise BenchmarkError(f"the trace has no end of {', '.join(unfinished)}")
    return sections


def per_job(section: _Section) -> Sample:
    """A section's total calls per job, and per job of each of :data:`NAMES`."""
    extras = {
        name: sum(section.calls[call] for call in calls) / section.jobs
        for name, calls in NAMES.items()
    }
    return Sample(sum(section.calls.values()) / section.jobs, extras)


@final
class SyscallSet(wake.CountingSet):
    name = "syscalls"
    help = "the wake workloads in system calls per job, counted under strace"
    description = (
        "Count the system calls per job of each wake workload and implementation, "
        "every thread, under strace -f: only the calls between the marks each workload "
        "makes at the start and end of its measured section count (no start-up, set-up, "
        "warm-up or teardown); the total and getpid, poll, epoll_wait, epoll_ctl, read "
        "and write.  One child process per implementation and round runs every workload."
    )
    ratios = RATIOS
    rounds = 3
    quick_rounds = 1
    quick_help = f"1 round of 200 jobs, {', '.join(QUICK_WORKLOADS)} only (unless --only)"
    timeout = 120.0
    child_usage = ("IMPLEMENTATION", "JOBS", "TIMEOUT", "WORKLOADS")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--jobs", type=positive_int, help="jobs per workload (2000; 200 with --quick)"
        )

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[wake.Body]]:
        if shutil.which("strace") is None:
            raise BenchmarkError("strace is not installed (apt-get install strace)")
        jobs = args.jobs or (200 if args.quick else 2_000)
        workloads = self.counted(
            jobs, args, notes, unit="system calls per job", fmt=",.2f", extras_best=False
        )
        if args.quick and not args.only:
            return [workload for workload in workloads if workload.key in QUICK_WORKLOADS]
        return workloads

    @contextlib.contextmanager
    def session(self, plan: Plan[wake.Body]) -> Iterator[SyscallTrial]:
        """Each implementation's child runs every workload at once; the
        trials of the round take their counts from it."""
        counted: dict[tuple[str, str], list[Sample]] = {}
        with tempfile.TemporaryDirectory(prefix="trio-zmq-syscalls-") as folder:

            def trial(workload: Workload[wake.Body], impl: Implementation[wake.Runner]) -> Sample:
                if not counted.get((workload.key, impl.key)):
                    for key, sample in self._count(plan, impl, Path(folder)).items():
                        counted.setdefault((key, impl.key), []).append(sample)
                return counted[workload.key, impl.key].pop(0)

            yield trial

    def _count(
        self, plan: Plan[wake.Body], impl: Implementation[wake.Runner], folder: Path
    ) -> dict[str, Sample]:
        """Run ``impl``'s child under strace; each workload's counts per job."""
        keys = [workload.key for workload in plan.workloads]
        progress(f"  {impl.label}: {len(keys)} workloads under strace")
        trace = folder / f"{impl.key}.trace"
        argv = (impl.key, str(plan.workloads[0].info["jobs"]), f"{plan.timeout:g}", ",".join(keys))
        prefix = ("strace", "-f", "-qq", "-s", "256", "-o", str(trace))
        # Each workload has the deadline of a trial; start-up has one more.
        run_child(self.name, argv, plan.timeout * (len(keys) + 1), prefix=prefix)
        with trace.open(errors="replace") as lines:
            sections = count_sections(lines)
        trace.unlink()
        missing = [key for key in keys if key not in sections]
        if missing:
            raise BenchmarkError(f"the trace has no marks of {', '.join(missing)}")
        return {key: per_job(sections[key]) for key in keys}

    def child(self, argv: Sequence[str]) -> int:
        """Run every workload named under one implementation, each marking
        its measured section: the traced process."""
        impl_key, jobs, timeout, keys = argv
        impl = {i.key: i for i in self.implementations}[impl_key]
        for workload in wake.named(keys.split(","), int(jobs)):
            wake.section_marker = functools.partial(mark, workload.key)
            impl.run(workload.params, float(timeout))
        return 0


#: What the set's session hands the framework: one trial.
SyscallTrial = Callable[[Workload[wake.Body], Implementation[wake.Runner]], Sample]

SET = SyscallSet()
