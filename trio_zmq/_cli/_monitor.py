"""``trio-zmq monitor ENDPOINT...``: a socket's connection events, one line each.

Each line is ``EVENT VALUE ENDPOINT``, e.g. ``CONNECTED 12 tcp://127.0.0.1:5555``
(see docs/monitor.md for what VALUE is for each event).
"""

from __future__ import annotations

import argparse

import trio
import zmq

from ._arguments import SOCKET_TYPES, add_limits, add_socket_arguments
from ._command import Command
from ._curve import check_curve_arguments
from ._sockets import attach, make_socket, open_context
from ._status import bounded, run_tool
from ._stdio import write_stdout

#: The event names ``--events`` takes, and their flags.
EVENTS = {
    event.name: int(event)
    for event in zmq.Event
    if event.name and not event.name.startswith("PROTOCOL_ERROR") and event & zmq.EVENT_ALL
}


def event_mask(text: str) -> int:
    """An argparse type: comma-separated event names (any case), or'ed."""
    mask = 0
    for name in text.upper().replace(" ", "").split(","):
        if name not in EVENTS:
            raise argparse.ArgumentTypeError(f"unknown event {name!r} (one of {', '.join(EVENTS)})")
        mask |= EVENTS[name]
    return mask


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``monitor``'s arguments."""
    add_socket_arguments(parser, SOCKET_TYPES, default="DEALER")
    add_limits(parser, "events")
    parser.add_argument(
        "--events",
        type=event_mask,
        default=zmq.EVENT_ALL,
        metavar="NAME[,NAME...]",
        help="print only these events, e.g. CONNECTED,DISCONNECTED (default: all)",
    )


async def _monitor(args: argparse.Namespace) -> int:
    printed = 0
    with bounded(args.timeout):
        async with open_context() as ctx:
            sock = make_socket(ctx, args)
            async with sock.monitor(args.events) as events:
                attach(sock, args.endpoints)  # once the monitor runs: no event is missed
                async for event in events:
                    line = f"{event.event.name} {event.value} {event.endpoint}\n"
                    await write_stdout(line.encode())
                    printed += 1
                    if printed == args.count:
                        break
    return 0


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``trio-zmq monitor``: returns the exit status."""
    check_curve_arguments(parser, args)
    return run_tool(parser.prog, lambda: trio.run(_monitor, args))


COMMAND = Command(
    name="monitor",
    help="print a socket's connection events",
    description=(
        "Make a socket, start its monitor, bind or connect the socket to each "
        "ENDPOINT and print each of its monitor events as a line."
    ),
    add_arguments=add_arguments,
    run=run,
)
