"""Layer 2: ``trio_zmq.Socket``, pyzmq's socket API with trio's rules.

Every async operation follows trio's checkpoint pattern:

1. ``checkpoint_if_cancelled()`` -- a cancel point before anything happens;
2. if no task is already waiting in the same direction, try the operation
   with ``NOBLOCK`` -- most operations end here, without a waiter;
3. on success ``cancel_shielded_checkpoint()`` -- a schedule point that can
   no longer raise Cancelled, because the operation has happened;
4. otherwise (EAGAIN, or others ahead of us) queue in the engine, which
   guarantees the same rule for the wait.

After every zmq call the engine re-reads ZMQ_EVENTS (if anyone waits), since
the call may have consumed the fd's edge that a waiter depends on.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, final, overload

import zmq
import zmq.backend
from trio.lowlevel import in_trio_task as _in_trio_task
from zmq.utils import jsonapi

from .._core import _backend, _registry
from .._core._engine import (
    NOT_NOW,
    RECV,
    SEND,
    Attempt,
    Engine,
    WaitTag,
    int_option,
    read_events,
)
from .._core._exceptions import WouldBlock, closed_error
from .._core._wait import check_events, wait_events
from ._errors import (
    RECV_FLAGS,
    SEND_FLAGS,
    check_batch_sequence,
    check_flags,
    check_frame,
    check_multipart,
    check_socket_type,
)

if TYPE_CHECKING:
    from .._channels._channels import MessageReceiveChannel, MessageSendChannel
    from .._tools._monitor import Monitor
    from ._context import Context

T = TypeVar("T")
R = TypeVar("R")

# Plain ints: enum arithmetic costs more than the zmq call on the hot path.
_NOBLOCK = int(zmq.NOBLOCK)
#: The socket option holding the pyzmq-style timeout of each direction.
_TIMEOUT_OPTION = (int(zmq.RCVTIMEO), int(zmq.SNDTIMEO))
#: The engine's queue tuple for each direction, built once.
_DIRECTIONS = ((RECV,), (SEND,))
_OWN_ATTRIBUTES = frozenset(
    {
        "_timeouts",
        "_zsock",
        "_engine",
        "_context",
        "_type",
        "_endpoints",
        "_recv_default",
        "_recv_multipart_default",
        "_send_frame",
        "_send_multipart_default",
    }
)


@final
class Socket:
    """A ZeroMQ socket whose blocking operations are trio-async.

    Make one with :meth:`trio_zmq.Context.socket` or wrap an existing pyzmq
    socket with :meth:`Socket.from_socket`.  Names and signatures follow
    pyzmq; socket options read and write as attributes (``sock.linger = 0``).

    Any number of tasks may send and receive on one socket at the same time:
    waiters are served first-in-first-out per direction, and multipart
    messages never interleave.  Every async method is a checkpoint, and
    either its operation happened or it raised :exc:`trio.Cancelled`.
    """

    __slots__ = (
        "__weakref__",
        "_context",
        "_endpoints",
        "_engine",
        "_recv_default",
        "_recv_multipart_default",
        "_send_frame",
        "_send_multipart_default",
        "_timeouts",
        "_type",
        "_zsock",
    )

    _zsock: zmq.Socket[Any]
    _engine: Engine
    _context: Context | None
    _type: zmq.SocketType
    _endpoints: list[str]
    _recv_default: Attempt
    _recv_multipart_default: Attempt
    _send_frame: Callable[..., Any]
    _send_multipart_default: Callable[[Sequence[Any], int], Any]
    _timeouts: list[float | None]

    def __init__(self, zsock: zmq.Socket[Any], *, _context: Context | None = None) -> None:
        """Use :meth:`Context.socket` or :meth:`Socket.from_socket` instead."""
        if not isinstance(zsock, zmq.Socket):
            raise TypeError(f"expected a zmq.Socket, not {type(zsock).__name__}")
        if type(zsock).recv is not zmq.Socket.recv:
            raise TypeError(
                f"{type(zsock).__name__} has async methods of its own; wrap a plain "
                "zmq.Socket (for example zmq.Socket.shadow(sock.underlying))"
            )
        if zsock.closed:
            raise closed_error()
        kind = check_socket_type(int_option(zsock, zmq.TYPE))
        engine = _registry.engine_for(zsock)
        engine.pinned = True
        object.__setattr__(self, "_zsock", zsock)
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_context", _context)
        object.__setattr__(self, "_type", kind)
        # Endpoints bound or connected through this wrapper (libzmq cannot
        # list them); for anyio's typed attributes and for repr().
        object.__setattr__(self, "_endpoints", [])
        # RCVTIMEO and SNDTIMEO in seconds (None: wait forever), kept here
        # so that a wait does not read them from libzmq; set() updates them.
        object.__setattr__(self, "_timeouts", [None, None])
        for direction in (RECV, SEND):
            self._note_timeout(direction, int_option(zsock, _TIMEOUT_OPTION[direction]))
        # recv() and recv_multipart() with default arguments, built once:
        # the hot paths.
        object.__setattr__(self, "_recv_default", self._recv_attempt(0, True, False))
        object.__setattr__(
            self, "_recv_multipart_default", self._recv_multipart_attempt(0, True, False)
        )
        send_frame = _frame_sender(zsock)
        object.__setattr__(self, "_send_frame", send_frame)
        object.__setattr__(
            self, "_send_multipart_default", _multipart_sender(send_frame, True, False)
        )

    @classmethod
    def from_socket(cls, zsock: zmq.Socket[Any]) -> Socket:
        """Wrap an existing pyzmq socket.

        The wrapper owns the socket from then on: closing it closes
        ``zsock``.  Tasks already waiting on ``zsock`` through
        :func:`trio_zmq.wait_readable` share the wrapper's engine.

        Raises:
          TypeError: ``zsock`` is not a plain pyzmq socket.
          ValueError: its type has no ZMQ_FD (thread-safe draft types).
          trio.ClosedResourceError: it is closed.
        """
        return cls(zsock)

    # ------------------------------------------------------------------
    # Identity and lifetime
    # ------------------------------------------------------------------

    @property
    def zmq_socket(self) -> zmq.Socket[Any]:
        """The pyzmq socket underneath.

        Calling it directly while tasks wait on this socket can consume the
        fd's edge they rely on; call :func:`trio_zmq.probe` after doing so.
        Set RCVTIMEO and SNDTIMEO through this wrapper (``sock.rcvtimeo =
        100``), not on the pyzmq socket: the wrapper keeps their values.
        """
        return self._zsock

    @property
    def context(self) -> Context | None:
        """The :class:`trio_zmq.Context` that made this socket, if any."""
        return self._context

    @property
    def closed(self) -> bool:
        """Whether the socket is closed (through this object or the pyzmq socket)."""
        return self._engine.closed or self._zsock.closed

    @property
    def underlying(self) -> int:
        """The address of the libzmq socket (0 once closed)."""
        return self._zsock.underlying

    @property
    def type(self) -> zmq.SocketType:
        """The socket type (known even after closing)."""
        return self._type

    @property
    def socket_type(self) -> zmq.SocketType:
        """Alias of :attr:`type`, the name trio_zmq's docs use."""
        return self.type

    def fileno(self) -> int:
        """ZMQ_FD: edge-triggered, shared by both directions (see the docs)."""
        self._check_open()
        return self._engine.fd

    def close(self, linger: int | None = None) -> None:
        """Close the socket; every task waiting on it gets ClosedResourceError.

        Idempotent.  ``linger`` (milliseconds) overrides ZMQ_LINGER for this
        close, as in pyzmq.
        """
        engine = self._engine
        if engine.closed and self._zsock.closed:
            return
        engine.check_thread()
        # Wake the waiters and notify_closing(fd) while the fd still exists.
        engine.close(fd_valid=not self._zsock.closed)
        _registry.release(engine)
        self._zsock.close(linger=linger)
        if self._context is not None:
            self._context._forget(self)

    async def aclose(self) -> None:
        """Close the socket (see :meth:`close`); always a checkpoint."""
        self.close()
        await _backend.current().checkpoint()

    async def __aenter__(self) -> Socket:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self._engine.fd}"
        return f"<trio_zmq.Socket {self._type.name} {state}>"

    # ------------------------------------------------------------------
    # Synchronous pass-throughs (each re-probes: it may eat the fd's edge)
    # ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._engine.closed:
            raise closed_error()
        self._engine.check_thread()

    def _call(self, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        self._check_open()
        try:
            return method(*args, **kwargs)
        except zmq.ZMQError as exc:
            self._engine.reraise(exc)
        finally:
            if not self._engine.closed:
                self._engine.after_operation()

    def bind(self, addr: str) -> None:
        """Bind to ``addr`` (``tcp://127.0.0.1:5555``, ``inproc://name``, ...).

        Raises:
          zmq.ZMQError: invalid or unavailable endpoint.
          trio.ClosedResourceError: the socket is closed.
        """
        _check_endpoint(addr)
        self._call(self._zsock.bind, addr)
        # The resolved address: a wildcard port or interface becomes real.
        self._endpoints.append(self._call(self._zsock.get_string, zmq.LAST_ENDPOINT) or addr)

    def connect(self, addr: str) -> None:
        """Connect to ``addr``; see :meth:`bind` for the errors."""
        _check_endpoint(addr)
        self._call(self._zsock.connect, addr)
        self._endpoints.append(addr)

    def unbind(self, addr: str) -> None:
        """Stop listening on ``addr``, an endpoint :meth:`bind` bound."""
        _check_endpoint(addr)
        self._call(self._zsock.unbind, addr)
        self._forget_endpoint(addr)

    def disconnect(self, addr: str) -> None:
        """Disconnect from ``addr``, an endpoint :meth:`connect` connected to."""
        _check_endpoint(addr)
        self._call(self._zsock.disconnect, addr)
        self._forget_endpoint(addr)

    def _forget_endpoint(self, addr: str) -> None:
        if addr in self._endpoints:
            self._endpoints.remove(addr)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoints bound or connected through this object, in order
        (bound ones as resolved, e.g. with the port a wildcard got)."""
        return tuple(self._endpoints)

    def bind_to_random_port(
        self,
        addr: str,
        min_port: int = 49152,
        max_port: int = 65536,
        max_tries: int = 100,
    ) -> int:
        """Bind to a random port of ``addr`` (e.g. ``tcp://127.0.0.1``)."""
        _check_endpoint(addr)
        port = self._call(self._zsock.bind_to_random_port, addr, min_port, max_port, max_tries)
        self._endpoints.append(f"{addr}:{port}")
        return port

    def get(self, option: int) -> Any:
        """getsockopt; reading ZMQ_EVENTS also serves waiters it unblocks."""
        return self._call(self._zsock.get, option)

    def set(self, option: int, value: Any) -> None:
        """setsockopt; RCVTIMEO and SNDTIMEO also bound the async calls, as in pyzmq."""
        self._call(self._zsock.set, option, value)
        if option in _TIMEOUT_OPTION:
            self._note_timeout(_TIMEOUT_OPTION.index(option), value)

    def _note_timeout(self, direction: int, milliseconds: int) -> None:
        self._timeouts[direction] = None if milliseconds < 0 else milliseconds / 1000

    getsockopt = get
    setsockopt = set

    def get_string(self, option: int, encoding: str = "utf-8") -> str:
        """A string option (e.g. ``zmq.LAST_ENDPOINT``), decoded with ``encoding``."""
        return self._call(self._zsock.get_string, option, encoding)

    def set_string(self, option: int, optval: str, encoding: str = "utf-8") -> None:
        """Set a string option, encoded with ``encoding``."""
        self._call(self._zsock.set_string, option, optval, encoding)

    getsockopt_string = get_string
    setsockopt_string = set_string

    @property
    def hwm(self) -> int:
        """SNDHWM and RCVHWM together (setting sets both), as in pyzmq."""
        return self._call(lambda: self._zsock.hwm)

    @hwm.setter
    def hwm(self, value: int) -> None:
        self._call(setattr, self._zsock, "hwm", value)

    def subscribe(self, topic: str | bytes) -> None:
        """Subscribe a SUB socket to ``topic`` (str is encoded as UTF-8)."""
        self._call(self._zsock.subscribe, topic)

    def unsubscribe(self, topic: str | bytes) -> None:
        """Undo a :meth:`subscribe` of ``topic`` on a SUB socket."""
        self._call(self._zsock.unsubscribe, topic)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the class does not define: socket options.
        option = _option_named(name)
        if option is None:
            raise AttributeError(f"'trio_zmq.Socket' object has no attribute {name!r}")
        return self.get(option)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _OWN_ATTRIBUTES or hasattr(type(self), name):
            object.__setattr__(self, name, value)
            return
        option = _option_named(name)
        if option is None:
            raise AttributeError(
                f"'trio_zmq.Socket' object has no attribute or socket option {name!r}"
            )
        self.set(option, value)

    # ------------------------------------------------------------------
    # The core of every blocking operation
    # ------------------------------------------------------------------

    async def _operate(
        self,
        direction: int,
        attempt: Attempt,
        flags: int,
        tag: WaitTag | None = None,
    ) -> Any:
        """Run ``attempt`` now if possible, else wait for the socket.

        ``attempt`` performs the zmq operation with NOBLOCK and raises
        zmq.Again if it would block.  ``tag`` marks the wait for
        :meth:`_abort_waits` (a channel view passes its closer).

        The one path of every operation, on every loop: the backend's
        cancel point, the attempt, then either the backend's schedule point
        or the wait (which is one).
        """
        # _backend.current(), written out: this runs for every message.
        backend = _backend.for_trio if _in_trio_task() else _backend.for_others
        await backend.before_operation()
        noblock = flags & _NOBLOCK
        result = backend.try_now(self._engine, direction, attempt, not noblock)
        if result is NOT_NOW:
            if noblock:
                # pyzmq semantics: NOBLOCK means raise instead of waiting.
                # The attempt may have eaten the fd's edge: serve others.
                self._engine.after_operation()
                await backend.after_operation()
                raise zmq.Again()
            timeout = self._timeouts[direction]
            if timeout is None:
                return await self._engine.wait(attempt, _DIRECTIONS[direction], backend, tag=tag)
            return await self._wait_timed(direction, attempt, backend, timeout, tag)
        await backend.after_operation()
        return result

    async def _wait_timed(
        self,
        direction: int,
        attempt: Attempt,
        backend: _backend.Backend,
        timeout: float,
        tag: WaitTag | None,
    ) -> Any:
        """RCVTIMEO / SNDTIMEO: raise zmq.Again after that long, as pyzmq."""
        with backend.move_on_after(timeout):
            return await self._engine.wait(attempt, _DIRECTIONS[direction], backend, tag=tag)
        raise zmq.Again()

    def _nowait(self, direction: int, attempt: Attempt) -> Any:
        """The synchronous variant: never a checkpoint, WouldBlock if busy."""
        result = self._engine.try_now(direction, attempt, will_wait=False)
        if result is NOT_NOW:
            self._engine.after_operation()
            raise WouldBlock
        return result

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------

    def _send_attempt(
        self,
        data: Any,
        flags: int,
        copy: bool,
        track: bool,
        routing_id: int | None,
        group: str | None,
    ) -> Attempt:
        check_frame(data)
        if flags:
            check_flags(flags, SEND_FLAGS)
        flags |= _NOBLOCK
        if routing_id is None and group is None:
            send_frame = self._send_frame
            return lambda _events: send_frame(data, flags, copy, track)
        send = self._zsock.send
        return lambda _events: send(
            data, flags, copy=copy, track=track, routing_id=routing_id, group=group
        )

    def _send_multipart_attempt(
        self, msg_parts: Sequence[Any], flags: int, copy: bool, track: bool
    ) -> Attempt:
        parts = check_multipart(msg_parts)
        if flags:
            check_flags(flags, SEND_FLAGS)
        if copy is True and not track:
            send_multipart = self._send_multipart_default
        else:
            send_multipart = _multipart_sender(self._send_frame, copy, track)
        flags |= _NOBLOCK
        return lambda _events: send_multipart(parts, flags)

    @overload
    async def send(
        self,
        data: Any,
        flags: int = 0,
        *,
        copy: Literal[False],
        track: Literal[True],
        routing_id: int | None = None,
        group: str | None = None,
    ) -> zmq.MessageTracker: ...
    @overload
    async def send(
        self,
        data: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        routing_id: int | None = None,
        group: str | None = None,
    ) -> zmq.MessageTracker | None: ...

    async def send(
        self,
        data: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        routing_id: int | None = None,
        group: str | None = None,
    ) -> zmq.MessageTracker | None:
        """Send one frame (bytes, a buffer or a zmq.Frame).

        With ``copy=False, track=True`` it returns a ``zmq.MessageTracker``:
        do not modify the buffer until ``await trio_zmq.wait_tracker(tracker)``
        returns (docs/trackers.md).

        Waits while the socket cannot take it (high-water mark reached, no
        peer for PUSH/DEALER, wrong state for REQ).  A cancelled send sends
        nothing.  With ``zmq.NOBLOCK`` in ``flags`` it raises ``zmq.Again``
        instead of waiting; with SNDTIMEO set, after that long.

        Raises:
          TypeError: ``data`` is not a frame (checked before anything is sent).
          trio.ClosedResourceError: the socket is or gets closed.
          zmq.ZMQError: what libzmq reports (EFSM on REQ, EHOSTUNREACH, ...).
        """
        attempt = self._send_attempt(data, flags, copy, track, routing_id, group)
        result: zmq.MessageTracker | None = await self._operate(SEND, attempt, flags)
        return result

    def send_nowait(
        self,
        data: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        routing_id: int | None = None,
        group: str | None = None,
    ) -> zmq.MessageTracker | None:
        """Send one frame now or raise :exc:`trio.WouldBlock`; never a checkpoint."""
        attempt = self._send_attempt(data, flags, copy, track, routing_id, group)
        result: zmq.MessageTracker | None = self._nowait(SEND, attempt)
        return result

    @overload
    async def send_multipart(
        self,
        msg_parts: Sequence[Any],
        flags: int = 0,
        *,
        copy: Literal[False],
        track: Literal[True],
    ) -> zmq.MessageTracker: ...
    @overload
    async def send_multipart(
        self,
        msg_parts: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
    ) -> zmq.MessageTracker | None: ...

    async def send_multipart(
        self,
        msg_parts: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
    ) -> zmq.MessageTracker | None:
        """Send a multipart message atomically (all frames or none).

        Every frame is type-checked before the first is sent.  Messages
        sent concurrently by several tasks never interleave.  With
        ``copy=False, track=True`` the tracker returned is the last frame's,
        as in pyzmq (docs/trackers.md).

        Raises:
          TypeError, ValueError: bad frames or an empty message.
          trio.ClosedResourceError: the socket is or gets closed.
        """
        attempt = self._send_multipart_attempt(msg_parts, flags, copy, track)
        result: zmq.MessageTracker | None = await self._operate(SEND, attempt, flags)
        return result

    def send_multipart_nowait(
        self,
        msg_parts: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
    ) -> zmq.MessageTracker | None:
        """:meth:`send_multipart` now or :exc:`trio.WouldBlock`; never a checkpoint."""
        attempt = self._send_multipart_attempt(msg_parts, flags, copy, track)
        result: zmq.MessageTracker | None = self._nowait(SEND, attempt)
        return result

    async def send_string(
        self,
        u: str,
        flags: int = 0,
        copy: bool = True,
        encoding: str = "utf-8",
        **kwargs: Any,
    ) -> zmq.MessageTracker | None:
        """Send a str, encoded with ``encoding``."""
        if not isinstance(u, str):
            raise TypeError(f"send_string() takes a str, not {type(u).__name__}")
        return await self.send(u.encode(encoding), flags=flags, copy=copy, **kwargs)

    async def send_json(self, obj: Any, flags: int = 0, **kwargs: Any) -> None:
        """Send ``obj`` serialized as JSON (``kwargs`` go to ``json.dumps``)."""
        await self.send(jsonapi.dumps(obj, **kwargs), flags)

    async def send_pyobj(
        self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL
    ) -> zmq.MessageTracker | None:
        """Send ``obj`` pickled.  Only unpickle data from peers you trust."""
        return await self.send(pickle.dumps(obj, protocol), flags)

    async def send_serialized(
        self,
        msg: T,
        serialize: Callable[[T], Sequence[Any]],
        flags: int = 0,
        copy: bool = True,
        **kwargs: Any,
    ) -> zmq.MessageTracker | None:
        """Send ``serialize(msg)`` as one multipart message."""
        return await self.send_multipart(serialize(msg), flags=flags, copy=copy, **kwargs)

    # ------------------------------------------------------------------
    # Receiving
    # ------------------------------------------------------------------

    def _recv_attempt(self, flags: int, copy: bool, track: bool) -> Attempt:
        recv = self._zsock.recv
        if flags:
            check_flags(flags, RECV_FLAGS)
        flags |= _NOBLOCK
        if copy is True and not track:
            return lambda _events: recv(flags)  # keywords cost more than the call
        return lambda _events: recv(flags, copy=copy, track=track)

    def _recv_multipart_attempt(self, flags: int, copy: bool, track: bool) -> Attempt:
        recv_multipart = _multipart_receiver(self._zsock, copy, track)
        if flags:
            check_flags(flags, RECV_FLAGS)
        flags |= _NOBLOCK
        return lambda _events: recv_multipart(flags)

    @overload
    async def recv(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> bytes: ...
    @overload
    async def recv(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> zmq.Frame: ...
    @overload
    async def recv(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> bytes | zmq.Frame: ...

    async def recv(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> bytes | zmq.Frame:
        """Receive one frame (bytes, or a zmq.Frame with ``copy=False``).

        A cancelled recv leaves its message in the socket for the next
        receive.  ``zmq.NOBLOCK`` and RCVTIMEO behave as in pyzmq.

        Raises:
          trio.ClosedResourceError: the socket is or gets closed.
          zmq.Again: NOBLOCK given or RCVTIMEO elapsed, and nothing arrived.
          zmq.ZMQError: what libzmq reports (EFSM on REP, ...).
        """
        if flags == 0 and copy is True and not track:
            attempt = self._recv_default
        else:
            attempt = self._recv_attempt(flags, copy, track)
        result: bytes | zmq.Frame = await self._operate(RECV, attempt, flags)
        return result

    @overload
    def recv_nowait(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> bytes: ...
    @overload
    def recv_nowait(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> zmq.Frame: ...
    @overload
    def recv_nowait(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> bytes | zmq.Frame: ...

    def recv_nowait(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> bytes | zmq.Frame:
        """Receive one frame now or raise :exc:`trio.WouldBlock`; never a checkpoint."""
        result: bytes | zmq.Frame = self._nowait(RECV, self._recv_attempt(flags, copy, track))
        return result

    @overload
    async def recv_multipart(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> list[bytes]: ...
    @overload
    async def recv_multipart(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> list[zmq.Frame]: ...
    @overload
    async def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> list[bytes] | list[zmq.Frame]: ...

    async def recv_multipart(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> list[bytes] | list[zmq.Frame]:
        """Receive a whole multipart message, frames in order.

        Raises: as :meth:`recv`.
        """
        if flags == 0 and copy is True and not track:
            attempt = self._recv_multipart_default
        else:
            attempt = self._recv_multipart_attempt(flags, copy, track)
        result: list[bytes] | list[zmq.Frame] = await self._operate(RECV, attempt, flags)
        return result

    @overload
    def recv_multipart_nowait(
        self, flags: int = 0, copy: Literal[True] = True, track: bool = False
    ) -> list[bytes]: ...
    @overload
    def recv_multipart_nowait(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> list[zmq.Frame]: ...
    @overload
    def recv_multipart_nowait(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> list[bytes] | list[zmq.Frame]: ...

    def recv_multipart_nowait(
        self, flags: int = 0, copy: bool = True, track: bool = False
    ) -> list[bytes] | list[zmq.Frame]:
        """:meth:`recv_multipart` now or :exc:`trio.WouldBlock`; never a checkpoint."""
        result: list[bytes] | list[zmq.Frame] = self._nowait(
            RECV, self._recv_multipart_attempt(flags, copy, track)
        )
        return result

    async def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> str:
        """Receive one frame and decode it.

        A frame that does not decode raises UnicodeDecodeError; it has been
        consumed, as in pyzmq.
        """
        return (await self.recv(flags)).decode(encoding)

    async def recv_json(self, flags: int = 0, **kwargs: Any) -> Any:
        """Receive one frame and parse it as JSON (``kwargs`` to ``json.loads``)."""
        return jsonapi.loads(await self.recv(flags), **kwargs)

    async def recv_pyobj(self, flags: int = 0) -> Any:
        """Receive one frame and unpickle it.  Only from peers you trust."""
        return pickle.loads(await self.recv(flags))

    async def recv_serialized(
        self,
        deserialize: Callable[[list[Any]], R],
        flags: int = 0,
        copy: bool = True,
    ) -> R:
        """Receive a multipart message and return ``deserialize(frames)``."""
        return deserialize(await self.recv_multipart(flags, copy=copy))

    # ------------------------------------------------------------------
    # Batches: one checkpoint, at most one wait, for many messages
    # ------------------------------------------------------------------

    def _recv_batch_attempt(self, max_items: int, copy: bool) -> Attempt:
        if not isinstance(max_items, int) or isinstance(max_items, bool) or max_items < 1:
            raise ValueError(f"max_items must be a positive int, not {max_items!r}")
        recv_multipart = _multipart_receiver(self._zsock, copy, False)

        def attempt(_events: int) -> list[list[Any]]:
            batch = [recv_multipart(_NOBLOCK)]  # zmq.Again if none
            append = batch.append
            for _ in range(max_items - 1):
                try:
                    append(recv_multipart(_NOBLOCK))
                except zmq.ZMQError:
                    # EAGAIN ends the batch.  Any other error (EFSM, ...)
                    # must not throw away what was already taken: return
                    # the batch; the next call meets the error again.
                    break
            return batch

        return attempt

    @staticmethod
    def _check_batch(messages: object) -> list[Sequence[Any]]:
        """Every frame of every message, checked before the first is sent."""
        return [check_multipart(parts) for parts in check_batch_sequence(messages)]

    def _send_batch_attempt(self, checked: Sequence[Sequence[Any]], copy: bool) -> Attempt:
        send_multipart = _multipart_sender(self._send_frame, copy, False)

        def attempt(_events: int) -> int:
            sent = 0
            for parts in checked:
                try:
                    send_multipart(parts, _NOBLOCK)
                except zmq.ZMQError:
                    if not sent:
                        raise  # zmq.Again: wait; other errors: the caller's
                    break  # a prefix went out: report it, stop here
                sent += 1
            return sent

        return attempt

    async def recv_batch(self, max_items: int = 1024, copy: bool = True) -> list[list[Any]]:
        """Receive every message available now, up to ``max_items``.

        Waits only while no message is available, then takes all it can
        without waiting again: one checkpoint for the whole batch.  Each
        item is a whole multipart message (``list[bytes]``, or
        ``list[zmq.Frame]`` with ``copy=False``).  The cancel rule holds for
        the batch: a cancelled call has received nothing, and a returned
        batch is complete.

        Raises:
          ValueError: ``max_items`` is not a positive int.
          trio.ClosedResourceError: the socket is or gets closed.
          zmq.Again: RCVTIMEO elapsed with nothing received.
          zmq.ZMQError: what libzmq reports for the first message.
        """
        batch: list[list[Any]] = await self._operate(
            RECV, self._recv_batch_attempt(max_items, copy), 0
        )
        return batch

    async def send_batch(self, messages: Sequence[Sequence[Any]], copy: bool = True) -> int:
        """Send a prefix of ``messages``: all that the socket takes now.

        Waits only while the socket cannot take the first one, then sends
        as many as it can without waiting again, and returns how many went
        out (at least 1; 0 for an empty batch).  Send the rest with another
        call.  One checkpoint per call; a cancelled call has sent nothing.
        Each message is a sequence of frames and goes out atomically.

        Raises:
          TypeError, ValueError: a bad message anywhere in the batch
            (checked before anything is sent).
          trio.ClosedResourceError: the socket is or gets closed.
          zmq.Again: SNDTIMEO elapsed with nothing sent.
        """
        return await self._send_checked(self._check_batch(messages), copy)

    async def _send_checked(self, checked: list[Sequence[Any]], copy: bool) -> int:
        if not checked:
            self._check_open()
            await _backend.current().checkpoint()
            return 0
        sent: int = await self._operate(SEND, self._send_batch_attempt(checked, copy), 0)
        return sent

    async def send_all(self, messages: Sequence[Sequence[Any]], copy: bool = True) -> None:
        """Send every message of ``messages``, in order, waiting as needed.

        Sends batch after batch (see :meth:`send_batch`) until all are out.
        Unlike one batch, a cancelled ``send_all`` may have sent a prefix,
        as with trio's ``SendStream.send_all``; use :meth:`send_batch` when
        you need to know how much went out.

        Raises: as :meth:`send_batch`.
        """
        checked = self._check_batch(messages)
        sent = await self._send_checked(checked, copy)
        while sent < len(checked):
            sent += await self._send_checked(checked[sent:], copy)

    # ------------------------------------------------------------------
    # Readiness
    # ------------------------------------------------------------------

    async def poll(self, timeout: float | None = None, flags: int = zmq.POLLIN) -> int:
        """Wait until any event in ``flags`` is ready; return the ready events.

        ``timeout`` is in milliseconds, as in pyzmq; on timeout it returns 0.
        Always a checkpoint.  Cancel scopes are the trio way to time out.
        """
        check_events(flags)
        self._check_open()
        if timeout is None or timeout < 0:
            return await wait_events(self._engine, flags)
        backend = _backend.current()
        if timeout == 0:
            # A probe, not a wait (but still a checkpoint).
            await backend.checkpoint()
            return self._call(read_events, self._zsock) & flags
        with backend.move_on_after(timeout / 1000):
            return await wait_events(self._engine, flags)
        return 0

    async def wait_readable(self) -> None:
        """Return once a receive would succeed; always a checkpoint."""
        self._check_open()
        await wait_events(self._engine, zmq.POLLIN)

    async def wait_writable(self) -> None:
        """Return once a send would succeed; always a checkpoint."""
        self._check_open()
        await wait_events(self._engine, zmq.POLLOUT)

    # ------------------------------------------------------------------
    # Channel views
    # ------------------------------------------------------------------

    @overload
    def receive_channel(self) -> MessageReceiveChannel[list[bytes]]: ...
    @overload
    def receive_channel(
        self, deserializer: Callable[[list[bytes]], T]
    ) -> MessageReceiveChannel[T]: ...

    def receive_channel(
        self, deserializer: Callable[[list[bytes]], Any] | None = None
    ) -> MessageReceiveChannel[Any]:
        """A :class:`trio.abc.ReceiveChannel` view of this socket.

        Items are multipart messages (``list[bytes]``), or whatever
        ``deserializer`` makes of one.  Closing the view does not close the
        socket; closing the socket closes every view.
        """
        return _view_classes()[0](self, deserializer)

    @overload
    def send_channel(self) -> MessageSendChannel[Sequence[Any]]: ...
    @overload
    def send_channel(self, serializer: Callable[[T], Sequence[Any]]) -> MessageSendChannel[T]: ...

    def send_channel(
        self, serializer: Callable[[Any], Sequence[Any]] | None = None
    ) -> MessageSendChannel[Any]:
        """A :class:`trio.abc.SendChannel` view of this socket.

        Items are multipart messages (sequences of frames), or whatever
        ``serializer`` turns into one.  Closing the view does not close the
        socket; closing the socket closes every view.
        """
        return _view_classes()[1](self, serializer)

    # ------------------------------------------------------------------
    # Monitoring (trio_zmq._tools._monitor)
    # ------------------------------------------------------------------

    def monitor(self, events: int = zmq.EVENT_ALL) -> Monitor:
        """This socket's connection events, for the span of a block.

        ``async with sock.monitor() as events: async for event in events:``
        yields :class:`trio_zmq.MonitorEvent` objects; see
        :func:`trio_zmq.monitor`, which this is.

        Raises:
          TypeError, ValueError: ``events`` is not a mask of ``zmq.EVENT_*``.
          trio.ClosedResourceError: the socket is closed.
        """
        if _monitor is None:
            raise RuntimeError("monitoring needs trio_zmq._tools: import trio_zmq")
        return _monitor(self, events)

    # ------------------------------------------------------------------
    # For the channel views (trio_zmq._channels): besides the public API,
    # they use these, _operate, _nowait and the attempt builders.
    # ------------------------------------------------------------------

    def _waiting(self, direction: int) -> int:
        """How many tasks wait in ``direction`` (RECV or SEND)."""
        return self._engine.waiting(direction)

    def _abort_waits(self, tag: WaitTag) -> None:
        """End the waits marked with ``tag`` with what ``tag.check()`` raises."""
        self._engine.abort(tag)

    async def _wait_events(self, mask: int, tag: WaitTag) -> int:
        """:meth:`poll` without a timeout, for waits marked with ``tag``."""
        self._check_open()
        return await wait_events(self._engine, mask, tag)


_ViewClasses = tuple["type[MessageReceiveChannel[Any]]", "type[MessageSendChannel[Any]]"]
#: The channel view classes (receive, send).  trio_zmq._channels is a layer
#: above this one and registers them when it is imported (importing trio_zmq
#: does), so that this module never imports it.
_views: _ViewClasses | None = None


def register_view_classes(
    receive: type[MessageReceiveChannel[Any]], send: type[MessageSendChannel[Any]]
) -> None:
    """Called once by trio_zmq._channels."""
    global _views
    _views = (receive, send)


def _view_classes() -> _ViewClasses:
    if _views is None:
        raise RuntimeError("channel views need trio_zmq._channels: import trio_zmq")
    return _views


#: trio_zmq.monitor, registered by trio_zmq._tools._monitor (a layer above).
_monitor: Callable[[Socket, int], Monitor] | None = None


def register_monitor(monitor: Callable[[Socket, int], Monitor]) -> None:
    """Called once by trio_zmq._tools._monitor."""
    global _monitor
    _monitor = monitor


_RCVMORE = int(zmq.RCVMORE)
_SNDMORE = int(zmq.SNDMORE)


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


def _multipart_sender(
    send: Callable[..., Any], copy: bool, track: bool
) -> Callable[[Sequence[Any], int], Any]:
    """``zsock.send_multipart`` for frames already checked, minus its
    per-call costs (type checks done once by check_multipart, enum flags,
    a one-frame message as one plain send).  ``send`` is the socket's
    :func:`_frame_sender`.

    Once libzmq accepts the first frame of a message it accepts the rest
    (the high-water mark is checked on the first frame only), so a
    non-blocking send either raises zmq.Again on the first frame, having
    sent nothing, or sends all: one synchronous sequence, no checkpoint.
    """

    def send_frames(parts: Sequence[Any], flags: int) -> Any:
        last = len(parts) - 1
        if last:
            more = flags | _SNDMORE
            for index in range(last):
                send(parts[index], more, copy, track)
        return send(parts[last], flags, copy, track)

    return send_frames


def _multipart_receiver(zsock: zmq.Socket[Any], copy: bool, track: bool) -> Callable[[int], Any]:
    """``zsock.recv_multipart`` for a fixed ``copy``/``track``, with the
    methods bound once.  The RCVMORE read per frame remains (pyzmq 27 looks
    the option up as an enum on every call, int or not): on small messages it
    costs several times the receive itself (docs/performance.md, profile c).
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

    def receive(flags: int) -> list[bytes]:
        # libzmq delivers a multipart message whole: once its first frame is
        # here, so are the others, and NOBLOCK cannot fail between frames.
        parts = [recv(flags)]
        while more(_RCVMORE):
            parts.append(recv(flags))
        return parts

    return receive


def _check_endpoint(addr: object) -> None:
    if not isinstance(addr, str):
        raise TypeError(f"an endpoint must be a str, not {type(addr).__name__}")
    if "://" not in addr:
        raise ValueError(
            f"invalid endpoint {addr!r}: expected transport://address, "
            "e.g. tcp://127.0.0.1:5555, ipc:///tmp/sock or inproc://name"
        )


def _option_named(name: str) -> zmq.SocketOption | None:
    if name.startswith("_"):
        return None
    try:
        return zmq.SocketOption[name.upper()]
    except KeyError:
        return None
