"""``python -m benchmarks instructions``: the wake workloads in instructions per job.

Wall-clock figures on a shared 2-core machine move by 20 % between runs.
This counts instead: each (workload, implementation) of
``python -m benchmarks wake`` runs in a process of its own under
``valgrind --tool=callgrind``, which counts the user-space instructions the
process executes, libzmq's I/O threads included and the kernel not.  The
count does not depend on the machine's load.  For workloads of several
tasks it does depend on the order they run in, which trio shuffles, and
that order decides whether a consumer keeps a backlog or parks for every
message: two runs can differ by a factor of almost two (seen on the naive
loop's 1-worker pipeline), so run each several rounds (``--rounds``) and
read the median and the best.  The one-task ``busy`` workload counts the
same every time.  Each trial runs the child twice, with ``--jobs`` jobs
and with ``SMALL`` jobs, and the difference divided by the difference in
jobs is the cost of one job, free of start-up, set-up and warm-up.

The ``busy`` workload, which no wake table has: one task sends ``--jobs``
messages on an inproc PAIR and then receives them, so that no call waits:
the cost of a call's own machinery (a ``send`` plus a ``recv``, per job),
for trio_zmq and the naive loop (on asyncio a send that succeeds does not
yield, so the comparison would not hold).

Needs valgrind (``apt-get install valgrind``); under it a run is about 50
times slower, so the default is 3 000 jobs.

Another count per job by a tool that counts a whole process is another
:class:`Counter` and one more :class:`CountSet` in ``benchmarks.cli.SETS``.
System calls are counted otherwise, in the measured section only
(:mod:`benchmarks.syscalls`).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import re
import shutil
from collections.abc import Callable, Sequence
from typing import final

from . import wake
from .arguments import positive_int
from .framework import (
    BenchmarkError,
    Implementation,
    Plan,
    Workload,
    run_child,
)

#: The jobs of the run whose count is taken off (start-up, set-up, warm-up).
SMALL = 200


@final
@dataclasses.dataclass(frozen=True)
class Counter:
    """A tool that runs a command and counts something it does."""

    #: The subcommand, and what is counted ("instructions").
    name: str
    #: The program it needs, and how to get it.
    tool: str
    install: str
    #: What runs before the counted command.
    prefix: tuple[str, ...]
    #: The count, from what the tool printed on stderr (None: not found).
    parse: Callable[[str], int | None]


def _callgrind_total(stderr: str) -> int | None:
    found = re.search(r"Collected : (\d+)", stderr)
    return None if found is None else int(found.group(1))


INSTRUCTIONS = Counter(
    "instructions",
    "valgrind",
    "apt-get install valgrind",
    ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"),
    _callgrind_total,
)


@final
class CountSet(wake.CountingSet):
    """The wake workloads, each trial a count per job by ``counter``."""

    rounds = 1
    quick_rounds = 1
    quick_help = "300 jobs a count"
    timeout = 3600.0
    child_usage = ("WORKLOAD", "IMPLEMENTATION", "JOBS")

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.name = counter.name
        self.help = f"the wake workloads in {counter.name} per job, counted under {counter.tool}"
        self.description = (
            f"Count the {counter.name} per job of each wake workload and implementation "
            f"under {counter.tool} (load-independent): ({counter.name} with --jobs jobs - "
            f"{counter.name} with {SMALL}) / (--jobs - {SMALL})."
        )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--jobs", type=positive_int, help="jobs per count (3000; 300 with --quick)"
        )

    def workloads(self, args: argparse.Namespace, notes: list[str]) -> list[Workload[wake.Body]]:
        if shutil.which(self.counter.tool) is None:
            raise BenchmarkError(f"{self.counter.tool} is not installed ({self.counter.install})")
        jobs = args.jobs or (300 if args.quick else 3_000)
        if jobs <= SMALL:
            raise BenchmarkError(f"--jobs must be more than {SMALL}")
        return self.counted(jobs, args, notes, unit=f"{self.counter.name} per job")

    def trial(
        self,
        plan: Plan[wake.Body],
        workload: Workload[wake.Body],
        impl: Implementation[wake.Runner],
    ) -> float:
        jobs = int(workload.info["jobs"])
        counts = [self._count(workload.key, impl.key, n, plan.timeout) for n in (jobs, SMALL)]
        return (counts[0] - counts[1]) / (jobs - SMALL)

    def _count(self, workload: str, impl: str, jobs: int, timeout: float) -> int:
        """The count of one child process running ``jobs`` jobs."""
        argv = (workload, impl, str(jobs))
        done = run_child(self.name, argv, timeout, prefix=self.counter.prefix)
        found = self.counter.parse(done.stderr)
        if found is None:
            raise BenchmarkError(f"{self.counter.tool} printed no count: {done.stderr[-500:]}")
        return found

    def child(self, argv: Sequence[str]) -> int:
        """Run one workload under one implementation: the counted process."""
        workload_key, impl_key, jobs = argv
        [workload] = wake.named([workload_key], int(jobs))
        impl = {i.key: i for i in self.implementations}[impl_key]
        # What the command imported stays out of the collector's passes, so
        # that the count does not depend on how much that is.
        gc.collect()
        gc.freeze()
        impl.run(workload.params, self.timeout)
        return 0


SET = CountSet(INSTRUCTIONS)
