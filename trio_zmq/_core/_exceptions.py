"""Exceptions that trio code and anyio code both recognise.

Each class derives from trio's exception *and* anyio's of the same meaning,
so ``except trio.ClosedResourceError`` and ``except anyio.ClosedResourceError``
both catch what trio_zmq raises, whichever event loop runs the code.  trio
and anyio define these as plain ``Exception`` subclasses, so the double
inheritance is sound.
"""

from __future__ import annotations

from typing import final

import anyio
import trio


@final
class ClosedResourceError(trio.ClosedResourceError, anyio.ClosedResourceError):
    """The socket, channel view or context is closed (or was closed while
    the task waited on it)."""


@final
class WouldBlock(trio.WouldBlock, anyio.WouldBlock):
    """A ``*_nowait`` operation could not proceed without waiting."""


@final
class EndOfStream(trio.EndOfChannel, anyio.EndOfStream):
    """The end of a stream of messages.

    ZeroMQ has no end-of-stream of its own, so trio_zmq never raises this by
    itself: a channel's deserializer raises it when it meets your protocol's
    end marker, and ``async for`` over the channel then ends cleanly, under
    trio and under anyio alike.
    """


def closed_error(what: str = "the zmq socket was closed") -> ClosedResourceError:
    return ClosedResourceError(what)


def wrong_thread_error(owner: int) -> RuntimeError:
    """A socket used from one thread while tasks of another wait on it."""
    return RuntimeError(
        f"tasks of thread {owner} are waiting on this zmq socket: a libzmq socket "
        "must not be used from two threads at once (from another thread, reach "
        "its event loop with trio.from_thread.run / anyio.from_thread.run)"
    )
