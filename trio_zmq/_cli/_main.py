"""``trio-zmq`` / ``python -m trio_zmq``: the command-line entry point.

Each subcommand is a :class:`~trio_zmq._cli._command.Command` in a module
of its own; its parser hands the parsed arguments to it through
``set_defaults(handler=...)``.  The benchmarks are not here: they live
beside the package, in the source checkout (``python -m benchmarks``), and
the wheel ships only the library.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence

from . import _demo, _keys, _monitor, _proxy, _recv, _send
from ._arguments import ENDPOINT_HELP
from ._command import Parser

#: The subcommands, in the order ``--help`` lists them.
COMMANDS = (
    _demo.COMMAND,
    _send.COMMAND,
    _recv.COMMAND,
    _proxy.COMMAND,
    _monitor.COMMAND,
    _keys.COMMAND,
)


def build_parser() -> Parser:
    """The parser of ``trio-zmq`` and its subcommands."""
    parser = Parser(
        prog="trio-zmq",
        description="ZeroMQ for trio: tools and demos.",
        epilog=f"An ENDPOINT is {ENDPOINT_HELP}.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        subparser = commands.add_parser(
            command.name, help=command.help, description=command.description
        )
        command.add_arguments(subparser)
        subparser.set_defaults(handler=functools.partial(command.run, subparser))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (``sys.argv[1:]`` if None); return its
    exit status: 2 for bad arguments, 130 after Ctrl-C, each said in one line."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
