"""Layer 2: ``trio_zmq.Context``, which makes sockets and closes them."""

from __future__ import annotations

import threading
from typing import Any, final

import anyio
import anyio.to_thread
import zmq

from .._core import _backend
from .._core._exceptions import closed_error
from ._errors import check_socket_type
from ._socket import Socket


@final
class Context:
    """A ZeroMQ context for trio: ``async with trio_zmq.Context() as ctx``.

    Leaving the ``async with`` block closes every socket the context made
    (their waiting tasks get :exc:`trio.ClosedResourceError`) and then
    terminates the libzmq context in a worker thread, since ``zmq_ctx_term``
    blocks while sockets linger.

    Args:
      io_threads: libzmq I/O threads.
      linger: default ZMQ_LINGER (ms) for new sockets; ``None`` keeps
        libzmq's default (-1: wait for pending messages on termination).
    """

    __slots__ = ("__weakref__", "_sockets", "_term_lock", "_zctx")

    def __init__(self, io_threads: int = 1, *, linger: int | None = None) -> None:
        self._zctx: zmq.Context[zmq.Socket[Any]] = zmq.Context(io_threads)
        if linger is not None:
            self._zctx.setsockopt(zmq.LINGER, linger)
        # Strong references: a socket lives until it is closed, by its owner
        # or by the context, never silently by the garbage collector.
        self._sockets: set[Socket] = set()
        self._term_lock = threading.Lock()

    @property
    def zmq_context(self) -> zmq.Context[zmq.Socket[Any]]:
        """The pyzmq context underneath."""
        return self._zctx

    @property
    def closed(self) -> bool:
        return self._zctx.closed

    def socket(self, socket_type: int) -> Socket:
        """Make a :class:`trio_zmq.Socket` of ``socket_type`` (``zmq.PUSH``...).

        Raises:
          ValueError: unknown type, or a draft type without ZMQ_FD.
          trio.ClosedResourceError: the context is closed.
        """
        kind = check_socket_type(socket_type)
        if self._zctx.closed:
            raise closed_error("the context is closed")
        zsock: zmq.Socket[Any] = self._zctx.socket(kind, socket_class=zmq.Socket)
        try:
            sock = Socket(zsock, _context=self)
        except BaseException:
            zsock.close(linger=0)
            raise
        self._sockets.add(sock)
        return sock

    def _forget(self, sock: Socket) -> None:
        """Called by Socket.close()."""
        self._sockets.discard(sock)

    def close_sockets(self, linger: int | None = None) -> None:
        """Close every socket this context made (waiters get ClosedResourceError)."""
        for sock in list(self._sockets):
            sock.close(linger=linger)

    async def term(self) -> None:
        """Terminate the libzmq context without blocking the trio thread.

        Waits (in a worker thread) until every socket of the context is
        closed and has finished lingering.  Cancelling the wait abandons
        the thread, which finishes on its own: the context is terminated
        either way, as trio's closing rule demands.
        """
        if self._zctx.closed:
            await _backend.current().checkpoint()
            return
        try:
            await anyio.to_thread.run_sync(self._term_once, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            # trio's rule for closing: cancelled or not, the resource ends.
            # If the worker thread never started, terminate in a thread of
            # our own (termination may block while sockets linger).
            threading.Thread(target=self._term_once, name="trio-zmq-term", daemon=True).start()
            raise

    def _term_once(self) -> None:
        with self._term_lock:
            if not self._zctx.closed:
                self._zctx.term()

    async def destroy(self, linger: int | None = None) -> None:
        """Close all sockets (with ``linger`` if given), then :meth:`term`."""
        self.close_sockets(linger)
        await self.term()

    async def aclose(self) -> None:
        """Same as :meth:`destroy` with each socket's own ZMQ_LINGER."""
        await self.destroy()

    async def __aenter__(self) -> Context:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self._sockets)} sockets"
        return f"<trio_zmq.Context {state}>"
