"""The tools' context and sockets, made from their arguments.

A socket gets its type (``-t``), ``--identity`` and CURVE keys from
:func:`make_socket`, then binds or connects to its ENDPOINTs with
:func:`attach` (a tool that watches a socket starts its monitor in between).
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Iterable

import zmq

import trio_zmq

from ._arguments import SOCKET_TYPES, Endpoint
from ._curve import apply_curve


def open_context() -> trio_zmq.Context:
    """The tools' context: sockets do not linger unless a tool says so."""
    # A tool that lingers on purpose (send, to deliver what it queued) may
    # be interrupted then: that must not end in a warning.
    warnings.simplefilter("ignore", trio_zmq.ContextTermWarning)
    return trio_zmq.Context(linger=0)


def make_socket(
    ctx: trio_zmq.Context,
    args: argparse.Namespace,
    *,
    kind: int | None = None,
    subscribe: Iterable[str] = ("",),
) -> trio_zmq.Socket:
    """A socket of ``args.type`` (or ``kind``) with its identity and CURVE
    keys, not yet bound or connected; a SUB subscribes to each prefix in
    ``subscribe`` (by default, to everything)."""
    sock = ctx.socket(SOCKET_TYPES[args.type] if kind is None else kind)
    if args.identity is not None:
        sock.set(zmq.ROUTING_ID, args.identity.encode())
    apply_curve(sock, args)
    if args.type == "SUB":
        for prefix in subscribe:
            sock.subscribe(prefix)
    return sock


def attach(sock: trio_zmq.Socket, endpoints: Iterable[Endpoint]) -> None:
    """Bind ``sock`` to each ``bind:`` endpoint, connect it to each ``connect:`` one."""
    for binds, address in endpoints:
        if binds:
            sock.bind(address)
        else:
            sock.connect(address)


def open_socket(
    ctx: trio_zmq.Context, args: argparse.Namespace, *, subscribe: Iterable[str] = ("",)
) -> trio_zmq.Socket:
    """:func:`make_socket`, attached to ``args.endpoints``."""
    sock = make_socket(ctx, args, subscribe=subscribe)
    attach(sock, args.endpoints)
    return sock
