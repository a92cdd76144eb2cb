"""The proxy: libzmq's ``zmq_proxy`` / ``zmq_proxy_steerable``, in your task.

pyzmq's :func:`zmq.proxy` runs libzmq's C proxy and blocks its thread;
:mod:`zmq.asyncio` has no proxy at all.  :func:`proxy` forwards between two
``trio_zmq`` sockets in the task that awaits it, on trio or on asyncio
(through anyio), and stops when that task is cancelled.  :class:`Proxy` is
the same proxy as a handle that can be paused, resumed, terminated and
asked for statistics, from Python (``pause()``...) or, as
``zmq_proxy_steerable``, over a control socket (``PAUSE``...).

**Structure.**  ``run()`` opens a task group of its own, internal to the
call: one child per direction (frontend to backend, backend to frontend:
a direction exists if its source can receive and its destination can send),
and one for the control socket if there is one.  Nothing outlives the call.
An error in any child cancels the others and is raised by ``run()`` (an
:class:`ExceptionGroup` only if several children failed).

**Forwarding.**  A direction moves messages in *steps*: synchronous runs of
``recv(NOBLOCK)`` from the source and ``send(NOBLOCK)`` to the destination
(and a copy to the capture socket), message by message, up to
:data:`BURST` messages, with no checkpoint inside.  Frames are moved as
``zmq.Frame`` objects (no copy in Python); multipart messages go whole, and
envelopes (ROUTER identities, XPUB subscriptions) pass unchanged.  Between
steps the direction waits, on the socket, for whatever stopped the step:
a message in the source, or room in the destination (or capture).

**The cancel rule.**  A message is forwarded whole, or stays in its source
socket.  Cancellation (or :meth:`Proxy.terminate`) can only land between
steps, so it finds every message either still in the source or already in
the destination -- except a message the destination refused after it was
taken from the source.  To make that rare, a direction takes a message only
after ZMQ_EVENTS said the destination (and capture) can take one
(*careful* steps).  Reading ZMQ_EVENTS costs pyzmq about as much as
forwarding a small message, so after a careful step that moved a whole
burst without finding the destination full -- the destination keeps up --
the next step skips the check, until a step ends for any other reason.
Then, or when POLLOUT promised more than a send delivers (a
``ROUTER_MANDATORY`` route at its high-water mark, ``XPUB_NODROP``, a peer
leaving between the check and the send), the direction *holds* the one
refused message and sends it before it takes another.  If a cancellation
arrives while it holds one, it goes on sending it, shielded from the
cancellation, for at most ``flush_timeout`` seconds; then the cancellation
proceeds.  If the destination did not take it in that time (nobody reads
it any more), ``run()`` raises :class:`ProxyFlushTimeout` with the message
in its ``unsent`` attribute instead: never an unbounded shield, and never a
silent loss.  A message the destination rejects with an error other than
EAGAIN (``EHOSTUNREACH`` from a ``ROUTER_MANDATORY`` frontend whose client
has gone) is dropped and the error raised, as libzmq's proxy does.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import struct
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, NoReturn, cast, final

import anyio
import anyio.abc
import zmq

from .._core._engine import RECV
from .._core._exceptions import closed_error
from .._socket._port import Port, port_of
from .._socket._socket import Socket

if sys.version_info < (3, 11):  # pragma: no cover - 3.10 only
    from exceptiongroup import ExceptionGroup

#: At most this many messages per step (libzmq's proxy moves up to 1000 per
#: burst): about 0.4 ms of the event loop on small messages.
BURST: Final = 256
#: What a STATISTICS reply's frames hold: unsigned 64-bit, native byte order
#: (libzmq copies its uint64_t counters as they are in memory).
_COUNTER: Final = struct.Struct("=Q")

_NOBLOCK: Final = int(zmq.NOBLOCK)
_EVENTS: Final = zmq.SocketOption.EVENTS  # the member: pyzmq converts ints
_POLLOUT: Final = int(zmq.POLLOUT)
_CANNOT_RECEIVE: Final = frozenset({zmq.PUB, zmq.PUSH})
_CANNOT_SEND: Final = frozenset({zmq.SUB, zmq.PULL})
#: libzmq's documentation for zmq_proxy and zmq_proxy_steerable.
CAPTURE_TYPES: Final = frozenset({zmq.PUB, zmq.PUSH, zmq.PAIR, zmq.DEALER})
CONTROL_TYPES: Final = frozenset({zmq.REP, zmq.PAIR})
DEFAULT_FLUSH_TIMEOUT: Final = 5.0

_PAUSE, _RESUME, _TERMINATE, _STATISTICS = b"PAUSE", b"RESUME", b"TERMINATE", b"STATISTICS"


@final
class _Stop:
    """Why a step ended (see :meth:`_Direction.step`)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<step ended: {self.name}>"


