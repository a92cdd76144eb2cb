"""``python -m benchmarks SET [OPTIONS]``: the benchmarks' one command line.

Every workload set is a subcommand with the same options (``--quick``,
``--rounds``, ``--timeout``, ``--only``, ``--json``, ``--chart``) and its
own; each runs through :func:`run_set`.  Progress goes to stderr, the
report to stdout; a bad argument is one line and exit status 2, Ctrl-C
(or SIGTERM) one line and exit status 130, a failed trial one line and
exit status 1.  (``benchmarks/__main__.py`` imports this module under its
own Ctrl-C guard.)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from trio_zmq._cli._command import Parser, run_command

from . import auth, bench, costs, engines, instructions, monitor, poller, proxy, syscalls, wake
from .arguments import choice_of, listed, positive_float, positive_int
from .environment import describe, environment
from .framework import BenchmarkError, Plan, WorkloadSet, progress, run_rounds, select, summarize
from .report import chart_panels, document, header, render_table, write_json

PROG = "python -m benchmarks"

#: Every workload set, in the order ``--help`` lists them.
SETS: tuple[WorkloadSet[Any, Any], ...] = (
    bench.SET,
    wake.SET,
    instructions.SET,
    syscalls.SET,
    costs.SET,
    engines.SET,
    poller.SET,
    proxy.SET,
    auth.SET,
    monitor.SET,
)


def add_common_arguments(
    parser: argparse.ArgumentParser, workload_set: WorkloadSet[Any, Any]
) -> None:
    """The options every set has."""
    parser.add_argument("--quick", action="store_true", help=workload_set.quick_help)
    parser.add_argument(
        "--rounds",
        type=positive_int,
        help=f"rounds ({workload_set.rounds}; {workload_set.quick_rounds} with --quick)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=workload_set.timeout,
        help=f"seconds a trial may take before the run fails ({workload_set.timeout:g})",
    )
    if workload_set.groups:
        parser.add_argument(
            "--only",
            type=listed(choice_of(workload_set.groups)),
            default=(),
            metavar="NAME[,NAME...]",
            help=f"run only these workloads: {', '.join(workload_set.groups)} (all)",
        )
    default_json = Path(f"bench-results/{workload_set.name}.json")
    parser.add_argument(
        "--json", type=Path, default=default_json, help=f"results file ({default_json})"
    )
    parser.add_argument(
        "--chart", type=Path, metavar="PNG", help="also draw the medians into this PNG (matplotlib)"
    )
    if workload_set.child_usage is not None:
        parser.add_argument(
            "--child", nargs=len(workload_set.child_usage), metavar=workload_set.child_usage,
            help=argparse.SUPPRESS,
        )  # fmt: skip


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="trio_zmq's benchmarks, from a source checkout: every workload set runs "
        "its implementations side by side, interleaved round by round, and reports medians, "
        "best rounds and ratios within the run.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="SET")
    for workload_set in SETS:
        command = commands.add_parser(
            workload_set.name, help=workload_set.help, description=workload_set.description
        )
        add_common_arguments(command, workload_set)
        workload_set.add_arguments(command)
        command.set_defaults(handler=functools.partial(run_set, workload_set))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the workload set ``argv`` names (``sys.argv[1:]`` if None); the exit status."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return run_command(f"{PROG} {args.command}", lambda: handler(args))


# ----------------------------------------------------------------------
# Running a set
# ----------------------------------------------------------------------


def run_set(workload_set: WorkloadSet[Any, Any], args: argparse.Namespace) -> int:
    """Run every round, print the report, write the JSON file (and chart).

    Returns 0 if the run finished (figures are reported, nothing is
    enforced), 1 if a trial failed.
    """
    prog = f"{PROG} {workload_set.name}"
    if getattr(args, "child", None) is not None:
        return workload_set.child(args.child)
    if args.rounds is None:
        args.rounds = workload_set.quick_rounds if args.quick else workload_set.rounds
    notes: list[str] = []
    env = environment()
    versions = describe(env)
    try:
        every = workload_set.workloads(args, notes)
        workloads = select(every, frozenset(getattr(args, "only", ())))
        plan = Plan(workloads, args.rounds, args.timeout, _options(args), tuple(notes))
        progress(
            f"{prog}: {len(workloads)} workloads, {len(workload_set.implementations)} "
            f"implementations, {plan.rounds} rounds, implementations interleaved\n  {versions}"
        )
        for note in notes:
            progress(f"  {note}")
        with _terminate_as_interrupt():
            results = run_rounds(workload_set, plan)
    except BenchmarkError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    tables = {w.key: summarize(workload_set, w, results) for w in workloads}
    labels = {impl.key: impl.label for impl in workload_set.implementations}
    parts = [
        header(prog, plan, results, versions, workload_set.baselines, labels),
        *notes,
        *(render_table(w, tables[w.key], workload_set.baselines) for w in workloads),
        *workload_set.sections(plan, tables),
    ]
    write_json(args.json, document(workload_set, plan, tables, results, env))
    outputs = [f"Results: {args.json}"]
    if args.chart is not None:
        from .chart import write_chart  # imports matplotlib, if installed

        title = f"{prog}, {plan.rounds} rounds: {versions}"
        outputs.append(write_chart(args.chart, chart_panels(workload_set, plan, tables), title))
    print("\n\n".join([*parts, "\n".join(outputs)]))
    return 0


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The options as JSON values."""
    options = {}
    for name, value in vars(args).items():
        if name in ("handler", "command", "child") or callable(value):
            continue
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, (frozenset, set)):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        options[name] = value
    return options


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM takes the Ctrl-C path for the block.

    Whoever runs at the moment (trio, asyncio, plain Python) turns SIGINT
    into KeyboardInterrupt at a safe point, so a peer process or thread is
    ended on the way out either way.  A shell starting the run in the
    background ignores SIGINT for it, which would make SIGTERM do nothing:
    so that path is opened for the run.
    """
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    previous_interrupt = signal.getsignal(signal.SIGINT)
    if previous_interrupt is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_interrupt)


def _raise_interrupt(signum: int, frame: object) -> None:
    signal.raise_signal(signal.SIGINT)
