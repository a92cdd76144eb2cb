"""``trio_zmq.Poller``: pyzmq's poller API over trio_zmq sockets, plain pyzmq
sockets and pipes, waiting through the engine (so it shares sockets with
blocked receivers and senders), cancellable, losing nothing.  Real sockets
and real pipes throughout, on every loop.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
import trio
import zmq
import zmq.asyncio

import trio_zmq
from trio_zmq._core import _registry
from trio_zmq.testing import unique_endpoint

from tests.conftest import ON_EVERY_LOOP
from tests.helpers import assert_idle, assert_schedule_point, pair, until_readable

pytestmark = ON_EVERY_LOOP

POLLIN = zmq.POLLIN
POLLOUT = zmq.POLLOUT
POLLERR = zmq.POLLERR

Pipe = tuple[int, int]


@pytest.fixture
def pipe() -> Iterator[Callable[[], Pipe]]:
    """``pipe()`` makes an ``os.pipe()`` (read end, write end), closed at teardown."""
    made: list[int] = []

    def make() -> Pipe:
        r, w = os.pipe()
        made.extend((r, w))
        return r, w

    yield make
    for fd in made:
        with contextlib.suppress(OSError):  # closed by the test
            os.close(fd)


@pytest.fixture
def plain(ctx: trio_zmq.Context) -> Iterator[Callable[[int], zmq.Socket[Any]]]:
    """``plain(zmq.PULL)`` makes a plain pyzmq socket, closed before the context."""
    made: list[zmq.Socket[Any]] = []

    def make(kind: int) -> zmq.Socket[Any]:
        zsock: zmq.Socket[Any] = ctx.zmq_context.socket(kind)
        zsock.linger = 0
        made.append(zsock)
        return zsock

    yield make
    for zsock in made:
        zsock.close(linger=0)


def pulls(ctx: trio_zmq.Context, n: int) -> list[tuple[trio_zmq.Socket, trio_zmq.Socket]]:
    """``n`` connected (PULL, PUSH) pairs over inproc."""
    return [pair(ctx, zmq.PULL, zmq.PUSH, unique_endpoint("inproc"))[:2] for _ in range(n)]


def assert_plain_idle(*zsocks: zmq.Socket[Any]) -> None:
    """No engine is left behind for plain sockets once nobody waits on them."""
    for zsock in zsocks:
        assert _registry.existing_engine(zsock) is None


async def until(condition: Callable[[], object]) -> None:
    """Wait (bounded) for ``condition()``: on asyncio, wait_all_tasks_blocked()
    can return before the loop has looked at an fd that became readable."""
    with anyio.fail_after(5):
        while not condition():  # noqa: ASYNC110 - state of other tasks
            await anyio.sleep(0.001)
    await anyio.wait_all_tasks_blocked()


class Fileno:
    """An object with a fileno() method, as pyzmq's poller accepts."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


# ----------------------------------------------------------------------
# Registration: pyzmq's bookkeeping
# ----------------------------------------------------------------------


async def test_registration_matches_pyzmq(
    ctx: trio_zmq.Context, plain: Callable[[int], zmq.Socket[Any]], pipe: Callable[[], Pipe]
) -> None:
    a, b = plain(zmq.PULL), plain(zmq.PUSH)
    r, w = pipe()
    ours, theirs = trio_zmq.Poller(), zmq.Poller()
    steps: list[tuple[str, Any, int]] = [
        ("register", a, POLLIN),
        ("register", b, POLLIN | POLLOUT),
        ("register", r, POLLIN),
        ("register", w, POLLOUT),
        ("modify", b, POLLOUT),  # keeps its place
        ("register", a, 0),  # flags 0 unregisters
        ("register", a, 0),  # ... and is ignored when not registered
        ("unregister", r, 0),
        ("register", r, POLLIN),  # back at the end
        ("register", a, POLLIN | POLLOUT),  # the default flags, spelled out
    ]
    for method, item, flags in steps:
        for poller in (ours, theirs):
            if method == "unregister":
                poller.unregister(item)
            else:
                getattr(poller, method)(item, flags)
        assert ours.sockets == theirs.sockets
    assert (a in ours, r in ours, 12345 in ours) == (True, True, False)
    assert len(ours) == 4
    ours.register(Fileno(r))  # default flags: POLLIN | POLLOUT, as pyzmq
    assert ours.sockets[-1][1] == POLLIN | POLLOUT
    with pytest.raises(KeyError):
        ours.unregister(12345)  # as pyzmq


