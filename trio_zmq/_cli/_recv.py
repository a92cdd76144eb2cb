"""``trio-zmq recv ENDPOINT...``: messages to stdout, one line each.

The frames of a message are joined with the ``-d`` delimiter (a tab without
one); ``--raw`` writes them as they are.  A REP ``recv`` answers each
request with itself, or with ``--reply``.
"""

from __future__ import annotations

import argparse

import trio

from ._arguments import add_line_arguments, add_socket_arguments
from ._command import Command
from ._curve import check_curve_arguments
from ._sockets import open_context, open_socket
from ._status import bounded, run_tool
from ._stdio import Progress, render, write_stdout

#: The socket types that receive.
TYPES = ("PULL", "SUB", "REP", "DEALER", "ROUTER", "PAIR")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``recv``'s arguments."""
    add_socket_arguments(parser, TYPES, default="PULL")
    add_line_arguments(parser)
    parser.add_argument(
        "--subscribe",
        action="append",
        metavar="PREFIX",
        help="SUB: receive messages starting with PREFIX (repeatable; default: all)",
    )
    parser.add_argument("--reply", metavar="TEXT", help="REP: answer every request with TEXT")


async def _recv(args: argparse.Namespace, prog: str) -> int:
    progress = Progress(prog, args.progress)
    with bounded(args.timeout):
        async with open_context() as ctx:
            sock = open_socket(ctx, args, subscribe=args.subscribe or [""])
            while args.count is None or progress.count < args.count:
                frames = await sock.recv_multipart()
                await write_stdout(render(frames, args.delimiter, raw=args.raw))
                if args.type == "REP":
                    reply = frames if args.reply is None else [args.reply.encode()]
                    await sock.send_multipart(reply)
                progress.tick()
            if args.type == "REP":
                sock.close(linger=1000)  # the last reply goes out, if it can
    progress.show()
    return 0


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``trio-zmq recv``: returns the exit status."""
    check_curve_arguments(parser, args)
    if args.subscribe and args.type != "SUB":
        parser.error("--subscribe is for a SUB socket")
    if args.reply is not None and args.type != "REP":
        parser.error("--reply is for a REP socket")
    return run_tool(parser.prog, lambda: trio.run(_recv, args, parser.prog))


COMMAND = Command(
    name="recv",
    help="print received messages as lines",
    description="Print each message received as a line (REP: answer each request).",
    add_arguments=add_arguments,
    run=run,
)
