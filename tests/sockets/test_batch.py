"""The batch path: ``recv_batch`` / ``send_batch`` / ``send_all`` and the
channel views' ``receive_batch`` / ``send_batch``.

One checkpoint per batch and the same cancel rule as every other operation:
a cancelled batch call received or sent nothing, a returned batch is
complete, multipart messages are never torn.  Real libzmq sockets over every
transport, and a real peer process (``tests/peer.py``) where a peer matters.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext, suppress
from typing import Any

import pytest
import trio
import trio.testing
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

import trio_zmq
from trio_zmq._core._engine import RECV, SEND
from trio_zmq.testing import unique_endpoint

from tests.broken_engines import broken_engine
from tests.helpers import HookedSocket, Peer, assert_idle, bind, seq, unseq, until_readable, waiting

#: Tiny deadlines: 0 cancels at the first checkpoint, the others mid-wait.
DELAYS = (0.0, 0.0, 1e-6, 1e-5, 1e-4)
AnyCall = Callable[[], Awaitable[Any]]


def message(n: int, frames: int = 3) -> list[bytes]:
    """Message ``n``: its number, then frames that can be checked against it."""
    return [seq(n)] + [b"%d.%d;" % (n, i) * (1 + (n + i) % 7) for i in range(1, frames)]


def push_pull(
    ctx: trio_zmq.Context, endpoint: str, hwm: int | None = None
) -> tuple[trio_zmq.Socket, trio_zmq.Socket]:
    """(bound PULL, connected PUSH); HWMs set before anything connects."""
    pull, push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    if hwm is not None:
        pull.rcvhwm = push.sndhwm = hwm
    push.connect(bind(pull, endpoint))
    return pull, push


async def receive_n(pull: trio_zmq.Socket, count: int, max_items: int = 64) -> list[list[bytes]]:
    received: list[list[bytes]] = []
    with trio.fail_after(10):
        while len(received) < count:
            batch = await pull.recv_batch(max_items)
            assert 1 <= len(batch) <= max_items
            received += batch
    return received


async def assert_next_is(pull: trio_zmq.Socket, sentinel: bytes) -> None:
    """The next message is ``sentinel``: nothing sent before it is queued."""
    with trio.fail_after(5):
        assert await pull.recv_batch() == [[sentinel]]


class Blocked:
    """A call started by :func:`start_blocked`: its scope and how it ended."""

    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.result: Any = None
        self.closed_error: trio.ClosedResourceError | None = None


async def start_blocked(
    nursery: trio.Nursery, sock: trio_zmq.Socket, direction: int, call: AnyCall
) -> Blocked:
    """Start ``call`` in a task and return once it waits in ``sock``'s queue."""
    blocked, queued = Blocked(), waiting(sock, direction)

    async def run() -> None:
        with blocked.scope:
            try:
                blocked.result = await call()
            except trio.ClosedResourceError as exc:
                blocked.closed_error = exc

    nursery.start_soon(run)
    await trio.testing.wait_all_tasks_blocked()
    assert waiting(sock, direction) == queued + 1
    return blocked


# ----------------------------------------------------------------------
# Round trips, max_items, order
# ----------------------------------------------------------------------


async def test_round_trip(ctx: trio_zmq.Context, endpoint: str) -> None:
    """send_all through HWM 4 with a concurrent receiver: all, in order."""
    pull, push = push_pull(ctx, endpoint, hwm=4)
    messages = [message(n, 1 + n % 4) for n in range(3000)]
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(push.send_all, messages)
            assert await receive_n(pull, len(messages), max_items=7) == messages
    with pytest.raises(trio.WouldBlock):
        pull.recv_nowait()
    assert_idle(pull, push)


