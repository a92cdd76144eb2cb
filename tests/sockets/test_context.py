"""Leaving a Context never hangs silently, and never hides the exception.

``zmq_ctx_term`` waits for every socket of the libzmq context, including
those made through pyzmq (``ctx.zmq_context.socket()``, the PAIR of
``get_monitor_socket()``): leaving the block closes them too, waking tasks
that wait on them through ``trio_zmq.wait_readable``.  What it still cannot
close (a socket lingering with undelivered messages, one another thread
keeps open) makes the termination report after ``term_report_after``; and a
block left because of an exception lets that exception through.

Every wait here is bounded by ``anyio.fail_after`` (a liveness bound: a
hang fails the test instead of blocking the suite); no test asserts timing.
"""

from __future__ import annotations

import math
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq._core import _registry
from trio_zmq._socket._context import pyzmq_sockets

from tests.conftest import ON_EVERY_LOOP
from tests.sockets.test_close import Blocked

pytestmark = ON_EVERY_LOOP

#: Liveness bound for a Context exit (the default report bound is 5 s).
EXIT_BOUND = 10
#: A short report bound, so that the slow-termination tests run quickly.
REPORT_AFTER = 0.2


class UserError(Exception):
    pass


@pytest.fixture
def nowhere(ipc_dir: str) -> str:
    """An ipc endpoint nobody binds (until a test lets a peer in)."""
    return f"ipc://{ipc_dir}/nowhere"


@pytest.fixture
def let_peer_in() -> Iterator[Callable[[str], None]]:
    """``let_peer_in(address)`` binds a PULL there, in a pyzmq context of its
    own: a PUSH lingering with a message for ``address`` delivers and ends."""
    zctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    peers: list[zmq.Socket[bytes]] = []

    def bind_peer(address: str) -> None:
        pull = zctx.socket(zmq.PULL)
        peers.append(pull)  # alive until the test ends
        pull.bind(address)

    try:
        yield bind_peer
    finally:
        zctx.destroy(linger=0)


async def queue_undeliverable(ctx: trio_zmq.Context, address: str) -> trio_zmq.Socket:
    """A PUSH (linger -1) connected to ``address`` with one message queued:
    once closed, it lingers until a peer takes the message."""
    push = ctx.socket(zmq.PUSH)
    push.linger = -1
    push.connect(address)
    await push.send(b"undelivered")
    return push


async def until_closed(ctx: trio_zmq.Context) -> None:
    """Wait (bounded) for a termination left to a background thread."""
    with anyio.fail_after(EXIT_BOUND):
        while not ctx.closed:  # noqa: ASYNC110 - libzmq state, no event
            await anyio.sleep(0.01)


# ----------------------------------------------------------------------
# Sockets made through pyzmq are closed on leaving
# ----------------------------------------------------------------------


async def test_exception_with_monitor_socket_open_propagates() -> None:
    """Leaving closes the monitor's PAIR too: else term() would wait forever
    for it and the exception would never be seen."""
    opened: list[Any] = []

    async def leave_raising() -> None:
        async with trio_zmq.Context() as ctx:
            sock = ctx.socket(zmq.PUSH)
            opened.extend([ctx, sock, sock.zmq_socket.get_monitor_socket()])
            raise UserError

    with anyio.fail_after(EXIT_BOUND), pytest.raises(UserError):
        await leave_raising()
    ctx, sock, monitor = opened
    assert ctx.closed
    assert monitor.closed
    assert sock.closed


async def test_leaving_closes_sockets_made_through_pyzmq() -> None:
    with anyio.fail_after(EXIT_BOUND):
        async with trio_zmq.Context() as ctx:
            sock = ctx.socket(zmq.PULL)
            monitor = sock.zmq_socket.get_monitor_socket()
            push: zmq.Socket[Any] = ctx.zmq_context.socket(zmq.PUSH)
            push.bind("inproc://made-through-pyzmq")
    assert ctx.closed
    assert monitor.closed
    assert push.closed
    assert sock.closed


