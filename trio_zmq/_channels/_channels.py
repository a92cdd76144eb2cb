"""Layer 3: sockets seen as trio channels and anyio object streams.

A channel here is a *view* of a socket, not a buffer: the queue is the FIFO
of tasks waiting in ``receive()`` / ``send()`` inside the engine, and the only
buffers are libzmq's own, bounded by the high-water marks.  No pump task runs.

Ownership: closing a view closes only that view -- its later calls, and the
calls blocked in it at that moment, raise :exc:`trio.ClosedResourceError` --
while the socket and its other views stay usable.  Closing the socket closes
every view.  ZeroMQ has no end-of-stream, so ``async for`` over a receive
view runs until the view or the socket is closed; end a stream with a
message of your protocol's own, for which the deserializer raises
:exc:`trio_zmq.EndOfStream`.

Each view is both a trio channel (``trio.abc.ReceiveChannel`` /
``SendChannel``) and an anyio object stream (``ObjectReceiveStream`` /
``ObjectSendStream``), with the socket's type, fd and endpoints as anyio
typed attributes (:class:`ZMQAttribute`).  Why the *reliable* stream
interfaces, when some socket types drop messages: ZeroMQ delivers whole
messages, in order and without duplicates, from each peer, for every socket
type; where a socket drops (a PUB or XPUB at its high-water mark, a ROUTER
sending to an unknown peer without ROUTER_MANDATORY, ZMQ_CONFLATE) it does so
at a point the application configured, not at random in transit as a
datagram socket would, and the view cannot know the socket's options ahead.
The socket type is one ``extra(ZMQAttribute.socket_type)`` away for code
that needs to tell.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

import anyio.abc
import trio
import zmq

from .._core import _backend
from .._core._engine import RECV, SEND
from .._core._exceptions import closed_error
from .._socket._errors import check_batch_sequence
from .._socket._port import Port, port_of
from ._attributes import ZMQAttribute

if TYPE_CHECKING:
    from .._socket._socket import Socket

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ChannelStatistics:
    """What :meth:`statistics` reports, in the spirit of trio's memory channels.

    The waiting-task counts are the socket's (all views and direct calls):
    they are the channel's queue.
    """

    socket_type: zmq.SocketType
    #: Messages that went through this view.
    items: int
    tasks_waiting_send: int
    tasks_waiting_receive: int
    view_closed: bool
    socket_closed: bool


@final
class ViewCloser:
    """A view's closed state, and the tag its waits are marked with, so that
    closing the view interrupts them (see ``Engine.abort``).  Only waits pay
    for this; an operation that does not wait does not."""

    __slots__ = ("__weakref__", "_port", "closed")

    def __init__(self, port: Port) -> None:
        self._port = port
        self.closed = False

    def check(self) -> None:
        if self.closed:
            raise closed_error("this channel view was closed")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._port.views.discard(self)
            self._port.abort(self)


class _View:
    """What both directions share: the socket and its port, the closer,
    the counters."""

    def __init__(self, socket: Socket) -> None:
        port = port_of(socket)
        self._socket = socket
        self._port = port
        self._closer = ViewCloser(port)
        self._items = 0
        port.views.add(self._closer)

    @property
    def socket(self) -> Socket:
        """The socket this is a view of."""
        return self._socket

    def _check_open(self) -> None:
        # receive() and send() write this out where it does not raise.
        self._closer.check()
        port = self._port
        if port.engine.closed or port.zsock.closed:
            raise closed_error("the socket under this channel was closed")

    def statistics(self) -> ChannelStatistics:
        port = self._port
        return ChannelStatistics(
            socket_type=self._socket.type,
            items=self._items,
            tasks_waiting_send=port.waiting(SEND),
            tasks_waiting_receive=port.waiting(RECV),
            view_closed=self._closer.closed,
            socket_closed=port.closed,
        )

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        """anyio's typed attributes (see :class:`ZMQAttribute`)."""
        socket = self._socket
        return {
            ZMQAttribute.socket: lambda: socket,
            ZMQAttribute.socket_type: lambda: socket.type,
            ZMQAttribute.fd: socket.fileno,
            ZMQAttribute.endpoints: self._open_endpoints,
        }

    def _open_endpoints(self) -> tuple[str, ...]:
        self._port.check_open()
        return self._socket.endpoints

    def close(self) -> None:
        """Close this view (not the socket); blocked calls in it are woken."""
        self._closer.close()

    async def aclose(self) -> None:
        """:meth:`close`, then a checkpoint."""
        self.close()
        await _backend.current().checkpoint()


