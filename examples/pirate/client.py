"""The Lazy Pirate client: reliable request-reply on the client side.

:class:`LazyPirate` sends a request on a REQ socket and waits ``timeout``
seconds for the reply.  If none comes, the queue or the worker is slow, gone
or lost the request: it closes the socket with linger 0 (dropping the unsent
request and any late reply with it), opens a fresh one and sends again, at
most ``retries`` times; then it reports the request failed by returning
``None``.  ``request()`` is one request of a client.

Every request carries a request id, and a reply counts only if it carries
the same id: a reply to something else is discarded, never returned, and
handed to ``on_stray`` if given.  A fresh REQ socket per attempt means a
correct queue never delivers a stray reply; one that arrives is a
misrouting queue's fingerprint, worth logging.

Run it against a queue: ``python -m examples.pirate.client --connect
tcp://127.0.0.1:5555 --requests 10``.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable

import trio
import zmq

import trio_zmq
from examples._script import run_script


class LazyPirate:
    """A Lazy Pirate client of the queue at ``endpoint``.

    :meth:`request` makes ``1 + retries`` attempts at most, each waiting
    ``timeout`` seconds for the reply.  Each attempt sends on the socket
    :meth:`socket_for_attempt` gives and ends with :meth:`attempt_over`:
    a fresh REQ socket, closed with linger 0.  A reply whose request id is
    not the request's is discarded and handed to ``on_stray``.
    """

    def __init__(
        self,
        ctx: trio_zmq.Context,
        endpoint: str,
        *,
        timeout: float,
        retries: int,
        on_stray: Callable[[list[bytes]], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.endpoint = endpoint
        self.timeout = timeout
        self.retries = retries
        self.on_stray = on_stray

    async def request(self, payload: bytes, *, request_id: bytes | None = None) -> bytes | None:
        """Send ``payload`` and return the reply, or ``None`` after the last attempt.

        ``request_id`` (a fresh UUID by default) goes with every attempt.
        """
        if request_id is None:
            request_id = uuid.uuid4().bytes
        for _attempt in range(1 + self.retries):
            sock = self.socket_for_attempt()
            try:
                await sock.send_multipart([request_id, payload])
                with trio.move_on_after(self.timeout):
                    reply = await sock.recv_multipart()
                    if len(reply) == 2 and reply[0] == request_id:
                        return reply[1]
                    # Not the answer to this request: discard it, and retry
                    # (a REQ socket takes one reply per request).
                    if self.on_stray is not None:
                        self.on_stray(reply)
            finally:
                self.attempt_over(sock)
        return None

    def socket_for_attempt(self) -> trio_zmq.Socket:
        """The socket an attempt sends on: a fresh REQ, linger 0, connected."""
        sock = self.ctx.socket(zmq.REQ)
        sock.linger = 0
        sock.connect(self.endpoint)
        return sock

    def attempt_over(self, sock: trio_zmq.Socket) -> None:
        """An attempt has ended, answered or not: close its socket.

        Linger 0 drops the request if it is still unsent; a late reply finds
        no socket, and the queue's ROUTER drops it.
        """
        sock.close()


async def request(
    ctx: trio_zmq.Context,
    endpoint: str,
    payload: bytes,
    *,
    timeout: float,
    retries: int,
    request_id: bytes | None = None,
    on_stray: Callable[[list[bytes]], None] | None = None,
) -> bytes | None:
    """One request of a :class:`LazyPirate` of ``endpoint``: the reply, or ``None``."""
    client = LazyPirate(ctx, endpoint, timeout=timeout, retries=retries, on_stray=on_stray)
    return await client.request(payload, request_id=request_id)


async def main(args: argparse.Namespace) -> int:
    """Send ``args.requests`` requests one after the other; 1 if one failed."""
    async with trio_zmq.Context(linger=0) as ctx:
        client = LazyPirate(
            ctx,
            args.connect,
            timeout=args.timeout,
            retries=args.retries,
            on_stray=lambda frames: print(
                f"discarded a reply to another request: {frames!r}", file=sys.stderr
            ),
        )
        for number in range(args.requests):
            payload = b"request %d" % number
            reply = await client.request(payload)
            if reply is None:
                print(f"{payload.decode()}: no reply after {args.retries} retries, giving up")
                return 1
            print(f"{payload.decode()}: {reply.decode(errors='replace')}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m examples.pirate.client``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", default="tcp://127.0.0.1:5555", help="the queue's frontend")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=2.5, help="seconds per attempt")
    parser.add_argument("--retries", type=int, default=3)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_script(main, parse_args())
