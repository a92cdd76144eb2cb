"""What the pirate programs say to each other.

A client sends ``[request_id, payload]`` on a REQ socket; the queue's
frontend ROUTER prepends the client's routing id and the empty delimiter,
so a worker receives ``[client_id, b"", request_id, payload]`` and answers
``[client_id, b"", request_id, reply]``.  Between a worker and the queue
there are also one-frame control messages, ``READY`` (a worker that has
just connected) and ``HEARTBEAT`` (every ``heartbeat_interval`` seconds
from the queue to each worker, and from each idle worker to the queue: a
worker's heartbeat also says it can take a request).  A peer that has sent
nothing for ``liveness`` intervals is taken for dead.
"""

from __future__ import annotations

import argparse

READY = b"\x01"
HEARTBEAT = b"\x02"

#: Seconds between heartbeats (the guide uses one second).
HEARTBEAT_INTERVAL = 1.0
#: Heartbeat intervals without a word before a peer is taken for dead.
LIVENESS = 3


def worker_reply(worker_id: bytes, payload: bytes) -> bytes:
    """The reply a worker gives to ``payload``: it names the worker."""
    return worker_id + b" " + payload


def add_heartbeat_arguments(parser: argparse.ArgumentParser) -> None:
    """``--heartbeat`` and ``--liveness``, shared by the queue and the worker."""
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=HEARTBEAT_INTERVAL,
        help="seconds between heartbeats (default %(default)s)",
    )
    parser.add_argument(
        "--liveness",
        type=int,
        default=LIVENESS,
        help="silent heartbeat intervals before a peer is dead (default %(default)s)",
    )
