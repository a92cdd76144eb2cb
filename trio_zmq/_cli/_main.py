"""``trio-zmq`` / ``python -m trio_zmq``: the command-line entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import trio

from . import _bench, _costs, _demo, _engines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trio-zmq", description="ZeroMQ for trio: tools and demos."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="run a ventilator -> workers -> sink pipeline through trio_zmq channels",
    )
    demo.add_argument("--tasks", type=_positive, default=20_000, help="jobs to send (20000)")
    demo.add_argument("--workers", type=_positive, default=4, help="worker tasks (4)")
    demo.add_argument(
        "--transport",
        choices=["inproc", "ipc", "tcp"],
        default="inproc",
        help="how the stages connect (inproc)",
    )
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    bench = commands.add_parser(
        "bench",
        help="compare trio_zmq with pyzmq, zmq.asyncio and a trio memory channel",
        description="Compare trio_zmq with pyzmq, zmq.asyncio and a trio memory channel "
        "against a blocking-pyzmq peer process; prints ratios within the run.",
    )
    _bench.add_arguments(bench)
    engines = commands.add_parser(
        "engines",
        help="compare the engine's trio-native path with its anyio path (trio and asyncio)",
    )
    engines.add_argument("--rounds", type=_positive, default=5, help="rounds (5)")
    engines.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    costs = commands.add_parser(
        "costs",
        help="microseconds per call in one process, against trio's floor and zmq.asyncio",
    )
    costs.add_argument("--rounds", type=_positive, default=5, help="rounds (5)")
    costs.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        options = _demo.DemoOptions(
            tasks=args.tasks,
            workers=args.workers,
            transport=args.transport,
            progress=not args.quiet,
        )
        summary = trio.run(_demo.run_demo, options)
        print(summary.render())
        return 0 if summary.ok else 1
    if args.command == "bench":
        return _bench.main(args)
    if args.command == "engines":
        return _engines.main(args.rounds, args.quick)
    if args.command == "costs":
        return _costs.main(args.rounds, args.quick)
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse prevents this


if __name__ == "__main__":
    sys.exit(main())