async def test_bad_input_raises_before_waiting(
    ctx: trio_zmq.Context, plain: Callable[[int], zmq.Socket[Any]]
) -> None:
    poller = trio_zmq.Poller()
    sock = ctx.socket(zmq.PULL)
    for item in (object(), "tcp://127.0.0.1:5555", 1.5, None):
        with pytest.raises(TypeError, match="fileno"):
            poller.register(item, POLLIN)
    with pytest.raises(ValueError, match="negative"):
        poller.register(-1, POLLIN)
    for flags in (POLLERR, 8, POLLIN | 8, -1):
        with pytest.raises(ValueError, match="POLLIN"):
            poller.register(sock, flags)
    for bad in ("1", 1.0, None, True):
        with pytest.raises(TypeError, match="int"):
            poller.register(sock, bad)  # type: ignore[arg-type]
    actx = zmq.asyncio.Context.shadow(ctx.zmq_context.underlying)
    asock = actx.socket(zmq.PULL)
    try:
        with pytest.raises(TypeError, match="async methods"):
            poller.register(asock, POLLIN)
    finally:
        asock.close(linger=0)
    assert poller.sockets == []

    # At poll time, before any waiting (the timeout would otherwise hang the
    # test): a bad timeout, a fileno() that is not an fd.
    poller.register(sock, POLLIN)
    with anyio.fail_after(5):
        for timeout in ("10", [10], True):
            with pytest.raises(TypeError, match="timeout"):
                await poller.poll(timeout)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="NaN"):
            await poller.poll(float("nan"))
        poller.register(Fileno(-1), POLLIN)  # a closed Python socket's fileno()
        with pytest.raises(ValueError, match="closed"):
            await poller.poll()
    assert_idle(sock)


# ----------------------------------------------------------------------
# What poll() reports
# ----------------------------------------------------------------------


async def test_reports_everything_ready_like_pyzmq(
    ctx: trio_zmq.Context,
    plain: Callable[[int], zmq.Socket[Any]],
    pipe: Callable[[], Pipe],
) -> None:
    """Many sockets of both kinds and pipes at once: the same answer as
    pyzmq's blocking poller over the same state, in registration order."""
    socks = pulls(ctx, 10)
    plains = []
    for _ in range(5):
        zpull, zpush = plain(zmq.PULL), plain(zmq.PUSH)
        endpoint = unique_endpoint("inproc")
        zpull.bind(endpoint)
        zpush.connect(endpoint)
        plains.append((zpull, zpush))
    pipes = [pipe() for _ in range(4)]
    lonely_push = ctx.socket(zmq.PUSH)  # no peer: never writable

    ours, theirs = trio_zmq.Poller(), zmq.Poller()
    for poller in (ours, theirs):
        for pull, _ in socks:
            poller.register(pull if poller is ours else pull.zmq_socket, POLLIN)
        for zpull, _ in plains:
            poller.register(zpull, POLLIN | POLLOUT)
        for r, w in pipes:
            poller.register(r, POLLIN)
            poller.register(w, POLLOUT)
        poller.register(lonely_push if poller is ours else lonely_push.zmq_socket, POLLOUT)

    with anyio.fail_after(5):
        # Nothing readable: only the pipes' write ends are ready.
        assert await ours.poll(0) == [(w, POLLOUT) for _, w in pipes]
        for index in (0, 4, 9):
            await socks[index][1].send(b"x")
            await until_readable(socks[index][0])
        plains[2][1].send(b"y")
        await until_readable(plains[2][0])
        os.write(pipes[1][1], b"z")
        expected = (
            [(socks[i][0], POLLIN) for i in (0, 4, 9)]
            + [(plains[2][0], POLLIN)]
            + [(w, POLLOUT) for _, w in pipes[:1]]
            + [(pipes[1][0], POLLIN)]
            + [(w, POLLOUT) for _, w in pipes[1:]]
        )
        expected.sort(key=lambda entry: [item for item, _ in ours.sockets].index(entry[0]))
        assert await ours.poll(0) == expected
        assert await ours.poll() == expected
        pyzmq_view = {pull.zmq_socket: pull for pull, _ in socks}
        assert [(pyzmq_view.get(s, s), e) for s, e in theirs.poll(0)] == expected
        # poll() consumed nothing.
        assert [socks[i][0].recv_nowait() for i in (0, 4, 9)] == [b"x"] * 3
        assert plains[2][0].recv(zmq.NOBLOCK) == b"y"
        assert os.read(pipes[1][0], 10) == b"z"
        assert await ours.poll(0) == [(w, POLLOUT) for _, w in pipes]
    assert_idle(*(s for p in socks for s in p), lonely_push)


