"""Layer 2: ``trio_zmq.Socket``, pyzmq's socket API with trio's rules.

The façade: pyzmq's names and signatures, options as attributes, endpoints,
the string, JSON and pickle helpers.  Every operation goes through the
socket's :class:`~trio_zmq._socket._port.Port`, which holds the checkpoint
pattern, the attempts and the engine.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, final, overload

import zmq
from zmq.utils import jsonapi

from .._channels._channels import MessageReceiveChannel, MessageSendChannel
from .._core import _backend
from .._core._engine import RECV, SEND, int_option, read_events
from .._core._exceptions import closed_error
from .._core._wait import check_events
from ._errors import check_socket_type
from ._port import TIMEOUT_OPTIONS, Port, SocketStatistics

if TYPE_CHECKING:
    from .._tools._monitor import Monitor
    from ._context import Context

T = TypeVar("T")
R = TypeVar("R")

_OWN_ATTRIBUTES = frozenset({"_context", "_endpoints", "_port", "_type"})


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

    __slots__ = ("__weakref__", "_context", "_endpoints", "_port", "_type")

    _port: Port
    _context: Context | None
    _type: zmq.SocketType
    _endpoints: list[str]

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
        object.__setattr__(self, "_port", Port(zsock))
        object.__setattr__(self, "_context", _context)
        object.__setattr__(self, "_type", kind)
        # Endpoints bound or connected through this wrapper (libzmq cannot
        # list them); for anyio's typed attributes and for repr().
        object.__setattr__(self, "_endpoints", [])

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
        return self._port.zsock

    @property
    def context(self) -> Context | None:
        """The :class:`trio_zmq.Context` that made this socket, if any."""
        return self._context

    @property
    def closed(self) -> bool:
        """Whether the socket is closed (through this object or the pyzmq socket)."""
        return self._port.closed

    @property
    def underlying(self) -> int:
        """The address of the libzmq socket (0 once closed)."""
        return self._port.zsock.underlying

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
        self._port.check_open()
        return self._port.engine.fd

    def close(self, linger: int | None = None) -> None:
        """Close the socket; every task waiting on it gets ClosedResourceError.

        Idempotent.  ``linger`` (milliseconds) overrides ZMQ_LINGER for this
        close, as in pyzmq.
        """
        self._port.close(linger)
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
        state = "closed" if self.closed else f"fd={self._port.engine.fd}"
        return f"<trio_zmq.Socket {self._type.name} {state}>"

    # ------------------------------------------------------------------
    # Synchronous pass-throughs (each re-probes: it may eat the fd's edge)
    # ------------------------------------------------------------------

    def bind(self, addr: str) -> None:
        """Bind to ``addr`` (``tcp://127.0.0.1:5555``, ``inproc://name``, ...).

        Raises:
          zmq.ZMQError: invalid or unavailable endpoint.
          trio.ClosedResourceError: the socket is closed.
        """
        _check_endpoint(addr)
        port = self._port
        port.call(port.zsock.bind, addr)
        # The resolved address: a wildcard port or interface becomes real.
        self._endpoints.append(port.call(port.zsock.get_string, zmq.LAST_ENDPOINT) or addr)

    def connect(self, addr: str) -> None:
        """Connect to ``addr``; see :meth:`bind` for the errors."""
        _check_endpoint(addr)
        port = self._port
        port.call(port.zsock.connect, addr)
        self._endpoints.append(addr)

    def unbind(self, addr: str) -> None:
        """Stop listening on ``addr``, an endpoint :meth:`bind` bound."""
        _check_endpoint(addr)
        port = self._port
        port.call(port.zsock.unbind, addr)
        self._forget_endpoint(addr)

    def disconnect(self, addr: str) -> None:
        """Disconnect from ``addr``, an endpoint :meth:`connect` connected to."""
        _check_endpoint(addr)
        port = self._port
        port.call(port.zsock.disconnect, addr)
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
        port = self._port
        number = port.call(port.zsock.bind_to_random_port, addr, min_port, max_port, max_tries)
        self._endpoints.append(f"{addr}:{number}")
        return number

    def get(self, option: int) -> Any:
        """getsockopt; reading ZMQ_EVENTS also serves waiters it unblocks."""
        port = self._port
        return port.call(port.zsock.get, option)

    def set(self, option: int, value: Any) -> None:
        """setsockopt; RCVTIMEO and SNDTIMEO also bound the async calls, as in pyzmq."""
        port = self._port
        port.call(port.zsock.set, option, value)
        if option in TIMEOUT_OPTIONS:
            self._port.note_timeout(TIMEOUT_OPTIONS.index(option), value)

    getsockopt = get
    setsockopt = set

    def get_string(self, option: int, encoding: str = "utf-8") -> str:
        """A string option (e.g. ``zmq.LAST_ENDPOINT``), decoded with ``encoding``."""
        port = self._port
        return port.call(port.zsock.get_string, option, encoding)

    def set_string(self, option: int, optval: str, encoding: str = "utf-8") -> None:
        """Set a string option, encoded with ``encoding``."""
        port = self._port
        port.call(port.zsock.set_string, option, optval, encoding)

    getsockopt_string = get_string
    setsockopt_string = set_string

    @property
    def hwm(self) -> int:
        """SNDHWM and RCVHWM together (setting sets both), as in pyzmq."""
        return self._port.call(lambda: self._port.zsock.hwm)

    @hwm.setter
    def hwm(self, value: int) -> None:
        self._port.call(setattr, self._port.zsock, "hwm", value)

    def subscribe(self, topic: str | bytes) -> None:
        """Subscribe a SUB socket to ``topic`` (str is encoded as UTF-8)."""
        port = self._port
        port.call(port.zsock.subscribe, topic)

    def unsubscribe(self, topic: str | bytes) -> None:
        """Undo a :meth:`subscribe` of ``topic`` on a SUB socket."""
        port = self._port
        port.call(port.zsock.unsubscribe, topic)

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
    # Sending
    # ------------------------------------------------------------------

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
        port = self._port
        attempt = port.send_attempt(data, flags, copy, track, routing_id, group)
        result: zmq.MessageTracker | None = await port.operate(SEND, attempt, flags)
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
        port = self._port
        attempt = port.send_attempt(data, flags, copy, track, routing_id, group)
        result: zmq.MessageTracker | None = port.nowait(SEND, attempt)
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
        port = self._port
        attempt = port.send_multipart_attempt(msg_parts, flags, copy, track)
        result: zmq.MessageTracker | None = await port.operate(SEND, attempt, flags)
        return result

    def send_multipart_nowait(
        self,
        msg_parts: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
    ) -> zmq.MessageTracker | None:
        """:meth:`send_multipart` now or :exc:`trio.WouldBlock`; never a checkpoint."""
        port = self._port
        attempt = port.send_multipart_attempt(msg_parts, flags, copy, track)
        result: zmq.MessageTracker | None = port.nowait(SEND, attempt)
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
        port = self._port
        if flags == 0 and copy is True and not track:
            attempt = port.recv_default
        else:
            attempt = port.recv_attempt(flags, copy, track)
        result: bytes | zmq.Frame = await port.operate(RECV, attempt, flags)
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
        port = self._port
        result: bytes | zmq.Frame = port.nowait(RECV, port.recv_attempt(flags, copy, track))
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
        port = self._port
        if flags == 0 and copy is True and not track:
            attempt = port.recv_multipart_default
        else:
            attempt = port.recv_multipart_attempt(flags, copy, track)
        result: list[bytes] | list[zmq.Frame] = await port.operate(RECV, attempt, flags)
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
        port = self._port
        result: list[bytes] | list[zmq.Frame] = port.nowait(
            RECV, port.recv_multipart_attempt(flags, copy, track)
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
        port = self._port
        batch: list[list[Any]] = await port.operate(
            RECV, port.recv_batch_attempt(max_items, copy), 0
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
        return await self._send_checked(Port.check_batch(messages), copy)

    async def _send_checked(self, checked: list[Sequence[Any]], copy: bool) -> int:
        port = self._port
        if not checked:
            port.check_open()
            await _backend.current().checkpoint()
            return 0
        sent: int = await port.operate(SEND, port.send_batch_attempt(checked, copy), 0)
        return sent

    async def send_all(self, messages: Sequence[Sequence[Any]], copy: bool = True) -> None:
        """Send every message of ``messages``, in order, waiting as needed.

        Sends batch after batch (see :meth:`send_batch`) until all are out.
        Unlike one batch, a cancelled ``send_all`` may have sent a prefix,
        as with trio's ``SendStream.send_all``; use :meth:`send_batch` when
        you need to know how much went out.

        Raises: as :meth:`send_batch`.
        """
        checked = Port.check_batch(messages)
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
        port = self._port
        port.check_open()
        if timeout is None or timeout < 0:
            return await port.wait_events(flags)
        backend = _backend.current()
        if timeout == 0:
            # A probe, not a wait (but still a checkpoint).
            await backend.checkpoint()
            return port.call(read_events, port.zsock) & flags
        with backend.move_on_after(timeout / 1000):
            return await port.wait_events(flags)
        return 0

    async def wait_readable(self) -> None:
        """Return once a receive would succeed; always a checkpoint."""
        await self._port.wait_events(zmq.POLLIN)

    async def wait_writable(self) -> None:
        """Return once a send would succeed; always a checkpoint."""
        await self._port.wait_events(zmq.POLLOUT)

    def statistics(self) -> SocketStatistics:
        """Who waits on the socket now: tasks blocked in each direction,
        whether one of them watches the fd, and the open channel views.

        Never raises, also once the socket is closed (all counts are then 0).
        """
        return self._port.statistics()

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
        return MessageReceiveChannel(self, deserializer)

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
        return MessageSendChannel(self, serializer)

    # ------------------------------------------------------------------
    # Monitoring
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
        # The monitor is a tool above this layer (its PAIR is a Socket):
        # imported here, where it is used, rather than at the top.
        from .._tools._monitor import Monitor

        return Monitor(self, events)


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
