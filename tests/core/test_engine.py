"""The probe/wait engine under the situations that break naive ZMQ_FD loops.

* bursts: messages that are already queued when the receiver starts (their
  fd edge fired long ago) must all be received without further traffic;
* edge stealing: the library's own operations on a socket (send, bind,
  connect, subscribe, getsockopt(EVENTS), probe) consume the fd's edge that a
  task blocked on that socket relies on; the blocked task must still run;
* many waiters on one socket: no BusyResourceError, exactly-once delivery,
  FIFO order, and cancelling the task that watches the fd strands nobody.

Every socket is a real libzmq socket; peers are real sockets or processes.
"""

from __future__ import annotations

import contextlib
import select
import socket as stdsocket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, cast

import anyio
import anyio.abc
import anyio.to_thread
import pytest
import zmq
from anyio import wait_all_tasks_blocked
from zmq.utils.monitor import parse_monitor_message

import trio_zmq
from trio_zmq._core import _registry
from trio_zmq._core._engine import RECV, SEND
from trio_zmq.testing import unique_endpoint

from tests.broken_engines import broken_engine
from tests.conftest import ON_EVERY_LOOP
from tests.helpers import (
    HookedSocket,
    Peer,
    assert_engine_idle,
    assert_idle,
    bind,
    current_task,
    engine_of,
    pair,
    seq,
    until_readable,
)

pytestmark = ON_EVERY_LOOP

BURST = 1000
#: Liveness bound for anything that should happen "promptly".
PROMPT = 5
#: Liveness bound for bigger jobs (1000 messages, peer processes).
LONG = 10

# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------


def block_until_readable(fd: int, timeout: float) -> bool:
    """Block the whole thread -- *no* trio checkpoint -- until ``fd`` is readable.

    Used to wait until a peer's message has reached a socket's side (libzmq
    signals the socket's ZMQ_FD when it does) without letting any other trio
    task run and without calling zmq on that socket.  select() only looks at
    the fd; it does not consume the edge.
    """
    readable, _, _ = select.select([fd], [], [], timeout)
    return bool(readable)


async def establish(bound: trio_zmq.Socket, connected: trio_zmq.Socket) -> None:
    """A round trip each way between two DEALERs, so every handshake is over
    and no connection command is still on its way to either socket."""
    with anyio.fail_after(PROMPT):
        await connected.send(b"hello")
        assert await bound.recv() == b"hello"
        await bound.send(b"hello")
        assert await connected.recv() == b"hello"


def open_disconnect_monitor(sock: trio_zmq.Socket) -> trio_zmq.Socket:
    """A monitor socket reporting EVENT_DISCONNECTED on ``sock``.

    Close it with :func:`close_monitor` (it belongs to no trio_zmq.Context).
    """
    zmon = sock.zmq_socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    return trio_zmq.Socket.from_socket(zmon)


def close_monitor(sock: trio_zmq.Socket, monitor: trio_zmq.Socket) -> None:
    sock.zmq_socket.disable_monitor()
    monitor.close(linger=0)


async def wait_disconnected(monitor: trio_zmq.Socket) -> None:
    """Wait until the monitored socket has lost its connection.

    libzmq reports the disconnect when its engine reads end-of-stream, which
    comes after every byte the peer sent; by then every message the peer sent
    is queued in the monitored socket.
    """
    with anyio.fail_after(LONG):
        event = parse_monitor_message(await monitor.recv_multipart())
    assert event["event"] == zmq.EVENT_DISCONNECTED


def quiet_endpoint(transport: str, ipc_dir: str) -> str:
    """An endpoint nobody listens on."""
    if transport == "tcp":
        with stdsocket.socket() as probe_sock:
            probe_sock.bind(("127.0.0.1", 0))
            port = probe_sock.getsockname()[1]
        return f"tcp://127.0.0.1:{port}"
    return unique_endpoint(transport, ipc_dir)


# ----------------------------------------------------------------------------
# 1. Bursts
# ----------------------------------------------------------------------------


async def test_burst_queued_before_receiver_starts(
    ctx: trio_zmq.Context, transport: str, endpoint: str
) -> None:
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = 2 * BURST  # room for the whole burst: the sender never stalls
    address = bind(pull, endpoint)
    push = ctx.socket(zmq.PUSH)
    push.connect(address)
    with anyio.fail_after(LONG):
        for n in range(BURST):
            await push.send(seq(n))
    if transport != "inproc":
        # tcp/ipc go through I/O threads: close the sender (flushing all it
        # has) and wait for the disconnect, after which all 1000 are queued
        # at the receiver and no traffic of any kind will follow.
        monitor = open_disconnect_monitor(pull)
        try:
            push.close(linger=LONG * 1000)
            await wait_disconnected(monitor)
        finally:
            close_monitor(pull, monitor)
    # (inproc writes straight into the receiver's pipe: all 1000 are there.)
    # This probe also consumes whatever fd edge was still pending.
    assert trio_zmq.probe(pull, zmq.POLLIN)

    received: list[bytes] = []

    async def receiver() -> None:
        for _ in range(BURST):
            received.append(await pull.recv())

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(receiver)
    assert received == [seq(n) for n in range(BURST)]
    assert not trio_zmq.probe(pull, zmq.POLLIN)
    assert_idle(pull)


