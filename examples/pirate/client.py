"""The Lazy Pirate client: reliable request-reply on the client side.

``request()`` sends a request on a REQ socket and waits ``timeout`` seconds
for the reply.  If none comes, the queue or the worker is slow, gone or lost
the request: it closes the socket with linger 0 (dropping the unsent request
and any late reply with it), opens a fresh one and sends again, at most
``retries`` times; then it reports the request failed by returning ``None``.

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
    """Send ``payload`` to ``endpoint`` and return the reply, or ``None``.

    Each of the ``1 + retries`` attempts uses a fresh REQ socket, closed
    with linger 0 when the attempt ends, and waits at most ``timeout``
    seconds.  ``request_id`` (a fresh UUID by default) goes with every
    attempt; a reply with another id is discarded and passed to
    ``on_stray``.
    """
    if request_id is None:
        request_id = uuid.uuid4().bytes
    for _attempt in range(1 + retries):
        with ctx.socket(zmq.REQ) as sock:
            sock.linger = 0
            sock.connect(endpoint)
            await sock.send_multipart([request_id, payload])
            with trio.move_on_after(timeout):
                reply = await sock.recv_multipart()
                if len(reply) == 2 and reply[0] == request_id:
                    return reply[1]
                # Not the answer to this request: discard it, and retry on
                # a fresh socket (a REQ socket takes one reply per request).
                if on_stray is not None:
                    on_stray(reply)
    return None


async def main(args: argparse.Namespace) -> int:
    """Send ``args.requests`` requests one after the other; 1 if one failed."""
    async with trio_zmq.Context(linger=0) as ctx:
        for number in range(args.requests):
            payload = b"request %d" % number
            reply = await request(
                ctx,
                args.connect,
                payload,
                timeout=args.timeout,
                retries=args.retries,
                on_stray=lambda frames: print(
                    f"discarded a reply to another request: {frames!r}", file=sys.stderr
                ),
            )
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
