"""Layer 4: a socket's connection events, as a structured stream.

libzmq reports what happens to a socket's connections (connected, accepted,
handshake succeeded or failed, disconnected...) as two-frame messages that
it sends over an inproc PAIR socket of its own (``zmq_socket_monitor``).
pyzmq's ``get_monitor_socket()`` hands the application the other end, to be
read by a thread or an asyncio loop.  Here the reading happens in the task
that iterates, and the monitor lives exactly as long as an ``async with``
block::

    async with sock.monitor() as events:
        async for event in events:
            ...

No task runs in the background.  Three libzmq facts (4.3.5, the one pyzmq 27
bundles) shape the rest:

* libzmq sends each event with a *blocking* send, from the thread where the
  event happens: for connections, the context's I/O thread.  With the
  default high-water marks a monitor nobody reads blocks that thread after
  2000 events (SNDHWM + RCVHWM), and with it every socket it serves
  (libzmq #2829).  Our PAIR sets RCVHWM to 0 before it connects, which makes
  libzmq's inproc pipe unbounded: unread events wait there, none is lost,
  nothing blocks; leaving the block frees them.
* The same send blocks while libzmq's end has no peer.  So the PAIR connects
  *before* libzmq binds its end (an inproc connect may precede the bind),
  and it is closed only after libzmq's last message, ``EVENT_MONITOR_STOPPED``:
  leaving the block first stops the monitor (``zmq_socket_monitor(NULL)``,
  which sends that event synchronously) and drains up to it.
* ``EVENT_MONITOR_STOPPED`` is sent only if it is in the mask, so it always
  is; it ends the iteration and is never yielded.
"""

from __future__ import annotations

import itertools
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, final

import anyio
import anyio.abc
import trio
import zmq

from .._core import _backend, _registry
from .._core._engine import RECV
from .._core._exceptions import EndOfStream, closed_error
from .._core._wait import AnySocket, as_zmq_socket
from .._socket._port import Port, port_of
from .._socket._socket import Socket

#: libzmq's first frame: the event (uint16) and its value (32 bits), in
#: native byte order.  The value is read signed, so that a retired fd is -1.
_HEADER: Final = struct.Struct("=Hi")
_STOPPED: Final = int(zmq.EVENT_MONITOR_STOPPED)
#: The events the version-1 monitor can report (libzmq rejects other bits).
_ALL_V1: Final = 0xFFFF
#: How long leaving the block waits for EVENT_MONITOR_STOPPED when it cannot
#: stop the monitor itself (the monitored socket was closed elsewhere and
#: libzmq has not destroyed it yet), in seconds.
_STOP_WAIT = 1.0

_serial = itertools.count()
#: The open monitors, by the libzmq handle of the socket each watches:
#: libzmq keeps one monitor per socket and a second replaces the first.
_active: dict[int, Monitor] = {}


@final
@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """One event of a monitored socket, as libzmq reports it.

    Attributes:
      event: what happened: ``zmq.Event.CONNECTED``, ``ACCEPTED``,
        ``HANDSHAKE_SUCCEEDED``, ``DISCONNECTED``...
      value: the number libzmq attaches to the event: a file descriptor
        (CONNECTED, LISTENING, ACCEPTED, CLOSED, DISCONNECTED), an errno
        (CONNECT_DELAYED, BIND_FAILED, ACCEPT_FAILED, CLOSE_FAILED,
        HANDSHAKE_FAILED_NO_DETAIL), the reconnect interval in milliseconds
        (CONNECT_RETRIED), a ``ZMQ_PROTOCOL_ERROR_*`` code
        (HANDSHAKE_FAILED_PROTOCOL), the ZAP status code, e.g. 400
        (HANDSHAKE_FAILED_AUTH); 0 for HANDSHAKE_SUCCEEDED.
      endpoint: the endpoint concerned, e.g. ``tcp://127.0.0.1:5555``.
    """

    event: zmq.Event
    value: int
    endpoint: str

    @classmethod
    def from_frames(cls, frames: Sequence[bytes]) -> MonitorEvent:
        """Parse one message of libzmq's monitor (the version-1 format that
        ``zmq_socket_monitor`` sends: event and value, then the endpoint).

        Raises:
          ValueError: ``frames`` is not such a message.
        """
        event, value = _unpack(frames)
        return cls(zmq.Event(event), value, bytes(frames[1]).decode("utf-8", "replace"))