@final
class MessageReceiveChannel(
    _View, trio.abc.ReceiveChannel[T], anyio.abc.ObjectReceiveStream[T], Generic[T]
):
    """A socket's receiving side as a :class:`trio.abc.ReceiveChannel` and
    an :class:`anyio.abc.ObjectReceiveStream`.

    Made by :meth:`trio_zmq.Socket.receive_channel`.  Each item is one
    multipart message, passed through the deserializer if there is one.  A
    message whose deserialization fails has been consumed; the error is
    raised from :meth:`receive`.
    """

    def __init__(
        self, socket: Socket, deserializer: Callable[[list[bytes]], T] | None = None
    ) -> None:
        super().__init__(socket)
        self._deserializer = deserializer
        self._attempt = self._port.recv_multipart_default
        # Only after a deserializer failed inside a batch: the error, and
        # the messages the batch had already taken from the socket behind
        # the bad one, to be delivered in order before anything new is
        # received.  One queue for both, as batches served together may
        # each leave an error.
        self._held: deque[list[bytes] | Exception] = deque()

    async def receive(self) -> T:
        """Receive the next message; a checkpoint, cancel-safe.

        Raises:
          trio.ClosedResourceError: this view or the socket is or gets closed.
          Exception: what the deserializer raised (the message is consumed).
        """
        port = self._port
        if self._closer.closed or port.engine.closed or port.zsock.closed:
            self._check_open()  # raises
        if self._held:
            return (await self._receive_held(1))[0]
        frames: list[bytes] = await port.operate(RECV, self._attempt, 0, self._closer)
        self._items += 1
        deserializer = self._deserializer
        if deserializer is None:
            return frames  # type: ignore[return-value]  # T is list[bytes] here
        return deserializer(frames)

    def receive_nowait(self) -> T:
        """Receive a message now or raise :exc:`trio.WouldBlock`."""
        self._check_open()
        if self._held:
            return self._take_held(1)[0]
        frames: list[bytes] = self._port.nowait(RECV, self._attempt)
        self._items += 1
        return self._convert(frames)

    async def receive_batch(self, max_items: int = 1024) -> list[T]:
        """Every message available now, up to ``max_items``; one checkpoint.

        Waits only while none is available (see
        :meth:`trio_zmq.Socket.recv_batch`).  A cancelled call received
        nothing; a returned batch is complete.  If the deserializer fails on
        a message, the batch ends before it: the messages before it are
        returned and the error is raised by the next receive call, or at
        once if it was the first; the bad message is consumed, and the
        messages taken behind it are delivered next.  None is lost, also
        when several calls that wait together meet such errors.

        Raises:
          ValueError: ``max_items`` is not a positive int.
          trio.ClosedResourceError: this view or the socket is or gets closed.
          Exception: what the deserializer raised (see above).
        """
        self._check_open()
        port = self._port
        attempt = port.recv_batch_attempt(max_items, True)
        if self._held:
            return await self._receive_held(max_items)
        batch: list[list[bytes]] = await port.operate(RECV, attempt, 0, self._closer)
        self._items += len(batch)
        return self._convert_batch(batch, held=False)

    async def _receive_held(self, max_items: int) -> list[T]:
        """A receive call while the view holds an error or messages: one
        checkpoint, then the error, or up to ``max_items`` held messages.

        Nothing is taken before the checkpoint, so a call cancelled there
        leaves everything held for the next.
        """
        await _backend.current().checkpoint()
        return self._take_held(max_items)

    def _take_held(self, max_items: int) -> list[T]:
        """Raise the held error if it comes first, else return up to
        ``max_items`` held messages (those before the next error)."""
        held = self._held
        first = held[0]
        if isinstance(first, Exception):
            held.popleft()
            raise first
        batch: list[list[bytes]] = []
        while held and len(batch) < max_items:
            frames = held[0]
            if isinstance(frames, Exception):
                break
            batch.append(frames)
            held.popleft()
        return self._convert_batch(batch, held=True)

    def _convert_batch(self, batch: list[list[bytes]], held: bool) -> list[T]:
        """Deserialize ``batch`` (taken from the held messages if ``held``,
        else from the socket) up to its first bad message."""
        if self._deserializer is None:
            return batch  # type: ignore[return-value]  # T is list[bytes] here
        items: list[T] = []
        for index, frames in enumerate(batch):
            try:
                items.append(self._deserializer(frames))
            except Exception as exc:
                # Hold the error (unless it is raised now) and what the
                # batch took behind the bad message, in order: ahead of the
                # other held messages if it came from them, else behind
                # them (a batch served together with another that held
                # some took its messages after theirs).
                rest: list[list[bytes] | Exception] = [exc] if items else []
                rest += batch[index + 1 :]
                if held:
                    self._held.extendleft(reversed(rest))
                else:
                    self._held.extend(rest)
                if not items:
                    raise
                return items
        return items

    def _convert(self, frames: list[bytes]) -> T:
        if self._deserializer is None:
            return frames  # type: ignore[return-value]  # T is list[bytes] here
        return self._deserializer(frames)

    def __repr__(self) -> str:
        return f"<trio_zmq receive channel of {self._socket!r}>"