_BURST_DONE: Final = _Stop("burst done")
_SOURCE_EMPTY: Final = _Stop("source empty")
_DESTINATION_FULL: Final = _Stop("destination full")
_CAPTURE_FULL: Final = _Stop("capture full")
_HELD: Final = _Stop("a message is held")


@final
@dataclasses.dataclass(frozen=True)
class ProxyStatistics:
    """What a proxy has forwarded: libzmq's eight STATISTICS counters.

    As in libzmq (4.3.5, the version pyzmq bundles), the counts are of
    *frames* (libzmq messages): a three-frame multipart message counts 3;
    bytes are the frames' payload sizes.  "in" is what the proxy received
    from that socket, "out" what it sent on it; capture copies are not
    counted.  A frame counts as out once its destination took it.
    """

    frontend_frames_in: int = 0
    frontend_bytes_in: int = 0
    frontend_frames_out: int = 0
    frontend_bytes_out: int = 0
    backend_frames_in: int = 0
    backend_bytes_in: int = 0
    backend_frames_out: int = 0
    backend_bytes_out: int = 0

    def as_frames(self) -> list[bytes]:
        """The reply to STATISTICS: eight frames, one uint64 each, in
        field order, native byte order (as libzmq sends them)."""
        return [_COUNTER.pack(value) for value in dataclasses.astuple(self)]

    @classmethod
    def from_frames(cls, frames: Sequence[bytes]) -> ProxyStatistics:
        """Parse a reply to STATISTICS, from this proxy or libzmq's.

        Raises:
          ValueError: not eight frames of eight bytes.
        """
        if len(frames) != 8 or any(len(frame) != _COUNTER.size for frame in frames):
            raise ValueError(
                f"a STATISTICS reply is 8 frames of 8 bytes, not {[len(f) for f in frames]}"
            )
        return cls(*(_COUNTER.unpack(frame)[0] for frame in frames))


@final
class ProxyFlushTimeout(TimeoutError):
    """A cancelled proxy could not deliver the message it held.

    Raised by :meth:`Proxy.run` (and :func:`proxy`) in place of the
    cancellation when a direction, cancelled while holding a message its
    destination had refused, could not send it within ``flush_timeout``
    seconds.  The message has left its source: it is in :attr:`unsent`,
    for you to log or send again.
    """

    def __init__(self, message: str, unsent: list[tuple[Socket, list[bytes]]]) -> None:
        super().__init__(message)
        #: ``(destination socket, frames)`` for each message not delivered.
        self.unsent = unsent