async def test_raw_fds_report_errors_like_pyzmq(pipe: Callable[[], Pipe]) -> None:
    """Hang-ups are POLLERR, as libzmq's zmq_poll maps them; fileno()
    objects are reported by fd number, as pyzmq does."""
    r1, w1 = pipe()
    r2, w2 = pipe()
    r3, w3 = pipe()
    os.write(w1, b"left over")
    os.close(w1)  # r1: data and a hang-up
    os.close(w2)  # r2: a hang-up only
    os.close(r3)  # w3: nobody will ever read
    ours, theirs = trio_zmq.Poller(), zmq.Poller()
    for poller in (ours, theirs):
        poller.register(Fileno(r1), POLLIN)
        poller.register(r2, POLLIN)
        poller.register(w3, POLLOUT)
    expected = [(r1, POLLIN | POLLERR), (r2, POLLERR), (w3, POLLOUT | POLLERR)]
    assert theirs.poll(0) == expected
    with anyio.fail_after(5):
        assert await ours.poll(0) == expected
        assert await ours.poll() == expected


async def test_same_thing_registered_twice(
    ctx: trio_zmq.Context, inproc: str, pipe: Callable[[], Pipe]
) -> None:
    """A trio_zmq.Socket and its pyzmq socket, an fd and an object with that
    fileno(): one wait each underneath (the loop allows one waiter per fd and
    direction), both entries reported."""
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    r, w = pipe()
    poller = trio_zmq.Poller()
    poller.register(pull, POLLIN)
    poller.register(pull.zmq_socket, POLLIN)
    poller.register(r, POLLIN)
    poller.register(Fileno(r), POLLIN)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:

            async def later() -> None:
                await anyio.wait_all_tasks_blocked()
                os.write(w, b"1")

            tg.start_soon(later)
            assert await poller.poll() == [(r, POLLIN), (r, POLLIN)]
        os.read(r, 1)
        async with anyio.create_task_group() as tg:

            async def send_later() -> None:
                await anyio.wait_all_tasks_blocked()
                await push.send(b"2")

            tg.start_soon(send_later)
            ready = await poller.poll()
        assert ready == [(pull, POLLIN), (pull.zmq_socket, POLLIN)]
    assert pull.recv_nowait() == b"2"
    assert_idle(pull, push)


async def test_empty_poller(ctx: trio_zmq.Context) -> None:
    poller = trio_zmq.Poller()
    with anyio.fail_after(5):
        assert await poller.poll(0) == []
        start = anyio.current_time()
        assert await poller.poll(20) == []
        assert anyio.current_time() - start >= 0.015
        with anyio.move_on_after(0.02) as scope:
            await poller.poll()  # nothing can become ready: until cancelled
    assert scope.cancelled_caught


