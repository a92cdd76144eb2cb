"""``trio_zmq.wait_tracker``: waiting for zero-copy sends to release their
buffers, on every loop, with real sockets; cancellable, no thread.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import zmq

import trio_zmq
from trio_zmq._tools import _tracker
from trio_zmq.testing import unique_endpoint

from tests.conftest import ON_EVERY_LOOP
from tests.helpers import assert_idle, assert_schedule_point, bind, pair

pytestmark = ON_EVERY_LOOP

#: Over pyzmq's copy threshold (64 KiB): sent zero-copy, really tracked.
SIZE = 200_000


def buffer(fill: bytes = b"a") -> bytearray:
    return bytearray(fill * SIZE)


# ----------------------------------------------------------------------
# Completing
# ----------------------------------------------------------------------


async def test_wait_then_reuse_the_buffer(ctx: trio_zmq.Context, endpoint: str) -> None:
    """The rule for copy=False: modify the buffer only once the tracker is
    done.  Over tcp and ipc the receiver reads the message only after the
    buffer was changed, and gets it intact; over inproc the message *is*
    the buffer until the receiver has copied it, so the receiver must read
    first (see docs/trackers.md)."""
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    buf = buffer(b"a")
    mutated = anyio.Event()
    received: list[bytes] = []

    async def receive() -> None:
        if not endpoint.startswith("inproc"):
            await mutated.wait()
        received.append(await pull.recv())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(receive)
            tracker = await push.send(buf, copy=False, track=True)
            assert isinstance(tracker, zmq.MessageTracker)
            await trio_zmq.wait_tracker(tracker)
            assert tracker.done
            buf[:] = b"b" * SIZE  # safe now
            mutated.set()
    assert received == [b"a" * SIZE]
    assert_idle(pull, push)


async def test_multipart_and_frame_trackers(ctx: trio_zmq.Context, inproc: str) -> None:
    """send_multipart returns the last frame's tracker (as pyzmq).  A frame
    made with track=True has its own, done once the message is released
    *and* the frame is dropped: a frame you hold holds the buffer."""
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    head, body = buffer(b"h"), buffer(b"b")
    tracker = await push.send_multipart([head, body], copy=False, track=True)
    assert isinstance(tracker, zmq.MessageTracker)
    frame = zmq.Frame(buffer(b"f"), track=True)
    frame_tracker = frame.tracker
    assert frame_tracker is not None
    await push.send(frame, copy=False, track=True)
    with anyio.fail_after(5):
        assert await pull.recv_multipart() == [b"h" * SIZE, b"b" * SIZE]
        assert await pull.recv() == b"f" * SIZE
        await trio_zmq.wait_tracker(tracker)
        with pytest.raises(zmq.NotDone):
            await trio_zmq.wait_tracker(frame_tracker, timeout=0.05)
        del frame
        await trio_zmq.wait_tracker(frame_tracker)
    assert tracker.done
    assert frame_tracker.done


async def test_done_already_is_still_a_checkpoint(ctx: trio_zmq.Context, inproc: str) -> None:
    """A message under the copy threshold is copied: its tracker is done at
    once.  Waiting on it is a checkpoint anyway, and a cancelled one raises."""
    _, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    tracker = await push.send(b"small", copy=False, track=True)
    assert tracker is not None
    assert tracker.done
    with assert_schedule_point():
        await trio_zmq.wait_tracker(tracker)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await trio_zmq.wait_tracker(tracker)
        pytest.fail("wait_tracker returned under a cancelled scope")


async def test_wakes_soon_after_done() -> None:
    """A tracker made done from elsewhere is noticed within the backoff's
    ceiling (50 ms), however long the wait has been going on."""
    event = threading.Event()
    tracker = zmq.MessageTracker(event)

    async def set_later() -> None:
        await anyio.sleep(0.3)
        event.set()
        set_at.append(anyio.current_time())

    set_at: list[float] = []
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(set_later)
            await trio_zmq.wait_tracker(tracker)
            done_at = anyio.current_time()
    assert set_at
    assert done_at - set_at[0] < _tracker.BACKOFF_MAX + 0.2  # slack for a busy machine


async def test_backoff_from_1_to_50_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    event = threading.Event()
    tracker = zmq.MessageTracker(event)
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 10:
            event.set()
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(_tracker, "sleep", sleep)
    await trio_zmq.wait_tracker(tracker)
    assert delays == [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05, 0.05, 0.05]


async def test_no_thread_is_started(ctx: trio_zmq.Context, inproc: str) -> None:
    unbound = unique_endpoint("inproc")
    push = ctx.socket(zmq.PUSH)
    push.connect(unbound)  # queued, never released: the wait goes on
    tracker = await push.send(buffer(), copy=False, track=True)
    assert tracker is not None
    threads = threading.active_count()  # pyzmq's collector thread is running by now
    seen: list[int] = []

    async def count() -> None:
        for _ in range(5):
            await anyio.sleep(0.01)
            seen.append(threading.active_count())

    with anyio.move_on_after(0.2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(count)
            await trio_zmq.wait_tracker(tracker)
    assert seen == [threads] * 5
    assert not tracker.done


# ----------------------------------------------------------------------
# Not done: waiting goes on, and ends when you say
# ----------------------------------------------------------------------


@pytest.mark.parametrize("peer", ["none", "never-receives"])
async def test_queued_message_keeps_waiting_until_cancelled(
    ctx: trio_zmq.Context, peer: str
) -> None:
    """PUSH to a pipe nobody drains (an inproc endpoint not bound yet, or a
    PULL that never receives): the message stays queued, its buffer stays
    in use, the wait goes on until cancelled, and the tracker is as it was."""
    endpoint = unique_endpoint("inproc")
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 1
    if peer == "never-receives":
        pull = ctx.socket(zmq.PULL)
        pull.rcvhwm = 1
        bind(pull, endpoint)
    push.connect(endpoint)
    with anyio.fail_after(5):
        tracker = await push.send(buffer(), copy=False, track=True)
    assert tracker is not None
    with anyio.fail_after(5):
        with anyio.move_on_after(0.1) as scope:
            await trio_zmq.wait_tracker(tracker)
    assert scope.cancelled_caught
    assert not tracker.done
    # pyzmq's timeout, in seconds, raises zmq.NotDone.
    with anyio.fail_after(5):
        for timeout in (0, 0.05):
            with pytest.raises(zmq.NotDone):
                await trio_zmq.wait_tracker(tracker, timeout=timeout)
    assert not tracker.done
    # Once a receiver takes the message (copying it out), libzmq releases
    # the buffer and a wait completes.  (Closing the PUSH would not do: an
    # inproc pipe keeps its messages for the peer.)
    if peer == "none":
        pull = ctx.socket(zmq.PULL)
        bind(pull, endpoint)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(pull.recv)
            await trio_zmq.wait_tracker(tracker, timeout=-1)
    assert tracker.done


async def test_tcp_done_means_released_not_received(ctx: trio_zmq.Context) -> None:
    """Over tcp, libzmq releases the buffer once the kernel has the bytes:
    the tracker is done although the peer has not received the message."""
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, "tcp://127.0.0.1")
    buf = buffer(b"t")
    with anyio.fail_after(5):
        tracker = await push.send(buf, copy=False, track=True)
        assert tracker is not None
        await trio_zmq.wait_tracker(tracker)
        buf[:] = b"u" * SIZE
        assert await pull.recv() == b"t" * SIZE
    assert_idle(pull, push)


# ----------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------


async def test_bad_input(ctx: trio_zmq.Context) -> None:
    bad: Any
    for bad in (None, object(), b"bytes", threading.Event()):
        with pytest.raises(TypeError, match="MessageTracker"):
            await trio_zmq.wait_tracker(bad)
    with pytest.raises(TypeError, match=r"frame\.tracker"):
        await trio_zmq.wait_tracker(zmq.Frame(b"x", track=True))  # type: ignore[arg-type]
    tracker = zmq.MessageTracker()  # tracks nothing: done
    for bad in ("1", [1], True):
        with pytest.raises(TypeError, match="timeout"):
            await trio_zmq.wait_tracker(tracker, timeout=bad)
    with pytest.raises(ValueError, match="NaN"):
        await trio_zmq.wait_tracker(tracker, timeout=float("nan"))
    await trio_zmq.wait_tracker(tracker, timeout=0)  # done: no NotDone