@pytest.mark.parametrize("through", ["wait_readable", "from_socket-wrapper"])
async def test_leaving_wakes_tasks_waiting_on_a_pyzmq_socket(through: str) -> None:
    """Their engine is closed before the socket (ClosedResourceError, and
    notify_closing while the fd still exists)."""
    blocked = Blocked()
    with anyio.fail_after(EXIT_BOUND):
        # The nursery is outside the context: its tasks outlive the block.
        async with anyio.create_task_group() as nursery, trio_zmq.Context() as ctx:
            pull: zmq.Socket[Any] = ctx.zmq_context.socket(zmq.PULL)
            pull.bind("inproc://pyzmq-pull")
            push: zmq.Socket[Any] = ctx.zmq_context.socket(zmq.PUSH)  # no peer
            if through == "wait_readable":
                await blocked.start(nursery, "recv", lambda: trio_zmq.wait_readable(pull))
            else:
                wrapper = trio_zmq.Socket.from_socket(pull)
                await blocked.start(nursery, "recv", wrapper.recv)
            await blocked.start(nursery, "send", lambda: trio_zmq.wait_writable(push))
            engines = [_registry.existing_engine(pull), _registry.existing_engine(push)]
            assert None not in engines
    blocked.assert_all_closed(["recv", "send"])
    assert pull.closed
    assert push.closed
    for engine in engines:
        assert engine is not None
        assert engine.closed
        assert engine.handle not in _registry._engines


async def test_sockets_of_other_threads_made_with_the_socket_class_are_left_alone() -> None:
    """The documented way to use the context from another thread: that
    thread's socket gets zmq.ContextTerminated and closes it itself."""
    ready = threading.Event()
    errors: list[BaseException] = []

    def worker(zctx: zmq.Context[Any]) -> None:
        with zmq.Socket(zctx, zmq.PULL) as pull:
            pull.bind("inproc://other-thread")
            ready.set()
            try:
                pull.recv()
            except zmq.ContextTerminated as exc:
                errors.append(exc)

    with anyio.fail_after(EXIT_BOUND):
        async with trio_zmq.Context() as ctx:
            thread = threading.Thread(target=worker, args=(ctx.zmq_context,), daemon=True)
            thread.start()
            await anyio.to_thread.run_sync(ready.wait, EXIT_BOUND)
    thread.join(EXIT_BOUND)
    assert ctx.closed
    assert len(errors) == 1


# ----------------------------------------------------------------------
# What closing does not help: a bounded wait, and a report
# ----------------------------------------------------------------------


async def test_slow_termination_reports_the_lingering_socket(
    nowhere: str, let_peer_in: Callable[[str], None]
) -> None:
    """Without an exception the exit keeps waiting (libzmq's linger promise)
    but says for what; here a peer then comes and the exit completes."""

    async def let_peer_in_once_reported() -> None:
        while not record:  # noqa: ASYNC110 - a warning is no event
            await anyio.sleep(0.01)
        let_peer_in(nowhere)

    async def leave_while_a_socket_lingers() -> trio_zmq.Context:
        with anyio.fail_after(EXIT_BOUND):
            async with anyio.create_task_group() as nursery:
                nursery.start_soon(let_peer_in_once_reported)
                async with trio_zmq.Context(term_report_after=REPORT_AFTER) as ctx:
                    await queue_undeliverable(ctx, nowhere)
        return ctx

    with pytest.warns(trio_zmq.ContextTermWarning) as record:
        ctx = await leave_while_a_socket_lingers()
    assert ctx.closed
    assert len(record) == 1
    report = str(record[0].message)
    assert "<trio_zmq.Socket PUSH" in report
    assert "linger -1: until delivered" in report
    assert nowhere in report
    assert "Still waiting." in report


async def test_exception_surfaces_although_a_socket_lingers(
    nowhere: str, let_peer_in: Callable[[str], None]
) -> None:
    """Leaving on an exception stops waiting after the bound: the exception
    propagates, with a note; the context terminates in the background."""
    contexts: list[trio_zmq.Context] = []

    async def leave_raising() -> None:
        async with trio_zmq.Context(term_report_after=REPORT_AFTER) as ctx:
            contexts.append(ctx)
            await queue_undeliverable(ctx, nowhere)
            raise UserError

    with (
        pytest.warns(trio_zmq.ContextTermWarning) as record,
        anyio.fail_after(EXIT_BOUND),
        pytest.raises(UserError) as caught,
    ):
        await leave_raising()
    report = str(record[0].message)
    assert "<trio_zmq.Socket PUSH" in report
    assert nowhere in report
    assert "no longer waiting" in report
    if sys.version_info >= (3, 11):
        assert "stopped waiting for zmq_ctx_term()" in caught.value.__notes__[0]
    let_peer_in(nowhere)
    await until_closed(contexts[0])