# ----------------------------------------------------------------------
# Waking up
# ----------------------------------------------------------------------


@pytest.mark.parametrize("which", ["trio_zmq", "pyzmq", "pipe", "pipe-writable"])
async def test_wakes_for_each_kind(
    ctx: trio_zmq.Context,
    plain: Callable[[int], zmq.Socket[Any]],
    pipe: Callable[[], Pipe],
    which: str,
) -> None:
    """Among many idle sockets and pipes, readiness on any one wakes the poll."""
    socks = pulls(ctx, 20)
    zpull, zpush = plain(zmq.PULL), plain(zmq.PUSH)
    endpoint = unique_endpoint("inproc")
    zpull.bind(endpoint)
    zpush.connect(endpoint)
    pipes = [pipe() for _ in range(5)]
    full_r, full_w = pipe()
    os.set_blocking(full_r, False)
    os.set_blocking(full_w, False)
    while True:  # fill it: not writable until drained
        try:
            os.write(full_w, b"x" * 65536)
        except BlockingIOError:
            break
    poller = trio_zmq.Poller()
    for pull, _ in socks:
        poller.register(pull, POLLIN)
    poller.register(zpull, POLLIN)
    for r, _ in pipes:
        poller.register(r, POLLIN)
    poller.register(full_w, POLLOUT)

    async def make_ready() -> None:
        await anyio.wait_all_tasks_blocked()
        if which == "trio_zmq":
            await socks[13][1].send(b"x")
        elif which == "pyzmq":
            zpush.send(b"x")
        elif which == "pipe":
            os.write(pipes[3][1], b"x")
        else:
            try:
                while os.read(full_r, 65536):
                    pass
            except BlockingIOError:
                pass  # drained: writable again

    expected = {
        "trio_zmq": (socks[13][0], POLLIN),
        "pyzmq": (zpull, POLLIN),
        "pipe": (pipes[3][0], POLLIN),
        "pipe-writable": (full_w, POLLOUT),
    }[which]
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(make_ready)
            assert await poller.poll() == [expected]
    assert_idle(*(s for p in socks for s in p))
    assert_plain_idle(zpull)


async def test_readiness_while_waiting_on_several_reports_all_ready(
    ctx: trio_zmq.Context, pipe: Callable[[], Pipe]
) -> None:
    """Readiness that appears on several items at once is reported at once:
    the probe pass after the first wake-up lists everything ready."""
    socks = pulls(ctx, 10)
    r, w = pipe()
    poller = trio_zmq.Poller()
    for pull, _ in socks:
        poller.register(pull, POLLIN)
    poller.register(r, POLLIN)

    async def make_ready() -> None:
        await anyio.wait_all_tasks_blocked()
        # No schedule point between these: all ready when the poll looks.
        socks[2][1].send_nowait(b"a")
        socks[7][1].send_nowait(b"b")
        os.write(w, b"c")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(make_ready)
            ready = await poller.poll()
    assert ready == [(socks[2][0], POLLIN), (socks[7][0], POLLIN), (r, POLLIN)]
    assert_idle(*(s for p in socks for s in p))


# ----------------------------------------------------------------------
# Sharing sockets with tasks blocked in recv and send
# ----------------------------------------------------------------------


async def test_recv_blocked_first_gets_the_message(ctx: trio_zmq.Context, inproc: str) -> None:
    """A task already blocked in recv is ahead of the poll: it gets the
    message, and the poll, which saw nothing left, goes on waiting until
    something is there when it looks."""
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    poller = trio_zmq.Poller()
    poller.register(pull, POLLIN)
    received: list[bytes] = []
    polled: list[list[tuple[Any, int]]] = []

    async def receive() -> None:
        received.append(await pull.recv())

    async def poll() -> None:
        polled.append(await poller.poll())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(receive)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(poll)
            await anyio.wait_all_tasks_blocked()
            await push.send(b"1")
            await until(lambda: received)
            assert received == [b"1"]
            assert polled == []  # still waiting, no BusyResourceError
            await push.send(b"2")
    assert polled == [[(pull, POLLIN)]]
    assert pull.recv_nowait() == b"2"  # reported, not consumed
    assert_idle(pull, push)


