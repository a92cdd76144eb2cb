"""``trio-zmq monitor``: a socket's connection events, one line each.

Each line is ``EVENT VALUE ENDPOINT``, e.g. ``CONNECTED 12 tcp://127.0.0.1:5555``
(see docs/monitor.md for what VALUE is for each event).
"""

from __future__ import annotations

import argparse

import zmq

from ._command import Parser
from ._options import (
    Progress,
    add_count_and_timeout,
    add_socket_options,
    attach,
    bounded,
    make_socket,
    open_context,
    split_endpoint,
    write_stdout,
)

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


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """The ``monitor`` subcommand."""
    monitor = commands.add_parser(
        "monitor",
        help="print a socket's connection events",
        description=(
            "Make a socket, bind or connect it (ENDPOINT: connect, unless it "
            "starts with bind:) and print each of its monitor events as a line."
        ),
    )
    monitor.add_argument("endpoint", nargs="*", metavar="ENDPOINT")
    add_socket_options(monitor, "DEALER")
    add_count_and_timeout(monitor, "events")
    monitor.add_argument(
        "--events",
        type=event_mask,
        default=zmq.EVENT_ALL,
        metavar="NAME[,NAME...]",
        help="print only these events, e.g. CONNECTED,DISCONNECTED (default: all)",
    )


def prepare(args: argparse.Namespace) -> None:
    """Move the positional endpoints to ``args.bind`` and ``args.connect``."""
    for endpoint in args.endpoint:
        how, address = split_endpoint(endpoint, default="connect")
        (args.bind if how == "bind" else args.connect).append(address)


async def monitor(args: argparse.Namespace) -> int:
    """``trio-zmq monitor``: returns the exit status."""
    counted = Progress("trio-zmq monitor", enabled=False)
    with bounded(args.timeout):
        async with open_context() as ctx:
            sock = make_socket(ctx, args)
            async with sock.monitor(args.events) as events:
                attach(sock, args)  # once the monitor runs: no event is missed
                async for event in events:
                    line = f"{event.event.name} {event.value} {event.endpoint}\n"
                    await write_stdout(line.encode())
                    counted.tick()
                    if args.count is not None and counted.count >= args.count:
                        break
    return 0
