"""What running on more than one event loop promises.

Every test here runs on trio, on asyncio (through anyio) and on trio with
the engine forced onto its anyio path (see conftest's ``flavour``): which
engine path each loop takes, exceptions both libraries catch, channels as
anyio object streams with typed attributes, the asyncio-only hazard of a
cancellation that overtakes a wake-up, and plain asyncio code (no anyio).
"""

from __future__ import annotations

import asyncio
import sys

import anyio
import anyio.abc
import pytest
import sniffio
import trio
import zmq
from anyio.streams.stapled import StapledObjectStream

import trio_zmq
from trio_zmq._core import _backend, _registry
from trio_zmq._core._engine import _WAKE_AHEAD, RECV, SEND, Engine

from tests.broken_engines import NoWakePasson
from tests.conftest import ON_EVERY_LOOP
from tests.helpers import assert_schedule_point, bind, busy, engine_of, pair

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

pytestmark = ON_EVERY_LOOP

PROMPT = 5


async def test_each_flavour_runs_where_it_says(flavour: str) -> None:
    library = sniffio.current_async_library()
    assert library == ("asyncio" if flavour == "asyncio" else "trio")
    expected = {
        "trio": _backend.TRIO,
        "asyncio": _backend.ASYNCIO,
        "trio-anyio-engine": _backend.ANYIO,
    }[flavour]
    assert _backend.current() is expected