async def test_burst_while_receiver_blocked(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    received: list[bytes] = []

    async def receiver() -> None:
        for _ in range(BURST):
            received.append(await pull.recv())

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(receiver)
            await wait_all_tasks_blocked()
            watcher = engine_of(pull).watcher
            assert watcher is not None  # the receiver sleeps on the fd
            assert list(engine_of(pull).queues[RECV]) == [watcher]
            # The burst: as many as libzmq takes in one synchronous stretch.
            for n in range(BURST):
                try:
                    push.send_nowait(seq(n))
                except anyio.WouldBlock:
                    await push.send(seq(n))
    assert received == [seq(n) for n in range(BURST)]
    assert_idle(pull, push)


@pytest.mark.parametrize("receiver_first", [False, True], ids=["queued-first", "receiver-first"])
@pytest.mark.parametrize("kind", ["ipc", "tcp"])
async def test_burst_from_peer_process(
    ctx: trio_zmq.Context, peer: type[Peer], ipc_dir: str, kind: str, receiver_first: bool
) -> None:
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = 2 * BURST
    address = bind(pull, unique_endpoint(kind, ipc_dir))
    monitor = open_disconnect_monitor(pull)
    received: list[bytes] = []

    async def receiver() -> None:
        for _ in range(BURST):
            received.append(await pull.recv())

    try:
        with anyio.fail_after(LONG):
            async with anyio.create_task_group() as nursery:
                if receiver_first:
                    nursery.start_soon(receiver)
                    await wait_all_tasks_blocked()
                    assert pull.statistics().fd_watched
                process = peer("push-seq", address, str(BURST))
                # The peer sends everything and exits; once its connection is
                # gone, all 1000 are queued here.
                await wait_disconnected(monitor)
                await anyio.to_thread.run_sync(process.wait)
                if not receiver_first:
                    assert trio_zmq.probe(pull, zmq.POLLIN)
                    nursery.start_soon(receiver)
    finally:
        close_monitor(pull, monitor)
    assert received == [seq(n) for n in range(BURST)]
    assert_idle(pull)


# ----------------------------------------------------------------------------
# 2. The library's own operations steal the fd's edge
# ----------------------------------------------------------------------------

STEALS = ["send_nowait", "send", "bind", "connect", "get_events", "probe"]


async def steal(op: str, sock: trio_zmq.Socket, transport: str, ipc_dir: str) -> Any:
    """One operation on ``sock`` through the library.

    Synchronous up to the zmq call (and the library's re-serve after it):
    nothing here lets another task run before the edge is consumed.
    """
    if op == "send_nowait":
        return sock.send_nowait(b"steal")
    if op == "send":
        # The send happens before the checkpoint that ends the call.
        return await sock.send(b"steal")
    if op == "bind":
        return bind(sock, unique_endpoint(transport, ipc_dir))
    if op == "connect":
        return sock.connect(quiet_endpoint(transport, ipc_dir))
    if op == "get_events":
        return sock.get(zmq.EVENTS)
    if op == "probe":
        return trio_zmq.probe(sock, zmq.POLLIN)
    raise AssertionError(op)


@pytest.mark.parametrize("message_arrived", [True, False], ids=["arrived", "in-flight"])
@pytest.mark.parametrize("op", STEALS)
async def test_own_operation_does_not_strand_blocked_receiver(
    ctx: trio_zmq.Context,
    transport: str,
    endpoint: str,
    ipc_dir: str,
    op: str,
    message_arrived: bool,
) -> None:
    """R blocks in recv on S; the peer sends; before R runs, another task
    does ``op`` on S, which makes libzmq process S's commands and so eats
    the fd edge R sleeps on.  R must still get the message promptly.

    ``arrived``: the steal happens after the message has reached S (the
    thread blocks in select() on S's fd, so no task runs meanwhile).
    ``in-flight``: the steal happens right after the peer's send.
    """
    peer_sock, sock, _ = pair(ctx, zmq.DEALER, zmq.DEALER, endpoint)
    await establish(peer_sock, sock)
    fd = sock.fileno()
    received: list[bytes] = []
    done = anyio.Event()

    async def receiver() -> None:
        received.append(await sock.recv())
        done.set()

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(receiver)
            await wait_all_tasks_blocked()
            watcher = engine_of(sock).watcher
            assert watcher is not None
            assert list(engine_of(sock).queues[RECV]) == [watcher]
            # ---- one synchronous stretch: R cannot run until `steal` awaits
            peer_sock.send_nowait(b"m")
            if message_arrived:
                assert block_until_readable(fd, LONG), "the message never reached S"
            result = await steal(op, sock, transport, ipc_dir)
            # ----
            with anyio.fail_after(PROMPT):
                await done.wait()
    assert received == [b"m"]
    if message_arrived and op == "probe":
        assert result is True
    if message_arrived and op == "get_events":
        assert result & zmq.POLLIN
    if op in ("send", "send_nowait"):
        with anyio.fail_after(PROMPT):
            assert await peer_sock.recv() == b"steal"
    assert_idle(sock)


@pytest.mark.parametrize("message_arrived", [True, False], ids=["arrived", "in-flight"])
async def test_subscribe_does_not_strand_blocked_receiver(
    ctx: trio_zmq.Context, endpoint: str, message_arrived: bool
) -> None:
    """R blocks in recv on a SUB subscribed to everything; the publisher
    sends; before R runs, another task subscribes the SUB to b"x"."""
    # An XPUB is a PUB that also reports subscriptions: it tells us when the
    # SUB's subscription has arrived, so no message is dropped on the way.
    pub = ctx.socket(zmq.XPUB)
    address = bind(pub, endpoint)
    sub = ctx.socket(zmq.SUB)
    sub.connect(address)
    sub.subscribe(b"")
    with anyio.fail_after(PROMPT):
        assert await pub.recv() == b"\x01"
        pub.send_nowait(b"warm-up")
        assert await sub.recv() == b"warm-up"
    fd = sub.fileno()
    received: list[bytes] = []
    done = anyio.Event()

    async def receiver() -> None:
        received.append(await sub.recv())
        done.set()

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(receiver)
            await wait_all_tasks_blocked()
            assert sub.statistics().fd_watched
            # ---- one synchronous stretch
            pub.send_nowait(b"m")
            if message_arrived:
                assert block_until_readable(fd, LONG), "the message never reached the SUB"
            sub.subscribe(b"x")
            # ----
            with anyio.fail_after(PROMPT):
                await done.wait()
    assert received == [b"m"]
    with anyio.fail_after(PROMPT):
        assert await pub.recv() == b"\x01x"  # the subscription did happen
    assert_idle(sub)


@pytest.mark.parametrize("message_arrived", [True, False], ids=["arrived", "in-flight"])
async def test_probe_does_not_strand_waiter_on_plain_pyzmq_socket(
    ctx: trio_zmq.Context, endpoint: str, message_arrived: bool
) -> None:
    """The same with a plain pyzmq socket: R waits in
    ``trio_zmq.wait_readable(zsock)``, the steal is ``trio_zmq.probe(zsock)``."""
    peer_sock = ctx.socket(zmq.DEALER)
    address = bind(peer_sock, endpoint)
    zsock: zmq.Socket[Any] = ctx.zmq_context.socket(zmq.DEALER, socket_class=zmq.Socket)
    try:
        zsock.linger = 0
        zsock.connect(address)
        fd = cast(int, zsock.getsockopt(zmq.FD))
        with anyio.fail_after(PROMPT):
            await peer_sock.send(b"hello")
            await trio_zmq.wait_readable(zsock)
            assert zsock.recv(zmq.NOBLOCK) == b"hello"
        received: list[bytes] = []
        done = anyio.Event()

        async def receiver() -> None:
            await trio_zmq.wait_readable(zsock)
            received.append(zsock.recv(zmq.NOBLOCK))
            done.set()

        with anyio.fail_after(LONG):
            async with anyio.create_task_group() as nursery:
                nursery.start_soon(receiver)
                await wait_all_tasks_blocked()
                engine = _registry._engines[zsock.underlying]
                assert engine.watcher is not None
                # ---- one synchronous stretch
                peer_sock.send_nowait(b"m")
                if message_arrived:
                    assert block_until_readable(fd, LONG), "the message never reached zsock"
                ready = trio_zmq.probe(zsock, zmq.POLLIN)
                # ----
                with anyio.fail_after(PROMPT):
                    await done.wait()
        assert received == [b"m"]
        if message_arrived:
            assert ready
        assert_engine_idle(engine)
        # An engine of a plain pyzmq socket is dropped once nobody waits.
        assert zsock.underlying not in _registry._engines
    finally:
        zsock.close(linger=0)


# The same for calls that do not wait: a ``*_nowait`` call that fails, and a
# probe-API wait that finds the socket ready.  Their zmq call makes libzmq
# process the socket's commands, so it eats the edge a task waiting in the
# *other* direction sleeps on, and the call itself never waits, so it never
# stands in the queue where wait() would serve.  Each test also runs its
# scenario against the broken engine that skips this one serve (from
# tests/broken_engines.py) and checks that it strands the waiter there.

#: libzmq's send looks at the socket's commands at most once per ~1 ms of
#: CPU ticks: a send failing sooner after the previous one may leave the
#: edge alone.  The steals that send wait this long first (no task runs).
SEND_THROTTLE = 0.01

#: A call on the socket that may eat its fd's edge (see below).
Steal = Callable[[trio_zmq.Socket], Awaitable[None]]


def failing_nowait(call: Callable[[trio_zmq.Socket], object]) -> Steal:
    async def steal(sock: trio_zmq.Socket) -> None:
        with pytest.raises(anyio.WouldBlock):
            call(sock)

    return steal


def failing_noblock(call: Callable[[trio_zmq.Socket], Awaitable[object]]) -> Steal:
    async def steal(sock: trio_zmq.Socket) -> None:
        with pytest.raises(zmq.Again):
            await call(sock)

    return steal


def returning(call: Callable[[trio_zmq.Socket], Awaitable[object]]) -> Steal:
    async def steal(sock: trio_zmq.Socket) -> None:
        with anyio.fail_after(PROMPT):
            await call(sock)

    return steal


#: Calls that fail at once, by the direction they fail in (the waiter that
#: must not be stranded waits in the other one).
FAILING_NOWAITS: dict[str, tuple[int, Steal]] = {
    "recv_nowait": (RECV, failing_nowait(lambda s: s.recv_nowait())),
    "recv_multipart_nowait": (RECV, failing_nowait(lambda s: s.recv_multipart_nowait())),
    "receive_channel.receive_nowait": (
        RECV,
        failing_nowait(lambda s: s.receive_channel().receive_nowait()),
    ),
    "recv(NOBLOCK)": (RECV, failing_noblock(lambda s: s.recv(zmq.NOBLOCK))),
    "send_nowait": (SEND, failing_nowait(lambda s: s.send_nowait(b"x"))),
    "send_multipart_nowait": (SEND, failing_nowait(lambda s: s.send_multipart_nowait([b"x"]))),
    "send_channel.send_nowait": (
        SEND,
        failing_nowait(lambda s: s.send_channel().send_nowait([b"x"])),
    ),
    "send(NOBLOCK)": (SEND, failing_noblock(lambda s: s.send(b"x", zmq.NOBLOCK))),
}

#: Probe-API waits that return at once, by the direction they wait for.
READY_WAITS: dict[str, tuple[int, Steal]] = {
    "trio_zmq.wait_readable": (RECV, returning(trio_zmq.wait_readable)),
    "wait_readable": (RECV, returning(lambda s: s.wait_readable())),
    "poll(POLLIN)": (RECV, returning(lambda s: s.poll(flags=zmq.POLLIN))),
    "trio_zmq.wait_writable": (SEND, returning(trio_zmq.wait_writable)),
    "wait_writable": (SEND, returning(lambda s: s.wait_writable())),
    "send_channel.wait_writable": (SEND, returning(lambda s: s.send_channel().wait_writable())),
    "poll(POLLOUT)": (SEND, returning(lambda s: s.poll(flags=zmq.POLLOUT))),
}


def fill(sock: trio_zmq.Socket) -> None:
    """Send until ``sock`` takes no more (its peer reads nothing).

    Probing between sends: a failed send may not have looked at commands
    that make room (see SEND_THROTTLE), a ZMQ_EVENTS read always does.
    """
    while trio_zmq.probe(sock, zmq.POLLOUT):
        sock.send_nowait(b"fill")


async def other_direction_served(
    ctx: trio_zmq.Context, inproc: str, direction: int, ready: bool, steal: Steal
) -> bool:
    """A task waits on a DEALER S in the direction opposite to
    ``direction``, watching S's fd; the peer makes S ready for it (room, or
    a message); before it runs, ``steal`` makes a call in ``direction`` on
    S, which finds S ``ready`` in that direction or not.  Return whether
    the waiter was served before every task blocked."""
    peer_sock = ctx.socket(zmq.DEALER)
    peer_sock.rcvhwm = 1
    peer_sock.bind(inproc)
    sock = ctx.socket(zmq.DEALER)
    sock.sndhwm = 1
    sock.connect(inproc)
    await establish(peer_sock, sock)
    if direction == RECV and ready:
        peer_sock.send_nowait(b"ready")
        await until_readable(sock)
    if direction == RECV or not ready:
        fill(sock)  # a sender must wait, or the failing send fails
    served = anyio.Event()

    async def waiter() -> None:
        if direction == RECV:
            await sock.send(b"late")
        else:
            assert await sock.recv() == b"m"
        served.set()

    async with anyio.create_task_group() as nursery:
        nursery.start_soon(waiter)
        await wait_all_tasks_blocked()
        watcher = engine_of(sock).watcher
        assert watcher is not None
        assert list(engine_of(sock).queues[1 - direction]) == [watcher]
        # ---- one synchronous stretch up to the steal's zmq call
        if direction == RECV:
            with contextlib.suppress(anyio.WouldBlock):
                while True:  # room for the sender
                    peer_sock.recv_nowait()
        else:
            peer_sock.send_nowait(b"m")
        assert block_until_readable(sock.fileno(), LONG), "S's fd never became readable"
        if direction == SEND:
            time.sleep(SEND_THROTTLE)  # noqa: ASYNC251 - no task may run meanwhile
        await steal(sock)
        # ----
        await wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    return served.is_set()


def caught_on(flavour: str, steal_name: str) -> bool:
    """Can a broken engine's stranding show on ``flavour`` at all?

    On the anyio path (asyncio, trio-anyio-engine) an async call's cancel
    point is a schedule point, before its zmq call: the loop sees the edge
    there and wakes the watcher itself, before the call can eat it.  The
    synchronous ``*_nowait`` calls, and every call on the trio-native path
    (whose cancel point does not yield), reach the zmq call first.
    """
    return flavour == "trio" or steal_name.endswith("_nowait")


async def check_steal(
    ctx: trio_zmq.Context, inproc: str, flavour: str, op: str, ready: bool, variant: str | None
) -> None:
    """Run :func:`other_direction_served` with the steal ``op`` (from
    READY_WAITS if ``ready``, else FAILING_NOWAITS) and check that the
    waiter was served, or, with the broken ``variant``, stranded."""
    if variant is not None and not caught_on(flavour, op):
        pytest.skip("the loop sees the edge at the call's schedule point first (see caught_on)")
    direction, steal = (READY_WAITS if ready else FAILING_NOWAITS)[op]
    with broken_engine(variant):
        served = await other_direction_served(ctx, inproc, direction, ready, steal)
    assert served is (variant is None)


@pytest.mark.parametrize("variant", [None, "nowait_skips_serve"], ids=["library", "broken"])
@pytest.mark.parametrize("op", list(FAILING_NOWAITS))
async def test_failed_nowait_does_not_strand_the_other_direction(
    ctx: trio_zmq.Context, inproc: str, flavour: str, op: str, variant: str | None
) -> None:
    """A failed ``*_nowait`` (or NOBLOCK) call serves the waiters in the
    other direction, whose edge its zmq call may have eaten.

    ``broken``: the engine that skips that serve strands the waiter
    (wherever ``caught_on`` says the scenario can show it)."""
    await check_steal(ctx, inproc, flavour, op, False, variant)


@pytest.mark.parametrize("variant", [None, "ready_now_skips_serve"], ids=["library", "broken"])
@pytest.mark.parametrize("op", list(READY_WAITS))
async def test_ready_wait_does_not_strand_the_other_direction(
    ctx: trio_zmq.Context, inproc: str, flavour: str, op: str, variant: str | None
) -> None:
    """A probe-API wait that finds the socket ready returns at once, and
    serves the waiters in the other direction first.

    ``broken``: the engine whose quick look skips that serve strands the
    waiter (on trio: see ``caught_on``)."""
    await check_steal(ctx, inproc, flavour, op, True, variant)


# ----------------------------------------------------------------------------
# 3. Many waiters on one socket
# ----------------------------------------------------------------------------

TASKS = 10
PER_SENDER = 50


async def test_many_senders_and_receivers_on_one_dealer(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    """10 tasks receive and 10 send on one DEALER talking to an echoing
    ROUTER; every message comes back exactly once, nobody trips over the fd."""
    router = ctx.socket(zmq.ROUTER)
    router.router_mandatory = 1  # never drop silently: wait instead
    # Tiny high-water marks, so that tasks keep parking on both sides.
    router.hwm = 2
    address = bind(router, endpoint)
    dealer = ctx.socket(zmq.DEALER)
    dealer.hwm = 2
    total = TASKS * PER_SENDER
    sent = [b"%d-%d" % (i, k) for i in range(TASKS) for k in range(PER_SENDER)]
    received: list[bytes] = []
    per_receiver = Counter[int]()
    all_back = anyio.Event()

    async def echo() -> None:
        while True:
            await router.send_multipart(await router.recv_multipart())

    async def receiver(i: int) -> None:
        while True:
            message = await dealer.recv()
            received.append(message)
            per_receiver[i] += 1
            if len(received) >= total:
                all_back.set()

    async def sender(i: int) -> None:
        for k in range(PER_SENDER):
            await dealer.send(b"%d-%d" % (i, k))

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            for i in range(TASKS):
                nursery.start_soon(receiver, i)
                nursery.start_soon(sender, i)
            await wait_all_tasks_blocked()
            # The DEALER has no peer yet: all twenty are parked on the one
            # socket, and exactly one of them watches the fd.
            assert dealer.statistics().tasks_waiting_receive == TASKS
            assert dealer.statistics().tasks_waiting_send == TASKS
            assert dealer.statistics().fd_watched
            dealer.connect(address)
            nursery.start_soon(echo)
            await all_back.wait()
            nursery.cancel_scope.cancel()
    assert len(received) == total
    assert Counter(received) == Counter(sent)  # each exactly once
    assert sum(per_receiver.values()) == total
    # FIFO with newcomers queueing behind: the first ten messages alone go
    # to ten different receivers.
    assert len(per_receiver) == TASKS
    assert_idle(dealer, router)


async def start_receivers(
    nursery: anyio.abc.TaskGroup,
    dealer: trio_zmq.Socket,
    results: dict[int, bytes],
    scopes: dict[object, anyio.CancelScope],
    index: dict[object, int],
    cancelled: list[int],
) -> anyio.Event:
    """Start TASKS receivers one by one, each parked before the next starts;
    each has its own cancel scope, found by its task.  The event returned is
    set once every receiver has got a message or been cancelled."""
    finished = anyio.Event()

    async def receiver(i: int) -> None:
        task = current_task()
        with anyio.CancelScope() as scope:
            scopes[task] = scope
            index[task] = i
            results[i] = await dealer.recv()
        if scope.cancelled_caught:
            cancelled.append(i)
        if len(results) + len(cancelled) == TASKS:
            finished.set()

    for i in range(TASKS):
        nursery.start_soon(receiver, i)
        await wait_all_tasks_blocked()
        assert dealer.statistics().tasks_waiting_receive == i + 1
    return finished


async def test_cancelling_the_watcher_does_not_strand_the_others(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    peer_sock, dealer, _ = pair(ctx, zmq.DEALER, zmq.DEALER, endpoint)
    await establish(peer_sock, dealer)
    engine = engine_of(dealer)
    results: dict[int, bytes] = {}
    scopes: dict[object, anyio.CancelScope] = {}
    index: dict[object, int] = {}
    cancelled: list[int] = []
    sent = [b"m%d" % k for k in range(TASKS - 2)]

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            await start_receivers(nursery, dealer, results, scopes, index, cancelled)
            # Twice: cancel whoever watches the fd; the role must move on.
            for round_ in range(2):
                watcher = engine.watcher
                assert watcher is not None
                victim = watcher.task
                scopes[victim].cancel()
                await wait_all_tasks_blocked()
                assert cancelled == [*cancelled[:round_], index[victim]]
                successor = engine.watcher
                assert successor is not None, "nobody watches the fd any more"
                assert successor.task is not victim
                assert index[successor.task] not in cancelled
            assert len(engine.queues[RECV]) == TASKS - 2
            for message in sent:
                await peer_sock.send(message)
            # Leaving the nursery waits for the eight remaining receivers.
    assert len(cancelled) == 2
    assert set(results) == set(range(TASKS)) - set(cancelled)
    assert sorted(results.values()) == sorted(sent)
    assert_idle(dealer)


async def test_cancelling_the_watcher_with_a_message_pending(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    """The message has reached the socket and the fd is readable, but the
    watcher is cancelled before it runs: the message goes, intact, to the
    next receiver in line, and the rest still get theirs."""
    peer_sock, dealer, _ = pair(ctx, zmq.DEALER, zmq.DEALER, endpoint)
    await establish(peer_sock, dealer)
    engine = engine_of(dealer)
    fd = dealer.fileno()
    results: dict[int, bytes] = {}
    scopes: dict[object, anyio.CancelScope] = {}
    index: dict[object, int] = {}
    cancelled: list[int] = []

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            await start_receivers(nursery, dealer, results, scopes, index, cancelled)
            watcher = engine.watcher
            assert watcher is not None
            victim = index[watcher.task]
            # ---- one synchronous stretch
            peer_sock.send_nowait(b"first")
            assert block_until_readable(fd, LONG), "the message never reached the dealer"
            scopes[watcher.task].cancel()
            # ----
            for k in range(1, TASKS - 1):
                await peer_sock.send(b"m%d" % k)
    assert cancelled == [victim]
    assert victim not in results
    # FIFO among the remaining receivers, in the order they parked.
    remaining = [i for i in range(TASKS) if i != victim]
    assert [results[i] for i in remaining] == [b"first"] + [b"m%d" % k for k in range(1, TASKS - 1)]
    assert_idle(dealer)


async def test_receivers_are_served_in_the_order_they_parked(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    peer_sock, dealer, _ = pair(ctx, zmq.DEALER, zmq.DEALER, endpoint)
    await establish(peer_sock, dealer)
    results: dict[int, bytes] = {}
    scopes: dict[object, anyio.CancelScope] = {}
    index: dict[object, int] = {}
    cancelled: list[int] = []

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            await start_receivers(nursery, dealer, results, scopes, index, cancelled)
            for k in range(TASKS):
                peer_sock.send_nowait(b"%d" % k)
    assert results == {i: b"%d" % i for i in range(TASKS)}
    assert not cancelled
    assert_idle(dealer)


async def test_senders_are_served_in_the_order_they_parked(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    push = ctx.socket(zmq.PUSH)
    address = bind(push, endpoint)  # no peer yet: every send parks

    async def sender(i: int) -> None:
        await push.send(b"%d" % i)

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            for i in range(TASKS):
                nursery.start_soon(sender, i)
                await wait_all_tasks_blocked()
                assert push.statistics().tasks_waiting_send == i + 1
            pull = ctx.socket(zmq.PULL)
            pull.connect(address)
            received = [await pull.recv() for _ in range(TASKS)]
    assert received == [b"%d" % i for i in range(TASKS)]
    assert_idle(push, pull)


async def test_blocked_sender_watching_the_fd_serves_every_ready_receiver(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    """The task watching the fd waits to *send* (its peer reads nothing);
    ten receivers are parked behind it.  When a burst arrives, the watcher's
    wake-up must serve every receiver that can proceed, not just one."""
    peer_sock = ctx.socket(zmq.DEALER)
    peer_sock.rcvhwm = 1
    address = bind(peer_sock, endpoint)
    dealer = ctx.socket(zmq.DEALER)
    dealer.sndhwm = 1
    dealer.connect(address)
    await establish(peer_sock, dealer)
    engine = engine_of(dealer)
    payload = b"f" * 16384  # fills the kernel buffers of tcp/ipc quickly
    results: dict[int, bytes] = {}
    scopes: dict[object, anyio.CancelScope] = {}
    index: dict[object, int] = {}
    cancelled: list[int] = []

    async def flooder() -> None:
        while True:  # until its send parks for good (the peer never reads)
            await dealer.send(payload)

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(flooder)
            await wait_all_tasks_blocked()
            watcher = engine.watcher
            assert watcher is not None
            assert list(engine.queues[SEND]) == [watcher]
            finished = await start_receivers(nursery, dealer, results, scopes, index, cancelled)
            for k in range(TASKS):  # the burst
                peer_sock.send_nowait(b"%d" % k)
            with anyio.fail_after(PROMPT):
                await finished.wait()
            nursery.cancel_scope.cancel()
    assert results == {i: b"%d" % i for i in range(TASKS)}
    assert not cancelled
    assert_idle(dealer)


async def test_newcomer_does_not_overtake_parked_receivers(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    """A message has arrived but the parked receivers have not run yet: a
    recv_nowait by a newcomer must not take it (WouldBlock), the head does."""
    peer_sock, dealer, _ = pair(ctx, zmq.DEALER, zmq.DEALER, endpoint)
    await establish(peer_sock, dealer)
    fd = dealer.fileno()
    results: dict[int, bytes] = {}
    scopes: dict[object, anyio.CancelScope] = {}
    index: dict[object, int] = {}
    cancelled: list[int] = []

    with anyio.fail_after(LONG):
        async with anyio.create_task_group() as nursery:
            await start_receivers(nursery, dealer, results, scopes, index, cancelled)
            # ---- one synchronous stretch
            peer_sock.send_nowait(b"0")
            assert block_until_readable(fd, LONG), "the message never reached the dealer"
            with pytest.raises(anyio.WouldBlock):
                dealer.recv_nowait()
            with pytest.raises(anyio.WouldBlock):
                dealer.recv_multipart_nowait()
            # ----
            for k in range(1, TASKS):
                await peer_sock.send(b"%d" % k)
    assert results == {i: b"%d" % i for i in range(TASKS)}
    assert_idle(dealer)


# ----------------------------------------------------------------------------
# A head that fails although ZMQ_EVENTS says it may go on
# ----------------------------------------------------------------------------


async def router_with_a_full_peer(
    ctx: trio_zmq.Context, inproc: str
) -> tuple[HookedSocket, trio_zmq.Socket, trio_zmq.Socket]:
    """(raw, router, full): a ROUTER_MANDATORY router (over the hookable
    ``raw``) whose pipe to the DEALER ``full`` is full, while its pipe to
    another DEALER has room, so ZMQ_EVENTS shows POLLOUT.  Close the
    router when done (it belongs to no trio_zmq.Context)."""
    raw = HookedSocket(ctx.zmq_context, zmq.ROUTER)
    raw.router_mandatory = 1
    raw.sndhwm = 1
    router = trio_zmq.Socket.from_socket(raw)
    router.bind(inproc)
    full = ctx.socket(zmq.DEALER)
    full.routing_id = b"full"
    full.rcvhwm = 1
    full.connect(inproc)
    free = ctx.socket(zmq.DEALER)
    free.routing_id = b"free"
    free.connect(inproc)
    with anyio.fail_after(PROMPT):
        await full.send(b"hello")
        await free.send(b"hello")
        for _ in range(2):
            await router.recv_multipart()
        with contextlib.suppress(anyio.WouldBlock):
            while True:  # fill the pipe to "full"
                router.send_multipart_nowait([b"full", b"fill"])
        assert trio_zmq.probe(router, zmq.POLLOUT)  # "free" has room
    return raw, router, full


class DrainAt:
    """A HookedSocket hook: "full" takes everything right after the
    router's ``failure``-th failed send (1: the first attempt, try_now's;
    2, 3: the engine's), so that the engine's own ZMQ_EVENTS read after it
    consumes the fd's edge that announces the room."""

    def __init__(self, failure: int, full: trio_zmq.Socket) -> None:
        self.failure = failure
        self.full = full
        self.failures = 0

    def __call__(self, frames: list[bytes]) -> None:
        self.failures += 1
        if self.failures == self.failure:
            with contextlib.suppress(anyio.WouldBlock):
                while True:
                    self.full.recv_nowait()


async def assert_late_arrives(full: trio_zmq.Socket) -> None:
    with anyio.fail_after(PROMPT):
        while (frame := await full.recv()) != b"late":
            assert frame == b"fill"


@pytest.mark.parametrize("drain_at_failure", [1, 2, 3])
async def test_router_mandatory_head_unblocks_when_room_comes_mid_serve(
    ctx: trio_zmq.Context, inproc: str, drain_at_failure: int
) -> None:
    """A ROUTER_MANDATORY send to a full pipe fails (zmq.Again) although
    ZMQ_EVENTS shows POLLOUT (another peer has room).  The peer makes room
    right after the n-th failed attempt (see DrainAt), so the engine's own
    ZMQ_EVENTS read consumes the fd's edge that announces it: after one
    failure in a serve pass the engine retries; after the second it must
    not sleep on the fd for good (it retries on a timer)."""
    raw, router, full = await router_with_a_full_peer(ctx, inproc)
    try:
        raw.on_again = hook = DrainAt(drain_at_failure, full)
        with anyio.fail_after(PROMPT):
            await router.send_multipart([b"full", b"late"])
        assert hook.failures >= drain_at_failure
        await assert_late_arrives(full)
        assert_idle(router)
    finally:
        raw.on_again = None
        router.close()


@pytest.mark.parametrize("variant", [None, "stall_without_poke"], ids=["library", "broken"])
async def test_stalled_head_is_retried_while_another_task_watches(
    ctx: trio_zmq.Context, inproc: str, variant: str | None
) -> None:
    """The same stall, with a receiver holding the watcher role, asleep on
    the fd without a timeout: the room comes right after the sender's
    second failure inside its own serve (the third in all), and the read
    that follows eats its edge.  The stall must poke the watcher, which
    then retries: the sender is served before every task blocks.

    ``broken``: the engine that starts the timed retries without poking
    the watcher strands the sender (on every loop: the edge is gone, so
    not even asyncio's lasting reader sees it).
    """
    with broken_engine(variant):
        raw, router, full = await router_with_a_full_peer(ctx, inproc)
    sent = anyio.Event()

    async def sender() -> None:
        await router.send_multipart([b"full", b"late"])
        sent.set()

    try:
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(router.recv_multipart)  # nobody sends: it watches
            await wait_all_tasks_blocked()
            assert router.statistics().fd_watched
            raw.on_again = hook = DrainAt(3, full)
            nursery.start_soon(sender)
            await wait_all_tasks_blocked()
            served = sent.is_set()
            nursery.cancel_scope.cancel()
        assert hook.failures >= 3  # the room came as described
        assert served is (variant is None)
        if served:
            await assert_late_arrives(full)
            assert_idle(router)
    finally:
        raw.on_again = None
        router.close()