@final
class _Direction:
    """One direction of a proxy: messages from ``source`` to ``destination``
    (and a copy to ``capture``), and the counters of what it moved."""

    __slots__ = (
        "_capture_get",
        "_capture_port",
        "_capture_send",
        "_destination_get",
        "_destination_port",
        "_receive",
        "_send",
        "_source_port",
        "bytes_in",
        "bytes_out",
        "capture",
        "careful",
        "destination",
        "frames_in",
        "frames_out",
        "held",
        "source",
    )

    def __init__(self, source: Socket, destination: Socket, capture: Socket | None) -> None:
        self.source = source
        self.destination = destination
        self.capture = capture
        self._receive = source.zmq_socket.recv
        self._source_port = port_of(source)
        self._destination_port = port_of(destination)
        self._capture_port: Port | None = None if capture is None else port_of(capture)
        self._send = self._destination_port.multipart_sender(False, False)
        self._destination_get = _events_reader(self._destination_port)
        self._capture_send: Callable[[Sequence[Any], int], Any] | None = None
        self._capture_get: Callable[[int], Any] | None = None
        if self._capture_port is not None:
            self._capture_send = self._capture_port.multipart_sender(False, False)
            self._capture_get = _events_reader(self._capture_port)
        #: Check ZMQ_EVENTS before taking each message?  (See the module
        #: docstring: until a burst went through without the destination
        #: filling up.)
        self.careful = True
        #: Messages taken from the source that a socket refused:
        #: (socket, frames, payload bytes, counts as forwarded).
        self.held: deque[tuple[Socket, list[zmq.Frame], int, bool]] = deque()
        self.frames_in = self.bytes_in = self.frames_out = self.bytes_out = 0

    def step(self, _events: int) -> _Stop:
        """Move up to :data:`BURST` messages now; say why it stopped.

        An attempt, run as a non-blocking operation on the source socket:
        raises zmq.Again if the source had nothing and nothing was moved.
        No checkpoint inside, so a cancellation finds each message in the
        source or in the destination, or held.
        """
        if self.destination.closed or (self.capture is not None and self.capture.closed):
            # Not a ZMQError: one would be taken for the source's.
            raise closed_error()
        receive = self._receive
        send = self._send
        capture_send = self._capture_send
        destination_get = self._destination_get
        capture_get = self._capture_get
        careful = self.careful
        frames_in = bytes_in = frames_out = bytes_out = 0
        stop = _BURST_DONE
        try:
            for moved in range(BURST):
                if careful:
                    if not destination_get(_EVENTS) & _POLLOUT:
                        stop = _DESTINATION_FULL
                        break
                    if capture_get is not None and not capture_get(_EVENTS) & _POLLOUT:
                        stop = _CAPTURE_FULL
                        break
                try:
                    frame = receive(_NOBLOCK, False)
                except zmq.Again:
                    stop = _SOURCE_EMPTY
                    if not moved:
                        raise  # nothing to do: the caller waits for the source
                    break
                # libzmq delivers a multipart message whole: once its first
                # frame is here, so are the rest.
                parts = [frame]
                size = len(frame)
                while frame.more:
                    frame = receive(_NOBLOCK, False)
                    parts.append(frame)
                    size += len(frame)
                count = len(parts)
                frames_in += count
                bytes_in += size
                # The high-water mark is checked on a message's first frame
                # only: a send either refuses the whole message or sends it.
                try:
                    send(parts, _NOBLOCK)
                except zmq.Again:
                    self.held.append((self.destination, parts, size, True))
                    stop = _HELD
                    break
                except zmq.ZMQError as exc:
                    self._destination_port.reraise(exc)
                frames_out += count
                bytes_out += size
                if capture_send is not None:
                    try:
                        capture_send(parts, _NOBLOCK)
                    except zmq.Again:
                        assert self.capture is not None
                        self.held.append((self.capture, parts, size, False))
                        stop = _HELD
                        break
                    except zmq.ZMQError as exc:
                        assert self._capture_port is not None
                        self._capture_port.reraise(exc)
        finally:
            self.frames_in += frames_in
            self.bytes_in += bytes_in
            self.frames_out += frames_out
            self.bytes_out += bytes_out
            self.careful = stop is not _BURST_DONE
            # The calls may have consumed the edges that tasks waiting on
            # these sockets sleep on (the other direction waits on both).
            self._destination_port.serve()
            if self._capture_port is not None:
                self._capture_port.serve()
        return stop

    async def forward(self, proxy: Proxy) -> NoReturn:
        """Forward until cancelled (the child task of this direction)."""
        while True:
            if self.held:
                await self._deliver_held(proxy.flush_timeout)
            if proxy.paused:
                await proxy._wait_resumed()
                continue
            # The step as a non-blocking operation on the source: a cancel
            # point, the step (unless the socket is closed, or a test
            # backend injects an EAGAIN), a schedule point; never a wait.
            try:
                stop = await self._source_port.operate(RECV, self.step, _NOBLOCK)
            except zmq.Again:
                stop = _SOURCE_EMPTY
            if stop is _SOURCE_EMPTY:
                await self.source.wait_readable()
            elif stop is _DESTINATION_FULL:
                await self.destination.wait_writable()
            elif stop is _CAPTURE_FULL:
                assert self.capture is not None
                await self.capture.wait_writable()
            # _BURST_DONE: step again.  _HELD: deliver it first, at the top.

    async def _deliver_held(self, flush_timeout: float) -> None:
        """Send the held messages, waiting as long as it takes, unless
        cancelled: then for at most ``flush_timeout`` seconds more."""
        try:
            await self._send_held()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), anyio.move_on_after(flush_timeout):
                await self._send_held()
            if self.held:
                unsent = [
                    (sock, [frame.bytes for frame in parts]) for sock, parts, _, _ in self.held
                ]
                self.held.clear()
                raise ProxyFlushTimeout(
                    f"the proxy was cancelled holding {len(unsent)} message(s) taken from "
                    f"{self.source!r} that {unsent[0][0]!r} did not accept within "
                    f"{flush_timeout} s; they are in this exception's `unsent`",
                    unsent,
                ) from None
            raise

    async def _send_held(self) -> None:
        held = self.held
        while held:
            sock, parts, size, forwarded = held[0]
            await sock.send_multipart(parts, copy=False)
            held.popleft()
            if forwarded:
                self.frames_out += len(parts)
                self.bytes_out += size
                if self.capture is not None:
                    # Its copy goes out as in a step: now, or held too.
                    try:
                        self.capture.send_multipart_nowait(parts, copy=False)
                    except anyio.WouldBlock:
                        held.append((self.capture, parts, size, False))