async def test_poll_first_then_recv_nothing_lost(ctx: trio_zmq.Context, inproc: str) -> None:
    """The poll waits first, a recv queues behind it.  A poll never consumes,
    so the recv gets the message; the poll reports it only if it was still
    there when the poll looked (on trio it is not: the engine hands the
    message to the recv before the poll's task runs again; on asyncio the
    woken poll may look first), and otherwise waits for the next one.
    Either way nothing is lost."""
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    poller = trio_zmq.Poller()
    poller.register(pull, POLLIN)
    received: list[bytes] = []
    polled: list[list[tuple[Any, int]]] = []
    sent_second = False

    async def receive() -> None:
        received.append(await pull.recv())

    async def poll() -> None:
        polled.append(await poller.poll())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(poll)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(receive)
            await anyio.wait_all_tasks_blocked()
            await push.send(b"1")
            await until(lambda: received)
            assert received == [b"1"]
            if not polled:
                sent_second = True
                await push.send(b"2")
        assert polled == [[(pull, POLLIN)]]
        if sent_second:
            assert await pull.recv() == b"2"
        assert not trio_zmq.probe(pull)
    assert_idle(pull, push)


async def test_send_blocked_and_poll_pollout(ctx: trio_zmq.Context, inproc: str) -> None:
    """A task blocked in send and a poll for POLLOUT on the same socket:
    the send goes first, the poll reports the room that is left."""
    push = ctx.socket(zmq.PUSH)  # no peer yet: not writable
    poller = trio_zmq.Poller()
    poller.register(push, POLLOUT)
    polled: list[list[tuple[Any, int]]] = []

    async def poll() -> None:
        polled.append(await poller.poll())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(push.send, b"first")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(poll)
            await anyio.wait_all_tasks_blocked()
            assert polled == []
            pull = ctx.socket(zmq.PULL)
            pull.bind(inproc)
            push.connect(inproc)
        assert polled == [[(push, POLLOUT)]]
        assert await pull.recv() == b"first"
    assert_idle(push, pull)


@pytest.mark.parametrize("consumer", ["send", "probe", "other-poller"])
async def test_edge_consumed_by_the_library_still_wakes(
    ctx: trio_zmq.Context, inproc: str, consumer: str
) -> None:
    """The peer's message raises the fd's edge, and an operation on the same
    socket through the library consumes it before the poll's waiter could
    see it: the engine serves the poll from a fresh ZMQ_EVENTS read."""
    a, b, _ = pair(ctx, zmq.PAIR, zmq.PAIR, inproc)
    poller = trio_zmq.Poller()
    poller.register(a, POLLIN)
    other = trio_zmq.Poller()
    other.register(a, POLLIN)

    async def peer_sends_then_a_consumes() -> None:
        await anyio.wait_all_tasks_blocked()
        b.send_nowait(b"for a")
        # No schedule point: the poll's waiter has not run yet.
        if consumer == "send":
            a.send_nowait(b"for b")  # processes a's commands: edge gone
        elif consumer == "probe":
            assert trio_zmq.probe(a, POLLIN)
        else:
            assert await other.poll(0) == [(a, POLLIN)]

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(peer_sends_then_a_consumes)
            assert await poller.poll() == [(a, POLLIN)]
        assert await a.recv() == b"for a"
    assert_idle(a, b)


# ----------------------------------------------------------------------
# Timeouts
# ----------------------------------------------------------------------