def _unpack(frames: Sequence[bytes]) -> tuple[int, int]:
    if len(frames) != 2 or len(frames[0]) != _HEADER.size:
        raise ValueError(f"not a libzmq monitor message: {list(frames)!r}")
    event: int
    value: int
    event, value = _HEADER.unpack(frames[0])
    return event, value


def _check_mask(events: object) -> int:
    if isinstance(events, bool) or not isinstance(events, int):
        raise TypeError(
            f"events must be a mask of zmq.EVENT_* flags, not {type(events).__name__} "
            "(trio_zmq makes the inproc endpoint itself; pyzmq's monitor(addr, events) "
            "is sock.zmq_socket.monitor)"
        )
    if events <= 0 or events & ~_ALL_V1:
        raise ValueError(
            f"events must be a non-empty mask of zmq.EVENT_* flags within "
            f"zmq.EVENT_ALL (0xffff), not {events!r}"
        )
    return int(events)


def _monitor_call(zsock: zmq.Socket[Any], address: str | None, events: int) -> None:
    """``zsock.monitor(address, events)``, then serve the socket's waiters
    (a zmq call may eat the fd's edge they sleep on)."""
    try:
        _registry.call_and_serve(zsock, zsock.monitor, address, events)
    except zmq.ZMQError as exc:
        if exc.errno == zmq.ENOTSOCK:
            raise closed_error() from exc
        raise


def _is_stop(frames: Sequence[bytes]) -> bool:
    try:
        return _unpack(frames)[0] == _STOPPED
    except ValueError:
        return False


@final
class _Tag:
    """What the waits of a monitor's receivers are marked with, so that the
    end of the events, or closing, ends all of them (see ``Engine.abort``)."""

    __slots__ = ("monitor",)

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def check(self) -> None:
        """Raise what the monitor's receivers must end with now, if anything."""
        self.monitor._check_receivable()


