"""``trio-zmq send`` and ``trio-zmq recv``: stdin to messages, messages to stdout.

One line is one message (``-d`` splits it into frames, and joins received
frames with it); ``--raw`` sends the whole of stdin as one message and
writes received frames as they are.  A REQ ``send`` prints each reply; a
REP ``recv`` answers each request with itself, or with ``--reply``.

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

import zmq

import trio_zmq

from ._command import Parser, positive_int
from ._options import (
    Progress,
    Stdin,
    add_count_and_timeout,
    add_socket_options,
    attach,
    bounded,
    check_socket_options,
    delimiter,
    make_socket,
    open_context,
    open_socket,
    write_stdout,
)

SEND_TYPES = ("PUSH", "PUB", "REQ", "DEALER", "ROUTER", "PAIR")
RECV_TYPES = ("PULL", "SUB", "REP", "DEALER", "ROUTER", "PAIR")
#: How recv joins the frames of a multipart message without ``-d``.
DEFAULT_JOIN = b"\t"


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-d",
        "--delimiter",
        type=delimiter,
        help="frame delimiter within a line (escapes such as '\\t' work)",
    )
    parser.add_argument("--raw", action="store_true", help="binary data, no lines")
    add_count_and_timeout(parser, "messages")
    parser.add_argument("--progress", action="store_true", help="a message count on stderr")


def add_parsers(commands: argparse._SubParsersAction[Parser]) -> None:
    """The ``send`` and ``recv`` subcommands."""
    send = commands.add_parser(
        "send",
        help="send the lines of stdin as messages",
        description="Send each line of stdin as a message (REQ: print each reply).",
    )
    add_socket_options(send, "PUSH")
    _add_common(send)
    send.add_argument(
        "--linger",
        type=int,
        default=-1,
        metavar="MS",
        help="how long to wait at the end for queued messages to go (-1: until they do)",
    )
    send.add_argument(
        "--peers",
        type=positive_int,
        metavar="N",
        help="wait for N peers before the first message (PUB: N subscriptions)",
    )
    recv = commands.add_parser(
        "recv",
        help="print received messages as lines",
        description="Print each message received as a line (REP: answer each request).",
    )
    add_socket_options(recv, "PULL")
    _add_common(recv)
    recv.add_argument(
        "--subscribe",
        action="append",
        metavar="PREFIX",
        help="SUB: receive messages starting with PREFIX (repeatable; default: all)",
    )
    recv.add_argument("--reply", metavar="TEXT", help="REP: answer every request with TEXT")


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Errors in the arguments of send or recv (exit status 2)."""
    check_socket_options(parser, args)
    allowed = SEND_TYPES if args.command == "send" else RECV_TYPES
    if args.type not in allowed:
        parser.error(f"{args.command} takes a socket of type {', '.join(allowed)}, not {args.type}")
    if args.raw and args.delimiter is not None:
        parser.error("--raw and -d/--delimiter exclude each other")
    if args.command == "send" and args.type == "ROUTER" and not args.delimiter:
        parser.error("a ROUTER sends to the routing id in the first frame: give -d/--delimiter")
    if args.command == "recv":
        if args.subscribe and args.type != "SUB":
            parser.error("--subscribe is for a SUB socket")
        if args.reply is not None and args.type != "REP":
            parser.error("--reply is for a REP socket")


def _render(frames: list[bytes], args: argparse.Namespace) -> bytes:
    if args.raw:
        return b"".join(frames)
    return (args.delimiter or DEFAULT_JOIN).join(frames) + b"\n"


async def _open_sender(ctx: trio_zmq.Context, args: argparse.Namespace) -> trio_zmq.Socket:
    """The sending socket, bound and connected, its ``--peers`` there."""
    if args.peers is not None and args.progress:
        what = "subscriptions" if args.type == "PUB" else "peers"
        print(f"trio-zmq send: waiting for {args.peers} {what}", file=sys.stderr, flush=True)
    if args.peers is None:
        sock = open_socket(ctx, args)
    elif args.type == "PUB":
        # An XPUB sends as a PUB does, and hands over each subscription.
        sock = make_socket(ctx, args, zmq.XPUB)
        sock.set(zmq.XPUB_VERBOSE, 1)  # every subscriber's, not each prefix once
        attach(sock, args)
        for _ in range(args.peers):
            await sock.recv()
    else:
        sock = make_socket(ctx, args)
        async with sock.monitor(zmq.EVENT_HANDSHAKE_SUCCEEDED) as events:
            attach(sock, args)
            for _ in range(args.peers):
                await events.receive()
    if args.type == "ROUTER":
        sock.set(zmq.ROUTER_MANDATORY, 1)
    return sock


async def send(args: argparse.Namespace) -> int:
    """``trio-zmq send``: returns the exit status."""
    stdin = Stdin()
    progress = Progress("trio-zmq send", args.progress)
    with bounded(args.timeout):
        async with open_context() as ctx:
            sock = await _open_sender(ctx, args)
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
                    await write_stdout(_render(await sock.recv_multipart(), args))
                progress.tick()
            # What is queued goes out now (or after --linger ms, lost).
            sock.close(linger=args.linger)
    progress.show()
    return 0


async def recv(args: argparse.Namespace) -> int:
    """``trio-zmq recv``: returns the exit status."""
    progress = Progress("trio-zmq recv", args.progress)
    with bounded(args.timeout):
        async with open_context() as ctx:
            sock = open_socket(ctx, args)
            while args.count is None or progress.count < args.count:
                frames = await sock.recv_multipart()
                await write_stdout(_render(frames, args))
                if args.type == "REP":
                    reply = frames if args.reply is None else [args.reply.encode()]
                    await sock.send_multipart(reply)
                progress.tick()
            if args.type == "REP":
                sock.close(linger=1000)  # the last reply goes out, if it can
    progress.show()
    return 0
