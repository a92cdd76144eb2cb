"""Layer 3: sockets seen as trio channels (views, not buffers)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import pytest
import zmq

import trio_zmq
from trio_zmq.testing import unique_endpoint

from tests.broken_engines import broken_engine
from tests.conftest import ON_EVERY_LOOP
from tests.helpers import bind, pair, until_readable, until_writable

pytestmark = ON_EVERY_LOOP


def to_json(obj: dict[str, Any]) -> list[bytes]:
    return [json.dumps(obj).encode()]


def from_json(frames: list[bytes]) -> dict[str, Any]:
    (frame,) = frames
    result: dict[str, Any] = json.loads(frame)
    return result


# ----------------------------------------------------------------------
# Using channels
# ----------------------------------------------------------------------


async def test_async_for_over_receive_channel(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    tx = push.send_channel()
    expected = [[b"msg", str(i).encode()] for i in range(20)]
    for message in expected:
        await tx.send(message)
    await tx.send([b"end"])
    received: list[list[bytes]] = []
    with anyio.fail_after(5):
        async for message in pull.receive_channel():
            if message == [b"end"]:
                break
            received.append(message)
    assert received == expected


async def test_async_for_ends_with_closed_error_when_socket_closes(
    ctx: trio_zmq.Context, inproc: str
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    rx = pull.receive_channel()
    received: list[list[bytes]] = []
    ended_by: list[BaseException] = []

    async def consume() -> None:
        try:
            async for message in rx:
                received.append(message)
        except anyio.ClosedResourceError as exc:
            ended_by.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(consume)
            await push.send(b"one")
            await anyio.wait_all_tasks_blocked()
            pull.close()
    assert received == [[b"one"]]
    assert len(ended_by) == 1


async def test_typed_channels_with_json(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    tx: trio_zmq.MessageSendChannel[dict[str, Any]] = push.send_channel(to_json)
    rx: trio_zmq.MessageReceiveChannel[dict[str, Any]] = pull.receive_channel(from_json)
    objects = [{"n": i, "name": f"item-{i}", "tags": ["a", None]} for i in range(5)]
    for obj in objects:
        await tx.send(obj)
    with anyio.fail_after(5):
        assert [await rx.receive() for _ in objects] == objects
    # On the wire each item is one JSON frame.
    await tx.send({"k": 1})
    assert await pull.recv_multipart() == [b'{"k": 1}']


async def test_nowait_and_would_block(ctx: trio_zmq.Context, inproc: str) -> None:
    push = ctx.socket(zmq.PUSH)
    push.bind(inproc)  # no peer yet
    pull = ctx.socket(zmq.PULL)
    tx = push.send_channel()
    rx = pull.receive_channel()
    with pytest.raises(anyio.WouldBlock):
        tx.send_nowait([b"nobody listens"])
    with pytest.raises(anyio.WouldBlock):
        rx.receive_nowait()
    assert tx.statistics().items == 0
    assert rx.statistics().items == 0
    pull.connect(inproc)
    await until_writable(push)
    tx.send_nowait([b"a", b"b"])
    tx.send_nowait((b"c",))  # any sequence of frames
    await until_readable(pull)
    assert rx.receive_nowait() == [b"a", b"b"]
    await until_readable(pull)
    assert rx.receive_nowait() == [b"c"]
    with pytest.raises(anyio.WouldBlock):
        rx.receive_nowait()
    # The WouldBlock'd send really sent nothing.
    assert tx.statistics().items == 2
    assert rx.statistics().items == 2


async def test_receive_nowait_does_not_overtake_parked_receivers(
    ctx: trio_zmq.Context, inproc: str
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    rx = pull.receive_channel()
    received: list[list[bytes]] = []

    async def receiver() -> None:
        received.append(await rx.receive())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(receiver)
            await anyio.wait_all_tasks_blocked()
            await push.send(b"for the parked task")
            with pytest.raises(anyio.WouldBlock):
                rx.receive_nowait()
    assert received == [[b"for the parked task"]]


async def test_statistics(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    rx = pull.receive_channel()
    other_rx = pull.receive_channel()
    stats = rx.statistics()
    assert stats == trio_zmq.ChannelStatistics(
        socket_type=zmq.PULL,
        items=0,
        tasks_waiting_send=0,
        tasks_waiting_receive=0,
        view_closed=False,
        socket_closed=False,
    )

    async def receive_via_view() -> None:
        await rx.receive()

    async def receive_directly() -> None:
        await pull.recv_multipart()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            for _ in range(3):
                nursery.start_soon(receive_via_view)
            nursery.start_soon(receive_directly)
            await anyio.wait_all_tasks_blocked()
            # The waiting counts are the socket's: every view and direct call.
            assert rx.statistics().tasks_waiting_receive == 4
            assert other_rx.statistics().tasks_waiting_receive == 4
            assert rx.statistics().tasks_waiting_send == 0
            for i in range(4):
                await push.send(b"%d" % i)
    stats = rx.statistics()
    assert stats.items == 3  # messages that went through this view
    assert stats.tasks_waiting_receive == 0
    assert other_rx.statistics().items == 0

    # Send side: tasks blocked on a PUSH without a peer.
    lonely = ctx.socket(zmq.PUSH)
    lonely.bind(unique_endpoint("inproc"))
    tx = lonely.send_channel()
    woken = 0

    async def blocked(op: Callable[[], Awaitable[object]]) -> None:
        nonlocal woken
        with pytest.raises(anyio.ClosedResourceError):
            await op()
        woken += 1

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(blocked, lambda: tx.send([b"x"]))
            nursery.start_soon(blocked, lambda: tx.send([b"y"]))
            nursery.start_soon(blocked, tx.wait_writable)
            await anyio.wait_all_tasks_blocked()
            tx_stats = tx.statistics()
            assert tx_stats.socket_type == zmq.PUSH
            assert tx_stats.tasks_waiting_send == 3
            assert tx_stats.tasks_waiting_receive == 0
            assert tx_stats.items == 0
            lonely.close()  # wakes them all
    assert woken == 3


async def test_statistics_closed_flags(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, _push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    rx = pull.receive_channel()
    other = pull.receive_channel()
    rx.close()
    assert rx.statistics().view_closed
    assert not rx.statistics().socket_closed
    assert not other.statistics().view_closed
    pull.close()
    # statistics() still answers once the socket is closed: that is what
    # the socket_closed field is for.
    for view in (rx, other):
        stats = view.statistics()
        assert stats.socket_closed
        assert stats.socket_type == zmq.PULL
        assert stats.tasks_waiting_receive == 0
    assert other.statistics().view_closed is False


# ----------------------------------------------------------------------
# Closing views and sockets
# ----------------------------------------------------------------------


async def test_closing_a_receive_view_closes_only_it(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    rx1 = pull.receive_channel()
    rx2 = pull.receive_channel()
    outcomes: dict[str, object] = {}

    async def receive(name: str, rx: trio_zmq.MessageReceiveChannel[list[bytes]]) -> None:
        try:
            outcomes[name] = await rx.receive()
        except anyio.ClosedResourceError as exc:
            outcomes[name] = exc

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(receive, "rx1", rx1)
            nursery.start_soon(receive, "rx2", rx2)
            await anyio.wait_all_tasks_blocked()
            rx1.close()
            await anyio.wait_all_tasks_blocked()
            # Only the task blocked in rx1 was woken; no message was consumed.
            assert isinstance(outcomes.get("rx1"), anyio.ClosedResourceError)
            assert "rx2" not in outcomes
            await push.send(b"first")
    assert outcomes["rx2"] == [b"first"]
    # Later calls on the closed view fail; the socket and other view work.
    with pytest.raises(anyio.ClosedResourceError):
        await rx1.receive()
    with pytest.raises(anyio.ClosedResourceError):
        rx1.receive_nowait()
    with pytest.raises(anyio.ClosedResourceError):
        async for _ in rx1:
            pass
    await rx1.aclose()  # idempotent
    assert not pull.closed
    await push.send(b"second")
    await push.send(b"third")
    with anyio.fail_after(5):
        assert await rx2.receive() == [b"second"]
        assert await pull.recv() == b"third"


async def test_closing_a_send_view_closes_only_it(ctx: trio_zmq.Context, inproc: str) -> None:
    push = ctx.socket(zmq.PUSH)
    push.bind(inproc)  # no peer: sends block
    tx1 = push.send_channel()
    tx2 = push.send_channel()
    outcomes: dict[str, BaseException | None] = {}

    async def send(name: str, tx: trio_zmq.MessageSendChannel[Sequence[Any]]) -> None:
        try:
            await tx.send([name.encode()])
            outcomes[name] = None
        except anyio.ClosedResourceError as exc:
            outcomes[name] = exc

    async def wait_writable(name: str, tx: trio_zmq.MessageSendChannel[Sequence[Any]]) -> None:
        try:
            await tx.wait_writable()
            outcomes[name] = None
        except anyio.ClosedResourceError as exc:
            outcomes[name] = exc

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(send, "tx1", tx1)
            nursery.start_soon(wait_writable, "tx1-wait", tx1)
            nursery.start_soon(send, "tx2", tx2)
            await anyio.wait_all_tasks_blocked()
            tx1.close()
            await anyio.wait_all_tasks_blocked()
            assert isinstance(outcomes.get("tx1"), anyio.ClosedResourceError)
            assert isinstance(outcomes.get("tx1-wait"), anyio.ClosedResourceError)
            assert "tx2" not in outcomes
            pull = ctx.socket(zmq.PULL)
            pull.connect(inproc)
    assert outcomes["tx2"] is None
    with anyio.fail_after(5):
        assert await pull.recv_multipart() == [b"tx2"]  # tx1's message never went
    with pytest.raises(anyio.ClosedResourceError):
        await tx1.send([b"late"])
    with pytest.raises(anyio.ClosedResourceError):
        tx1.send_nowait([b"late"])
    with pytest.raises(anyio.ClosedResourceError):
        await tx1.wait_writable()
    assert not push.closed
    await tx2.send([b"still"])
    await push.send(b"works")
    with anyio.fail_after(5):
        assert await pull.recv_multipart() == [b"still"]
        assert await pull.recv() == b"works"
    assert not trio_zmq.probe(pull, zmq.POLLIN)


async def test_closing_the_socket_closes_the_views(ctx: trio_zmq.Context, inproc: str) -> None:
    pull = ctx.socket(zmq.PULL)
    pull.bind(inproc)
    push = ctx.socket(zmq.PUSH)
    push.bind(unique_endpoint("inproc"))  # no peer
    rx = pull.receive_channel()
    tx = push.send_channel()
    errors: list[str] = []

    async def expect_closed(name: str, op: Callable[[], Awaitable[object]]) -> None:
        with pytest.raises(anyio.ClosedResourceError):
            await op()
        errors.append(name)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(expect_closed, "receive", rx.receive)
            nursery.start_soon(expect_closed, "send", lambda: tx.send([b"x"]))
            nursery.start_soon(expect_closed, "wait_writable", tx.wait_writable)
            await anyio.wait_all_tasks_blocked()
            assert not errors
            pull.close()
            await push.aclose()
    assert sorted(errors) == ["receive", "send", "wait_writable"]
    with pytest.raises(anyio.ClosedResourceError):
        await rx.receive()
    with pytest.raises(anyio.ClosedResourceError):
        rx.receive_nowait()
    with pytest.raises(anyio.ClosedResourceError):
        await tx.send([b"x"])
    with pytest.raises(anyio.ClosedResourceError):
        tx.send_nowait([b"x"])
    with pytest.raises(anyio.ClosedResourceError):
        await tx.wait_writable()
    # New views of a closed socket are closed too.
    with pytest.raises(anyio.ClosedResourceError):
        pull.receive_channel().receive_nowait()


# ----------------------------------------------------------------------
# The lazy producer
# ----------------------------------------------------------------------


async def test_lazy_producer_builds_only_what_it_can_send(
    ctx: trio_zmq.Context, inproc: str
) -> None:
    """A producer that builds each message only after wait_writable returns.

    With SNDHWM=1 and a consumer that takes one message at a time, only when
    everything else is blocked, the producer must never hold more than the
    one message it is about to send, and that message must go out at once.
    """
    total = 30
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = 1
    pull.bind(inproc)
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 1
    push.connect(inproc)
    tx = push.send_channel()
    rx = pull.receive_channel()
    built = 0
    sent = 0
    could_not_send = 0
    max_unsent = 0

    async def producer() -> None:
        nonlocal built, sent, could_not_send, max_unsent
        while built < total:
            await tx.wait_writable()
            built += 1  # "build" the message only now
            max_unsent = max(max_unsent, built - sent)
            message = [b"%d" % built]
            try:
                tx.send_nowait(message)
            except anyio.WouldBlock:
                could_not_send += 1
                await tx.send(message)
            sent += 1

    received: list[list[bytes]] = []
    backlogs: list[int] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(producer)
            for _ in range(total):
                await anyio.wait_all_tasks_blocked()
                # The producer is parked (or done) with nothing in hand.
                assert built == sent
                if built < total:
                    assert tx.statistics().tasks_waiting_send == 1
                backlogs.append(built - len(received))
                received.append(rx.receive_nowait())
    capacity = backlogs[0]
    assert 0 < capacity < total  # the producer did stall on the high-water mark
    assert max(backlogs) <= capacity  # and never got further ahead than that
    assert max_unsent == 1  # never built more than it could send + 1
    assert could_not_send == 0  # every message it built could go out at once
    assert received == [[b"%d" % i] for i in range(1, total + 1)]


# ----------------------------------------------------------------------
# Several producers and consumers
# ----------------------------------------------------------------------


async def test_producers_and_consumers_in_a_nursery(ctx: trio_zmq.Context, endpoint: str) -> None:
    n_producers, n_consumers, per_producer = 3, 3, 100
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    push.sndhwm = 5  # make producers wait for each other now and then
    received: dict[int, list[tuple[int, int]]] = {c: [] for c in range(n_consumers)}

    async def produce(p: int) -> None:
        async with push.send_channel() as tx:
            for seq in range(per_producer):
                await tx.send([b"%d" % p, b"%d" % seq])

    async def consume(c: int) -> None:
        async with pull.receive_channel() as rx:
            async for frames in rx:
                if frames == [b"stop"]:
                    return
                received[c].append((int(frames[0]), int(frames[1])))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as consumers:
            for c in range(n_consumers):
                consumers.start_soon(consume, c)
            async with anyio.create_task_group() as producers:
                for p in range(n_producers):
                    producers.start_soon(produce, p)
            for _ in range(n_consumers):
                await push.send_multipart([b"stop"])
    everything = [item for items in received.values() for item in items]
    expected = [(p, seq) for p in range(n_producers) for seq in range(per_producer)]
    assert sorted(everything) == expected  # nothing lost, nothing twice
    for items in received.values():
        for p in range(n_producers):
            seqs = [seq for q, seq in items if q == p]
            assert seqs == sorted(seqs)  # each consumer saw each producer in order
    assert not push.closed  # closing the views left the sockets open
    assert not pull.closed


# ----------------------------------------------------------------------
# Bad items and failing (de)serializers
# ----------------------------------------------------------------------


async def test_send_channel_rejects_bad_items_before_sending(
    ctx: trio_zmq.Context, inproc: str
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    tx = push.send_channel()
    await until_writable(push)
    bad_items: list[Any] = [b"abc", bytearray(b"abc"), "abc", [b"a", 1], [b"a", "b"], 42]
    for item in bad_items:
        with pytest.raises(TypeError):
            await tx.send(item)
        with pytest.raises(TypeError):
            tx.send_nowait(item)
    with pytest.raises(ValueError, match="frame"):
        await tx.send([])
    assert tx.statistics().items == 0
    await tx.send([b"good"])
    with anyio.fail_after(5):
        assert await pull.recv_multipart() == [b"good"]
    assert not trio_zmq.probe(pull, zmq.POLLIN)


async def test_serializer_errors_raise_before_sending(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)

    def serialize(value: int) -> list[bytes]:
        if value < 0:
            raise ValueError("negative")
        if value == 0:
            return b"zero"  # type: ignore[return-value]  # a bytes item, not frames
        return [b"%d" % value]

    tx = push.send_channel(serialize)
    with pytest.raises(ValueError, match="negative"):
        await tx.send(-1)
    with pytest.raises(TypeError):
        await tx.send(0)
    await tx.send(7)
    with anyio.fail_after(5):
        assert await pull.recv_multipart() == [b"7"]


async def test_deserializer_error_surfaces_at_receive(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)

    class BadMessage(Exception):
        pass

    def deserialize(frames: list[bytes]) -> int:
        if frames == [b"bad"]:
            raise BadMessage(frames)
        return int(frames[0])

    rx = pull.receive_channel(deserialize)
    for frame in (b"1", b"bad", b"2", b"bad", b"3", b"bad"):
        await push.send(frame)
    with anyio.fail_after(5):
        assert await rx.receive() == 1
        with pytest.raises(BadMessage):
            await rx.receive()
        # The bad message was consumed; the channel goes on.
        assert await rx.receive() == 2
        await until_readable(pull)
        with pytest.raises(BadMessage):
            rx.receive_nowait()
        results: list[int] = []
        with pytest.raises(BadMessage):  # noqa: PT012 - the loop is the statement
            async for value in rx:
                results.append(value)
    assert results == [3]
    assert not rx.statistics().view_closed


@pytest.mark.parametrize(
    "variant", [None, "held_taken_before_checkpoint"], ids=["library", "broken"]
)
@pytest.mark.parametrize("call", ["receive_batch", "receive"])
async def test_cancelled_receive_leaves_held_messages_held(
    ctx: trio_zmq.Context, inproc: str, call: str, variant: str | None
) -> None:
    """A batch whose deserializer fails on a message returns the messages
    before it and holds the error and the messages taken behind it.  A
    receive call cancelled at its checkpoint takes nothing of that: every
    call is made twice, cancelled first, and the real ones get the error,
    then every message, in order.

    ``broken``: the view that takes what it holds before the checkpoint
    loses it to each cancelled call.
    """
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    rx = pull.receive_channel(lambda frames: int(frames[0]))

    async def receive() -> list[int]:
        return await rx.receive_batch() if call == "receive_batch" else [await rx.receive()]

    with anyio.fail_after(5), broken_engine(variant):
        for frame in (b"0", b"bad", b"2", b"3", b"9"):
            await push.send(frame)
        await until_readable(pull)
        assert await rx.receive_batch() == [0]  # it took all five: holds the rest
        outcomes: list[int | str] = []
        while 9 not in outcomes:
            with anyio.CancelScope() as scope:
                scope.cancel()
                await receive()
            assert scope.cancelled_caught
            try:
                outcomes += await receive()
            except ValueError:
                outcomes.append("error")
    if variant is None:
        assert outcomes == ["error", 2, 3, 9]
    else:
        assert outcomes != ["error", 2, 3, 9]
        assert "error" not in outcomes  # the first cancelled call took it


async def test_batches_served_together_keep_every_error(ctx: trio_zmq.Context, inproc: str) -> None:
    """Two receive_batch calls wait on one view; four messages come at once,
    and each batch takes two: a good one, then a bad one.  Both return
    their good message and hold their error: the next calls raise both,
    in turn (one held error must not replace the other)."""
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    rx = pull.receive_channel(lambda frames: int(frames[0]))
    batches: list[list[int]] = []

    async def receiver() -> None:
        batches.append(await rx.receive_batch(2))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            for _ in range(2):
                nursery.start_soon(receiver)
                await anyio.wait_all_tasks_blocked()
            assert pull.statistics().tasks_waiting_receive == 2
            for frame in (b"0", b"bad1", b"2", b"bad3"):
                push.send_nowait(frame)
        assert sorted(batches) == [[0], [2]]
        for bad in (b"bad1", b"bad3"):
            with pytest.raises(ValueError, match=str(bad)):
                await rx.receive_batch()
        await push.send(b"4")
        assert await rx.receive_batch() == [4]


async def test_channel_rejects_non_sockets() -> None:
    with pytest.raises(TypeError):
        trio_zmq.MessageReceiveChannel(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        trio_zmq.MessageSendChannel("socket")  # type: ignore[arg-type]


async def test_channels_over_dealer_router(ctx: trio_zmq.Context, endpoint: str) -> None:
    router = ctx.socket(zmq.ROUTER)
    address = bind(router, endpoint)
    dealer = ctx.socket(zmq.DEALER)
    dealer.routing_id = b"d1"
    dealer.connect(address)
    dealer_tx = dealer.send_channel()
    router_rx = router.receive_channel()
    router_tx = router.send_channel()
    dealer_rx = dealer.receive_channel()
    with anyio.fail_after(5):
        await dealer_tx.send([b"hello", b"world"])
        assert await router_rx.receive() == [b"d1", b"hello", b"world"]
        await router_tx.send([b"d1", b"reply"])
        assert await dealer_rx.receive() == [b"reply"]
