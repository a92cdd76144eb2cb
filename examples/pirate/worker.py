"""The Paranoid Pirate worker: a DEALER that heartbeats and reconnects.

The worker connects a DEALER to the queue's backend and says ``READY``.
Then two tasks share one nursery per connection: ``_heartbeat`` sends a
``HEARTBEAT`` every ``heartbeat_interval`` while the worker is idle (to
the queue, a heartbeat says "alive, and free to take a request"), and
``_serve`` answers requests (after ``work_seconds`` of pretend work) and
waits for the queue's heartbeats.  When nothing has come from the queue
for ``liveness`` intervals, the queue is taken for dead: the nursery is
cancelled, the socket closed with linger 0, and after a backoff (doubling
from ``reconnect_initial`` up to ``reconnect_max``) a fresh socket
connects and says ``READY`` again.

It prints one line per event (``ready``, ``working <request id, hex>``,
``queue silent``), which the tests read to know where the worker is.

Run it: ``python -m examples.pirate.worker --connect tcp://127.0.0.1:5556
--id w1``; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse

import trio
import zmq

import trio_zmq
from examples._script import run_script

from .protocol import HEARTBEAT, READY, add_heartbeat_arguments, worker_reply


async def _serve_connection(
    sock: trio_zmq.Socket,
    worker_id: bytes,
    *,
    heartbeat_interval: float,
    liveness: int,
    work_seconds: float,
) -> bool:
    """Serve on ``sock`` until the queue has been silent too long.

    Returns whether anything came from the queue at all.
    """
    heard = False
    busy = False

    async def _heartbeat() -> None:
        while True:
            await trio.sleep(heartbeat_interval)
            if not busy:
                await sock.send(HEARTBEAT)

    async def _serve() -> None:
        nonlocal heard, busy
        while True:
            with trio.move_on_after(heartbeat_interval * liveness) as scope:
                message = await sock.recv_multipart()
            if scope.cancelled_caught:  # nothing came in time
                return
            heard = True
            if len(message) == 4:  # [client_id, b"", request_id, payload]
                client_id, empty, request_id, payload = message
                print(f"working {request_id.hex()}", flush=True)
                busy = True
                await trio.sleep(work_seconds)
                reply = worker_reply(worker_id, payload)
                await sock.send_multipart([client_id, empty, request_id, reply])
                busy = False
            elif message != [HEARTBEAT]:
                print(f"invalid message: {message!r}", flush=True)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(_heartbeat)
        await _serve()
        nursery.cancel_scope.cancel()
    return heard


async def run_worker(
    ctx: trio_zmq.Context,
    endpoint: str,
    worker_id: bytes,
    *,
    heartbeat_interval: float,
    liveness: int = 3,
    work_seconds: float = 0.0,
    reconnect_initial: float = 1.0,
    reconnect_max: float = 32.0,
) -> None:
    """Serve the queue at ``endpoint`` as ``worker_id`` until cancelled."""
    backoff = reconnect_initial
    while True:
        with ctx.socket(zmq.DEALER) as sock:
            sock.linger = 0
            sock.routing_id = worker_id
            sock.connect(endpoint)
            await sock.send(READY)
            print("ready", flush=True)
            heard = await _serve_connection(
                sock,
                worker_id,
                heartbeat_interval=heartbeat_interval,
                liveness=liveness,
                work_seconds=work_seconds,
            )
        if heard:  # the queue was there: start the backoff afresh
            backoff = reconnect_initial
        print(f"queue silent, reconnecting in {backoff:g} s", flush=True)
        await trio.sleep(backoff)
        backoff = min(2 * backoff, reconnect_max)


async def main(args: argparse.Namespace) -> None:
    """Run one worker until Ctrl-C (or a signal)."""
    async with trio_zmq.Context(linger=0) as ctx:
        await run_worker(
            ctx,
            args.connect,
            args.id.encode(),
            heartbeat_interval=args.heartbeat,
            liveness=args.liveness,
            work_seconds=args.work_seconds,
            reconnect_initial=args.reconnect_initial,
            reconnect_max=args.reconnect_max,
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m examples.pirate.worker``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", default="tcp://127.0.0.1:5556", help="the queue's backend")
    parser.add_argument("--id", required=True, help="the worker's routing id")
    parser.add_argument("--work-seconds", type=float, default=0.0, help="pretend work per request")
    parser.add_argument("--reconnect-initial", type=float, default=1.0)
    parser.add_argument("--reconnect-max", type=float, default=32.0)
    add_heartbeat_arguments(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_script(main, parse_args())
