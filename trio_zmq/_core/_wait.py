"""Layer 1, the public face of the engine: probe, wait_readable, wait_writable.

These work on ``trio_zmq.Socket`` objects and on plain pyzmq sockets alike;
waiters on one libzmq socket share one engine whatever object they came in
through.
"""

from __future__ import annotations

from typing import Any, Protocol

import zmq

from . import _backend, _registry
from ._engine import RECV, SEND, Engine, WaitTag, read_events
from ._exceptions import closed_error


class HasZmqSocket(Protocol):
    """Anything that wraps a pyzmq socket, such as ``trio_zmq.Socket``."""

    @property
    def zmq_socket(self) -> zmq.Socket[Any]: ...


AnySocket = zmq.Socket[Any] | HasZmqSocket

_ALL_EVENTS = zmq.POLLIN | zmq.POLLOUT


def as_zmq_socket(socket: AnySocket) -> zmq.Socket[Any]:
    if isinstance(socket, zmq.Socket):
        return socket
    try:
        zsock = socket.zmq_socket
    except AttributeError:
        raise TypeError(
            f"expected a zmq.Socket or trio_zmq.Socket, not {type(socket).__name__}"
        ) from None
    return zsock


def check_events(events: int) -> int:
    """Return ``events`` if it is POLLIN, POLLOUT or both; else ValueError."""
    if not isinstance(events, int) or not events or events & ~_ALL_EVENTS:
        raise ValueError(f"events must be POLLIN, POLLOUT or both, not {events!r}")
    return events


def probe(socket: AnySocket, events: int = zmq.POLLIN) -> bool:
    """Would a receive (``zmq.POLLIN``) or send (``zmq.POLLOUT``) succeed now?

    Synchronous and never a checkpoint.  With both bits, True if either
    would.  Reading ZMQ_EVENTS consumes the fd's edge, so this also serves
    any task waiting on the socket that can now proceed.

    Raises:
      ValueError: if ``events`` has bits other than POLLIN and POLLOUT.
      trio.ClosedResourceError: if the socket is closed.
    """
    check_events(events)
    zsock = as_zmq_socket(socket)
    if zsock.closed:
        raise closed_error()
    return bool(_registry.call_and_serve(zsock, read_events, zsock) & events)


async def wait_readable(socket: AnySocket) -> None:
    """Return once a receive on ``socket`` would succeed.

    Always a checkpoint, even when the socket is already readable.  Another
    task may of course take the message first.

    Raises:
      trio.ClosedResourceError: if the socket is or gets closed.
    """
    await wait_events(_registry.engine_for(as_zmq_socket(socket)), zmq.POLLIN)


async def wait_writable(socket: AnySocket) -> None:
    """Return once a send on ``socket`` would succeed.

    Always a checkpoint, even when the socket is already writable.

    Raises:
      trio.ClosedResourceError: if the socket is or gets closed.
    """
    await wait_events(_registry.engine_for(as_zmq_socket(socket)), zmq.POLLOUT)


async def wait_events(engine: Engine, mask: int, tag: WaitTag | None = None) -> int:
    """Wait until any event in ``mask`` is ready; return the ready events.

    A checkpoint in every case.  A newcomer does not overtake tasks already
    waiting in the same direction.  ``tag`` marks the wait for
    :meth:`Engine.abort`.
    """
    backend = _backend.current()
    try:
        await backend.before_operation()
        if engine.closed:
            raise closed_error()
        directions = _DIRECTIONS[mask]
        if not any(engine.queues[d] for d in directions):
            # Nobody is ahead of us: answer from a fresh ZMQ_EVENTS read.
            ready = engine.ready_now(mask)
            if ready:
                await backend.after_operation()
                return ready
            # Not ready: engine.wait() serves once we stand in the queue,
            # which covers the edge our read may have eaten.
        result: int = await engine.wait(
            lambda events: events & mask, directions, backend, is_probe=True, tag=tag
        )
        return result
    finally:
        _registry.release_if_idle(engine)


_DIRECTIONS: dict[int, tuple[int, ...]] = {
    zmq.POLLIN: (RECV,),
    zmq.POLLOUT: (SEND,),
    zmq.POLLIN | zmq.POLLOUT: (RECV, SEND),
}
