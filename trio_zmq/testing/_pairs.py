"""Connected, ready socket pairs as async context managers."""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from collections.abc import AsyncIterator

import anyio
import zmq

from .._socket._context import Context
from .._socket._socket import Socket

_counter = itertools.count()


def unique_endpoint(transport: str, ipc_dir: str | None = None) -> str:
    """A fresh endpoint: a unique inproc name, an ipc path in a temp dir, or
    ``tcp://127.0.0.1`` (bind it with ``bind_to_random_port`` for a free port).
    """
    n = next(_counter)
    if transport == "inproc":
        return f"inproc://trio-zmq-{os.getpid()}-{n}"
    if transport == "ipc":
        directory = ipc_dir or tempfile.gettempdir()
        return f"ipc://{directory}/trio-zmq-{os.getpid()}-{n}"
    if transport == "tcp":
        return "tcp://127.0.0.1"
    raise ValueError(f"unknown transport {transport!r}")


def _bind(sock: Socket, endpoint: str) -> str:
    if endpoint == "tcp://127.0.0.1":
        return f"{endpoint}:{sock.bind_to_random_port(endpoint)}"
    sock.bind(endpoint)
    return endpoint


@contextlib.asynccontextmanager
async def socket_pair(
    bind_type: int,
    connect_type: int,
    transport: str = "inproc",
    *,
    context: Context | None = None,
    ipc_dir: str | None = None,
    timeout: float = 10,
) -> AsyncIterator[tuple[Socket, Socket]]:
    """Yield ``(bound, connected)`` sockets that are connected and ready.

    For PUB/SUB (and XPUB/SUB) the SUB side is subscribed to everything and
    the subscription has reached the publisher before this yields, so no
    message sent inside the block is dropped for want of it.  Both sockets
    (and the context, if this made it) are closed on exit.

    Raises:
      TimeoutError: the pair did not become ready within ``timeout`` s.
    """
    async with contextlib.AsyncExitStack() as stack:
        if context is None:
            context = await stack.enter_async_context(Context(linger=0))
        bound = context.socket(bind_type)
        stack.callback(bound.close)
        connected = context.socket(connect_type)
        stack.callback(connected.close)
        address = _bind(bound, unique_endpoint(transport, ipc_dir))
        connected.connect(address)
        if bind_type in (zmq.PUB, zmq.XPUB):
            connected.subscribe(b"")
            with anyio.fail_after(timeout):
                await sync_pub_sub(bound, connected)
        yield bound, connected


async def sync_pub_sub(pub: Socket, sub: Socket, *, interval: float = 0.01) -> None:
    """Return once ``sub``'s subscription has reached ``pub``.

    Publishes a marker until one arrives, then drains the markers, so that
    ``sub`` is empty afterwards.  ``sub`` must be subscribed to the marker
    (``b""`` subscribes to everything).
    """
    marker = b"\x00trio-zmq-sync"
    while True:
        await pub.send(marker)
        with anyio.move_on_after(interval):
            if await sub.recv() == marker:
                break
    # Drain markers still in flight: publish a numbered end marker and
    # receive until it arrives.  PUB -> SUB keeps order, so nothing sent
    # before it is left behind; a PUB at its high-water mark may drop it,
    # so a new one (and only then) goes out after each quiet interval.
    for attempt in itertools.count():
        end = b"%s-end-%d" % (marker, attempt)
        await pub.send(end)
        with anyio.move_on_after(interval):
            while await sub.recv() != end:
                pass
            return