async def test_timeout_zero_probes(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    poller = trio_zmq.Poller()
    poller.register(pull, POLLIN)
    with anyio.fail_after(5):
        with assert_schedule_point():
            assert await poller.poll(0) == []
        await push.send(b"x")
        await until_readable(pull)
        with assert_schedule_point():
            assert await poller.poll(0) == [(pull, POLLIN)]
    assert_idle(pull, push)


@pytest.mark.parametrize("timeout", [30, 30.5])
async def test_positive_timeout_waits_that_long(
    ctx: trio_zmq.Context, pipe: Callable[[], Pipe], timeout: float
) -> None:
    (pull, _), (pull2, _) = pulls(ctx, 2)
    r, _ = pipe()
    poller = trio_zmq.Poller()
    for item in (pull, pull2, r):
        poller.register(item, POLLIN)
    with anyio.fail_after(5):
        start = anyio.current_time()
        assert await poller.poll(timeout) == []
        elapsed = anyio.current_time() - start
    assert timeout / 1000 - 0.005 <= elapsed < 2
    assert_idle(pull, pull2)


@pytest.mark.parametrize("timeout", [None, -1, 5000])
async def test_wait_until_ready(ctx: trio_zmq.Context, inproc: str, timeout: int | None) -> None:
    """None and negative timeouts wait until something is ready (pyzmq)."""
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    (other, _) = pulls(ctx, 1)[0]
    poller = trio_zmq.Poller()
    poller.register(pull, POLLIN)
    poller.register(other, POLLIN)

    async def send_later() -> None:
        await anyio.sleep(0.05)
        await push.send(b"x")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(send_later)
            start = anyio.current_time()
            assert await poller.poll(timeout) == [(pull, POLLIN)]
            assert anyio.current_time() - start >= 0.04
    assert_idle(pull, push, other)


# ----------------------------------------------------------------------
# Cancellation: nothing lost
# ----------------------------------------------------------------------


async def test_cancelled_poll_loses_nothing(
    ctx: trio_zmq.Context, plain: Callable[[int], zmq.Socket[Any]], pipe: Callable[[], Pipe]
) -> None:
    socks = pulls(ctx, 5)
    zpull = plain(zmq.PULL)
    endpoint = unique_endpoint("inproc")
    zpull.bind(endpoint)
    r, w = pipe()
    poller = trio_zmq.Poller()
    for pull, _ in socks:
        poller.register(pull, POLLIN)
    poller.register(zpull, POLLIN)
    poller.register(r, POLLIN)
    with anyio.fail_after(5):
        with anyio.move_on_after(0.05) as scope:
            await poller.poll()
        assert scope.cancelled_caught
        # Every waiter is gone: the engines are idle, the pipe's slot is free.
        assert_idle(*(s for p in socks for s in p))
        assert_plain_idle(zpull)
        await socks[1][1].send(b"still here")
        os.write(w, b"p")
        await anyio.wait_readable(r)
        assert await socks[1][0].recv() == b"still here"

        # Cancelled with readiness already there: a checkpoint comes first,
        # so the poll raises and the message stays for the next recv.
        await socks[3][1].send(b"ready")
        await until_readable(socks[3][0])
        with anyio.CancelScope() as scope:
            scope.cancel()
            await poller.poll()
            pytest.fail("poll() returned under a cancelled scope")
        assert await socks[3][0].recv() == b"ready"
        assert os.read(r, 1) == b"p"


async def poll_into(
    poller: trio_zmq.Poller, scope: anyio.CancelScope, results: list[list[tuple[Any, int]]]
) -> None:
    with scope:
        results.append(await poller.poll())


async def test_cancelled_as_readiness_arrives(ctx: trio_zmq.Context, inproc: str) -> None:
    """A message and the poll's cancellation in the same moment: whichever
    the poll ends with, the message is there for the next recv."""
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    (other, _) = pulls(ctx, 1)[0]
    poller = trio_zmq.Poller()
    poller.register(pull, POLLIN)
    poller.register(other, POLLIN)
    for round_ in range(20):
        scope = anyio.CancelScope()
        results: list[list[tuple[Any, int]]] = []
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(poll_into, poller, scope, results)
                await anyio.wait_all_tasks_blocked()
                push.send_nowait(message := str(round_).encode())
                scope.cancel()
            assert results in ([], [[(pull, POLLIN)]])
            assert await pull.recv() == message
    assert_idle(pull, push, other)


# ----------------------------------------------------------------------
# Closing
# ----------------------------------------------------------------------


async def test_socket_closed_while_polling(ctx: trio_zmq.Context, pipe: Callable[[], Pipe]) -> None:
    """Closing a registered socket wakes the poll with ClosedResourceError
    (as it wakes a recv), which trio and anyio code both catch; the other
    waits end and leave nothing behind."""
    socks = pulls(ctx, 5)
    r, _ = pipe()
    poller = trio_zmq.Poller()
    for pull, _ in socks:
        poller.register(pull, POLLIN)
    poller.register(r, POLLIN)
    victim = socks[2][0]

    async def close_later() -> None:
        await anyio.wait_all_tasks_blocked()
        victim.close()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(close_later)
            with pytest.raises(trio_zmq.ClosedResourceError):
                await poller.poll()
        # Still registered and still closed: the next poll raises before waiting.
        with pytest.raises(trio.ClosedResourceError, match="registered with the Poller"):
            await poller.poll()
        with pytest.raises(anyio.ClosedResourceError):
            await poller.poll(0)
        poller.unregister(victim)
        assert await poller.poll(0) == []
    assert_idle(*(s for i, p in enumerate(socks) for s in p if s is not victim))


async def test_plain_socket_closed_before_poll(
    ctx: trio_zmq.Context, plain: Callable[[int], zmq.Socket[Any]]
) -> None:
    """pyzmq's own poller reports a closed socket as fd 0 (its NULL handle
    makes libzmq poll stdin); trio_zmq raises instead."""
    zpull = plain(zmq.PULL)
    poller = trio_zmq.Poller()
    poller.register(zpull, POLLIN)
    zpull.close()
    with anyio.fail_after(5), pytest.raises(trio_zmq.ClosedResourceError):
        await poller.poll()
    assert_plain_idle(zpull)


async def test_raw_fd_closed_while_polling(ctx: trio_zmq.Context, pipe: Callable[[], Pipe]) -> None:
    """A raw fd closed the loop's way (notify_closing, then close) wakes the
    poll with ClosedResourceError."""
    (pull, _) = pulls(ctx, 1)[0]
    r, _ = pipe()
    poller = trio_zmq.Poller()
    poller.register(pull, POLLIN)
    poller.register(r, POLLIN)

    async def close_later() -> None:
        await anyio.wait_all_tasks_blocked()
        anyio.notify_closing(r)
        os.close(r)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(close_later)
            with pytest.raises(trio_zmq.ClosedResourceError, match=f"fd {r}"):
                await poller.poll()
    assert_idle(pull)


async def wait_readable(fd: int) -> None:
    await anyio.wait_readable(fd)


async def test_fd_busy_in_another_task(ctx: trio_zmq.Context, pipe: Callable[[], Pipe]) -> None:
    """The event loop allows one waiter per fd and direction; a poll that
    comes second gets the loop's BusyResourceError (and sockets are fine)."""
    (pull, _) = pulls(ctx, 1)[0]
    r, w = pipe()
    poller = trio_zmq.Poller()
    poller.register(pull, POLLIN)
    poller.register(r, POLLIN)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_readable, r)
            await anyio.wait_all_tasks_blocked()
            with pytest.raises((trio.BusyResourceError, anyio.BusyResourceError)):
                await poller.poll()
            os.write(w, b"x")
    assert_idle(pull)


async def test_socketpair_object(pipe: Callable[[], Pipe]) -> None:
    """A Python socket registered as itself is polled through its fileno()."""
    a, b = socket.socketpair()
    with a, b:
        poller = trio_zmq.Poller()
        poller.register(a, POLLIN)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:

                async def send_later() -> None:
                    await anyio.wait_all_tasks_blocked()
                    b.send(b"x")

                tg.start_soon(send_later)
                assert await poller.poll() == [(a.fileno(), POLLIN)]
