"""Layer 2: ``trio_zmq.Context``, which makes sockets and closes them."""

from __future__ import annotations

import math
import threading
import warnings
from typing import Any, final

import anyio
import anyio.to_thread
import zmq

from .._core import _backend, _registry
from .._core._exceptions import closed_error
from ._errors import check_socket_type
from ._socket import Socket

#: Default of ``Context(term_report_after=...)``, in seconds.
TERM_REPORT_AFTER = 5.0
#: How many of the sockets closed with a linger a report lists by name.
_REPORT_NAMES = 10


class ContextTermWarning(RuntimeWarning):
    """Terminating a :class:`trio_zmq.Context` has waited longer than its
    ``term_report_after``; the message says what libzmq is waiting for."""


@final
class Context:
    """A ZeroMQ context for trio: ``async with trio_zmq.Context() as ctx``.

    Leaving the ``async with`` block closes every socket of the libzmq
    context that trio_zmq can see (see :meth:`close_sockets`; their waiting
    tasks get :exc:`trio.ClosedResourceError`), then terminates the libzmq
    context in a thread of its own, since ``zmq_ctx_term`` blocks while
    sockets linger.  If that takes longer than ``term_report_after`` seconds, a
    :class:`ContextTermWarning` says what it waits for (see :meth:`term`);
    when the block is left because of an exception, the wait then stops
    and that exception propagates.

    Args:
      io_threads: libzmq I/O threads.
      linger: default ZMQ_LINGER (ms) for sockets made by this context (by
        :meth:`socket`, and by ``ctx.zmq_context.socket()``); ``None`` keeps
        libzmq's default (-1: wait for pending messages on termination).
      term_report_after: seconds the termination may wait before it reports
        (positive).  ``math.inf`` turns the report off: the termination then
        waits silently, also when the block is left on an exception.
    """

    __slots__ = (
        "__weakref__",
        "_lingering",
        "_sockets",
        "_term_error",
        "_term_lock",
        "_term_report_after",
        "_term_thread",
        "_terminated",
        "_zctx",
    )

    def __init__(
        self,
        io_threads: int = 1,
        *,
        linger: int | None = None,
        term_report_after: float = TERM_REPORT_AFTER,
    ) -> None:
        if (
            not isinstance(term_report_after, (int, float))
            or isinstance(term_report_after, bool)
            or math.isnan(term_report_after)
            or term_report_after <= 0
        ):
            raise ValueError(
                f"term_report_after must be a positive number of seconds, not {term_report_after!r}"
            )
        self._zctx: zmq.Context[zmq.Socket[Any]] = zmq.Context(io_threads)
        if linger is not None:
            self._zctx.setsockopt(zmq.LINGER, linger)
        self._term_report_after = float(term_report_after)
        # Strong references: a socket lives until it is closed, by its owner
        # or by the context, never silently by the garbage collector.
        self._sockets: set[Socket] = set()
        self._term_lock = threading.Lock()
        self._term_thread: threading.Thread | None = None
        self._terminated = threading.Event()
        self._term_error: BaseException | None = None
        #: Sockets close_sockets() closed with a non-zero linger, described
        #: for the report of a slow termination.
        self._lingering: list[str] = []

    @property
    def zmq_context(self) -> zmq.Context[zmq.Socket[Any]]:
        """The pyzmq context underneath."""
        return self._zctx

    @property
    def closed(self) -> bool:
        """Whether the libzmq context is terminated."""
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
        """Close every socket of the libzmq context that trio_zmq can see.

        First the sockets :meth:`socket` made, through their
        :class:`trio_zmq.Socket`; then those made through pyzmq with
        ``ctx.zmq_context.socket()`` (the PAIR of ``get_monitor_socket()``,
        for one).  Tasks waiting on any of them, through trio_zmq or through
        :func:`trio_zmq.wait_readable` on the pyzmq socket, get
        :exc:`trio.ClosedResourceError`.  Each socket closes with its own
        ZMQ_LINGER (for sockets this context made, ``Context(linger=)``
        unless changed), or with ``linger`` if given, as pyzmq's
        ``zmq.Context.destroy(linger)``.

        Like ``destroy()``, this is not thread-safe: a socket another thread
        uses must be closed by that thread.  Make such a socket with
        ``zmq.Socket(ctx.zmq_context, kind)``, which this method leaves
        alone, and close it when its calls raise ``zmq.ContextTerminated``.
        """
        for sock in list(self._sockets):
            self._note_linger(sock.zmq_socket, linger, sock)
            sock.close(linger=linger)
        for zsock in pyzmq_sockets(self._zctx):
            self._note_linger(zsock, linger, zsock)
            close_plain_socket(zsock, linger)

    def _note_linger(self, zsock: zmq.Socket[Any], linger: int | None, shown: object) -> None:
        """Remember ``zsock`` for the report if it may linger once closed."""
        if zsock.closed:
            return
        try:
            if linger is None:
                linger = int(zsock.getsockopt(zmq.LINGER))
            endpoint = zsock.getsockopt(zmq.LAST_ENDPOINT)
        except zmq.ZMQError:
            self._lingering.append(f"{shown!r}")
            return
        if linger == 0:
            return
        wait = "until delivered" if linger < 0 else f"up to {linger} ms"
        where = endpoint.decode(errors="replace") if isinstance(endpoint, bytes) else ""
        self._lingering.append(
            f"{shown!r} (linger {linger}: {wait}" + (f"; last endpoint {where})" if where else ")")
        )

    async def term(self) -> None:
        """Terminate the libzmq context without blocking the event loop.

        ``zmq_ctx_term`` runs in a thread of its own and returns once every
        socket of the context is closed and has finished lingering.  After
        ``term_report_after`` seconds of real time (5 by default) this warns
        with a :class:`ContextTermWarning` that names what it is waiting
        for, then goes on waiting.  Cancelling the wait leaves that thread
        running: the context is terminated either way, as trio's closing
        rule demands.
        """
        await self._terminate(give_up=False)

    async def _terminate(self, *, give_up: bool) -> str | None:
        """Terminate in a thread of its own; wait for it, reporting after the bound.

        With ``give_up`` (leaving on an exception), stop waiting after the
        bound, or when cancelled, and return the report (``None`` if
        cancelled or done); the termination goes on in its thread.
        Otherwise warn with the report and go on waiting.  Called straight
        from the public method (term, destroy, aclose, __aexit__), so the
        warning points at that method's caller.
        """
        if self._zctx.closed:
            await _backend.current().checkpoint()
            return None
        # Started before any wait: cancelled or not, the context ends
        # (trio's rule for closing).
        self._start_term()
        try:
            if not await self._wait_terminated(self._term_report_after):
                report = self._term_report(give_up)
                if give_up:
                    return report
                warnings.warn(report, ContextTermWarning, stacklevel=3)
                await self._wait_terminated(math.inf)
        except anyio.get_cancelled_exc_class():
            if give_up:
                # Raising Cancelled here would replace the exception the
                # block is leaving with (and a cancel scope catching it
                # would hide that exception for good).  The scope stays
                # cancelled: the next checkpoint raises Cancelled again.
                return None
            raise
        if self._term_error is not None and not give_up:
            raise self._term_error
        return None

    def _start_term(self) -> None:
        """Start zmq_ctx_term in a daemon thread, once per context.

        A thread of its own rather than a worker's: a cancelled wait leaves
        it running, and the wait for it can be bounded in real time.
        """
        with self._term_lock:
            if self._term_thread is None:
                self._term_thread = threading.Thread(
                    target=self._run_term, name="trio-zmq-term", daemon=True
                )
                self._term_thread.start()

    def _run_term(self) -> None:
        try:
            self._zctx.term()
        except BaseException as exc:
            self._term_error = exc
        finally:
            self._terminated.set()

    async def _wait_terminated(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the termination thread; True once it is done.

        The wait sits in a worker thread, abandoned if cancelled, and its
        bound is real time: the event loop's clock may be virtual
        (trio.testing.MockClock would jump straight to a deadline of its own
        while the loop only waits for the thread).
        """
        timeout = None if math.isinf(seconds) else seconds
        done: bool = await anyio.to_thread.run_sync(
            self._terminated.wait, timeout, abandon_on_cancel=True
        )
        return done

    def _term_report(self, giving_up: bool) -> str:
        """What zmq_ctx_term is waiting for, as far as trio_zmq can tell."""
        lines = [
            f"trio_zmq.Context: terminating the libzmq context has waited "
            f"{self._term_report_after:g} s.  zmq_ctx_term() returns once every "
            "socket of the context is closed and has delivered its queued "
            "messages or reached its ZMQ_LINGER."
        ]
        still_open = pyzmq_sockets(self._zctx)
        if still_open:
            lines.append("Still open: " + ", ".join(repr(s) for s in still_open) + ".")
        lingering = self._lingering
        if lingering:
            shown = lingering[-_REPORT_NAMES:]
            more = len(lingering) - len(shown)
            lines.append(
                "Closed on leaving with a non-zero linger, so perhaps still "
                "delivering queued messages: "
                + ", ".join(shown)
                + (f" and {more} more" if more else "")
                + "."
            )
        else:
            lines.append("No socket closed on leaving has a non-zero linger.")
        lines.append(
            "trio_zmq cannot see sockets made with zmq.Socket(ctx.zmq_context, ...) "
            "or through a shadow context, sockets another thread keeps open, nor "
            "sockets closed earlier with a linger and undelivered messages.  A "
            "finite linger bounds the wait: trio_zmq.Context(linger=0), "
            "sock.close(linger=0) or await ctx.destroy(linger=0)."
        )
        if giving_up:
            lines.append(
                "Leaving the block because of an exception: no longer waiting; the "
                "context terminates in a background thread once that is done."
            )
        else:
            lines.append("Still waiting.")
        return "\n".join(lines)

    async def destroy(self, linger: int | None = None) -> None:
        """Close all sockets (with ``linger`` if given), then :meth:`term`."""
        self.close_sockets(linger)
        await self._terminate(give_up=False)

    async def aclose(self) -> None:
        """Same as :meth:`destroy` with each socket's own ZMQ_LINGER."""
        self.close_sockets()
        await self._terminate(give_up=False)

    async def __aenter__(self) -> Context:
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close_sockets()
        if exc is None:
            await self._terminate(give_up=False)
            return
        # Leaving because of an exception: it must surface, whatever libzmq
        # still waits for.  So the wait stops after the bound, and the report
        # goes to a warning, and to the exception as a note.
        report = await self._terminate(give_up=True)
        if report is None:
            return
        note = (
            f"trio_zmq.Context: stopped waiting for zmq_ctx_term() after "
            f"{self._term_report_after:g} s to let this exception through; "
            "the ContextTermWarning says what it waits for."
        )
        try:
            warnings.warn(report, ContextTermWarning, stacklevel=2)
        except Warning:
            # Warnings turned into errors (-W error) must not replace the
            # exception the block is leaving with: the note carries the report.
            note = report
        add_note = getattr(exc, "add_note", None)  # Python 3.11+
        if add_note is not None:
            add_note(note)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self._sockets)} sockets"
        return f"<trio_zmq.Context {state}>"