@final
class MessageSendChannel(_View, trio.abc.SendChannel[T], anyio.abc.ObjectSendStream[T], Generic[T]):
    """A socket's sending side as a :class:`trio.abc.SendChannel` and an
    :class:`anyio.abc.ObjectSendStream`.

    Made by :meth:`trio_zmq.Socket.send_channel`.  Each item becomes one
    multipart message, through the serializer if there is one; serialization
    and type errors are raised before anything is sent.
    """

    def __init__(
        self, socket: Socket, serializer: Callable[[T], Sequence[Any]] | None = None
    ) -> None:
        super().__init__(socket)
        self._serializer = serializer

    async def send(self, value: T) -> None:
        """Send ``value`` as one multipart message; a checkpoint, cancel-safe.

        A cancelled send sends nothing.

        Raises:
          TypeError, ValueError: the value is not a valid message.
          trio.ClosedResourceError: this view or the socket is or gets closed.
        """
        port = self._port
        if self._closer.closed or port.engine.closed or port.zsock.closed:
            self._check_open()  # raises
        serializer = self._serializer
        frames = value if serializer is None else serializer(value)
        attempt = port.send_multipart_attempt(frames, 0, True, False)  # type: ignore[arg-type]
        await port.operate(SEND, attempt, 0, self._closer)
        self._items += 1

    def send_nowait(self, value: T) -> None:
        """Send now or raise :exc:`trio.WouldBlock`; never a checkpoint."""
        self._check_open()
        attempt = self._port.send_multipart_attempt(self._frames(value), 0, True, False)
        self._port.nowait(SEND, attempt)
        self._items += 1

    async def send_batch(self, values: Sequence[T]) -> int:
        """Send a prefix of ``values``: all the socket takes now; one checkpoint.

        Waits only while the socket cannot take the first, and returns how
        many were sent (see :meth:`trio_zmq.Socket.send_batch`).  Every
        value is serialized and checked before the first is sent; a
        cancelled call has sent nothing.

        Raises:
          TypeError, ValueError: a bad value anywhere in the batch.
          trio.ClosedResourceError: this view or the socket is or gets closed.
        """
        self._check_open()
        port = self._port
        values = check_batch_sequence(values)
        checked = port.check_batch([self._frames(value) for value in values])
        if not checked:
            await _backend.current().checkpoint()
            return 0
        sent: int = await port.operate(
            SEND, port.send_batch_attempt(checked, True), 0, self._closer
        )
        self._items += sent
        return sent

    async def wait_writable(self) -> None:
        """Return once the socket can take a message; always a checkpoint.

        Lets a producer build a message lazily, only once it can be sent
        (another task may still take the slot first).
        """
        self._check_open()
        await self._port.wait_events(zmq.POLLOUT, self._closer)

    def _frames(self, value: T) -> Sequence[Any]:
        if self._serializer is None:
            return value  # type: ignore[return-value]  # T is a frame sequence here
        return self._serializer(value)

    def __repr__(self) -> str:
        return f"<trio_zmq send channel of {self._socket!r}>"
