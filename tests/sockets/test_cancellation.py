"""Cancellation never loses, duplicates or tears a message.

The rule under test is trio's: an async operation either happened or raised
``anyio.get_cancelled_exc_class()``, never both and never neither.  So a cancelled receive
leaves its message in the socket for the next receive, a cancelled send sends
nothing, and a multipart message is never torn or interleaved by a
cancellation.  Every socket here is a real libzmq socket; where a peer matters
it is a real process (``tests/peer.py``).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc
import anyio.to_thread
import pytest
import zmq

import trio_zmq
from trio_zmq._core._engine import RECV
from trio_zmq.testing import unique_endpoint

from tests.conftest import ON_EVERY_LOOP
from tests.helpers import Peer, assert_idle, bind, current_task, engine_of, pair, unseq

pytestmark = ON_EVERY_LOOP

#: The tiny deadlines each operation runs under.  0 cancels at the operation's
#: first checkpoint, before it tries anything; the others can only fire once
#: the operation found the socket not ready and waits (parked or watching the
#: fd), so they cancel it mid-wait -- or not at all, if it completes first.
DELAYS = (0.0, 0.0, 1e-6, 1e-5, 1e-4)
COUNT = 10_000


async def receive_all_under_random_cancellation(
    pull: trio_zmq.Socket, count: int, rng: random.Random
) -> tuple[list[int], int, int]:
    """Receive ``count`` sequence numbers, each receive under a random tiny
    ``move_on_after``; cancelled attempts are retried.  Receives alternate at
    random between ``recv``, ``recv_multipart`` and a channel view's
    ``receive``.  Returns (numbers received, cancelled attempts, attempts
    cancelled mid-wait, i.e. by a non-zero deadline)."""
    view = pull.receive_channel()
    received: list[int] = []
    cancelled = cancelled_mid_wait = 0
    while len(received) < count:
        kind = rng.randrange(3)
        delay = rng.choice(DELAYS)
        with anyio.move_on_after(delay) as scope:
            if kind == 0:
                frame = await pull.recv()
            elif kind == 1:
                frames = await pull.recv_multipart()
                assert len(frames) == 1, frames
                frame = frames[0]
            else:
                frames = await view.receive()
                assert len(frames) == 1, frames
                frame = frames[0]
            number = unseq(frame)
            # Fail at the first gap or duplicate instead of waiting for a
            # number that will never come.
            assert number == len(received), (number, len(received))
            received.append(number)
        if scope.cancelled_caught:
            cancelled += 1
            if delay > 0:
                cancelled_mid_wait += 1
    return received, cancelled, cancelled_mid_wait


# ----------------------------------------------------------------------
# 10 000 receives under random tiny deadlines
# ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
async def test_cancelled_receives_lose_nothing_from_peer_process(
    ctx: trio_zmq.Context, endpoint: str, peer: type[Peer]
) -> None:
    rng = random.Random(20240611)
    pull = ctx.socket(zmq.PULL)
    # Room for the whole stream.  The peer exits as soon as its last message
    # is in the kernel; libzmq (4.3.5) drops what is still in an ipc socket's
    # kernel buffer when the peer hangs up while the receiving pipe is at
    # RCVHWM (plain blocking pyzmq loses them the same way), so a full pipe
    # would make this test about libzmq rather than about cancellation.
    pull.rcvhwm = 2 * COUNT
    address = bind(pull, endpoint)
    process = peer("push-seq", address, str(COUNT))
    with anyio.fail_after(60):
        received, cancelled, mid_wait = await receive_all_under_random_cancellation(
            pull, COUNT, rng
        )
        await anyio.to_thread.run_sync(process.wait)
    assert received == list(range(COUNT))
    assert cancelled > 0
    # At least the receives made while the peer process was still starting
    # up were cancelled while waiting.
    assert mid_wait > 0
    # Nothing left over, nothing duplicated behind the last number.
    with pytest.raises(anyio.WouldBlock):
        pull.recv_nowait()
    assert_idle(pull)


async def test_cancelled_receives_lose_nothing_inproc(ctx: trio_zmq.Context, ipc_dir: str) -> None:
    rng = random.Random(20240612)
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, unique_endpoint("inproc", ipc_dir))

    async def stream() -> None:
        for n in range(COUNT):
            if n % 100 == 0:
                # Pacing, not synchronisation: a pause longer than any of
                # DELAYS, so the receiver runs dry and waits, and some of its
                # deadlines surely expire mid-wait.
                await anyio.sleep(1e-3)
            await push.send(n.to_bytes(8, "big"))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(stream)
            received, cancelled, mid_wait = await receive_all_under_random_cancellation(
                pull, COUNT, rng
            )
    assert received == list(range(COUNT))
    assert cancelled > 0
    assert mid_wait > 0
    with pytest.raises(anyio.WouldBlock):
        pull.recv_nowait()
    assert_idle(pull)
    assert_idle(push)


# ----------------------------------------------------------------------
# A pre-cancelled receive leaves the queued message in place
# ----------------------------------------------------------------------


def _receiver(kind: str, pull: trio_zmq.Socket) -> Callable[[], Awaitable[list[bytes]]]:
    if kind == "recv":

        async def recv_one() -> list[bytes]:
            return [await pull.recv()]

        return recv_one
    if kind == "recv_multipart":
        return pull.recv_multipart
    view = pull.receive_channel()
    return view.receive


@pytest.mark.parametrize("kind", ["recv", "recv_multipart", "channel"])
async def test_precancelled_receive_keeps_queued_message(
    ctx: trio_zmq.Context, endpoint: str, kind: str
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    receive = _receiver(kind, pull)
    message = [b"first"] if kind == "recv" else [b"first", b"", b"third"]
    with anyio.fail_after(10):
        await push.send_multipart(message)
        await push.send(b"second")
        await pull.wait_readable()
    assert trio_zmq.probe(pull, zmq.POLLIN)

    reached_past_receive = False
    with anyio.CancelScope() as cs:
        cs.cancel()
        await receive()
        reached_past_receive = True
    assert cs.cancelled_caught
    assert not reached_past_receive
    # Still queued, and still first: the cancelled receive took nothing.
    assert trio_zmq.probe(pull, zmq.POLLIN)
    with anyio.fail_after(10):
        assert await receive() == message
        assert await pull.recv() == b"second"
    with pytest.raises(anyio.WouldBlock):
        pull.recv_nowait()
    assert_idle(pull)


# ----------------------------------------------------------------------
# A cancelled blocked send sends nothing
# ----------------------------------------------------------------------


def _sender(kind: str, push: trio_zmq.Socket) -> Callable[[bytes], Awaitable[object]]:
    if kind == "send":
        return push.send

    async def send_multipart(tag: bytes) -> object:
        return await push.send_multipart([tag, b"middle", tag + b"-end"])

    return send_multipart


def _expected(kind: str, tag: bytes) -> list[bytes]:
    return [tag] if kind == "send" else [tag, b"middle", tag + b"-end"]


@pytest.mark.parametrize("kind", ["send", "send_multipart"])
async def test_cancelled_blocked_send_without_peer_sends_nothing(
    ctx: trio_zmq.Context, endpoint: str, kind: str
) -> None:
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 1
    address = bind(push, endpoint)
    send = _sender(kind, push)
    # No peer: a PUSH cannot take a message, so the send must block.
    assert not trio_zmq.probe(push, zmq.POLLOUT)
    completed = False

    async def blocked_send(task_status: anyio.abc.TaskStatus[anyio.CancelScope]) -> None:
        nonlocal completed
        with anyio.CancelScope() as scope:
            task_status.started(scope)
            await send(b"X")
            completed = True

    with anyio.fail_after(10):
        async with anyio.create_task_group() as nursery:
            scope = await nursery.start(blocked_send)
            await anyio.wait_all_tasks_blocked()
            assert push.statistics().tasks_waiting_send == 1
            scope.cancel()
        assert scope.cancelled_caught
        assert not completed
        assert_idle(push)

        pull = ctx.socket(zmq.PULL)
        pull.connect(address)
        await send(b"after")
        await send(b"end")
        assert await pull.recv_multipart() == _expected(kind, b"after")
        assert await pull.recv_multipart() == _expected(kind, b"end")
    with pytest.raises(anyio.WouldBlock):
        pull.recv_nowait()


PAYLOAD = b"p" * 65536


@pytest.mark.parametrize("kind", ["send", "send_multipart"])
async def test_cancelled_blocked_send_to_full_peer_sends_nothing(
    ctx: trio_zmq.Context, endpoint: str, kind: str
) -> None:
    """The peer is connected but does not read: fill every buffer between the
    two (the pipes, and the kernel's for tcp/ipc) until a send blocks, cancel
    it, then read: exactly the sends reported done arrive, then ``after``."""
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = 1
    address = bind(pull, endpoint)
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 1
    push.connect(address)
    send = _sender(kind, push)

    sent: list[bytes] = []
    cancelled_tags: list[bytes] = []
    with anyio.fail_after(20):
        while not cancelled_tags:
            tag = b"%d:" % len(sent) + PAYLOAD
            done = False

            async def one_send(
                task_status: anyio.abc.TaskStatus[anyio.CancelScope], tag: bytes = tag
            ) -> None:
                nonlocal done
                with anyio.CancelScope() as scope:
                    task_status.started(scope)
                    await send(tag)
                    done = True

            async with anyio.create_task_group() as nursery:
                scope = await nursery.start(one_send)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
            if done:
                # Completed before the cancel landed: it was sent.
                assert not scope.cancelled_caught
                sent.append(tag)
            else:
                assert scope.cancelled_caught
                cancelled_tags.append(tag)
        assert_idle(push)

        received: list[list[bytes]] = []

        async def drain() -> None:
            while True:
                frames = await pull.recv_multipart()
                received.append(frames)
                if frames[0] == b"after":
                    return

        async with anyio.create_task_group() as nursery:
            nursery.start_soon(drain)
            await send(b"after")
    assert received == [_expected(kind, tag) for tag in [*sent, b"after"]]
    assert cancelled_tags[0] not in {frames[0] for frames in received}


# ----------------------------------------------------------------------
# Cancelling the watcher or a parked waiter
# ----------------------------------------------------------------------


@pytest.mark.parametrize("victim", ["watcher", "parked"])
async def test_cancel_watcher_or_parked_receiver(
    ctx: trio_zmq.Context, endpoint: str, victim: str
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    engine = engine_of(pull)
    tasks: list[object] = []
    scopes: list[anyio.CancelScope] = []
    results: dict[int, bytes] = {}

    async def receiver(index: int, task_status: anyio.abc.TaskStatus[None]) -> None:
        with anyio.CancelScope() as scope:
            tasks.append(current_task())
            scopes.append(scope)
            task_status.started()
            results[index] = await pull.recv()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as nursery:
            await nursery.start(receiver, 0)
            await anyio.wait_all_tasks_blocked()
            await nursery.start(receiver, 1)
            await anyio.wait_all_tasks_blocked()
            # Receiver 0 watches the fd, receiver 1 is parked behind it.
            assert [w.task for w in engine.queues[RECV]] == tasks
            assert engine.watcher is not None
            assert engine.watcher.task is tasks[0]

            cancelled = 0 if victim == "watcher" else 1
            survivor = 1 - cancelled
            scopes[cancelled].cancel()
            await anyio.wait_all_tasks_blocked()
            assert scopes[cancelled].cancelled_caught
            # The survivor is alone in the queue and watches (after a handover
            # if the watcher was the one cancelled).
            assert [w.task for w in engine.queues[RECV]] == [tasks[survivor]]
            assert engine.watcher is not None
            assert engine.watcher.task is tasks[survivor]

            await push.send(b"only")
    assert results == {survivor: b"only"}
    assert not scopes[survivor].cancelled_caught
    assert_idle(pull)
    with pytest.raises(anyio.WouldBlock):
        pull.recv_nowait()


# ----------------------------------------------------------------------
# Multipart atomicity under cancelled sends
# ----------------------------------------------------------------------

SENDERS = 3
PER_SENDER = 300


def make_payload(sender: int, seq: int) -> bytes:
    return b"%d/%d;" % (sender, seq) * (1 + (sender * 7 + seq) % 13)


@pytest.mark.parametrize(
    ("sender_type", "receiver_type"),
    [(zmq.PUSH, zmq.PULL), (zmq.DEALER, zmq.ROUTER)],
    ids=["push-pull", "dealer-router"],
)
async def test_multipart_never_torn_or_interleaved_by_cancelled_sends(
    ctx: trio_zmq.Context, endpoint: str, sender_type: int, receiver_type: int
) -> None:
    receiver = ctx.socket(receiver_type)
    receiver.rcvhwm = 1
    address = bind(receiver, endpoint)
    sender = ctx.socket(sender_type)
    sender.sndhwm = 1
    sender.connect(address)
    rng = random.Random(sender_type * 100 + receiver_type)
    cancelled = 0

    async def send_all(sender_id: int) -> None:
        nonlocal cancelled
        seq = 0
        while seq < PER_SENDER:
            frames = [b"%d" % sender_id, b"%d" % seq, make_payload(sender_id, seq)]
            with anyio.move_on_after(rng.choice(DELAYS)) as scope:
                await sender.send_multipart(frames)
                seq += 1  # only once it was sent: a cancelled send is retried
            if scope.cancelled_caught:
                cancelled += 1

    next_seq = [0] * SENDERS
    routing_ids: set[bytes] = set()
    with anyio.fail_after(60):
        async with anyio.create_task_group() as nursery:
            for sender_id in range(SENDERS):
                nursery.start_soon(send_all, sender_id)
            for _ in range(SENDERS * PER_SENDER):
                frames = await receiver.recv_multipart()
                if receiver_type == zmq.ROUTER:
                    routing_ids.add(frames[0])
                    frames = frames[1:]
                assert len(frames) == 3, frames
                sender_id, seq = int(frames[0]), int(frames[1])
                assert frames[2] == make_payload(sender_id, seq)
                # Per sender: strictly increasing, no gap, no duplicate.
                assert seq == next_seq[sender_id], (sender_id, seq, next_seq)
                next_seq[sender_id] += 1
    assert next_seq == [PER_SENDER] * SENDERS
    assert cancelled > 0
    if receiver_type == zmq.ROUTER:
        assert len(routing_ids) == 1
    with pytest.raises(anyio.WouldBlock):
        receiver.recv_multipart_nowait()
    assert_idle(sender)
    assert_idle(receiver)
