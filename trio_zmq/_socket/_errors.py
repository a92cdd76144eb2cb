"""Checking input before anything is sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import zmq

#: Draft socket types that are thread-safe and therefore have no ZMQ_FD.
_FDLESS_TYPES = frozenset(
    getattr(zmq, name)
    for name in ("SERVER", "CLIENT", "RADIO", "DISH", "GATHER", "SCATTER", "PEER", "CHANNEL")
    if hasattr(zmq, name)
)


def check_socket_type(socket_type: int) -> zmq.SocketType:
    """Return ``socket_type`` as a SocketType, or explain why it cannot work.

    Raises:
      ValueError: unknown type, or a thread-safe draft type without ZMQ_FD.
    """
    try:
        kind = zmq.SocketType(socket_type)
    except ValueError:
        raise ValueError(f"{socket_type!r} is not a zmq socket type") from None
    if kind in _FDLESS_TYPES:
        raise ValueError(
            f"zmq.{kind.name} is a thread-safe draft socket type without ZMQ_FD; "
            "trio_zmq can only wait on sockets that have one"
        )
    return kind


#: The flags a send takes; a receive takes only NOBLOCK (zmq.DONTWAIT).
SEND_FLAGS = int(zmq.NOBLOCK | zmq.SNDMORE)
RECV_FLAGS = int(zmq.NOBLOCK)


def check_flags(flags: object, allowed: int) -> None:
    """Raise unless ``flags`` is an int made of ``allowed`` bits.

    libzmq ignores a flag it does not know; a typo (``zmq.POLLIN`` for
    ``zmq.NOBLOCK``) would then silently block.

    Raises:
      TypeError: not an int.
      ValueError: a bit outside ``allowed``.
    """
    if not isinstance(flags, int) or isinstance(flags, bool):
        raise TypeError(f"flags must be an int (zmq.NOBLOCK, ...), not {type(flags).__name__}")
    if flags & ~allowed:
        names = "zmq.NOBLOCK or zmq.SNDMORE" if allowed & zmq.SNDMORE else "zmq.NOBLOCK"
        raise ValueError(f"unknown flags {int(flags):#x}: this call takes {names}")


def check_frame(frame: object) -> None:
    """Raise TypeError unless ``frame`` can be sent as one zmq frame."""
    if isinstance(frame, (bytes, zmq.Frame)):
        return
    if isinstance(frame, str):
        raise TypeError("str frames are not allowed: encode them, or use send_string()")
    try:
        memoryview(frame)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"a frame must be bytes, a zmq.Frame or a buffer, not {type(frame).__name__}"
        ) from None


def check_multipart(msg_parts: object) -> Sequence[Any]:
    """Check every frame of a multipart message before any is sent.

    Raises:
      TypeError: not a sequence of frames (bytes alone is refused: iterating
        it would send one frame per byte), or a frame of the wrong type.
      ValueError: an empty message.
    """
    # The common case first, without the ABC checks (they cost more than
    # sending a small frame): a list or tuple of bytes.
    kind = type(msg_parts)
    if kind is list or kind is tuple:
        parts: Sequence[Any] = msg_parts  # type: ignore[assignment]
        for frame in parts:
            if type(frame) is not bytes:
                break
        else:
            if parts:
                return parts
    if isinstance(msg_parts, (bytes, bytearray, memoryview, str, zmq.Frame)):
        raise TypeError(
            "a multipart message is a sequence of frames; "
            f"wrap a single {type(msg_parts).__name__} in a list"
        )
    if not isinstance(msg_parts, Sequence):
        raise TypeError(
            f"a multipart message must be a sequence of frames, not {type(msg_parts).__name__}"
        )
    if not msg_parts:
        raise ValueError("a multipart message needs at least one frame")
    for frame in msg_parts:
        check_frame(frame)
    return msg_parts


def check_batch_sequence(items: object) -> Sequence[Any]:
    """A batch is a sequence (a list, a tuple...), not an iterator, str or
    bytes: it is checked whole before anything is sent."""
    if isinstance(items, (bytes, bytearray, memoryview, str)) or not isinstance(items, Sequence):
        raise TypeError(f"a batch is a sequence of messages, not {type(items).__name__}")
    return items
