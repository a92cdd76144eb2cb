"""Hypothesis strategies for ZeroMQ data and topologies."""

from __future__ import annotations

import os

import zmq
from hypothesis import strategies as st

from ._pairs import unique_endpoint

#: Socket-type pairs that can talk to each other: (bind side, connect side).
PAIRABLE_TYPES: tuple[tuple[zmq.SocketType, zmq.SocketType], ...] = (
    (zmq.PAIR, zmq.PAIR),
    (zmq.PULL, zmq.PUSH),
    (zmq.PUSH, zmq.PULL),
    (zmq.ROUTER, zmq.DEALER),
    (zmq.DEALER, zmq.DEALER),
    (zmq.REP, zmq.REQ),
    (zmq.ROUTER, zmq.REQ),
    (zmq.PUB, zmq.SUB),
    (zmq.XPUB, zmq.SUB),
)


def frames(
    *, min_size: int = 0, max_size: int = 256, large: bool = True
) -> st.SearchStrategy[bytes]:
    """Single frames: empty ones, small ones and (if ``large``) some of 64 KiB+."""
    small = st.binary(min_size=min_size, max_size=max_size)
    if not large:
        return small
    big = st.integers(64 * 1024, 256 * 1024).map(lambda n: os.urandom(1) * n)
    return st.one_of(small, small, small, big)


def multipart_messages(
    *, min_frames: int = 1, max_frames: int = 8, large: bool = False
) -> st.SearchStrategy[list[bytes]]:
    """Multipart messages (lists of frames), including empty frames."""
    return st.lists(frames(large=large), min_size=min_frames, max_size=max_frames)


def routing_ids() -> st.SearchStrategy[bytes]:
    """Valid ROUTER routing ids: 1 to 255 bytes, not starting with a zero byte."""
    return st.binary(min_size=1, max_size=32).filter(lambda b: b[0] != 0)


def topics() -> st.SearchStrategy[bytes]:
    """PUB/SUB topics (prefixes), including the empty "everything" topic."""
    return st.one_of(st.just(b""), st.binary(min_size=1, max_size=16))


def transports() -> st.SearchStrategy[str]:
    """The transports socket pairs run over: ``inproc``, ``ipc`` and ``tcp``."""
    return st.sampled_from(["inproc", "ipc", "tcp"])


def endpoints(transport: str | None = None) -> st.SearchStrategy[str]:
    """Fresh endpoints of ``transport`` (or of any transport)."""
    chosen = st.just(transport) if transport else transports()
    return chosen.map(unique_endpoint)


def socket_type_pairs() -> st.SearchStrategy[tuple[zmq.SocketType, zmq.SocketType]]:
    """(bind side, connect side) socket types that can talk."""
    return st.sampled_from(PAIRABLE_TYPES)
