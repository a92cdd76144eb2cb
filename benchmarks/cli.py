"""``python -m benchmarks bench|wake|costs|engines|instructions``: the benchmarks' command line.

(``benchmarks/__main__.py`` imports this module under its own Ctrl-C guard.)

Every command prints its progress on stderr and its report on stdout; a bad
argument is one line and exit status 2, Ctrl-C one line and exit status 130.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from trio_zmq._cli._command import Parser, positive_int, run_command

from . import bench, costs, engines, instructions, wake

PROG = "python -m benchmarks"


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="trio_zmq's benchmarks (from a source checkout; see docs/performance.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    bench.add_arguments(
        commands.add_parser(
            "bench",
            help="compare trio_zmq with pyzmq, zmq.asyncio and a trio memory channel",
            description="Compare trio_zmq with pyzmq, zmq.asyncio and a trio memory channel "
            "against a blocking-pyzmq peer process; prints ratios within the run.",
        )
    )
    wake.add_arguments(
        commands.add_parser(
            "wake",
            help="wake-up-bound services in one process: trio_zmq, zmq.asyncio, a naive loop",
            description="Wake-up-bound workloads in one process (pipelines, ping-pong, "
            "a relay ring, fan-in, a ROUTER with parked clients), trio_zmq side by side with "
            "zmq.asyncio and a naive trio loop; prints ratios within the run and the cost of "
            "one park and wake.",
        )
    )
    instructions.add_arguments(
        commands.add_parser(
            "instructions",
            help="the wake workloads in instructions per job, counted under valgrind",
            description="Count the user-space instructions per job of each wake workload "
            "and implementation under valgrind --tool=callgrind (load-independent).",
        )
    )
    for name, help_text in (
        ("costs", "microseconds per call in one process, against trio's floor and zmq.asyncio"),
        ("engines", "compare the engine's trio-native path with its anyio path"),
    ):
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--rounds", type=positive_int, default=5, help="rounds (5)")
        command.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "bench": bench.main,
    "wake": wake.main,
    "costs": lambda args: costs.main(args.rounds, args.quick),
    "engines": lambda args: engines.main(args.rounds, args.quick),
    "instructions": instructions.main,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark ``argv`` names (``sys.argv[1:]`` if None); return
    the exit status."""
    args = build_parser().parse_args(argv)
    return run_command(f"{PROG} {args.command}", lambda: COMMANDS[args.command](args))
