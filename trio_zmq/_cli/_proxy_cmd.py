"""``trio-zmq proxy FRONTEND BACKEND``: :func:`trio_zmq.proxy` between two sockets.

An endpoint may start with ``bind:`` or ``connect:``; without a prefix the
socket binds (a broker is the fixed point others connect to).  The CURVE
options secure the frontend, the side clients come from; ``--capture``
sends a copy of every forwarded message to a third socket (PUB unless
``--capture-type`` says otherwise).
"""

from __future__ import annotations

import argparse

import trio_zmq

from ._command import Parser
from ._options import (
    SOCKET_TYPES,
    add_curve_options,
    apply_curve,
    open_context,
    socket_type,
    split_endpoint,
)


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """The ``proxy`` subcommand."""
    proxy = commands.add_parser(
        "proxy",
        help="forward messages between two sockets until interrupted",
        description=(
            "Forward messages between a frontend and a backend socket until "
            "interrupted. ENDPOINT may start with bind: or connect: (default: bind)."
        ),
    )
    proxy.add_argument("frontend", metavar="FRONTEND_ENDPOINT")
    proxy.add_argument("backend", metavar="BACKEND_ENDPOINT")
    proxy.add_argument("--frontend-type", type=socket_type, default="ROUTER", help="(ROUTER)")
    proxy.add_argument("--backend-type", type=socket_type, default="DEALER", help="(DEALER)")
    proxy.add_argument(
        "--capture",
        metavar="ENDPOINT",
        help="send a copy of every forwarded message to a socket at ENDPOINT",
    )
    proxy.add_argument("--capture-type", type=socket_type, default="PUB", help="(PUB)")
    add_curve_options(proxy)


def _open(
    ctx: trio_zmq.Context,
    type_name: str,
    endpoint: str,
    curve: argparse.Namespace | None = None,
) -> trio_zmq.Socket:
    sock = ctx.socket(SOCKET_TYPES[type_name])
    if curve is not None:
        apply_curve(sock, curve)
    how, address = split_endpoint(endpoint, default="bind")
    if type_name == "SUB":
        sock.subscribe(b"")
    if how == "bind":
        sock.bind(address)
    else:
        sock.connect(address)
    return sock


async def proxy(args: argparse.Namespace) -> int:
    """``trio-zmq proxy``: forwards until interrupted."""
    async with open_context() as ctx:
        frontend = _open(ctx, args.frontend_type, args.frontend, args)
        backend = _open(ctx, args.backend_type, args.backend)
        capture = None
        if args.capture is not None:
            capture = _open(ctx, args.capture_type, args.capture)
        await trio_zmq.proxy(frontend, backend, capture)
    raise AssertionError("trio_zmq.proxy returned")  # it forwards until cancelled