def _events_reader(port: Port) -> Callable[[int], int]:
    """The socket's getsockopt, for ZMQ_EVENTS (an int)."""
    return cast("Callable[[int], int]", port.zsock.get)


def _check_socket(name: str, sock: object) -> Socket:
    if not isinstance(sock, Socket):
        hint = ""
        if isinstance(sock, zmq.Socket):
            hint = "; wrap a pyzmq socket with trio_zmq.Socket.from_socket(sock)"
        raise TypeError(f"{name} must be a trio_zmq.Socket, not {type(sock).__name__}{hint}")
    if sock.closed:
        raise closed_error(f"the {name} socket is closed")
    return sock


@final
class Proxy:
    """A steerable proxy between ``frontend`` and ``backend``.

    Run it in a nursery or task group you can see::

        proxy = trio_zmq.Proxy(frontend, backend)
        async with trio.open_nursery() as nursery:
            await nursery.start(proxy.run)
            proxy.pause()
            ...
            proxy.terminate()

    Everything is checked here, before anything is forwarded.  For the
    forwarding and the cancel rule see :func:`proxy`.  The proxy owns its
    sockets while it runs: do not send or receive on them meanwhile.

    Args:
      frontend, backend: ``trio_zmq`` sockets, two distinct ones.  Messages
        go from frontend to backend if the frontend can receive and the
        backend can send, and back likewise (PULL -> PUSH forwards one way,
        ROUTER <-> DEALER and XSUB <-> XPUB both ways).
      capture: if given, every forwarded message is also sent to it
        (PUB, PUSH, PAIR or DEALER, as libzmq accepts).
      control: if given, a REP or PAIR socket on which the proxy takes
        libzmq's commands: ``PAUSE``, ``RESUME``, ``TERMINATE``, and
        ``STATISTICS`` (answered with eight uint64 frames, see
        :meth:`ProxyStatistics.as_frames`).  On a REP socket every command
        gets a reply (an empty frame but for STATISTICS), as in libzmq;
        unknown commands are ignored, as libzmq does.
      flush_timeout: how long a cancelled direction may go on sending a
        message it holds (see :func:`proxy`), in seconds.

    Raises:
      TypeError: a socket that is not a ``trio_zmq.Socket``.
      ValueError: the same socket twice, a capture or control socket of
        the wrong type, no direction to forward in, or a bad
        ``flush_timeout``.
      trio.ClosedResourceError: a closed socket.
    """

    __slots__ = (
        "_backward",
        "_control",
        "_directions",
        "_forward",
        "_paused",
        "_resumed",
        "_scope",
        "_sockets",
        "flush_timeout",
    )

    def __init__(
        self,
        frontend: Socket,
        backend: Socket,
        capture: Socket | None = None,
        control: Socket | None = None,
        *,
        flush_timeout: float = DEFAULT_FLUSH_TIMEOUT,
    ) -> None:
        named = {"frontend": frontend, "backend": backend}
        if capture is not None:
            named["capture"] = capture
        if control is not None:
            named["control"] = control
        sockets = {name: _check_socket(name, sock) for name, sock in named.items()}
        seen: dict[int, str] = {}
        for name, sock in sockets.items():
            other = seen.setdefault(sock.underlying, name)
            if other != name:
                raise ValueError(f"the same socket is given as {other} and as {name}")
        if capture is not None and capture.type not in CAPTURE_TYPES:
            raise ValueError(
                f"a capture socket must be PUB, PUSH, PAIR or DEALER, not {capture.type.name}"
            )
        if control is not None and control.type not in CONTROL_TYPES:
            raise ValueError(f"a control socket must be REP or PAIR, not {control.type.name}")
        if (
            not isinstance(flush_timeout, (int, float))
            or isinstance(flush_timeout, bool)
            or not math.isfinite(flush_timeout)
            or flush_timeout < 0
        ):
            raise ValueError(
                f"flush_timeout must be a finite number of seconds >= 0, not {flush_timeout!r}"
            )
        self._forward = _direction(frontend, backend, capture)
        self._backward = _direction(backend, frontend, capture)
        self._directions = [d for d in (self._forward, self._backward) if d is not None]
        if not self._directions:
            raise ValueError(
                f"nothing to forward: a {frontend.type.name} frontend and a "
                f"{backend.type.name} backend cannot pass messages either way"
            )
        self._sockets = list(sockets.items())
        self._control = control
        #: How long a cancelled direction goes on sending a held message.
        self.flush_timeout = float(flush_timeout)
        self._paused = False
        self._resumed: anyio.Event | None = None
        self._scope: anyio.CancelScope | None = None

    def __repr__(self) -> str:
        state = "running" if self._scope is not None else "not running"
        if self._paused:
            state += ", paused"
        names = ", ".join(f"{name}={sock!r}" for name, sock in self._sockets)
        return f"<trio_zmq.Proxy {names} ({state})>"

    @property
    def running(self) -> bool:
        """True while :meth:`run` runs."""
        return self._scope is not None

    @property
    def paused(self) -> bool:
        """True between :meth:`pause` and :meth:`resume` (or PAUSE and RESUME)."""
        return self._paused

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Forward until terminated (then return) or cancelled (then raise).

        Made for ``await nursery.start(proxy.run)``, which returns once the
        proxy runs.  It runs in the calling task, with one child task per
        direction and one for the control socket, in a task group that
        ends with this call.  A proxy can run again after it ended, keeping
        its statistics and its paused state; not twice at once.

        Raises:
          RuntimeError: it is already running.
          trio.ClosedResourceError: a socket is or gets closed.
          ProxyFlushTimeout: see :func:`proxy`.
          zmq.ZMQError: what libzmq reports on a socket.
          ExceptionGroup: several of the above at once.
        """
        if self._scope is not None:
            raise RuntimeError("this Proxy is already running")
        for name, sock in self._sockets:
            _check_socket(name, sock)
        errors: list[Exception] = []
        try:
            async with anyio.create_task_group() as group:
                self._scope = group.cancel_scope
                for direction in self._directions:
                    group.start_soon(
                        self._guard, functools.partial(direction.forward, self), errors
                    )
                if self._control is not None:
                    control = functools.partial(self._serve_control, self._control)
                    group.start_soon(self._guard, control, errors)
                task_status.started()
        finally:
            self._scope = None
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise ExceptionGroup("the proxy failed in several places", errors)

    async def _guard(self, child: Callable[[], Awaitable[object]], errors: list[Exception]) -> None:
        """Run ``child``; keep its error for :meth:`run` and stop the others,
        so that run() raises the error itself, not a group of one."""
        try:
            await child()
        except Exception as exc:
            errors.append(exc)
            if self._scope is not None:
                self._scope.cancel()

    def pause(self) -> None:
        """Stop taking messages from the sockets until :meth:`resume`.

        Takes effect at once: no step starts while paused (a message held
        when it is called is still delivered).  Messages wait in the
        sockets, up to their high-water marks.  Idempotent; a pause set
        while the proxy is not running holds for its next run.
        """
        self._paused = True

    def resume(self) -> None:
        """Forward again after :meth:`pause`.  Idempotent."""
        self._paused = False
        resumed, self._resumed = self._resumed, None
        if resumed is not None:
            resumed.set()

    async def _wait_resumed(self) -> None:
        if self._paused:
            if self._resumed is None:
                self._resumed = anyio.Event()
            await self._resumed.wait()

    def terminate(self) -> None:
        """End :meth:`run`, which then returns (after delivering any held
        message, within ``flush_timeout``).  Idempotent while it runs.

        Raises:
          RuntimeError: the proxy is not running (so nothing would end;
            ``await nursery.start(proxy.run)`` returns once it runs).
        """
        if self._scope is None:
            raise RuntimeError("this Proxy is not running")
        self._scope.cancel()

    def statistics(self) -> ProxyStatistics:
        """What was forwarded so far, as libzmq's STATISTICS command reports it."""
        forward, backward = self._forward, self._backward
        return ProxyStatistics(
            frontend_frames_in=forward.frames_in if forward else 0,
            frontend_bytes_in=forward.bytes_in if forward else 0,
            frontend_frames_out=backward.frames_out if backward else 0,
            frontend_bytes_out=backward.bytes_out if backward else 0,
            backend_frames_in=backward.frames_in if backward else 0,
            backend_bytes_in=backward.bytes_in if backward else 0,
            backend_frames_out=forward.frames_out if forward else 0,
            backend_bytes_out=forward.bytes_out if forward else 0,
        )

    async def _serve_control(self, control: Socket) -> NoReturn:
        """Take libzmq's commands from the control socket."""
        always_reply = control.type == zmq.REP
        while True:
            frames = await control.recv_multipart()
            command = frames[0] if len(frames) == 1 else None
            reply: list[bytes] | None = [b""] if always_reply else None
            if command == _STATISTICS:
                reply = self.statistics().as_frames()
            elif command == _PAUSE:
                self.pause()
            elif command == _RESUME:
                self.resume()
            if reply is not None:
                await control.send_multipart(reply)
            if command == _TERMINATE:
                self.terminate()
                await anyio.sleep_forever()


