"""A user's module, for the worked example of docs/testing.md.

A *lazy-pirate* client (the ZeroMQ guide, chapter 4: reliable
request-reply on the client side) and a flaky echo server to test it
against.  tests/property/test_worked_example.py property-tests the client
with ``trio_zmq.testing`` and finds the bug planted in ``reuse_socket=True``.

The client sends a request on a REQ socket and waits for the reply for
``timeout`` seconds.  If none comes, the server is slow, gone or lost the
request: the client *closes the REQ socket, opens a fresh one* and sends the
request again, at most ``retries`` times, then gives up.  A fresh socket is
the point: a reply to an abandoned attempt can only ever arrive on the old
socket, which is closed, so it cannot be mistaken for a later reply.

``reuse_socket=True`` is the planted bug, a tempting "optimisation": keep
one socket with ``ZMQ_REQ_RELAXED``, which lets a REQ send again without
waiting for the reply, and skip the reconnect.  libzmq then accepts *any*
reply that arrives from the server while the socket waits -- including the
late reply to an abandoned request, which it hands over as the answer to the
request in progress.  (``ZMQ_REQ_CORRELATE`` would catch it; forgetting it
is the bug.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import trio
import zmq

import trio_zmq


class SocketFactory(Protocol):
    """What the client needs from a context (``trio_zmq.Context`` is one)."""

    def socket(self, socket_type: int) -> trio_zmq.Socket: ...


class ServerUnreachable(Exception):
    """No reply after ``1 + retries`` attempts: the client gave up."""


class LazyPirateClient:
    """Request-reply with timeouts and retries over a REQ socket.

    ``async with LazyPirateClient(ctx, endpoint) as client:
    reply = await client.request([b"frame", ...])``.

    Args:
      ctx: makes the sockets (a ``trio_zmq.Context``).
      endpoint: the server's address.
      retries: how many times a request is sent again after a timeout
        (so ``1 + retries`` attempts in all).
      timeout: seconds to wait for the reply to one attempt.
      reuse_socket: THE PLANTED BUG -- retry on the same (REQ_RELAXED)
        socket instead of a fresh one.
    """

    def __init__(
        self,
        ctx: SocketFactory,
        endpoint: str,
        *,
        retries: int = 3,
        timeout: float = 2.5,
        reuse_socket: bool = False,
    ) -> None:
        self._ctx = ctx
        self._endpoint = endpoint
        self._retries = retries
        self._timeout = timeout
        self._reuse_socket = reuse_socket
        self._sock: trio_zmq.Socket | None = None

    def _open(self) -> trio_zmq.Socket:
        sock = self._ctx.socket(zmq.REQ)
        sock.linger = 0  # requests of an abandoned socket are not worth waiting for
        if self._reuse_socket:
            sock.setsockopt(zmq.REQ_RELAXED, 1)  # may send again before the reply
        sock.connect(self._endpoint)
        return sock

    def _discard(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def request(self, frames: Sequence[bytes]) -> list[bytes]:
        """Send ``frames`` and return the reply.

        Raises:
          ServerUnreachable: no reply to any of the ``1 + retries`` attempts.
        """
        for _attempt in range(1 + self._retries):
            if self._sock is None:
                self._sock = self._open()
            await self._sock.send_multipart(frames)
            with trio.move_on_after(self._timeout):
                return await self._sock.recv_multipart()
            # No reply in time.  A late one may still come: never on a
            # socket that will wait for another reply.
            if not self._reuse_socket:
                self._discard()
        attempts = 1 + self._retries
        raise ServerUnreachable(f"no reply from {self._endpoint} after {attempts} attempts")

    def close(self) -> None:
        self._discard()

    async def __aenter__(self) -> LazyPirateClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


# ----------------------------------------------------------------------
# The test double: an echo server that misbehaves on cue
# ----------------------------------------------------------------------

#: What the server does with a request: reply at once, never, or late.
Action = Literal["ok", "drop", "late"]


async def flaky_echo_server(
    sock: trio_zmq.Socket,
    actions: Sequence[Action],
    *,
    late_by: Callable[[int], float],
    log: list[tuple[list[bytes], Action]],
) -> None:
    """Echo every request that arrives on the ROUTER ``sock``.

    The n-th request received is handled as ``actions[n]`` says ("ok" once
    they run out); "late" replies after ``late_by(n)`` seconds, concurrently.
    Each request and its fate are appended to ``log``.  Runs until cancelled.
    """

    async def reply_later(delay: float, envelope: list[bytes], payload: list[bytes]) -> None:
        await trio.sleep(delay)
        await sock.send_multipart([*envelope, *payload])

    async with trio.open_nursery() as nursery:
        for n in itertools.count():
            routing_id, delimiter, *payload = await sock.recv_multipart()
            envelope = [routing_id, delimiter]
            action: Action = actions[n] if n < len(actions) else "ok"
            log.append((payload, action))
            if action == "ok":
                await sock.send_multipart([*envelope, *payload])
            elif action == "late":
                nursery.start_soon(reply_later, late_by(n), envelope, payload)
