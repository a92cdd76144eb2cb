"""``trio-zmq proxy FRONTEND BACKEND``: :func:`trio_zmq.proxy` between two sockets.

Each socket binds or connects as its ENDPOINT says.  The CURVE arguments
secure the frontend, the side clients come from; ``--capture`` sends a copy
of every forwarded message to a third socket (PUB unless ``--capture-type``
says otherwise).  A SUB subscribes to everything.
"""

from __future__ import annotations

import argparse

import trio

import trio_zmq

from ._arguments import ENDPOINT_HELP, SOCKET_TYPES, Endpoint, endpoint, socket_types
from ._command import Command
from ._curve import add_curve_arguments, apply_curve, check_curve_arguments
from ._sockets import attach, open_context
from ._status import run_tool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``proxy``'s arguments."""
    parser.add_argument("frontend", type=endpoint, metavar="FRONTEND", help=ENDPOINT_HELP)
    parser.add_argument("backend", type=endpoint, metavar="BACKEND", help=ENDPOINT_HELP)
    socket_type = socket_types(SOCKET_TYPES)
    parser.add_argument("--frontend-type", type=socket_type, default="ROUTER", help="(ROUTER)")
    parser.add_argument("--backend-type", type=socket_type, default="DEALER", help="(DEALER)")
    parser.add_argument(
        "--capture",
        type=endpoint,
        metavar="ENDPOINT",
        help="send a copy of every forwarded message to a socket at ENDPOINT",
    )
    parser.add_argument("--capture-type", type=socket_type, default="PUB", help="(PUB)")
    add_curve_arguments(parser)


def _open(
    ctx: trio_zmq.Context,
    type_name: str,
    where: Endpoint,
    curve: argparse.Namespace | None = None,
) -> trio_zmq.Socket:
    sock = ctx.socket(SOCKET_TYPES[type_name])
    if curve is not None:
        apply_curve(sock, curve)
    if type_name == "SUB":
        sock.subscribe(b"")
    attach(sock, [where])
    return sock


async def _proxy(args: argparse.Namespace) -> int:
    async with open_context() as ctx:
        frontend = _open(ctx, args.frontend_type, args.frontend, args)
        backend = _open(ctx, args.backend_type, args.backend)
        capture = None
        if args.capture is not None:
            capture = _open(ctx, args.capture_type, args.capture)
        await trio_zmq.proxy(frontend, backend, capture)
    raise AssertionError("trio_zmq.proxy returned")  # it forwards until cancelled


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``trio-zmq proxy``: forwards until interrupted."""
    check_curve_arguments(parser, args)
    return run_tool(parser.prog, lambda: trio.run(_proxy, args))


COMMAND = Command(
    name="proxy",
    help="forward messages between two sockets until interrupted",
    description="Forward messages between a frontend and a backend socket until interrupted.",
    add_arguments=add_arguments,
    run=run,
)