def _direction(source: Socket, destination: Socket, capture: Socket | None) -> _Direction | None:
    if source.type in _CANNOT_RECEIVE or destination.type in _CANNOT_SEND:
        return None
    return _Direction(source, destination, capture)


async def proxy(
    frontend: Socket,
    backend: Socket,
    capture: Socket | None = None,
    *,
    flush_timeout: float = DEFAULT_FLUSH_TIMEOUT,
) -> NoReturn:
    """Forward messages between ``frontend`` and ``backend`` until cancelled.

    pyzmq's :func:`zmq.proxy`, in the calling task: ROUTER frontend and
    DEALER backend make the classic broker, XSUB and XPUB a forwarder
    (subscriptions flow upstream), PULL and PUSH a streamer.  Multipart
    messages go whole and envelopes pass unchanged; each forwarded message
    is also sent to ``capture`` if given.

    Cancel it to stop it.  **A message is forwarded whole or stays in its
    source socket**: see the module documentation for how, and for the one
    exception, a message the destination refused after it was taken, which
    a cancelled proxy goes on sending for at most ``flush_timeout`` seconds
    before it raises :class:`ProxyFlushTimeout` with the message.

    Arguments, checks and errors as :class:`Proxy` and :meth:`Proxy.run`.
    """
    await Proxy(frontend, backend, capture, flush_timeout=flush_timeout).run()
    raise AssertionError("unreachable: a proxy without a control socket never returns")


async def proxy_steerable(
    frontend: Socket,
    backend: Socket,
    capture: Socket | None = None,
    control: Socket | None = None,
    *,
    flush_timeout: float = DEFAULT_FLUSH_TIMEOUT,
) -> None:
    """:func:`proxy` with libzmq's control socket: ``zmq_proxy_steerable``.

    Returns when TERMINATE arrives on ``control`` (without ``control`` it
    runs until cancelled, as :func:`proxy`).  See :class:`Proxy` for the
    commands, and for a handle that does the same from Python.
    """
    await Proxy(frontend, backend, capture, control, flush_timeout=flush_timeout).run()
