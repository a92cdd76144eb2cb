"""``trio-zmq monitor``: a socket's connection events, one line each.

Each line is ``EVENT VALUE ENDPOINT``, e.g. ``CONNECTED 12 tcp://127.0.0.1:5555``
(see docs/monitor.md for what VALUE is for each event).
"""

from __future__ import annotations

import argparse

from ._command import Parser
from ._options import (
    Progress,
    add_count_and_timeout,
    add_socket_options,
    bounded,
    open_context,
    open_socket,
    write_stdout,
)


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


def prepare(args: argparse.Namespace) -> None:
    """Move the positional endpoints to ``args.bind`` and ``args.connect``."""
    for endpoint in args.endpoint:
        if endpoint.startswith("bind:"):
            args.bind.append(endpoint.removeprefix("bind:"))
        else:
            args.connect.append(endpoint.removeprefix("connect:"))


async def monitor(args: argparse.Namespace) -> int:
    """``trio-zmq monitor``: returns the exit status."""
    counted = Progress("trio-zmq monitor", enabled=False)
    with bounded(args.timeout):
        async with open_context() as ctx:
            sock = open_socket(ctx, _deferred(args))
            async with sock.monitor() as events:
                for endpoint in args.bind:
                    sock.bind(endpoint)
                for endpoint in args.connect:
                    sock.connect(endpoint)
                async for event in events:
                    line = f"{event.event.name} {event.value} {event.endpoint}\n"
                    await write_stdout(line.encode())
                    counted.tick()
                    if args.count is not None and counted.count >= args.count:
                        break
    return 0


def _deferred(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` without endpoints: they are bound and connected once the monitor runs."""
    return argparse.Namespace(**{**vars(args), "bind": [], "connect": []})
