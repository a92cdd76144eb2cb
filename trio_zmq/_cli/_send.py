"""``trio-zmq send ENDPOINT...``: the lines of stdin as messages.

One line is one message (``-d`` splits it into frames); ``--raw`` sends the
whole of stdin as one message.  A REQ ``send`` prints each reply.

A ROUTER ``send`` takes the peer's routing id as the first frame and fails
(exit status 1) on a message to a peer it does not know, instead of
dropping it as libzmq does by default (``ROUTER_MANDATORY``).  ``--peers N``
holds the first message until N peers are there: N finished handshakes,
or for PUB N subscriptions (the socket is an XPUB that reads them), so a
subscriber that joins late does not miss the start.
"""

from __future__ import annotations

import argparse
import sys

import trio
import zmq

import trio_zmq

from ._arguments import add_line_arguments, add_socket_arguments
from ._command import Command, positive_int
from ._curve import check_curve_arguments
from ._sockets import attach, make_socket, open_context, open_socket
from ._status import bounded, run_tool
from ._stdio import Progress, Stdin, render, write_stdout

#: The socket types that send.
TYPES = ("PUSH", "PUB", "REQ", "DEALER", "ROUTER", "PAIR")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``send``'s arguments."""
    add_socket_arguments(parser, TYPES, default="PUSH")
    add_line_arguments(parser)
    parser.add_argument(
        "--linger",
        type=int,
        default=-1,
        metavar="MS",
        help="how long to wait at the end for queued messages to go (-1: until they do)",
    )
    parser.add_argument(
        "--peers",
        type=positive_int,
        metavar="N",
        help="wait for N peers before the first message (PUB: N subscriptions)",
    )


async def _open_sender(
    ctx: trio_zmq.Context, args: argparse.Namespace, prog: str
) -> trio_zmq.Socket:
    """The sending socket, bound and connected, its ``--peers`` there."""
    if args.peers is not None and args.progress:
        what = "subscriptions" if args.type == "PUB" else "peers"
        print(f"{prog}: waiting for {args.peers} {what}", file=sys.stderr, flush=True)
    if args.peers is None:
        sock = open_socket(ctx, args)
    elif args.type == "PUB":
        # An XPUB sends as a PUB does, and hands over each subscription.
        sock = make_socket(ctx, args, kind=zmq.XPUB)
        sock.set(zmq.XPUB_VERBOSE, 1)  # every subscriber's, not each prefix once
        attach(sock, args.endpoints)
        for _ in range(args.peers):
            await sock.recv()
    else:
        sock = make_socket(ctx, args)
        async with sock.monitor(zmq.EVENT_HANDSHAKE_SUCCEEDED) as events:
            attach(sock, args.endpoints)
            for _ in range(args.peers):
                await events.receive()
    if args.type == "ROUTER":
        sock.set(zmq.ROUTER_MANDATORY, 1)
    return sock


async def _send(args: argparse.Namespace, prog: str) -> int:
    stdin = Stdin()
    progress = Progress(prog, args.progress)
    with bounded(args.timeout):
        async with open_context() as ctx:
            sock = await _open_sender(ctx, args, prog)
            while args.count is None or progress.count < args.count:
                if args.raw:
                    if progress.count:
                        break
                    frames = [await stdin.read_all()]
                else:
                    line = await stdin.readline()
                    if line is None:
                        break
                    frames = line.split(args.delimiter) if args.delimiter else [line]
                await sock.send_multipart(frames)
                if args.type == "REQ":
                    reply = await sock.recv_multipart()
                    await write_stdout(render(reply, args.delimiter, raw=args.raw))
                progress.tick()
            # What is queued goes out now (or after --linger ms, lost).
            sock.close(linger=args.linger)
    progress.show()
    return 0


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``trio-zmq send``: returns the exit status."""
    check_curve_arguments(parser, args)
    if args.type == "ROUTER" and not args.delimiter:
        parser.error("a ROUTER sends to the routing id in the first frame: give -d/--delimiter")
    return run_tool(parser.prog, lambda: trio.run(_send, args, parser.prog))


COMMAND = Command(
    name="send",
    help="send the lines of stdin as messages",
    description="Send each line of stdin as a message (REQ: print each reply).",
    add_arguments=add_arguments,
    run=run,
)
