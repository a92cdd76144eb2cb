"""A faulty link: an in-process TCP relay whose faults a test switches on and off.

:func:`faulty_link` listens on ``127.0.0.1``, and relays every connection
made to it to the target, a ``tcp://host:port`` a socket is bound to.  The
relay runs in a task group of the ``async with`` block (two tasks per
connection, one each way, and one accepting); the :class:`FaultyLink` it
yields switches faults with plain methods: a stall holds the bytes, a cut
resets the connections, a throttle paces them.  It relays bytes, not ZMTP:
any socket type and any security mechanism goes through it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import socket
import struct
from collections.abc import AsyncIterator
from typing import final

import anyio
import anyio.abc

#: Bytes a relay task reads at once.
CHUNK = 65536
#: How long a relayed connection may take to reach the target (a local
#: connect takes a millisecond; a target that does not answer is treated
#: as one that refuses).
CONNECT_BOUND = 5.0
#: A throttled link lets through bursts of at most this many seconds' worth
#: of bytes (the token bucket's capacity).
BURST_SECONDS = 0.02

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a RST
_NETWORK_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


def is_rate(value: object) -> bool:
    """Whether ``value`` is a throttle's rate: a positive finite number of bytes a second."""
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def parse_tcp_target(target: str) -> tuple[str, int]:
    """``(host, port)`` of ``target``, a ``tcp://host:port`` with a concrete port.

    Raises:
      TypeError: ``target`` is not a str.
      ValueError: it is not such an endpoint (another transport, a wildcard
        host or port, an interface name with a source address, no port).
    """
    if not isinstance(target, str):
        raise TypeError(
            f"target must be a str such as 'tcp://127.0.0.1:5555', not {type(target).__name__}"
            + (" (decode the bytes of last_endpoint)" if isinstance(target, bytes) else "")
        )
    usage = (
        f"faulty_link relays TCP to a socket bound on a known port: target must be "
        f"tcp://HOST:PORT (the socket's last_endpoint), not {target!r}"
    )
    scheme, separator, address = target.partition("://")
    if not separator or scheme != "tcp":
        transport = f": {scheme}:// is not tcp://" if separator else ""
        raise ValueError(usage + transport)
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port:
        raise ValueError(usage + ": no port")
    if ";" in host:
        raise ValueError(usage + ": a source address (SOURCE;HOST) is not supported")
    if host == "*" or port == "*":
        raise ValueError(
            usage + ": a wildcard binds, it names no peer; bind first and pass "
            "the port the socket got (last_endpoint)"
        )
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(usage + f": port {port!r} is not a number from 1 to 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


@final
@dataclasses.dataclass(frozen=True)
class LinkStatistics:
    """What :meth:`FaultyLink.statistics` reports: connections, bytes and faults."""

    #: Connections the link accepted, refused ones included.
    accepted: int
    #: Connections it reset before relaying a byte: made while the link was
    #: cut, or the target could not be reached.
    refused: int
    #: Connections open through the link now.
    open: int
    #: Bytes delivered towards the target.
    bytes_to_target: int
    #: Bytes delivered from the target.
    bytes_from_target: int
    #: Bytes read from one side and not yet delivered to the other (held by
    #: a stall or a throttle).
    bytes_held: int
    #: Whether the link is stalled now.
    stalled: bool
    #: Whether the link is cut now.
    cut: bool
    #: The throttle's rate; ``None``: not throttled.
    bytes_per_second: float | None


@final
class _Bucket:
    """A token bucket: ``rate`` bytes a second, bursts of at most ``capacity``."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1, int(rate * BURST_SECONDS))
        self.tokens = float(self.capacity)
        self.stamp = anyio.current_time()

    def take(self, wanted: int) -> tuple[int, float]:
        """``(bytes that may go now, 0)``, or ``(0, seconds to wait first)``."""
        now = anyio.current_time()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        piece = min(wanted, self.capacity)
        if self.tokens >= piece:
            self.tokens -= piece
            return piece, 0.0
        return 0, (piece - self.tokens) / self.rate


@final
class _Direction:
    """One direction of the link: its counters and its throttle."""

    __slots__ = ("bucket", "delivered", "held")

    def __init__(self) -> None:
        self.delivered = 0
        self.held = 0
        self.bucket: _Bucket | None = None


@final
class _Connection:
    """One relayed connection: the accepted stream, the one to the target."""

    __slots__ = ("client", "reset", "scope", "upstream")

    def __init__(self, client: anyio.abc.SocketStream) -> None:
        self.client = client
        self.upstream: anyio.abc.SocketStream | None = None
        #: Cancelled to end the connection at once (a cut, the other side's error).
        self.scope = anyio.CancelScope()
        #: Close with a RST rather than a FIN.
        self.reset = False

    def end(self, *, reset: bool) -> None:
        self.reset = self.reset or reset
        self.scope.cancel()

    async def close(self) -> None:
        """Close both streams, with a RST if :attr:`reset`; shielded (it runs
        when the connection is cancelled) and immediate."""
        with anyio.CancelScope(shield=True):
            for stream in (self.client, self.upstream):
                if stream is None:
                    continue
                if self.reset:
                    raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
                    with contextlib.suppress(OSError):
                        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                with contextlib.suppress(*_NETWORK_ERRORS):
                    await stream.aclose()


async def _connect(host: str, port: int) -> anyio.abc.SocketStream:
    """A TCP stream to ``host:port``, trying its addresses in turn.

    Unlike ``anyio.connect_tcp``, a cancellation never leaves a socket open.

    Raises:
      OSError: no address accepted the connection.
    """
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error = OSError(f"no address for {host}:{port}")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with contextlib.suppress(BlockingIOError):
                sock.connect(address)
            await anyio.wait_writable(sock)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if not code:
                return await anyio.abc.SocketStream.from_socket(sock)
            error = OSError(code, os.strerror(code))
        except OSError as exc:
            error = exc
        except BaseException:
            sock.close()
            raise
        sock.close()
    raise error


@final
class FaultyLink:
    """A TCP relay to a bound socket, with faults to switch on and off.

    Made by :func:`faulty_link`.  Connect to :attr:`endpoint` instead of
    the target.  The methods are plain (no ``await``), take effect at once
    and may be called in any order and repeatedly; call them from the event
    loop's thread.  The faults are independent: a link can be stalled,
    throttled and cut at the same time.
    """

    __slots__ = (
        "_accepted",
        "_changed",
        "_connections",
        "_cut",
        "_from_target",
        "_host",
        "_port",
        "_rate",
        "_refused",
        "_stalled",
        "_to_target",
        "endpoint",
        "target",
    )

    def __init__(self, target: str, host: str, port: int, endpoint: str) -> None:
        #: The ``tcp://host:port`` the link relays to.
        self.target = target
        #: Where to connect instead: ``tcp://127.0.0.1:PORT``.
        self.endpoint = endpoint
        self._host = host
        self._port = port
        self._stalled = False
        self._cut = False
        self._rate: float | None = None
        self._accepted = 0
        self._refused = 0
        self._connections: set[_Connection] = set()
        self._to_target = _Direction()
        self._from_target = _Direction()
        # Set (and replaced) when a stall ends or the throttle changes.
        self._changed = anyio.Event()

    def __repr__(self) -> str:
        faults = [name for name, on in (("stalled", self._stalled), ("cut", self._cut)) if on]
        if self._rate is not None:
            faults.append(f"slowed to {self._rate:g} B/s")
        state = ", ".join(faults) or "healthy"
        return f"<FaultyLink {self.endpoint} -> {self.target}, {state}>"

    # ------------------------------------------------------------------
    # Faults
    # ------------------------------------------------------------------

    def stall(self) -> None:
        """Stop the bytes both ways, as a partition does; the connections stay open.

        What each side sends meanwhile is held (by the link, then by the
        kernel's buffers, then by the sender's), not dropped; new
        connections are accepted and relayed, but carry nothing until
        :meth:`resume`.  A chunk already handed to the kernel still arrives.
        """
        self._stalled = True

    def resume(self) -> None:
        """End a stall: the held bytes flow again, in order, none lost or duplicated."""
        self._stalled = False
        self._wake()

    def cut(self) -> None:
        """Close every connection through the link, with a RST to both sides.

        The connections' tasks reset them as soon as they next run, before
        another byte passes; bytes held or in flight in the link are lost,
        as is what a peer sends before it sees the reset.  Until :meth:`restore`,
        the link still listens (its port stays its own), but resets each
        connection it accepts before relaying a byte: to libzmq, a connection
        that fails at once, which it retries every ``RECONNECT_IVL``, as it
        does a refused one.
        """
        self._cut = True
        self._shut()

    def restore(self) -> None:
        """End a cut: connections made from now on are relayed again.

        libzmq reconnects by itself at its next retry.
        """
        self._cut = False

    def slow(self, bytes_per_second: float | None) -> None:
        """Throttle each direction to ``bytes_per_second``; ``None`` removes the throttle.

        A token bucket, shared by the connections: bursts of at most
        1/50 s worth of bytes, then the rate.

        Raises:
          ValueError: ``bytes_per_second`` is not a positive finite number.
        """
        if bytes_per_second is not None and not is_rate(bytes_per_second):
            raise ValueError(
                f"bytes_per_second must be a positive finite number or None, "
                f"not {bytes_per_second!r}"
            )
        self._rate = bytes_per_second
        for direction in (self._to_target, self._from_target):
            direction.bucket = None if bytes_per_second is None else _Bucket(bytes_per_second)
        self._wake()

    def statistics(self) -> LinkStatistics:
        """Connections accepted, refused and open, bytes each way and the faults on now."""
        return LinkStatistics(
            accepted=self._accepted,
            refused=self._refused,
            open=len(self._connections),
            bytes_to_target=self._to_target.delivered,
            bytes_from_target=self._from_target.delivered,
            bytes_held=self._to_target.held + self._from_target.held,
            stalled=self._stalled,
            cut=self._cut,
            bytes_per_second=self._rate,
        )

    # ------------------------------------------------------------------
    # The relay
    # ------------------------------------------------------------------

    def _shut(self) -> None:
        """Reset every connection: a cut, or the block is left."""
        for connection in list(self._connections):
            connection.end(reset=True)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _relay(self, client: anyio.abc.SocketStream) -> None:
        """Relay one accepted connection until it ends (its task ends with it)."""
        self._accepted += 1
        connection = _Connection(client)
        try:
            if self._cut:
                self._refused += 1
                connection.reset = True
                return
            self._connections.add(connection)
            with connection.scope:
                try:
                    with anyio.fail_after(CONNECT_BOUND):
                        connection.upstream = await _connect(self._host, self._port)
                except (OSError, TimeoutError):
                    self._refused += 1
                    connection.reset = True
                    return
                async with anyio.create_task_group() as pumps:
                    pumps.start_soon(
                        self._pump, client, connection.upstream, self._to_target, connection
                    )
                    pumps.start_soon(
                        self._pump, connection.upstream, client, self._from_target, connection
                    )
        finally:
            self._connections.discard(connection)
            await connection.close()

    async def _pump(
        self,
        source: anyio.abc.SocketStream,
        sink: anyio.abc.SocketStream,
        direction: _Direction,
        connection: _Connection,
    ) -> None:
        """Copy ``source`` to ``sink`` through the faults, until end of stream.

        An end of stream is passed on (a half-close); an error on either side
        ends the connection with a RST to both.
        """
        try:
            while True:
                try:
                    data = await source.receive(CHUNK)
                except anyio.EndOfStream:
                    await sink.send_eof()
                    return
                direction.held += len(data)
                try:
                    while data:
                        size = await self._admit(direction, len(data))
                        await sink.send(data[:size])
                        data = data[size:]
                        direction.held -= size
                        direction.delivered += size
                finally:
                    direction.held -= len(data)
        except _NETWORK_ERRORS:
            connection.end(reset=True)

    async def _admit(self, direction: _Direction, wanted: int) -> int:
        """Wait until the faults let bytes through; how many may go now (1 to ``wanted``)."""
        while True:
            delay = math.inf
            if not self._stalled:
                if direction.bucket is None:
                    return wanted
                size, delay = direction.bucket.take(wanted)
                if size:
                    return size
            changed = self._changed
            with anyio.move_on_after(delay):
                await changed.wait()


@contextlib.asynccontextmanager
async def faulty_link(target: str) -> AsyncIterator[FaultyLink]:
    """Relay TCP connections to ``target`` through a link whose faults you control.

    ``target`` is the ``tcp://host:port`` a socket is bound to (its
    ``last_endpoint``).  The link listens on a free port of ``127.0.0.1``;
    connect to ``link.endpoint`` instead of ``target``.  Its tasks run in a
    task group of this block, on trio or asyncio, and leaving the block
    ends them and closes every connection and the listener at once, also
    while stalled.  An exception of the block is raised as itself, not
    wrapped in an exception group.

    Raises:
      TypeError: ``target`` is not a str.
      ValueError: ``target`` is not ``tcp://host:port`` with a port number
        (an ipc or inproc endpoint, a wildcard, a malformed one); checked
        before anything is opened.
    """
    host, port = parse_tcp_target(target)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    failure: Exception | None = None
    try:
        local_port = listener.extra(anyio.abc.SocketAttribute.local_port)
        link = FaultyLink(target, host, port, f"tcp://127.0.0.1:{local_port}")
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(listener.serve, link._relay, task_group)
            try:
                yield link
            except Exception as exc:
                # Raised below as itself, once the relay has stopped.
                failure = exc
            link._shut()
            task_group.cancel_scope.cancel()
    finally:
        await anyio.aclose_forcefully(listener)
    if failure is not None:
        raise failure
