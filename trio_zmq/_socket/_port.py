"""The port: what everything above the engine does with one socket.

:class:`trio_zmq.Socket` is pyzmq's façade; the channel views, the monitor
and the proxy need less than that façade and more than its public API: run
an operation under trio's rules, mark a wait so that closing a view can end
it, build the attempts the engine runs, move frames without per-call checks.
A :class:`Port` is that interface, one per ``Socket``, and the only way in
from outside this module to the engine underneath.  Modules above get a
socket's port with :func:`port_of`.

Every async operation follows trio's checkpoint pattern:

1. ``checkpoint_if_cancelled()`` -- a cancel point before anything happens;
2. if no task is already waiting in the same direction, try the operation
   with ``NOBLOCK`` -- most operations end here, without a waiter;
3. on success ``cancel_shielded_checkpoint()`` -- a schedule point that can
   no longer raise Cancelled, because the operation has happened;
4. otherwise (EAGAIN, or others ahead of us) queue in the engine, which
   guarantees the same rule for the wait.

After every zmq call the engine re-reads ZMQ_EVENTS (if anyone waits), since
the call may have consumed the fd's edge that a waiter depends on: an
operation through the port does that itself, and a raw zmq call on the
socket is followed by :meth:`Port.serve`.
"""

from __future__ import annotations

import dataclasses
import functools
import weakref
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar, cast, final

import zmq
import zmq.backend
from trio.lowlevel import in_trio_task as _in_trio_task

from .._core import _backend, _registry
from .._core._engine import NOT_NOW, RECV, SEND, Attempt, Engine, WaitTag, int_option
from .._core._exceptions import WouldBlock, closed_error
from .._core._wait import wait_events
from ._errors import (
    RECV_FLAGS,
    SEND_FLAGS,
    check_batch_sequence,
    check_flags,
    check_frame,
    check_multipart,
)

R = TypeVar("R")

# Flags as plain ints: enum arithmetic costs more than the zmq call on the
# hot path.
_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)
#: An option as the enum member, not an int: pyzmq's ``get`` converts its
#: argument to ``zmq.SocketOption``, which costs half as much for a member
#: (0.7 against 1.2 us here, as much as a receive).
_RCVMORE = zmq.SocketOption.RCVMORE
#: The socket option holding the pyzmq-style timeout of each direction.
TIMEOUT_OPTIONS = (int(zmq.RCVTIMEO), int(zmq.SNDTIMEO))
#: The engine's queue tuple for each direction, built once.
_DIRECTIONS = ((RECV,), (SEND,))


@final
@dataclasses.dataclass(frozen=True)
class SocketStatistics:
    """What :meth:`trio_zmq.Socket.statistics` reports: who waits on the
    socket, in the spirit of trio's ``MemoryChannelStatistics``.

    Counts cover every task waiting on the libzmq socket, whichever object
    it waits through (the socket, a channel view, :func:`trio_zmq.wait_readable`
    on the pyzmq socket, a Poller).  A task polling for both directions
    counts in both.
    """

    #: Tasks blocked until the socket can take a message.
    tasks_waiting_send: int
    #: Tasks blocked until a message arrives.
    tasks_waiting_receive: int
    #: Whether one of those tasks is asleep on the socket's fd (the others
    #: are parked and are woken by it or by whoever operates on the socket).
    fd_watched: bool
    #: Channel views of this socket made and not closed.
    open_channel_views: int
    closed: bool