async def test_closed_is_caught_as_trio_and_as_anyio_error(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    pull.close()
    for family in (trio.ClosedResourceError, anyio.ClosedResourceError):
        with pytest.raises(family):
            await pull.recv()
    with pytest.raises(trio_zmq.ClosedResourceError):
        pull.receive_channel().receive_nowait()
    # A blocked call woken by close raises the same class.
    with anyio.fail_after(PROMPT):
        async with anyio.create_task_group() as tg:

            async def blocked() -> None:
                with pytest.raises(anyio.ClosedResourceError) as info:
                    await push.recv()
                assert isinstance(info.value, trio.ClosedResourceError)

            push.close()
            tg.start_soon(blocked)


async def test_would_block_is_caught_as_trio_and_as_anyio_error(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    pull, _, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    with pytest.raises(trio.WouldBlock):
        pull.recv_nowait()
    with pytest.raises(anyio.WouldBlock):
        pull.receive_channel().receive_nowait()


async def test_channels_are_anyio_object_streams_with_typed_attributes(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    pull = ctx.socket(zmq.PULL)
    address = bind(pull, endpoint)
    push = ctx.socket(zmq.PUSH)
    push.connect(address)
    rx = pull.receive_channel(lambda frames: frames[0].decode())
    tx: trio_zmq.MessageSendChannel[str] = push.send_channel(lambda text: [text.encode()])
    assert isinstance(rx, anyio.abc.ObjectReceiveStream)
    assert isinstance(tx, anyio.abc.ObjectSendStream)
    assert isinstance(rx, trio.abc.ReceiveChannel)
    assert isinstance(tx, trio.abc.SendChannel)

    assert rx.extra(trio_zmq.ZMQAttribute.socket) is pull
    assert rx.extra(trio_zmq.ZMQAttribute.socket_type) is zmq.PULL
    assert tx.extra(trio_zmq.ZMQAttribute.socket_type) is zmq.PUSH
    assert rx.extra(trio_zmq.ZMQAttribute.fd) == pull.fileno() == pull.get(zmq.FD)
    assert rx.extra(trio_zmq.ZMQAttribute.endpoints) == (address,)
    assert tx.extra(trio_zmq.ZMQAttribute.endpoints) == (address,)
    if endpoint.startswith("tcp"):
        assert address.rsplit(":", 1)[1].isdigit()  # the port bound, not "*"
    with pytest.raises(anyio.TypedAttributeLookupError):
        rx.extra(anyio.abc.SocketAttribute.family)
    assert rx.extra(anyio.abc.SocketAttribute.family, "none") == "none"

    # Stapled into anyio's bidirectional object stream, used by anyio code.
    stream = StapledObjectStream(tx, rx)
    with anyio.fail_after(PROMPT):
        await stream.send("over anyio")
        assert await stream.receive() == "over anyio"

    pull.close()
    assert rx.extra(trio_zmq.ZMQAttribute.socket_type) is zmq.PULL
    with pytest.raises(anyio.ClosedResourceError):
        rx.extra(trio_zmq.ZMQAttribute.fd)
    with pytest.raises(anyio.ClosedResourceError):
        rx.extra(trio_zmq.ZMQAttribute.endpoints)


async def test_end_of_stream_from_deserializer_ends_async_for(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    """A protocol's end marker ends ``async for`` under trio and anyio."""
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)

    def decode(frames: list[bytes]) -> bytes:
        if frames == [b"END"]:
            raise trio_zmq.EndOfStream
        return frames[0]

    rx = pull.receive_channel(decode)
    with anyio.fail_after(PROMPT):
        for payload in (b"a", b"b", b"END", b"after"):
            await push.send(payload)
        seen = [item async for item in rx]
        assert seen == [b"a", b"b"]
        with pytest.raises(anyio.EndOfStream):
            raise trio_zmq.EndOfStream
        # The marker was consumed; what follows it is still there.
        assert await pull.recv() == b"after"


async def test_recv_of_a_ready_message_is_a_schedule_point(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    with anyio.fail_after(PROMPT):
        await push.send(b"ready")
        await pull.wait_readable()
        with assert_schedule_point():
            assert await pull.recv() == b"ready"
        with assert_schedule_point():
            await push.send(b"again")


async def test_cancelled_scope_receives_nothing(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    with anyio.fail_after(PROMPT):
        await push.send(b"kept")
        await pull.wait_readable()
        with anyio.CancelScope() as scope:
            scope.cancel()
            await pull.recv()
        assert scope.cancelled_caught
        assert await pull.recv() == b"kept"


async def test_rcvtimeo_raises_again(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, _, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    pull.rcvtimeo = 20
    with anyio.fail_after(PROMPT), pytest.raises(zmq.Again):
        await pull.recv()
    assert not busy(pull)


@pytest.mark.parametrize("broken", [False, True], ids=["engine", "broken-no-wake-passon"])
async def test_cancel_between_wake_and_resume_passes_the_wake_on(
    ctx: trio_zmq.Context, inproc: str, flavour: str, broken: bool
) -> None:
    """On the anyio path parked receivers are *woken* (the head and a few
    behind it) to take a message themselves.  asyncio can cancel a task
    whose wake-up is already on its way (``task.cancel()``; anyio's own
    cancel scopes wait until it has run).  Then the next receiver must be
    woken instead, or the message sits in the socket with a task parked.  On
    trio (either engine path) a woken task cannot be cancelled before it
    runs: the first receivers take the messages.

    Construction (deterministic): the watcher waits for POLLOUT on a PULL
    socket (never writable); the receivers R0..Rn park, one more than the
    engine wakes at once; then, without yielding, two messages are sent, a
    probe serves the queue (waking R0..Rn-1) and the woken are cancelled.
    """
    if broken and flavour != "asyncio":
        pytest.skip("on trio nothing can cancel a woken task before it runs")
    with _registry.engine_factory(NoWakePasson if broken else Engine):
        pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    engine = engine_of(pull)
    assert isinstance(engine, NoWakePasson) is broken
    names = [f"R{i}" for i in range(_WAKE_AHEAD + 1)]
    last = names[-1]
    scopes = {name: anyio.CancelScope() for name in ["W", *names]}
    got: dict[str, bytes] = {}
    tasks: dict[str, asyncio.Task[object] | None] = {}

    async def watcher() -> None:
        with scopes["W"]:
            await trio_zmq.wait_writable(pull)

    async def receiver(name: str) -> None:
        if flavour == "asyncio":
            tasks[name] = asyncio.current_task()
        with scopes[name]:
            try:
                got[name] = await pull.recv()
            except asyncio.CancelledError:
                if scopes[name].cancel_called:
                    raise
                # Our own task.cancel() below, not the scope's: keep the
                # task group out of it.
                if sys.version_info >= (3, 11):
                    (asyncio.current_task() or _no_task()).uncancel()

    with anyio.fail_after(PROMPT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher)
            await anyio.wait_all_tasks_blocked()
            for name in names:
                tg.start_soon(receiver, name)
                await anyio.wait_all_tasks_blocked()
            assert engine.watcher is not None
            assert engine.queues[SEND][0] is engine.watcher
            assert len(engine.queues[RECV]) == len(names)
            # One synchronous stretch: nobody else runs in between.
            push.send_nowait(b"1")
            push.send_nowait(b"2")
            trio_zmq.probe(pull)
            woken = [w.woken for w in engine.queues[RECV]]
            if flavour == "trio":
                # R0 and R1 were served in place: nothing to cancel.
                assert len(engine.queues[RECV]) == len(names) - 2
                assert not any(woken)
            else:
                assert woken == [True] * _WAKE_AHEAD + [False]
            for name in names[:-1]:
                task = tasks.get(name)
                if task is not None:
                    task.cancel()  # asyncio's own cancellation
            # inproc has no I/O thread: once every task is blocked,
            # nothing more will happen by itself.
            await anyio.wait_all_tasks_blocked()
            still_parked = [w.task for w in engine.queues[RECV]]
            tg.cancel_scope.cancel()
    if broken:
        assert len(still_parked) == 1, "the broken engine should leave the last parked"
        assert got == {}
        return
    # The cancel rule: a receiver has its message or nothing; none is lost.
    rest = [pull.recv_nowait() for _ in range(2 - len(got))]
    assert sorted([*got.values(), *rest]) == [b"1", b"2"]
    if flavour == "asyncio":
        assert still_parked == []
        assert got == {last: b"1"}  # the woken were cancelled before acting
    else:
        assert got == {"R0": b"1", "R1": b"2"}
        assert len(still_parked) == len(names) - 2


async def test_plain_asyncio_cancellations_lose_nothing(flavour: str) -> None:
    """Code written for asyncio alone: asyncio.wait_for timeouts and
    task.cancel() around recv, in several consumers, never lose or duplicate
    a message.  (A smoke test of the API under asyncio's own cancellation;
    the precise hazard -- a cancellation overtaking a wake-up -- is built
    deterministically in the test above.)"""
    if flavour != "asyncio":
        pytest.skip("asyncio's own cancellation API")
    count = 2000
    with zmq.Context() as zctx:
        pull = trio_zmq.Socket.from_socket(zctx.socket(zmq.PULL))
        push = trio_zmq.Socket.from_socket(zctx.socket(zmq.PUSH))
        try:
            pull.bind("inproc://plain-asyncio")
            push.connect("inproc://plain-asyncio")
            pull.rcvhwm = push.sndhwm = 10

            async def producer() -> None:
                for i in range(count):
                    await push.send(b"%d" % i)

            received: list[int] = []
            done = asyncio.Event()

            async def consumer(k: int) -> None:
                # Several consumers, so that some are parked behind the
                # fd's watcher when a message comes: the case where an
                # engine that hands parked tasks their results loses one.
                tick = k
                while not done.is_set():
                    tick += 1
                    task = asyncio.ensure_future(pull.recv())
                    if tick % 3 == 0:
                        await asyncio.sleep(0)
                        task.cancel()
                    try:
                        received.append(int(await asyncio.wait_for(task, 0.001)))
                    except (asyncio.CancelledError, asyncio.TimeoutError):
                        # Since Python 3.12 asyncio.wait_for can time out on
                        # a *task* that completed in the meantime (a race in
                        # asyncio itself): the result is still in the task.
                        if task.done() and not task.cancelled():
                            received.append(int(task.result()))
                    if len(received) >= count:
                        done.set()

            sender = asyncio.ensure_future(producer())
            consumers = [asyncio.ensure_future(consumer(k)) for k in range(4)]
            await asyncio.wait_for(done.wait(), 30)
            await asyncio.gather(sender, *consumers)
            assert sorted(received) == list(range(count))
        finally:
            pull.close(linger=0)
            push.close(linger=0)


def _no_task() -> asyncio.Task[object]:
    raise AssertionError("not in an asyncio task")


async def test_errors_in_task_groups_are_not_swallowed(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    """A bad frame raised inside an anyio task group reaches the caller."""
    _, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    with pytest.raises(ExceptionGroup) as info:
        async with anyio.create_task_group() as tg:
            tg.start_soon(push.send, "not bytes")
    assert info.group_contains(TypeError)
