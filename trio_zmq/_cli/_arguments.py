"""The tools' argument types, and the arguments several tools share.

Every socket of every tool is placed by an ENDPOINT argument that says which
side it takes: ``bind:ADDRESS`` or ``connect:ADDRESS`` (``bind:tcp://*:5555``,
``connect:ipc:///tmp/feed``).  An ENDPOINT without one of the two is a bad
argument.
"""

from __future__ import annotations

import argparse
import codecs
from collections.abc import Callable, Collection
from typing import NamedTuple

import zmq

from ._command import positive_int
from ._curve import add_curve_arguments

#: The socket types by name, as ``-t`` takes them.
SOCKET_TYPES = {
    name: getattr(zmq, name)
    for name in ("PUSH", "PULL", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PAIR")
}
#: What an ENDPOINT is, for ``--help``.
ENDPOINT_HELP = "bind:ADDRESS or connect:ADDRESS, e.g. bind:tcp://*:5555, connect:ipc:///tmp/x"


class Endpoint(NamedTuple):
    """An ENDPOINT argument: where a socket binds or connects."""

    binds: bool
    address: str


def endpoint(text: str) -> Endpoint:
    """An argparse type: ``bind:ADDRESS`` or ``connect:ADDRESS``."""
    side, _, address = text.partition(":")
    if side not in ("bind", "connect"):
        raise argparse.ArgumentTypeError(
            f"{text!r} does not say bind: or connect: (write bind:{text} or connect:{text})"
        )
    if not address:
        raise argparse.ArgumentTypeError(f"{text!r} has no address after {side}:")
    return Endpoint(side == "bind", address)


def socket_types(allowed: Collection[str]) -> Callable[[str], str]:
    """An argparse type: the name of a socket type in ``allowed``, any case."""

    def socket_type(text: str) -> str:
        name = text.upper()
        if name not in allowed:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(allowed)}")
        return name

    return socket_type


def positive_float(text: str) -> float:
    """An argparse type: a number of seconds above zero."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def delimiter(text: str) -> bytes:
    """An argparse type: a frame delimiter; backslash escapes (``\\t``) work."""
    value = codecs.escape_decode(text.encode())[0]
    assert isinstance(value, bytes)
    if not value:
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def add_socket_arguments(
    parser: argparse.ArgumentParser, types: Collection[str], default: str
) -> None:
    """``ENDPOINT...``, ``-t/--type`` (one of ``types``), ``--identity`` and CURVE."""
    parser.add_argument(
        "endpoints",
        nargs="+",
        type=endpoint,
        metavar="ENDPOINT",
        help=f"where the socket binds or connects (repeatable): {ENDPOINT_HELP}",
    )
    parser.add_argument(
        "-t",
        "--type",
        type=socket_types(types),
        default=default,
        help=f"socket type: {', '.join(types)} (default: {default})",
    )
    parser.add_argument(
        "--identity",
        metavar="TEXT",
        help="this socket's routing id, as a ROUTER peer sees it (default: libzmq's)",
    )
    add_curve_arguments(parser)


def add_limits(parser: argparse.ArgumentParser, what: str) -> None:
    """``-n/--count`` (stop after COUNT ``what``) and ``--timeout SECONDS``."""
    parser.add_argument(
        "-n", "--count", type=positive_int, metavar="COUNT", help=f"stop after COUNT {what}"
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        metavar="SECONDS",
        help="give up (exit status 1) when not done within SECONDS",
    )


def add_line_arguments(parser: argparse.ArgumentParser) -> None:
    """What ``send`` and ``recv`` share: ``-d`` or ``--raw``, the limits, ``--progress``."""
    framing = parser.add_mutually_exclusive_group()
    framing.add_argument(
        "-d",
        "--delimiter",
        type=delimiter,
        help="frame delimiter within a line (escapes such as '\\t' work)",
    )
    framing.add_argument("--raw", action="store_true", help="binary data, no lines")
    add_limits(parser, "messages")
    parser.add_argument("--progress", action="store_true", help="a message count on stderr")