async def test_report_names_what_trio_zmq_cannot_see() -> None:
    """A socket another thread keeps open (made so that the Context does not
    close it): nothing this Context closed lingers, and the report says so."""
    release = threading.Event()
    opened = threading.Event()

    def hold(zctx: zmq.Context[Any]) -> None:
        sock = zmq.Socket(zctx, zmq.PUSH)
        opened.set()
        release.wait(EXIT_BOUND)
        sock.close(linger=0)

    async def release_once_reported() -> None:
        while not record:  # noqa: ASYNC110 - a warning is no event
            await anyio.sleep(0.01)
        release.set()

    async def leave_while_another_thread_holds_a_socket() -> trio_zmq.Context:
        with anyio.fail_after(EXIT_BOUND):
            async with anyio.create_task_group() as nursery:
                nursery.start_soon(release_once_reported)
                async with trio_zmq.Context(linger=0, term_report_after=REPORT_AFTER) as ctx:
                    ctx.socket(zmq.PULL)
                    holder = threading.Thread(target=hold, args=(ctx.zmq_context,), daemon=True)
                    threads.append(holder)
                    holder.start()
                    await anyio.to_thread.run_sync(opened.wait, EXIT_BOUND)
        return ctx

    threads: list[threading.Thread] = []
    with pytest.warns(trio_zmq.ContextTermWarning) as record:
        ctx = await leave_while_another_thread_holds_a_socket()
    threads[0].join(EXIT_BOUND)
    assert ctx.closed
    report = str(record[0].message)
    assert "No socket closed on leaving has a non-zero linger." in report
    assert "sockets another thread keeps open" in report


async def test_cancelled_exit_does_not_replace_the_exception(
    nowhere: str, let_peer_in: Callable[[str], None]
) -> None:
    """A cancellation during the termination wait must not take the place of
    the exception the block is leaving with (a cancel scope would then
    swallow both); the context still terminates."""
    contexts: list[trio_zmq.Context] = []

    async def leave_raising_while_cancelled() -> None:
        with anyio.CancelScope() as scope:
            async with trio_zmq.Context() as ctx:
                contexts.append(ctx)
                await queue_undeliverable(ctx, nowhere)
                scope.cancel()
                raise UserError

    with anyio.fail_after(EXIT_BOUND):
        with pytest.raises(UserError):  # not the cancellation in its place
            await leave_raising_while_cancelled()
        let_peer_in(nowhere)
        await until_closed(contexts[0])


async def test_term_stays_cancellable(nowhere: str, let_peer_in: Callable[[str], None]) -> None:
    """term() itself raises the cancellation, and still terminates."""
    ctx = trio_zmq.Context()  # reports after 5 s: not reached here
    await queue_undeliverable(ctx, nowhere)
    ctx.close_sockets()
    with anyio.fail_after(EXIT_BOUND):
        with anyio.move_on_after(REPORT_AFTER) as scope:
            await ctx.term()
        assert scope.cancelled_caught
        assert not ctx.closed
        let_peer_in(nowhere)
        await until_closed(ctx)


def test_report_bound_is_real_time_not_the_loops_clock() -> None:
    """Under trio's MockClock (virtual time that jumps as soon as every task
    waits) the termination wait must not report after 5 virtual seconds:
    the worker thread runs in real time."""

    async def leave() -> None:
        for _ in range(5):
            async with trio_zmq.Context(linger=0) as ctx:
                ctx.socket(zmq.PUSH)
            assert ctx.closed

    # filterwarnings = error: a ContextTermWarning fails the test.
    trio.run(leave, clock=trio.testing.MockClock(autojump_threshold=0))


# ----------------------------------------------------------------------
# The bound's setting, and the one private pyzmq attribute used
# ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1.0, math.nan, "5", True, None])
async def test_term_report_after_must_be_positive(value: Any) -> None:
    with pytest.raises(ValueError, match="term_report_after"):
        trio_zmq.Context(term_report_after=value)


async def test_pyzmq_records_sockets_where_we_look() -> None:
    """pyzmq keeps the sockets made by Context.socket() in the private
    WeakSet ``Context._sockets``; if that changes, fix pyzmq_sockets()."""
    zctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    made = zctx.socket(zmq.PAIR)
    untracked = zmq.Socket(zctx, zmq.PAIR)
    try:
        assert isinstance(zctx._sockets, weakref.WeakSet)
        assert pyzmq_sockets(zctx) == [made]
        made.close()
        assert pyzmq_sockets(zctx) == []
    finally:
        made.close()
        untracked.close()
        zctx.term()