@final
class Port:
    """One socket's operations under trio's rules, for the modules above.

    Made by :class:`trio_zmq.Socket`, which owns it; see the module
    docstring.  ``direction`` arguments are ``RECV`` or ``SEND`` from the
    engine; an *attempt* is a callable taking the ZMQ_EVENTS mask that runs
    its zmq operation with NOBLOCK, returning the result or raising
    ``zmq.Again``.
    """

    __slots__ = (
        "engine",
        "recv_default",
        "recv_multipart_default",
        "send_frame",
        "send_multipart_default",
        "timeouts",
        "views",
        "zsock",
    )

    zsock: zmq.Socket[Any]
    engine: Engine
    #: recv() and recv_multipart() with default arguments, built once: the
    #: hot paths.
    recv_default: Attempt
    recv_multipart_default: Attempt
    #: One frame out, without routing id or group (see :func:`_frame_sender`).
    send_frame: Callable[..., Any]
    send_multipart_default: Callable[[Sequence[Any], int], Any]
    #: RCVTIMEO and SNDTIMEO in seconds (None: wait forever), kept here so
    #: that a wait does not read them from libzmq.
    timeouts: list[float | None]
    #: The channel views of the socket that are open.
    views: weakref.WeakSet[Any]

    def __init__(self, zsock: zmq.Socket[Any]) -> None:
        engine = _registry.engine_for(zsock)
        engine.pinned = True
        self.zsock = zsock
        self.engine = engine
        self.timeouts = [None, None]
        for direction in (RECV, SEND):
            self.note_timeout(direction, int_option(zsock, TIMEOUT_OPTIONS[direction]))
        self.recv_default = self.recv_attempt(0, True, False)
        self.recv_multipart_default = self.recv_multipart_attempt(0, True, False)
        self.send_frame = _frame_sender(zsock)
        self.send_multipart_default = self.multipart_sender(True, False)
        self.views = weakref.WeakSet()

    # ------------------------------------------------------------------
    # State
    # ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Closed through the port, or the pyzmq socket closed directly."""
        return self.engine.closed or self.zsock.closed

    def check_open(self) -> None:
        """Raise unless this thread may operate on the open socket.

        Raises:
          trio.ClosedResourceError: the socket is closed.
          RuntimeError: tasks of another thread wait on the socket.
        """
        if self.engine.closed:
            raise closed_error()
        self.engine.check_thread()

    def waiting(self, direction: int) -> int:
        """How many tasks wait in ``direction``."""
        return self.engine.waiting(direction)

    def statistics(self) -> SocketStatistics:
        engine = self.engine
        return SocketStatistics(
            tasks_waiting_send=engine.waiting(SEND),
            tasks_waiting_receive=engine.waiting(RECV),
            fd_watched=engine.watcher is not None,
            open_channel_views=0 if self.closed else len(self.views),
            closed=self.closed,
        )

    def note_timeout(self, direction: int, milliseconds: int) -> None:
        """Record RCVTIMEO (RECV) or SNDTIMEO (SEND), as libzmq has it."""
        self.timeouts[direction] = None if milliseconds < 0 else milliseconds / 1000

    def close(self, linger: int | None = None) -> None:
        """Wake every waiter with ClosedResourceError, then close the
        socket (``linger`` as in pyzmq).  Idempotent."""
        engine = self.engine
        if engine.closed and self.zsock.closed:
            return
        engine.check_thread()
        # Wake the waiters and notify_closing(fd) while the fd still exists.
        engine.close(fd_valid=not self.zsock.closed)
        _registry.release(engine)
        self.zsock.close(linger=linger)

    # ------------------------------------------------------------------
    # Synchronous zmq calls
    # ------------------------------------------------------------------

    def call(self, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``method(*args, **kwargs)``, a zmq call on the socket, then
        :meth:`serve`; errors as :meth:`reraise` reports them."""
        self.check_open()
        try:
            return method(*args, **kwargs)
        except zmq.ZMQError as exc:
            self.reraise(exc)
        finally:
            self.serve()

    def serve(self) -> None:
        """Serve the waiters after a zmq call made on the socket directly:
        the call may have consumed the fd's edge they sleep on."""
        if not self.engine.closed:
            self.engine.after_operation()

    def reraise(self, exc: zmq.ZMQError) -> NoReturn:
        """Re-raise a zmq call's error as a trio user expects it
        (ENOTSOCK: ClosedResourceError, and the engine closes)."""
        self.engine.reraise(exc)

    # ------------------------------------------------------------------
    # Operating
    # ------------------------------------------------------------------

    async def operate(
        self,
        direction: int,
        attempt: Attempt,
        flags: int = 0,
        tag: WaitTag | None = None,
    ) -> Any:
        """Run ``attempt`` now if possible, else wait for the socket.

        ``tag`` marks the wait for :meth:`abort`.  With ``zmq.NOBLOCK`` in
        ``flags`` it raises ``zmq.Again`` instead of waiting; with the
        direction's timeout set, after that long.

        The one path of every operation, on every loop: the backend's
        cancel point, the attempt, then either the backend's schedule point
        or the wait (which is one).
        """
        # _backend.current(), written out: this runs for every message.
        backend = _backend.for_trio if _in_trio_task() else _backend.for_others
        await backend.before_operation()
        engine = self.engine
        noblock = flags & _NOBLOCK
        result = backend.try_now(engine, direction, attempt, not noblock)
        if result is NOT_NOW:
            if noblock:
                # pyzmq semantics: NOBLOCK means raise instead of waiting.
                # The attempt may have eaten the fd's edge: serve others.
                engine.after_failed_nowait()
                await backend.after_operation()
                raise zmq.Again()
            timeout = self.timeouts[direction]
            if timeout is None:
                return await engine.wait(attempt, _DIRECTIONS[direction], backend, tag=tag)
            with backend.move_on_after(timeout):
                return await engine.wait(attempt, _DIRECTIONS[direction], backend, tag=tag)
            raise zmq.Again()
        engine.owed = None  # see Engine.wait
        await backend.after_operation()
        return result

    def nowait(self, direction: int, attempt: Attempt) -> Any:
        """Run ``attempt`` now or raise :exc:`trio.WouldBlock`; never a
        checkpoint.  The waiters are served either way."""
        result = self.engine.try_now(direction, attempt, will_wait=False)
        if result is NOT_NOW:
            self.engine.after_failed_nowait()
            raise WouldBlock
        return result

    async def wait_events(self, mask: int, tag: WaitTag | None = None) -> int:
        """Wait until any event of ``mask`` (POLLIN, POLLOUT) is ready and
        return the ready ones; always a checkpoint."""
        self.check_open()
        return await wait_events(self.engine, mask, tag)

    def abort(self, tag: WaitTag) -> None:
        """End the waits marked with ``tag`` with what ``tag.check()`` raises."""
        self.engine.abort(tag)

    # ------------------------------------------------------------------
    # Attempts and frame loops
    # ------------------------------------------------------------------

    def send_attempt(
        self,
        data: Any,
        flags: int,
        copy: bool,
        track: bool,
        routing_id: int | None = None,
        group: str | None = None,
    ) -> Attempt:
        """One frame, checked now."""
        if type(data) is not bytes:
            check_frame(data)
        if flags:
            check_flags(flags, SEND_FLAGS)
        flags |= _NOBLOCK
        if routing_id is None and group is None:
            send_frame = self.send_frame
            return lambda _events: send_frame(data, flags, copy, track)
        send = self.zsock.send
        return lambda _events: send(
            data, flags, copy=copy, track=track, routing_id=routing_id, group=group
        )

    def send_multipart_attempt(
        self, msg_parts: Sequence[Any], flags: int, copy: bool, track: bool
    ) -> Attempt:
        """One multipart message, every frame checked now."""
        parts = check_multipart(msg_parts)
        if flags:
            check_flags(flags, SEND_FLAGS)
        flags |= _NOBLOCK
        if len(parts) == 1:
            # The common message, one frame: without the frame loop.
            send_frame = self.send_frame
            frame = parts[0]
            return lambda _events: send_frame(frame, flags, copy, track)
        if copy is True and not track:
            send_multipart = self.send_multipart_default
        else:
            send_multipart = self.multipart_sender(copy, track)
        return lambda _events: send_multipart(parts, flags)

    def recv_attempt(self, flags: int, copy: bool, track: bool) -> Attempt:
        """One frame."""
        recv = self.zsock.recv
        if flags:
            check_flags(flags, RECV_FLAGS)
        flags |= _NOBLOCK
        if copy is True and not track:
            return lambda _events: recv(flags)  # keywords cost more than the call
        return lambda _events: recv(flags, copy=copy, track=track)

    def recv_multipart_attempt(self, flags: int, copy: bool, track: bool) -> Attempt:
        """One whole multipart message."""
        if flags:
            check_flags(flags, RECV_FLAGS)
        if flags == 0 and copy is True and not track:
            return _message_attempt(self.zsock)
        recv_multipart = _multipart_receiver(self.zsock, copy, track)
        flags |= _NOBLOCK
        return lambda _events: recv_multipart(flags)

    def recv_batch_attempt(self, max_items: int, copy: bool) -> Attempt:
        """Every message available now, up to ``max_items``, as a list.

        Raises:
          ValueError: ``max_items`` is not a positive int.
        """
        if not isinstance(max_items, int) or isinstance(max_items, bool) or max_items < 1:
            raise ValueError(f"max_items must be a positive int, not {max_items!r}")
        recv_multipart = _multipart_receiver(self.zsock, copy, False)
        batch_error = self.batch_error

        def attempt(_events: int) -> list[list[Any]]:
            batch = [recv_multipart(_NOBLOCK)]  # zmq.Again if none
            append = batch.append
            for _ in range(max_items - 1):
                try:
                    append(recv_multipart(_NOBLOCK))
                except zmq.ZMQError as exc:
                    batch_error(exc, len(batch))
                    break
            return batch

        return attempt

    @staticmethod
    def batch_error(exc: zmq.ZMQError, done: int) -> None:
        """A batch met ``exc`` after ``done`` messages: raise it if ``done``
        is 0 (zmq.Again: the caller waits; any other error is the caller's),
        else return, and the batch ends with the messages it has.

        EAGAIN is the usual end of a batch, but any other error (EFSM on a
        REQ or REP, ...) must not throw away messages already taken or
        sent either: the next call meets it again.  Both batch loops go
        through here, so that a test can break the rule in one place.
        """
        if not done:
            raise exc

    @staticmethod
    def check_batch(messages: object) -> list[Sequence[Any]]:
        """Every frame of every message, checked before the first is sent."""
        return [check_multipart(parts) for parts in check_batch_sequence(messages)]

    def send_batch_attempt(self, checked: Sequence[Sequence[Any]], copy: bool) -> Attempt:
        """A prefix of ``checked`` (see :meth:`check_batch`): all the socket
        takes now, at least one message; returns how many."""
        send_multipart = self.multipart_sender(copy, False)
        batch_error = self.batch_error

        def attempt(_events: int) -> int:
            sent = 0
            for parts in checked:
                try:
                    send_multipart(parts, _NOBLOCK)
                except zmq.ZMQError as exc:
                    batch_error(exc, sent)
                    break  # a prefix went out: report it, stop here
                sent += 1
            return sent

        return attempt

    def multipart_sender(self, copy: bool, track: bool) -> Callable[[Sequence[Any], int], Any]:
        """``zsock.send_multipart`` for frames already checked, minus its
        per-call costs (type checks done once by check_multipart, enum
        flags, a one-frame message as one plain send): ``send(parts, flags)``.

        Once libzmq accepts the first frame of a message it accepts the rest
        (the high-water mark is checked on the first frame only), so a
        non-blocking send either raises zmq.Again on the first frame, having
        sent nothing, or sends all: one synchronous sequence, no checkpoint.
        """
        send = self.send_frame

        def send_frames(parts: Sequence[Any], flags: int) -> Any:
            last = len(parts) - 1
            if last:
                more = flags | _SNDMORE
                for index in range(last):
                    send(parts[index], more, copy, track)
            return send(parts[last], flags, copy, track)

        return send_frames


def port_of(socket: object) -> Port:
    """The port of a :class:`trio_zmq.Socket`.

    Raises:
      TypeError: ``socket`` is not a trio_zmq.Socket.
    """
    port = getattr(socket, "_port", None)
    if not isinstance(port, Port):
        raise TypeError(f"expected a trio_zmq.Socket, not {type(socket).__name__}")
    return port


def _frame_sender(zsock: zmq.Socket[Any]) -> Callable[..., Any]:
    """``zsock.send`` for a frame without routing_id or group.

    pyzmq's own ``Socket.send`` is a Python wrapper that only adds those two
    draft arguments before calling its compiled base class; on a small
    frame the wrapper costs twice the send itself (0.6 of 0.9 us here).  So
    the base class's send is bound directly, unless a subclass of
    zmq.Socket defines a send of its own, which must then be honoured.
    """
    if type(zsock).send is zmq.Socket.send:
        return cast("Callable[..., Any]", _BACKEND_SEND.__get__(zsock))
    return zsock.send


_BACKEND_SEND = zmq.backend.Socket.send


def _message_attempt(zsock: zmq.Socket[Any]) -> Attempt:
    """``recv_multipart(NOBLOCK)`` as an attempt, in one call: the message
    every channel view receives (see :func:`_multipart_receiver`)."""
    return functools.partial(_multipart_receiver(zsock, True, False), _NOBLOCK)


def _multipart_receiver(zsock: zmq.Socket[Any], copy: bool, track: bool) -> Callable[[int], Any]:
    """``zsock.recv_multipart`` for a fixed ``copy``/``track``, with the
    methods bound once.  With ``copy=False`` or ``track`` the RCVMORE read
    after each frame remains, with the option's enum member (see
    :data:`_RCVMORE`).
    """
    recv = zsock.recv
    more = zsock.get
    if not copy or track:

        def receive_frames(flags: int) -> list[Any]:
            parts = [recv(flags, copy=copy, track=track)]
            while more(_RCVMORE):
                parts.append(recv(flags, copy=copy, track=track))
            return parts

        return receive_frames

    def receive(flags: int, _events: int = 0) -> list[bytes]:
        # (``_events``: so that with ``flags`` bound it is an attempt.)
        # libzmq delivers a multipart message whole: once its first frame is
        # here, so are the others, and NOBLOCK cannot fail between frames.
        # Each frame comes as a zmq.Frame, whose ``more`` is libzmq's
        # zmq_msg_more: on Python 3.11 that and the copy cost a third less
        # than a bytes frame and a RCVMORE read (no difference on 3.13).
        frame = recv(flags, False)
        parts = [frame.bytes]
        while frame.more:
            frame = recv(flags, False)
            parts.append(frame.bytes)
        return parts

    return receive
