"""``await trio_zmq.wait_tracker(tracker)``: wait for a zero-copy send to let
go of its buffer, without a thread.

``sock.send(buf, copy=False, track=True)`` hands libzmq a pointer into
``buf`` and returns pyzmq's :class:`zmq.MessageTracker`.  libzmq reads the
buffer whenever its I/O thread gets to it, so ``buf`` must not change until
libzmq has released it; the tracker says when.

How it waits, and why.  A ``MessageTracker`` is a set of
:class:`threading.Event` objects.  When libzmq frees the message, its free
callback (in whatever thread frees it) sends the message's id over an
inproc socket to pyzmq's garbage-collector thread, which sets the event.
pyzmq's ``MessageTracker.wait()`` blocks on those events (awaiting it
would take a thread per waiting call, blocked and not cancellable);
``tracker.done`` only reads them.
A ``threading.Event`` has no file descriptor and no callback, and the
collector thread and its inproc socket are pyzmq internals, so nothing can
wake an event loop when the event is set short of patching pyzmq.  So this
looks at ``tracker.done`` with a bounded backoff: after the first look,
sleeps of 1 ms, 2 ms, 4 ms, ... up to 50 ms between looks.  A buffer
released within a millisecond or two (tcp, ipc, or inproc with a receiver
ready) is seen within a few milliseconds; a long wait costs at most 20
looks per second, each an attribute read.  No thread is started by this
function: pyzmq's collector thread exists anyway for every zero-copy send.
"""

from __future__ import annotations

from typing import Final

import zmq
from anyio import sleep

from .._core import _backend

#: The first sleep between two looks at ``tracker.done``, in seconds...
BACKOFF_MIN: Final = 0.001
#: ...doubling up to this.
BACKOFF_MAX: Final = 0.05


async def wait_tracker(tracker: zmq.MessageTracker, timeout: float | None = None) -> None:
    """Return once libzmq is done with the message(s) ``tracker`` tracks.

    ``tracker`` is what ``send(..., copy=False, track=True)`` returned, or
    the ``.tracker`` of a frame made with ``zmq.Frame(buf, track=True)``
    (not the frame itself: a frame you hold holds the buffer, so its
    tracker cannot be done while you wait on it).  Until this returns, do
    not modify the buffer you sent; afterwards you may reuse it.  "Done"
    means libzmq has released the buffer, not that a peer received it: over
    tcp that happens once the bytes are copied to the kernel.

    Cancellable like any trio_zmq call (cancel scopes, ``asyncio.timeout``),
    and always a checkpoint, even when the tracker is already done.
    ``timeout`` is pyzmq's ``MessageTracker.wait(timeout)``: seconds (not
    milliseconds, as in pyzmq), ``None`` or negative for no limit, and
    :exc:`zmq.NotDone` when it expires; with a cancel scope instead nothing
    is raised but the scope's cancellation.  Either way the tracker is left
    as it was: a later wait can go on.

    Raises:
      TypeError: ``tracker`` is not a ``zmq.MessageTracker`` (a frame,
        ``None`` from a send without ``track=True``, ...), or ``timeout``
        is not a number.
      ValueError: ``timeout`` is NaN.
      zmq.NotDone: ``timeout`` expired first.
    """
    tracker = _as_tracker(tracker)
    seconds = _check_timeout(timeout)
    backend = _backend.current()
    await backend.checkpoint()
    if tracker.done:
        return
    if seconds is None:
        await _until_done(tracker)
        return
    with backend.move_on_after(seconds):
        await _until_done(tracker)
        return
    if not tracker.done:  # released just as the timeout expired: done it is
        raise zmq.NotDone


async def _until_done(tracker: zmq.MessageTracker) -> None:
    delay = BACKOFF_MIN
    while not tracker.done:
        await sleep(delay)
        delay = min(2 * delay, BACKOFF_MAX)


def _as_tracker(tracker: object) -> zmq.MessageTracker:
    if isinstance(tracker, zmq.MessageTracker):
        return tracker
    if isinstance(tracker, zmq.Frame):
        raise TypeError(
            "pass frame.tracker and drop the frame: a zmq.Frame you hold holds its "
            "buffer, so its tracker cannot be done while you wait on the frame"
        )
    raise TypeError(
        "expected the zmq.MessageTracker that send(..., copy=False, track=True) "
        f"returns, not {tracker!r}"
    )


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds or None, not {timeout!r}")
    if timeout != timeout:  # NaN
        raise ValueError("timeout must not be NaN")
    return None if timeout < 0 else float(timeout)