@final
class Monitor(trio.abc.ReceiveChannel[MonitorEvent], anyio.abc.ObjectReceiveStream[MonitorEvent]):
    """The connection events of one socket, for the span of an ``async with``.

    Made by :func:`trio_zmq.monitor` or :meth:`trio_zmq.Socket.monitor`::

        async with sock.monitor(zmq.EVENT_ALL) as events:
            async for event in events:  # MonitorEvent
                ...

    Entering the block starts libzmq's monitor; leaving it stops the
    monitor and closes everything it made, whether the block ends normally,
    with an error or cancelled.  Events are read in the task that iterates;
    none runs in the background.  Unread events wait in libzmq, without
    bound, and never block the monitored socket.  The iteration ends when
    libzmq stops the monitor (``EVENT_MONITOR_STOPPED``, which is never
    yielded): when the monitored socket has been closed and destroyed.

    It is a :class:`trio.abc.ReceiveChannel` and an anyio
    ``ObjectReceiveStream`` of :class:`MonitorEvent`; several tasks may
    receive from it (each event goes to one of them, first come first
    served).
    """

    def __init__(self, socket: AnySocket, events: int = zmq.EVENT_ALL) -> None:
        """Use :func:`trio_zmq.monitor` or :meth:`trio_zmq.Socket.monitor`.

        Nothing is created until the ``async with`` block is entered.

        Raises:
          TypeError: ``socket`` is not a socket; ``events`` is not an int.
          ValueError: ``events`` is not a non-empty mask of ``zmq.EVENT_*``
            flags; the socket's context is unknown (a pyzmq shadow socket).
          trio.ClosedResourceError: the socket is closed.
        """
        zsock = as_zmq_socket(socket)
        self._events = _check_mask(events)
        if zsock.closed:
            raise closed_error()
        if not (isinstance(socket, Socket) and socket.context is not None) and not isinstance(
            zsock.context, zmq.Context
        ):
            raise ValueError(
                "the socket's context is unknown (a pyzmq shadow socket?): the monitor's "
                "PAIR must be made in the same context; monitor a socket made by a context"
            )
        self._socket = socket
        self._zsock = zsock
        self._tag = _Tag(self)
        self._pair: Socket | None = None
        self._pair_port: Port | None = None
        self._key = 0
        self._entered = False
        self._closing = False
        self._finished = False
        #: libzmq sent EVENT_MONITOR_STOPPED and we received it.
        self._stopped = False
        #: We stopped libzmq's monitor ourselves (or the context is ending).
        self._disabled = False

    @property
    def socket(self) -> AnySocket:
        """The monitored socket, as it was given."""
        return self._socket

    @property
    def events(self) -> zmq.Event:
        """The events asked for."""
        return zmq.Event(self._events)

    # ------------------------------------------------------------------
    # Starting
    # ------------------------------------------------------------------

    async def __aenter__(self) -> Monitor:
        """Start monitoring.  A cancel point before anything is created.

        Raises:
          RuntimeError: this monitor was entered before, or the socket has a
            monitor already (libzmq keeps one per socket).
          trio.ClosedResourceError: the socket is closed.
          zmq.ZMQError: what libzmq reports (ETERM: the context is ending).
        """
        await _backend.current().checkpoint()
        self._start()
        return self

    def _start(self) -> None:
        if self._entered or self._closing:
            raise RuntimeError("a Monitor is entered once: call monitor() again for a new one")
        zsock = self._zsock
        if zsock.closed:
            raise closed_error()
        key = zsock.underlying
        _check_unmonitored(zsock, key)
        pair = self._make_pair()
        try:
            pair.linger = 0
            pair.rcvhwm = 0  # an unbounded pipe: see the module docstring
            address = f"inproc://trio_zmq.monitor-{key:x}-{next(_serial)}"
            pair.connect(address)  # before libzmq binds: never a peerless send
            _monitor_call(zsock, address, self._events | _STOPPED)
        except BaseException:
            pair.close(linger=0)
            raise
        self._pair = pair
        self._pair_port = port_of(pair)
        self._key = key
        self._entered = True
        _active[key] = self

    def _make_pair(self) -> Socket:
        """A PAIR in the monitored socket's context (inproc needs that).

        A trio_zmq.Context makes it, so that leaving the context closes it
        too; otherwise pyzmq's context makes it and this monitor owns it.
        """
        owner = self._socket.context if isinstance(self._socket, Socket) else None
        if owner is not None:
            return owner.socket(zmq.PAIR)
        zctx = self._zsock.context
        zpair: zmq.Socket[Any] = zctx.socket(zmq.PAIR, socket_class=zmq.Socket)
        try:
            return Socket.from_socket(zpair)
        except BaseException:
            zpair.close(linger=0)
            raise

    # ------------------------------------------------------------------
    # Receiving
    # ------------------------------------------------------------------

    def _check_receivable(self) -> None:
        """Raise what a receive must raise now, if anything."""
        if self._closing:
            raise closed_error("the monitor was closed")
        if not self._entered:
            raise RuntimeError("enter the monitor first: async with sock.monitor() as events")
        if self._stopped:
            raise EndOfStream("libzmq stopped the monitor: the monitored socket was closed")

    def _delivered(self, frames: list[bytes]) -> MonitorEvent:
        if _is_stop(frames):
            self._stopped = True
            assert self._pair is not None
            assert self._pair_port is not None
            self._pair_port.abort(self._tag)  # the other receivers end too
            self._check_receivable()  # raises EndOfStream
        return MonitorEvent.from_frames(frames)

    async def receive(self) -> MonitorEvent:
        """The next event, once there is one.  A checkpoint; a cancelled
        receive leaves its event for the next.

        Raises:
          trio_zmq.EndOfStream: libzmq stopped the monitor (the monitored
            socket was closed); ``async for`` ends there.
          trio.ClosedResourceError: the monitor is or gets closed.
          RuntimeError: the monitor was not entered.
        """
        port = self._pair_port
        if self._stopped and not self._closing:
            await _backend.current().checkpoint()
        self._check_receivable()
        assert port is not None
        frames: list[bytes] = await port.operate(RECV, port.recv_multipart_default, 0, self._tag)
        return self._delivered(frames)

    def receive_nowait(self) -> MonitorEvent:
        """The next event if there is one now; never a checkpoint.

        Raises:
          trio.WouldBlock: no event now.
          trio_zmq.EndOfStream, trio.ClosedResourceError, RuntimeError: as
            :meth:`receive`.
        """
        self._check_receivable()
        assert self._pair is not None
        return self._delivered(self._pair.recv_multipart_nowait())

    # ------------------------------------------------------------------
    # Closing
    # ------------------------------------------------------------------

    def close(self) -> None:
        """Stop monitoring and close the PAIR.  Idempotent; never waits.

        Receivers blocked in this monitor get ClosedResourceError.  Leaving
        the ``async with`` block (or :meth:`aclose`) is better: if the
        monitored socket was closed elsewhere and libzmq has not destroyed it
        yet, only they can wait (briefly) for libzmq to stop the monitor.
        """
        try:
            self._stop()
        finally:
            self._finish()

    async def aclose(self) -> None:
        """:meth:`close`, then a checkpoint; what leaving the block does.

        If the monitored socket was closed elsewhere and libzmq has not
        stopped its monitor yet, waits for ``EVENT_MONITOR_STOPPED`` first,
        for at most a second and shielded from cancellation: closing the
        PAIR while libzmq may still send to it would block libzmq's I/O
        thread (see the module docstring).  Otherwise nothing waits.
        """
        try:
            if self._stop():
                await self._await_stopped()
        finally:
            self._finish()
        await _backend.current().checkpoint()

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop monitoring and close everything (see :meth:`aclose`)."""
        await self.aclose()

    def _stop(self) -> bool:
        """Stop libzmq's monitor if we can, and drain the events up to its
        last one.  True if we must still wait for that last one."""
        pair = self._pair
        if self._closing or pair is None:
            self._closing = True
            return False
        self._closing = True
        port_of(pair).abort(self._tag)  # other receivers: ClosedResourceError
        if not self._zsock.closed:
            try:
                _monitor_call(self._zsock, None, 0)  # sends EVENT_MONITOR_STOPPED
                self._disabled = True
            except zmq.ZMQError as exc:
                # ETERM: the context is ending, which ends the monitor too.
                self._disabled = exc.errno == zmq.ETERM
            except trio.ClosedResourceError:
                pass  # closed between the check and the call
        while not self._stopped:
            try:
                frames = pair.recv_multipart_nowait()
            except (trio.WouldBlock, trio.ClosedResourceError):
                break
            self._stopped = _is_stop(frames)
        # Once libzmq's monitor is stopped, it sends nothing more: closing
        # the PAIR is safe, drained or not.
        return not (self._stopped or self._disabled or pair.closed)

    async def _await_stopped(self) -> None:
        pair = self._pair
        assert pair is not None
        with anyio.CancelScope(shield=True), anyio.move_on_after(_STOP_WAIT):
            while not self._stopped:
                try:
                    frames = await pair.recv_multipart()
                except trio.ClosedResourceError:
                    return
                self._stopped = _is_stop(frames)

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        pair = self._pair
        if pair is None:
            return
        if not (self._stopped or self._disabled or pair.closed):
            warnings.warn(
                "trio_zmq monitor: the monitored socket was closed elsewhere and still "
                "lingers, so libzmq had not stopped its monitor when this one was closed "
                f"(aclose() and leaving the block wait up to {_STOP_WAIT} s for that); "
                "its PAIR is closed anyway, so libzmq's I/O thread may block on the next "
                "event of that socket until the context is terminated.  Let the "
                "iteration reach its end, or close the socket with a shorter linger.",
                RuntimeWarning,
                stacklevel=3,
            )
        pair.close(linger=0)
        if _active.get(self._key) is self:
            del _active[self._key]

    def __repr__(self) -> str:
        if self._finished:
            state = "closed"
        elif self._stopped:
            state = "stopped"
        elif self._entered:
            state = "open"
        else:
            state = "not entered"
        return f"<trio_zmq.Monitor of {self._socket!r}, {state}>"


def _check_unmonitored(zsock: zmq.Socket[Any], key: int) -> None:
    current = _active.get(key)
    if current is not None and not current._zsock.closed:
        raise RuntimeError(
            "this socket has an open trio_zmq monitor already: libzmq keeps one monitor "
            "per socket, and a second would end the first; leave the first "
            "block, or share its events between tasks"
        )
    legacy = getattr(zsock, "_monitor_socket", None)
    if legacy is not None and not legacy.closed:
        raise RuntimeError(
            "this socket has a monitor from pyzmq's get_monitor_socket(); "
            "call its disable_monitor() first"
        )


def monitor(socket: AnySocket, events: int = zmq.EVENT_ALL) -> Monitor:
    """Watch ``socket``'s connection events for the span of a block.

    ::

        async with trio_zmq.monitor(sock, zmq.EVENT_ALL) as events:
            async for event in events:
                print(event.event.name, event.value, event.endpoint)

    ``socket`` is a :class:`trio_zmq.Socket` or a plain ``zmq.Socket``.
    Entering the block makes an inproc PAIR in the socket's context and
    starts libzmq's monitor; leaving it stops the monitor and closes the
    PAIR, in every case (see :class:`Monitor`).  One monitor per socket at
    a time.

    Args:
      socket: the socket to watch.
      events: which events (``zmq.EVENT_*`` flags, or'ed together).

    Raises:
      TypeError, ValueError, trio.ClosedResourceError: see
        :class:`Monitor`; raised here, before anything is created.
    """
    return Monitor(socket, events)
