"""``python -m benchmarks instructions``: the wake workloads in instructions.

Wall-clock figures on a shared 2-core machine move by 20 % between runs.
This counts instead: each (workload, implementation) of
``python -m benchmarks wake`` runs in a process of its own under
``valgrind --tool=callgrind``, which counts the user-space instructions the
process executes, libzmq's I/O threads included and the kernel not.  The
count does not depend on the machine's load.  For workloads of several
tasks it does depend on the order they run in, which trio shuffles, and
that order decides whether a consumer keeps a backlog or parks for every
message: two runs can differ by a factor of almost two (seen on the naive
loop's 1-worker pipeline), so run each several times.  The one-task
``busy`` workload counts the same every time.  Each runs
twice, with ``--jobs`` jobs and with ``SMALL`` jobs, and the difference
divided by the difference in jobs is the cost of one job, free of start-up,
set-up and warm-up.

It also counts one ``busy`` workload, which no wake table has: one task
sends ``--jobs`` messages on an inproc PAIR and then receives them, so that
no call waits: the cost of a call's own machinery (a ``send`` plus a
``recv``, per job), for trio_zmq and the naive loop.

Needs valgrind (``apt-get install valgrind``); under it a run is about 50
times slower, so the default is 3 000 jobs.  docs/performance.md quotes a
run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from typing import Any

import zmq

from trio_zmq._cli._command import positive_int

from . import wake

PROG = "python -m benchmarks instructions"
SMALL = 200
#: The trio-based implementations the busy workload runs on (on asyncio a
#: send that succeeds does not yield, so the comparison would not hold).
BUSY_IMPLEMENTATIONS = (wake.SUBJECT, wake.FLOOR)
_COLLECTED = re.compile(r"Collected : (\d+)")


async def busy(api: wake.Api, jobs: int) -> float:
    """``jobs`` sends, then ``jobs`` receives, by one task on an inproc PAIR
    whose high-water marks hold them all: nothing waits."""
    sender = api.socket(zmq.PAIR)
    receiver = wake._connected(api, zmq.PAIR, wake._bind(sender, "inproc", "busy"))
    for sock in (sender, receiver):
        zsock: Any = getattr(sock, "zmq_socket", sock)  # pyzmq's own
        zsock.setsockopt(zmq.SNDHWM, jobs + 1)
        zsock.setsockopt(zmq.RCVHWM, jobs + 1)
    send, receive = api.sender(sender), api.receiver(receiver)
    started = time.perf_counter()
    await wake._send_n(send, jobs)
    await wake._receive_n(receive, jobs)
    return jobs / (time.perf_counter() - started)


BUSY = wake.Workload("busy", "busy", "busy: a send and a receive, nothing waits", "jobs/s", busy)
WORKLOADS = (*wake.WORKLOADS, BUSY)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=positive_int, default=3_000, help="jobs per count (3000)")
    parser.add_argument(
        "--only",
        default="",
        metavar="KEY[,KEY...]",
        help="workload keys (pipeline-inproc-4, ring, busy...; all)",
    )
    parser.add_argument("--child", nargs=3, metavar=("WORKLOAD", "IMPL", "JOBS"), help="internal")


def run_child(workload_key: str, impl_key: str, jobs: int) -> int:
    """Run one workload under one implementation (the counted process)."""
    workload = {w.key: w for w in WORKLOADS}[workload_key]
    impl = {i.key: i for i in wake.IMPLEMENTATIONS}[impl_key]
    impl.run(lambda api: workload.body(api, jobs), 600.0)
    return 0


def count(workload: str, impl: str, jobs: int) -> int:
    """Instructions of one child process running ``jobs`` jobs.

    Raises:
      RuntimeError: the child failed, or valgrind printed no count.
    """
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks",
        "instructions",
        "--child",
        workload,
        impl,
        str(jobs),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{workload} on {impl} failed: {done.stderr.strip()[-500:]}")
    return int(found.group(1))


def main(args: argparse.Namespace) -> int:
    if args.child:
        workload_key, impl_key, jobs_text = args.child
        return run_child(workload_key, impl_key, int(jobs_text))
    keys = [key for key in args.only.split(",") if key]
    known = {w.key for w in WORKLOADS}
    if unknown := [key for key in keys if key not in known]:
        print(f"{PROG}: error: unknown workload {', '.join(unknown)}; known: {', '.join(known)}")
        return 2
    if shutil.which("valgrind") is None:
        print(f"{PROG}: error: valgrind is not installed (apt-get install valgrind)")
        return 2
    workloads = [w for w in WORKLOADS if not keys or w.key in keys]
    jobs = args.jobs
    if jobs <= SMALL:
        print(f"{PROG}: error: --jobs must be more than {SMALL}")
        return 2
    labels = {impl.key: impl.label for impl in wake.IMPLEMENTATIONS}
    print(f"{PROG}: instructions per job, ({jobs} jobs - {SMALL} jobs) / {jobs - SMALL}")
    print(f"  {'workload':<44} " + " ".join(f"{labels[k]:>16}" for k in labels))
    for workload in workloads:
        impls = BUSY_IMPLEMENTATIONS if workload is BUSY else tuple(labels)
        cells = []
        for impl in labels:
            if impl not in impls:
                cells.append(f"{'':>16}")
                continue
            print(f"  counting {workload.key} on {labels[impl]}...", file=sys.stderr, flush=True)
            per_job = (count(workload.key, impl, jobs) - count(workload.key, impl, SMALL)) / (
                jobs - SMALL
            )
            cells.append(f"{per_job / 1000:>15.1f}k")
        print(f"  {workload.title:<44} " + " ".join(cells), flush=True)
    return 0
