"""High-water marks: producers wait while the path to the peer is full and
wake as soon as there is room; PUSH with no peer waits for one; PUB never
waits at all.  Real sockets over every transport, and real peer processes.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
import pytest
import zmq
from anyio import wait_all_tasks_blocked

import trio_zmq
from trio_zmq.testing import unique_endpoint

from tests.conftest import ON_EVERY_LOOP
from tests.helpers import Peer, assert_idle, assert_schedule_point, bind

pytestmark = ON_EVERY_LOOP

#: Liveness bound for anything that should happen "promptly".
PROMPT = 5
#: Liveness bound for bigger jobs (filling buffers, peer processes).
LONG = 10
#: Big frames, so that the kernel buffers of tcp/ipc fill after a few.
PAYLOAD = b"p" * 16384
#: How long a full tcp/ipc path must stay unwritable before we call it
#: settled.  Only decides when to stop filling; nothing asserts on it.
SETTLE = 0.5


async def fill(push: trio_zmq.Socket, transport: str) -> int:
    """send_nowait PAYLOAD until the socket stays full; return how many went.

    inproc has no I/O thread: the first WouldBlock is final.  Over tcp/ipc the
    I/O threads keep moving messages into the kernel for a while, so fill
    again whenever the socket becomes writable, until it stays full.
    """
    count = 0
    while True:
        try:
            push.send_nowait(PAYLOAD)
        except anyio.WouldBlock:
            if transport == "inproc":
                return count
            with anyio.move_on_after(SETTLE):
                await push.wait_writable()
                continue
            return count
        count += 1


async def test_hwm_one_producer_waits_until_consumer_reads(
    ctx: trio_zmq.Context, transport: str, endpoint: str
) -> None:
    """SNDHWM=1 / RCVHWM=1: fill until not writable; lazy producers parked
    in wait_writable (the socket's and a send channel's) wake once the
    consumer reads, and nothing is lost or duplicated."""
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 1
    push.sndbuf = 16384
    address = bind(push, endpoint)
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = 1
    pull.rcvbuf = 16384
    pull.connect(address)
    with anyio.fail_after(PROMPT):
        await push.wait_writable()  # the connection is up
    with anyio.fail_after(LONG):
        filled = await fill(push, transport)
    assert filled >= 1
    if transport == "inproc":
        # One pipe between the two sockets, sized SNDHWM + RCVHWM.
        assert filled <= 2
    assert not trio_zmq.probe(push, zmq.POLLOUT)

    tx = push.send_channel()
    woke = {"socket": anyio.Event(), "channel": anyio.Event()}

    async def lazy_socket_producer() -> None:
        await push.wait_writable()
        woke["socket"].set()
        await push.send(b"late-socket")

    async def lazy_channel_producer() -> None:
        await tx.wait_writable()
        woke["channel"].set()
        await tx.send([b"late-channel"])

    async def drain(received: list[bytes]) -> None:
        while True:
            received.append(await pull.recv())

    received: list[bytes] = []
    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(lazy_socket_producer)
            await wait_all_tasks_blocked()
            nursery.start_soon(lazy_channel_producer)
            await wait_all_tasks_blocked()
            assert push.statistics().tasks_waiting_send == 2
            assert tx.statistics().tasks_waiting_send == 2
            assert not woke["socket"].is_set()
            assert not woke["channel"].is_set()

            with anyio.fail_after(PROMPT):
                received.append(await pull.recv())
                if transport == "inproc":
                    # Reading one message frees the one slot: both wake
                    # without any further reading.
                    await woke["socket"].wait()
                    await woke["channel"].wait()
                else:
                    # The kernel buffers in between free room in batches:
                    # keep reading until the producers wake.
                    async with anyio.create_task_group() as drainer:
                        drainer.start_soon(drain, received)
                        await woke["socket"].wait()
                        await woke["channel"].wait()
                        drainer.cancel_scope.cancel()
            while b"late-socket" not in received or b"late-channel" not in received:
                received.append(await pull.recv())
    # In order, each exactly once: the fill, then the two lazy messages.
    assert received[:filled] == [PAYLOAD] * filled
    assert sorted(received[filled:]) == [b"late-channel", b"late-socket"]
    assert tx.statistics().items == 1
    assert_idle(push, pull)


@pytest.mark.parametrize("sndhwm", [1, None], ids=["sndhwm-1", "default-hwm"])
async def test_push_without_peer_blocks_until_pull_connects(
    ctx: trio_zmq.Context, endpoint: str, sndhwm: int | None
) -> None:
    """A bound PUSH with no peer cannot send: ``await push.send`` parks, and
    completes once a PULL connects; the PULL gets the message."""
    push = ctx.socket(zmq.PUSH)
    if sndhwm is not None:
        push.sndhwm = sndhwm
    address = bind(push, endpoint)
    assert not trio_zmq.probe(push, zmq.POLLOUT)
    sent = anyio.Event()

    async def sender() -> None:
        await push.send(b"x")
        sent.set()

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(sender)
            await wait_all_tasks_blocked()
            assert push.statistics().tasks_waiting_send == 1
            # A short bounded look: still not sent (no peer to send to).
            with anyio.move_on_after(0.2):
                await sent.wait()
            assert not sent.is_set()
            pull = ctx.socket(zmq.PULL)
            pull.connect(address)
            with anyio.fail_after(PROMPT):
                await sent.wait()
                assert await pull.recv() == b"x"
    assert not trio_zmq.probe(pull, zmq.POLLIN)
    assert_idle(push, pull)


@pytest.mark.parametrize("kind", ["ipc", "tcp"])
async def test_push_without_peer_blocks_until_peer_process_connects(
    ctx: trio_zmq.Context, peer: type[Peer], ipc_dir: str, kind: str
) -> None:
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 1
    address = bind(push, unique_endpoint(kind, ipc_dir))
    sent = anyio.Event()

    async def sender() -> None:
        await push.send(b"seed")
        sent.set()

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(sender)
            await wait_all_tasks_blocked()
            assert push.statistics().tasks_waiting_send == 1
            with anyio.move_on_after(0.2):
                await sent.wait()
            assert not sent.is_set()
            process = peer("pull-count", address, "1")
            await sent.wait()
        out = await anyio.to_thread.run_sync(process.wait)
    assert out.split() == [b"seed".hex()]
    assert_idle(push)


SENDS = 10_000


async def test_pub_send_never_blocks_without_subscriber(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    pub = ctx.socket(zmq.PUB)
    pub.sndhwm = 1
    bind(pub, endpoint)
    with anyio.fail_after(LONG):
        for _ in range(SENDS):
            with assert_schedule_point():
                await pub.send(b"x")
    assert trio_zmq.probe(pub, zmq.POLLOUT)
    assert_idle(pub)


async def test_pub_send_never_blocks_with_stalled_subscriber(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    """A subscriber that reads nothing fills the PUB's pipe; the PUB drops
    instead of waiting."""
    pub = ctx.socket(zmq.PUB)
    pub.sndhwm = 1
    address = bind(pub, endpoint)
    sub = ctx.socket(zmq.SUB)
    sub.rcvhwm = 1
    sub.connect(address)
    sub.subscribe(b"")
    # Wait (bounded) until the subscription has reached the publisher.
    with anyio.fail_after(PROMPT):
        while True:
            pub.send_nowait(b"sync")
            with anyio.move_on_after(0.05):
                assert await sub.recv() == b"sync"
                break
    with anyio.fail_after(LONG):
        for _ in range(SENDS):
            with assert_schedule_point():
                await pub.send(b"x")
    assert trio_zmq.probe(pub, zmq.POLLOUT)
    # The subscriber is alive and gets what fitted in its path.
    with anyio.fail_after(PROMPT):
        assert await sub.recv() in (b"sync", b"x")
    assert_idle(pub, sub)
