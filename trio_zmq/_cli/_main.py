"""``trio-zmq`` / ``python -m trio_zmq``: the command-line entry point.

The benchmarks are not here: they live beside the package, in the source
checkout (``python -m benchmarks``), and the wheel ships only the library.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import trio

from . import _demo
from ._command import Parser, positive_int, run_command


def build_parser() -> Parser:
    parser = Parser(prog="trio-zmq", description="ZeroMQ for trio: tools and demos.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="run a ventilator -> workers -> sink pipeline through trio_zmq channels",
    )
    demo.add_argument("--tasks", type=positive_int, default=20_000, help="jobs to send (20000)")
    demo.add_argument("--workers", type=positive_int, default=4, help="worker tasks (4)")
    demo.add_argument(
        "--transport",
        choices=["inproc", "ipc", "tcp"],
        default="inproc",
        help="how the stages connect (inproc)",
    )
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    return parser


def _demo_command(tasks: int, workers: int, transport: str, quiet: bool) -> int:
    options = _demo.DemoOptions(
        tasks=tasks, workers=workers, transport=transport, progress=not quiet
    )
    summary = trio.run(_demo.run_demo, options)
    print(summary.render())
    return 0 if summary.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (``sys.argv[1:]`` if None); return its
    exit status: 2 for bad arguments, 130 after Ctrl-C, each said in one line."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return run_command(
            "trio-zmq demo",
            lambda: _demo_command(args.tasks, args.workers, args.transport, args.quiet),
        )
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse prevents this


if __name__ == "__main__":
    sys.exit(main())