def pyzmq_sockets(zctx: zmq.Context[Any]) -> list[zmq.Socket[Any]]:
    """The open sockets made by ``zctx.socket()`` (pyzmq's own records).

    pyzmq has no public way to list them: it keeps them in the private
    attribute ``Context._sockets``, a WeakSet (pyzmq 26 and 27), which is
    what its ``Context.destroy()`` closes.  This is the only place trio_zmq
    reads it; ``tests/test_context.py::test_pyzmq_records_sockets_where_we_look``
    fails if pyzmq moves it.  Should it go, only the sockets trio_zmq made
    are closed on leaving, and the bounded termination wait reports the rest.
    """
    recorded = getattr(zctx, "_sockets", None)
    if recorded is None:
        return []
    return [s for s in list(recorded) if isinstance(s, zmq.Socket) and not s.closed]


def close_plain_socket(zsock: zmq.Socket[Any], linger: int | None) -> None:
    """Close a pyzmq socket as :meth:`Socket.close` closes its own.

    If tasks wait on it through :func:`trio_zmq.wait_readable` (or a
    ``Socket.from_socket`` wrapper shares its engine), the engine is closed
    first: they get ClosedResourceError, and notify_closing(fd) happens
    while the fd still exists.
    """
    engine = _registry.existing_engine(zsock)
    if engine is not None:
        engine.close()
        _registry.release(engine)
    zsock.close(linger=linger)
