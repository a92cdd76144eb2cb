"""``trio-zmq`` / ``python -m trio_zmq``: the command-line entry point.

The benchmarks are not here: they live beside the package, in the source
checkout (``python -m benchmarks``), and the wheel ships only the library.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import trio

from . import _demo, _keys, _monitor_cmd, _pipe, _proxy_cmd
from ._command import Parser, positive_int, run_command
from ._options import check_curve_options, check_socket_options, run_tool


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
    _pipe.add_parsers(commands)
    _proxy_cmd.add_parser(commands)
    _monitor_cmd.add_parser(commands)
    _keys.add_parser(commands)
    return parser


def _demo_command(tasks: int, workers: int, transport: str, quiet: bool) -> int:
    options = _demo.DemoOptions(
        tasks=tasks, workers=workers, transport=transport, progress=not quiet
    )
    summary = trio.run(_demo.run_demo, options)
    print(summary.render())
    return 0 if summary.ok else 1


def _subparser(parser: Parser, name: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``, for its errors (``trio-zmq send: error: ...``)."""
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if isinstance(action, argparse._SubParsersAction):
            found = action.choices.get(name)
            if isinstance(found, argparse.ArgumentParser):
                return found
    raise AssertionError(f"no subcommand {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (``sys.argv[1:]`` if None); return its
    exit status: 2 for bad arguments, 130 after Ctrl-C, each said in one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_command(
            "trio-zmq demo",
            lambda: _demo_command(args.tasks, args.workers, args.transport, args.quiet),
        )
    prog = f"trio-zmq {args.command}"
    if args.command == "keys":
        return run_tool(prog, lambda: _keys.keys(args))
    subparser = _subparser(parser, args.command)
    if args.command == "proxy":
        check_curve_options(subparser, args)
        return run_tool(prog, lambda: trio.run(_proxy_cmd.proxy, args))
    if args.command == "monitor":
        _monitor_cmd.prepare(args)
        check_socket_options(subparser, args)
        return run_tool(prog, lambda: trio.run(_monitor_cmd.monitor, args))
    if args.command in ("send", "recv"):
        _pipe.check(subparser, args)
        command = _pipe.send if args.command == "send" else _pipe.recv
        return run_tool(prog, lambda: trio.run(command, args))
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse prevents this


if __name__ == "__main__":
    sys.exit(main())