async def test_channel_batches(ctx: trio_zmq.Context, endpoint: str) -> None:
    """Typed views: values serialized first (an error anywhere sends nothing),
    statistics count messages."""
    pull, push = push_pull(ctx, endpoint)
    tx: trio_zmq.MessageSendChannel[int] = push.send_channel(lambda n: [b"%d" % (100 // n)])
    rx = pull.receive_channel(lambda frames: int(frames[0]))
    with pytest.raises(ZeroDivisionError):
        await tx.send_batch([1, 2, 0, 4])
    values, sent, received = list(range(1, 101)), 0, list[int]()
    with trio.fail_after(10):
        while sent < 100:
            count = await tx.send_batch(values[sent:])
            assert 1 <= count <= 100 - sent
            sent += count
        assert await tx.send_batch([]) == 0
        while len(received) < 100:
            received += await rx.receive_batch(9)
    assert received == [100 // n for n in values]
    assert tx.statistics().items == rx.statistics().items == 100


async def test_max_items_and_everything_available(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push = push_pull(ctx, inproc)
    with trio.fail_after(5):
        await push.send_all([[seq(n)] for n in range(10)])  # inproc: all ten are in the pipe
        assert [len(await pull.recv_batch(3)) for _ in range(4)] == [3, 3, 3, 1]
        await push.send_all([[seq(n)] for n in range(10, 20)])
        assert await pull.recv_batch(1) == [[seq(10)]]
        assert await pull.recv_batch() == [[seq(n)] for n in range(11, 20)]
        assert await push.send_batch([[b"f", b"g"]]) == 1
        frames = await pull.recv_batch(copy=False)
        assert [[f.bytes for f in m] for m in frames] == [[b"f", b"g"]]
        pull.rcvtimeo = 20
        with pytest.raises(zmq.Again):
            await pull.recv_batch()


async def test_order_with_single_receives_mixed_in(ctx: trio_zmq.Context, endpoint: str) -> None:
    rng = random.Random(7)
    pull, push = push_pull(ctx, endpoint, hwm=5)
    rx = pull.receive_channel()
    receives: list[AnyCall] = [
        lambda: pull.recv_batch(rng.randint(1, 20)),
        lambda: rx.receive_batch(rng.randint(1, 20)),
        pull.recv_multipart,
        pull.recv,
    ]
    got: list[int] = []
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(push.send_all, [[seq(n)] for n in range(1000)])
            while len(got) < 1000:
                kind = rng.randrange(4)
                result = await receives[kind]()
                batch = result if kind < 2 else [result] if kind == 2 else [[result]]
                got += [unseq(frame) for (frame,) in batch]
    assert got == list(range(1000))


# ----------------------------------------------------------------------
# Waiting, and the cancel rule for receives
# ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
async def test_waits_when_empty_and_wakes_for_peer_process(
    ctx: trio_zmq.Context, endpoint: str, peer: type[Peer]
) -> None:
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = 2000  # room for the whole stream (see test_cancellation)
    address = bind(pull, endpoint)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            blocked = await start_blocked(nursery, pull, RECV, lambda: pull.recv_batch(50))
            process = peer("push-seq", address, "1000")
        assert 1 <= len(blocked.result) <= 50
        rest = await receive_n(pull, 1000 - len(blocked.result))
        await trio.to_thread.run_sync(process.wait)
    assert [unseq(m[0]) for m in blocked.result + rest] == list(range(1000))
    assert_idle(pull)


@pytest.mark.parametrize("via", ["socket", "channel"])
async def test_cancelled_blocked_recv_batch_receives_nothing(
    ctx: trio_zmq.Context, endpoint: str, via: str
) -> None:
    """Cancel the first of two blocked batch receives (the fd's watcher): it
    took nothing, and the survivor takes over and gets the first messages."""
    pull, push = push_pull(ctx, endpoint)
    receive = pull.recv_batch if via == "socket" else pull.receive_channel().receive_batch
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            victim = await start_blocked(nursery, pull, RECV, receive)
            survivor = await start_blocked(nursery, pull, RECV, receive)
            victim.scope.cancel()
            await trio.testing.wait_all_tasks_blocked()
            assert victim.scope.cancelled_caught
            await push.send_all([[seq(n)] for n in range(5)])
    assert victim.result is None
    rest = await receive_n(pull, 5 - len(survivor.result))
    assert [unseq(m[0]) for m in survivor.result + rest] == list(range(5))
    assert_idle(pull)


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
async def test_random_cancellations_with_peer_lose_and_duplicate_nothing(
    ctx: trio_zmq.Context, transport: str, endpoint: str, peer: type[Peer]
) -> None:
    rng = random.Random(transport)
    count = 5000
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = 2 * count
    address = bind(pull, endpoint)
    rx = pull.receive_channel()
    received: list[int] = []
    cancelled = mid_wait = 0
    with trio.fail_after(60):
        process = peer("push-seq", address, str(count))
        while len(received) < count:
            delay, max_items = rng.choice(DELAYS), rng.randint(1, 64)
            with trio.move_on_after(delay) as scope:
                receive = pull.recv_batch if rng.random() < 0.5 else rx.receive_batch
                batch = await receive(max_items)
                assert 1 <= len(batch) <= max_items
                numbers = [unseq(frames[0]) for frames in batch]
                # Fail at the first gap or duplicate.
                assert numbers == list(range(len(received), len(received) + len(batch)))
                received += numbers
            cancelled += scope.cancelled_caught
            mid_wait += scope.cancelled_caught and delay > 0
        await trio.to_thread.run_sync(process.wait)
    assert cancelled > 0
    assert mid_wait > 0  # at least while the peer process was starting up
    with pytest.raises(trio.WouldBlock):
        pull.recv_nowait()
    assert_idle(pull)


# ----------------------------------------------------------------------
# An error other than EAGAIN after the first message keeps the batch
# ----------------------------------------------------------------------


#: What a REQ or REP used out of turn raises.
EFSM = zmq.ZMQError(zmq.EFSM).strerror


def efsm_if_broken(variant: str | None) -> AbstractContextManager[object]:
    """Where the library returns a partial batch, the broken batch (see
    tests/broken_engines.py) raises the error it met after the first
    message."""
    return nullcontext() if variant is None else pytest.raises(zmq.ZMQError, match=EFSM)


@pytest.mark.parametrize("variant", [None, "batch_error_drops_taken"], ids=["library", "broken"])
@pytest.mark.parametrize("via", ["socket", "channel"])
async def test_recv_batch_keeps_what_it_took_before_an_error(
    ctx: trio_zmq.Context, inproc: str, via: str, variant: str | None
) -> None:
    """A REP with two requests queued: a batch takes the first, and its
    second receive raises EFSM (a REP must reply first).  The batch returns
    the first request; after the reply, the next batch gets the second.

    ``broken``: the batch raises EFSM, and the request it took is lost.
    """
    rep = ctx.socket(zmq.REP)
    rep.bind(inproc)
    requesters = [ctx.socket(zmq.REQ) for _ in range(2)]
    with trio.fail_after(5), broken_engine(variant):
        for n, req in enumerate(requesters):
            req.connect(inproc)
            await req.send(b"q%d" % n)
        await until_readable(rep)
        receive = rep.recv_batch if via == "socket" else rep.receive_channel().receive_batch
        for _ in requesters:
            with efsm_if_broken(variant):
                batch = await receive()
            if variant is not None:
                return  # lost: the REP now waits for a reply to it
            assert len(batch) == 1
            with pytest.raises(zmq.ZMQError, match=EFSM):
                await receive()  # the error comes next, and takes nothing
            await rep.send(b"re:" + batch[0][0])
        for n, req in enumerate(requesters):
            assert await req.recv() == b"re:q%d" % n
    assert_idle(rep, *requesters)


@pytest.mark.parametrize("variant", [None, "batch_error_drops_taken"], ids=["library", "broken"])
@pytest.mark.parametrize("via", ["socket", "channel"])
async def test_send_batch_reports_what_it_sent_before_an_error(
    ctx: trio_zmq.Context, inproc: str, via: str, variant: str | None
) -> None:
    """A REQ takes one request, then must have its reply: the second send
    of a batch raises EFSM.  The batch reports the one request it sent.

    ``broken``: the batch raises EFSM, although the first request went out.
    """
    rep = ctx.socket(zmq.REP)
    rep.bind(inproc)
    req = ctx.socket(zmq.REQ)
    req.connect(inproc)
    send = req.send_batch if via == "socket" else req.send_channel().send_batch
    with trio.fail_after(5), broken_engine(variant):
        with efsm_if_broken(variant):
            assert await send([[b"q0"], [b"q1"]]) == 1
        assert await rep.recv() == b"q0"  # it went out either way
        if variant is not None:
            return
        await rep.send(b"re:q0")
        assert await req.recv() == b"re:q0"
        assert await send([[b"q1"]]) == 1
        assert await rep.recv() == b"q1"
    assert_idle(rep, req)


# ----------------------------------------------------------------------
# send_batch: the prefix the socket takes; cancelled sends nothing
# ----------------------------------------------------------------------


@pytest.mark.parametrize("hwm", [1, 2, 3, 5, 10])
async def test_send_batch_prefix_matches_what_arrives(
    ctx: trio_zmq.Context, inproc: str, hwm: int
) -> None:
    pull, push = push_pull(ctx, inproc, hwm=hwm)
    messages = [message(n) for n in range(4 * hwm + 3)]
    with trio.fail_after(5):
        count = await push.send_batch(messages)
    # inproc: one pipe of SNDHWM + RCVHWM, and send_batch filled it.
    assert 1 <= count <= 2 * hwm
    assert not trio_zmq.probe(push, zmq.POLLOUT)
    # A further batch waits for room for its first message; cancelled, it
    # sent nothing.
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            rest = messages[count:]
            blocked = await start_blocked(nursery, push, SEND, lambda: push.send_batch(rest))
            blocked.scope.cancel()
    assert blocked.scope.cancelled_caught
    assert blocked.result is None
    assert_idle(push)
    assert await receive_n(pull, count) == messages[:count]
    with pytest.raises(trio.WouldBlock):
        pull.recv_nowait()
    # The rest, with a concurrent receiver.
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(push.send_all, rest)
            assert await receive_n(pull, len(rest), 3) == rest
    assert_idle(pull, push)


async def test_multipart_never_torn(ctx: trio_zmq.Context, endpoint: str) -> None:
    """Three tasks send 3-frame messages in batches under random tiny
    deadlines through HWM 1; the receiver takes random-sized batches."""
    router, dealer = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    router.rcvhwm = dealer.sndhwm = 1
    dealer.connect(bind(router, endpoint))
    rng = random.Random(3)
    senders, per_sender, cancelled = 3, 200, 0

    async def sender(sid: int) -> None:
        nonlocal cancelled
        n = 0
        while n < per_sender:
            batch = [[b"%d" % sid, *message(i, 2)] for i in range(n, min(n + 7, per_sender))]
            with trio.move_on_after(rng.choice(DELAYS)) as scope:
                n += await dealer.send_batch(batch)
            cancelled += scope.cancelled_caught

    next_seq = [0] * senders
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for sid in range(senders):
                nursery.start_soon(sender, sid)
            while sum(next_seq) < senders * per_sender:
                for frames in await router.recv_batch(rng.randint(1, 10)):
                    assert len(frames) == 4, frames  # routing id + 3 frames
                    sid, n = int(frames[1]), unseq(frames[2])
                    assert frames[2:] == message(n, 2)
                    assert n == next_seq[sid], (sid, n, next_seq)
                    next_seq[sid] += 1
    assert cancelled > 0
    assert_idle(router, dealer)


async def test_room_made_while_serving_wakes_the_next_sender(ctx: trio_zmq.Context) -> None:
    """A receiver watches a DEALER's fd, two batch senders are parked.  Room
    for one appears: the first batch fills the pipe, the second attempt
    fails, and the peer makes room right then (over tcp/ipc its I/O thread
    can, any time; the hook makes it exact).  The second must be served."""
    raw = HookedSocket(ctx.zmq_context, zmq.DEALER)
    raw.sndhwm = 1
    a = trio_zmq.Socket.from_socket(raw)
    b = ctx.socket(zmq.DEALER)
    b.rcvhwm = 1
    b.connect(bind(a, unique_endpoint("inproc")))
    made_room: list[bool] = []

    def drain_peer(frames: list[bytes]) -> None:
        if frames == [b"y"] and not made_room:  # the second sender's attempt just failed
            made_room.append(True)
            with suppress(trio.WouldBlock):
                while True:
                    b.recv_nowait()

    try:
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                with suppress(trio.WouldBlock):
                    while True:  # fill the pipe
                        a.send_nowait(b"fill")
                await start_blocked(nursery, a, RECV, a.recv_batch)  # watches a's fd
                first = await start_blocked(nursery, a, SEND, lambda: a.send_batch([[b"x"]]))
                second = await start_blocked(nursery, a, SEND, lambda: a.send_batch([[b"y"]]))
                raw.on_again = drain_peer
                b.recv_nowait()  # room for one message: a's fd wakes the receiver
                await trio.testing.wait_all_tasks_blocked()
                assert first.result == 1
                assert made_room  # the peer made room as the second attempt failed
                assert int(raw.getsockopt(zmq.EVENTS)) & zmq.POLLOUT  # writable, yet:
                assert second.result == 1
                nursery.cancel_scope.cancel()
    finally:
        a.close()


# ----------------------------------------------------------------------
# Bad input raises before anything is sent
# ----------------------------------------------------------------------

BAD_BATCHES: list[tuple[object, type[Exception]]] = [
    (b"abc", TypeError),
    ("abc", TypeError),
    (42, TypeError),
    (iter([[b"ok"]]), TypeError),
    ([[b"ok"], b"raw"], TypeError),
    ([[b"ok"], [b"x", "str"]], TypeError),
    ([[b"ok"], [b"x", 42]], TypeError),
    ([[b"ok"], [b"x", None]], TypeError),
    ([[b"ok"], zmq.Frame(b"x")], TypeError),
    ([[b"ok"], []], ValueError),
]


@pytest.mark.parametrize("method", ["send_batch", "send_all", "channel"])
@pytest.mark.parametrize(("batch", "error"), BAD_BATCHES)
async def test_bad_batch_sends_nothing(
    ctx: trio_zmq.Context, inproc: str, method: str, batch: Any, error: type[Exception]
) -> None:
    pull, push = push_pull(ctx, inproc)
    tx = push.send_channel()
    send = tx.send_batch if method == "channel" else getattr(push, method)
    if method == "channel" and not isinstance(batch, list):
        batch = [[b"ok"], batch]  # the view takes any iterable of values
    with pytest.raises(error):
        await send(batch)
    await push.send(b"sentinel")
    await assert_next_is(pull, b"sentinel")
    assert tx.statistics().items == 0


@pytest.mark.parametrize("max_items", [0, -1, 1.5, True, "3", None])
async def test_bad_max_items(ctx: trio_zmq.Context, inproc: str, max_items: Any) -> None:
    pull, push = push_pull(ctx, inproc)
    await push.send(b"kept")
    await until_readable(pull)
    with trio.fail_after(5), pytest.raises(ValueError, match="max_items"):
        await pull.recv_batch(max_items)
    with trio.fail_after(5), pytest.raises(ValueError, match="max_items"):
        await pull.receive_channel().receive_batch(max_items)
    await assert_next_is(pull, b"kept")


# ----------------------------------------------------------------------
# Checkpoints, FIFO, closing
# ----------------------------------------------------------------------


async def test_batch_calls_are_checkpoints_when_ready(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push = push_pull(ctx, inproc)
    rx, tx = pull.receive_channel(), push.send_channel()
    calls: list[AnyCall] = [
        lambda: push.send_batch([[b"a"], [b"b"]]),
        lambda: push.send_batch([]),
        lambda: push.send_all([[b"c"]]),
        lambda: push.send_all([]),
        lambda: tx.send_batch([[b"d"]]),
        lambda: tx.send_batch([]),
        lambda: pull.recv_batch(2),
        rx.receive_batch,
    ]
    for call in calls:
        with trio.fail_after(5), trio.testing.assert_checkpoints():
            await call()
    with pytest.raises(trio.WouldBlock):
        pull.recv_nowait()  # the two receives took all four messages


@pytest.mark.parametrize("call", ["recv_batch", "receive_batch", "send_batch", "tx", "send_all"])
async def test_precancelled_batch_call_does_nothing(
    ctx: trio_zmq.Context, endpoint: str, call: str
) -> None:
    pull, push = push_pull(ctx, endpoint)
    await push.send(b"queued")
    await until_readable(pull)
    calls: dict[str, AnyCall] = {
        "recv_batch": pull.recv_batch,
        "receive_batch": pull.receive_channel().receive_batch,
        "send_batch": lambda: push.send_batch([[b"no"], [b"never"]]),
        "tx": lambda: push.send_channel().send_batch([[b"no"]]),
        "send_all": lambda: push.send_all([[b"no"], [b"never"]]),
    }
    with trio.CancelScope() as scope:
        scope.cancel()
        await calls[call]()
        pytest.fail("not cancelled")
    assert scope.cancelled_caught
    await push.send(b"sentinel")
    assert await receive_n(pull, 2) == [[b"queued"], [b"sentinel"]]


async def test_recv_batch_does_not_overtake_parked_recv(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push = push_pull(ctx, inproc)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            parked = await start_blocked(nursery, pull, RECV, pull.recv)
            for n in range(3):  # no checkpoint: the parked task has not run since
                push.send_nowait(b"%d" % n)
            assert await pull.recv_batch() == [[b"1"], [b"2"]]
    assert parked.result == b"0"
    assert_idle(pull)


@pytest.mark.parametrize(
    ("call", "close"),
    [(call, "socket") for call in ("recv_batch", "send_batch", "receive_batch", "tx")]
    + [("receive_batch", "view"), ("tx", "view")],
)
async def test_close_wakes_blocked_batch_call(
    ctx: trio_zmq.Context, endpoint: str, call: str, close: str
) -> None:
    sending = call in ("send_batch", "tx")
    sock = ctx.socket(zmq.PUSH if sending else zmq.PULL)
    address = bind(sock, endpoint)  # no peer: receives and sends block
    rx, tx = sock.receive_channel(), sock.send_channel()
    calls: dict[str, AnyCall] = {
        "recv_batch": sock.recv_batch,
        "send_batch": lambda: sock.send_batch([[b"never"]]),
        "receive_batch": rx.receive_batch,
        "tx": lambda: tx.send_batch([[b"never"]]),
    }
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            blocked = await start_blocked(nursery, sock, SEND if sending else RECV, calls[call])
            if close == "socket":
                sock.close()
            else:
                (tx if sending else rx).close()
    assert blocked.closed_error is not None
    assert blocked.result is None
    with trio.fail_after(5), pytest.raises(trio.ClosedResourceError):
        await calls[call]()
    if close == "view":  # only the view closed: the socket works, the batch never went
        assert_idle(sock)
        other = ctx.socket(zmq.PULL if sending else zmq.PUSH)
        other.connect(address)
        pull, push = (other, sock) if sending else (sock, other)
        await push.send(b"sentinel")
        await assert_next_is(pull, b"sentinel")


# ----------------------------------------------------------------------
# Property: random interleavings lose, duplicate and reorder nothing
# ----------------------------------------------------------------------

Op = tuple[str, int, float | None]
CANCELS = st.sampled_from([None, None, 0.0, 1e-5])
SEND_OPS = st.tuples(
    st.sampled_from(["send_batch", "send", "send_all", "tx"]), st.integers(1, 12), CANCELS
)
RECV_OPS = st.tuples(st.sampled_from(["recv_batch", "recv", "rx"]), st.integers(1, 12), CANCELS)


def maybe_cancel(delay: float | None) -> AbstractContextManager[object]:
    return nullcontext() if delay is None else trio.move_on_after(delay)


async def interleave(hwm: int, frames: int, send_ops: list[Op], recv_ops: list[Op]) -> None:
    """A sender task and a receiver task; the first attempt of each op may be
    cancelled.  Every batch is checked against the stream as it arrives."""
    total = sum(n for _, n, _ in send_ops)
    # A last message, so that a lost message fails at once instead of a wait.
    stream = [*(message(n, frames) for n in range(total)), [b"end"]]
    received: list[list[bytes]] = []
    async with trio_zmq.Context(linger=0) as ctx:
        pull, push = push_pull(ctx, unique_endpoint("inproc"), hwm)
        rx, tx = pull.receive_channel(), push.send_channel()

        async def sender() -> None:
            sent = 0
            for kind, n, delay in send_ops:
                end = sent + n
                if kind == "send_all":  # may send a prefix if cancelled: never cancel it
                    await push.send_all(stream[sent:end])
                    sent = end
                while sent < end:
                    with maybe_cancel(delay):
                        if kind == "send":
                            one = stream[sent]
                            await (push.send(one[0]) if frames == 1 else push.send_multipart(one))
                            sent += 1
                        else:
                            send_batch = push.send_batch if kind == "send_batch" else tx.send_batch
                            sent += await send_batch(stream[sent:end])
                    delay = None  # only the first attempt may be cancelled
            await push.send(b"end")

        async def receiver() -> None:
            for i in itertools.count():
                kind, n, delay = recv_ops[i % len(recv_ops)]
                with maybe_cancel(delay if i < len(recv_ops) else None):
                    if kind == "recv":
                        batch = [
                            [await pull.recv()] if frames == 1 else await pull.recv_multipart()
                        ]
                    else:
                        batch = await (
                            pull.recv_batch(n) if kind == "recv_batch" else rx.receive_batch(n)
                        )
                    assert 1 <= len(batch) <= n
                    assert batch == stream[len(received) : len(received) + len(batch)]
                    received.extend(batch)
                    if len(received) == len(stream):
                        return

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receiver)
                await sender()
    assert received == stream


@settings(deadline=None)  # max_examples: the profile's (see conftest)
@given(
    hwm=st.integers(1, 10),
    frames=st.integers(1, 3),
    send_ops=st.lists(SEND_OPS, min_size=1, max_size=10),
    recv_ops=st.lists(RECV_OPS, min_size=1, max_size=6),
)
def test_interleaved_batches_keep_order(
    hwm: int, frames: int, send_ops: list[Op], recv_ops: list[Op]
) -> None:
    trio.run(interleave, hwm, frames, send_ops, recv_ops)


# ----------------------------------------------------------------------
# A deserializer that fails inside a batch loses no good message
# ----------------------------------------------------------------------


@pytest.mark.parametrize("bad_at", [0, 1, 3])
async def test_deserializer_error_in_batch_loses_no_good_message(
    ctx: trio_zmq.Context, inproc: str, bad_at: int
) -> None:
    pull, push = push_pull(ctx, inproc)
    rx = pull.receive_channel(lambda frames: int(frames[0]))
    payloads = [b"%d" % i for i in range(6)]
    payloads[bad_at] = b"bad"
    with trio.fail_after(5):
        await push.send_all([[p] for p in payloads])
        await until_readable(pull)
        got: list[int] = []
        errors = 0
        while len(got) + errors < len(payloads):
            try:
                got.extend(await rx.receive_batch())
            except ValueError:
                errors += 1
        assert errors == 1
        assert got == [i for i in range(6) if i != bad_at]  # in order, none lost
        with pytest.raises(trio.WouldBlock):
            rx.receive_nowait()
        # Held messages are also what receive() and receive_nowait() see.
        await push.send_all([[b"7"], [b"x"], [b"8"], [b"9"]])
        await until_readable(pull)
        assert await rx.receive_batch() == [7]
        with pytest.raises(ValueError, match="invalid literal"):
            rx.receive_nowait()
        assert rx.receive_nowait() == 8
        assert await rx.receive() == 9


async def test_channel_send_batch_takes_only_sequences(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push = push_pull(ctx, inproc)
    tx: trio_zmq.MessageSendChannel[str] = push.send_channel(lambda text: [text.encode()])
    for bad in ("abc", b"abc", iter(["a"])):
        with pytest.raises(TypeError):
            await tx.send_batch(bad)  # type: ignore[arg-type]
    assert await tx.send_batch(["a", "b"]) == 2
    with trio.fail_after(5):
        assert await pull.recv_batch() == [[b"a"], [b"b"]]
