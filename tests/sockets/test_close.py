"""Closing wakes every waiter with anyio.ClosedResourceError, and stays closed.

Covers closing a socket (``close()`` and ``aclose()``) under tasks blocked in
either direction, closing a channel view (which leaves the socket usable),
leaving the ``Context`` block, closing the ``trio_zmq.Socket.from_socket``
wrapper of a plain pyzmq socket that a task waits on through
``trio_zmq.wait_readable``, and closing twice.  Every socket is a real
libzmq socket.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc
import pytest
import zmq

import trio_zmq
from trio_zmq._core import _registry
from trio_zmq._core._engine import RECV, SEND
from trio_zmq.testing import unique_endpoint

from tests.conftest import ON_EVERY_LOOP
from tests.helpers import assert_idle, bind, engine_of, pair

pytestmark = ON_EVERY_LOOP

#: Liveness bound for "is woken": generous, never a timing assertion.
WAKE_BOUND = 5


async def close_socket(sock: trio_zmq.Socket, closer: str) -> None:
    if closer == "close":
        sock.close()
    else:
        await sock.aclose()


class Blocked:
    """Runs awaitables that must block, and records how each one ended."""

    def __init__(self) -> None:
        self.outcomes: dict[str, BaseException | str] = {}

    async def run(
        self, name: str, op: Callable[[], Awaitable[Any]], task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        task_status.started()
        try:
            await op()
        except anyio.ClosedResourceError as exc:
            self.outcomes[name] = exc
        else:
            self.outcomes[name] = "returned"

    async def start(
        self, nursery: anyio.abc.TaskGroup, name: str, op: Callable[[], Awaitable[Any]]
    ) -> None:
        await nursery.start(self.run, name, op)
        # Let it reach its wait (and queue) before the next one starts.
        await anyio.wait_all_tasks_blocked()

    def assert_all_closed(self, names: list[str]) -> None:
        assert sorted(self.outcomes) == sorted(names)
        for name, result in self.outcomes.items():
            assert isinstance(result, anyio.ClosedResourceError), (name, result)


async def assert_everything_raises_closed(sock: trio_zmq.Socket, endpoint: str) -> None:
    """Every later call on a closed socket raises ClosedResourceError."""
    assert sock.closed
    view = sock.receive_channel()
    with pytest.raises(anyio.ClosedResourceError):
        await sock.recv()
    with pytest.raises(anyio.ClosedResourceError):
        await sock.recv_multipart()
    with pytest.raises(anyio.ClosedResourceError):
        await sock.send(b"x")
    with pytest.raises(anyio.ClosedResourceError):
        await sock.send_multipart([b"x", b"y"])
    with pytest.raises(anyio.ClosedResourceError):
        sock.recv_nowait()
    with pytest.raises(anyio.ClosedResourceError):
        sock.send_nowait(b"x")
    with pytest.raises(anyio.ClosedResourceError):
        sock.bind(endpoint)
    with pytest.raises(anyio.ClosedResourceError):
        trio_zmq.probe(sock, zmq.POLLIN)
    with pytest.raises(anyio.ClosedResourceError):
        trio_zmq.probe(sock, zmq.POLLOUT)
    with pytest.raises(anyio.ClosedResourceError):
        await trio_zmq.wait_readable(sock)
    with pytest.raises(anyio.ClosedResourceError):
        await trio_zmq.wait_writable(sock)
    with pytest.raises(anyio.ClosedResourceError):
        await sock.wait_readable()
    with pytest.raises(anyio.ClosedResourceError):
        await sock.poll()
    with pytest.raises(anyio.ClosedResourceError):
        await sock.poll(100, zmq.POLLIN | zmq.POLLOUT)
    with pytest.raises(anyio.ClosedResourceError):
        await view.receive()
    with pytest.raises(anyio.ClosedResourceError):
        view.receive_nowait()


# ----------------------------------------------------------------------
# One task blocked in recv
# ----------------------------------------------------------------------


@pytest.mark.parametrize("closer", ["close", "aclose"])
async def test_close_wakes_blocked_recv_and_later_calls_fail(
    ctx: trio_zmq.Context, endpoint: str, closer: str
) -> None:
    sock = ctx.socket(zmq.DEALER)
    bind(sock, endpoint)  # no peer: nothing to receive, nowhere to send
    view = sock.receive_channel()
    blocked = Blocked()
    with anyio.fail_after(WAKE_BOUND):
        async with anyio.create_task_group() as nursery:
            await blocked.start(nursery, "recv", sock.recv)
            assert sock.statistics().tasks_waiting_receive == 1
            assert sock.statistics().fd_watched
            await close_socket(sock, closer)
    blocked.assert_all_closed(["recv"])
    assert_idle(sock)
    assert engine_of(sock).handle not in _registry._engines
    # The view made before the close is closed with the socket.
    with pytest.raises(anyio.ClosedResourceError):
        await view.receive()
    await assert_everything_raises_closed(sock, endpoint)


# ----------------------------------------------------------------------
# Many tasks blocked, in both directions
# ----------------------------------------------------------------------


@pytest.mark.parametrize("closer", ["close", "aclose"])
async def test_close_wakes_every_waiter_in_both_directions(
    ctx: trio_zmq.Context, endpoint: str, closer: str
) -> None:
    sock = ctx.socket(zmq.DEALER)
    sock.sndhwm = 1
    bind(sock, endpoint)  # no peer: receives and sends all block
    rx = sock.receive_channel()
    tx = sock.send_channel()
    blocked = Blocked()
    ops: dict[str, Callable[[], Awaitable[Any]]] = {}
    for i in range(3):
        ops[f"recv{i}"] = sock.recv
        ops[f"send{i}"] = functools.partial(sock.send, b"%d" % i)
    ops["recv_multipart"] = sock.recv_multipart
    ops["send_multipart"] = lambda: sock.send_multipart([b"a", b"b"])
    ops["channel_receive"] = rx.receive
    ops["channel_send"] = lambda: tx.send([b"c"])
    ops["wait_readable"] = lambda: trio_zmq.wait_readable(sock)
    ops["wait_writable"] = sock.wait_writable
    ops["poll_both"] = lambda: sock.poll(flags=zmq.POLLIN | zmq.POLLOUT)

    with anyio.fail_after(WAKE_BOUND * 2):
        async with anyio.create_task_group() as nursery:
            for name, op in ops.items():
                await blocked.start(nursery, name, op)
            engine = engine_of(sock)
            # poll_both stands in both queues.
            assert len(engine.queues[RECV]) == 3 + 1 + 1 + 1 + 1
            assert len(engine.queues[SEND]) == 3 + 1 + 1 + 1 + 1
            assert rx.statistics().tasks_waiting_receive == 7
            assert tx.statistics().tasks_waiting_send == 7
            await close_socket(sock, closer)
            # Closing again while the woken tasks have not run yet is harmless.
            sock.close()
    blocked.assert_all_closed(list(ops))
    assert_idle(sock)
    await assert_everything_raises_closed(sock, endpoint)


# ----------------------------------------------------------------------
# Closing a channel view
# ----------------------------------------------------------------------


@pytest.mark.parametrize("view_role", ["view-watching", "view-parked"])
@pytest.mark.parametrize("closer", ["close", "aclose"])
async def test_closing_receive_view_wakes_its_task_but_socket_stays_usable(
    ctx: trio_zmq.Context, endpoint: str, view_role: str, closer: str
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    view = pull.receive_channel()
    other_view = pull.receive_channel()
    blocked = Blocked()
    direct: list[bytes] = []

    async def direct_recv() -> None:
        direct.append(await pull.recv())

    with anyio.fail_after(WAKE_BOUND * 2):
        async with anyio.create_task_group() as nursery:
            # The view's task either watches the fd (first) or is parked
            # behind a direct receiver that watches it.
            if view_role == "view-watching":
                await blocked.start(nursery, "view", view.receive)
                nursery.start_soon(direct_recv)
            else:
                nursery.start_soon(direct_recv)
                await anyio.wait_all_tasks_blocked()
                await blocked.start(nursery, "view", view.receive)
            await anyio.wait_all_tasks_blocked()
            assert pull.statistics().tasks_waiting_receive == 2

            if closer == "close":
                view.close()
            else:
                await view.aclose()
            await anyio.wait_all_tasks_blocked()
            blocked.assert_all_closed(["view"])
            # The direct receiver still waits, and now watches the fd.
            assert not pull.closed
            assert pull.statistics().tasks_waiting_receive == 1
            assert engine_of(pull).watcher is engine_of(pull).queues[RECV][0]

            await push.send(b"next")
        assert direct == [b"next"]
        assert_idle(pull)

        # The socket and its other views are still fully usable.
        await push.send(b"after")
        assert await pull.recv() == b"after"
        await push.send_multipart([b"via", b"other view"])
        assert await other_view.receive() == [b"via", b"other view"]

    # The closed view stays closed.
    stats = view.statistics()
    assert stats.view_closed
    assert not stats.socket_closed
    with pytest.raises(anyio.ClosedResourceError):
        await view.receive()
    with pytest.raises(anyio.ClosedResourceError):
        view.receive_nowait()
    view.close()  # idempotent
    await view.aclose()


async def test_closing_send_view_wakes_its_task_but_socket_stays_usable(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 1
    address = bind(push, endpoint)  # no peer yet: sends block
    tx = push.send_channel()
    blocked = Blocked()
    with anyio.fail_after(WAKE_BOUND * 2):
        async with anyio.create_task_group() as nursery:
            await blocked.start(nursery, "channel_send", lambda: tx.send([b"never"]))
            assert push.statistics().tasks_waiting_send == 1
            tx.close()
        blocked.assert_all_closed(["channel_send"])
        assert_idle(push)
        assert not push.closed
        with pytest.raises(anyio.ClosedResourceError):
            await tx.send([b"never either"])

        pull = ctx.socket(zmq.PULL)
        pull.connect(address)
        await push.send(b"after")
        # The message the closed view was sending never went out.
        assert await pull.recv() == b"after"


# ----------------------------------------------------------------------
# Leaving the Context
# ----------------------------------------------------------------------


@pytest.mark.parametrize("linger", [0, None])
async def test_leaving_context_wakes_blocked_tasks(
    transport: str, ipc_dir: str, linger: int | None
) -> None:
    blocked = Blocked()
    names: list[str] = []
    sockets: list[trio_zmq.Socket] = []
    with anyio.fail_after(10):
        # The nursery is outside the context: its tasks outlive the block.
        async with anyio.create_task_group() as nursery:
            async with trio_zmq.Context(linger=linger) as ctx:
                dealer = ctx.socket(zmq.DEALER)
                bind(dealer, unique_endpoint(transport, ipc_dir))
                pull = ctx.socket(zmq.PULL)
                bind(pull, unique_endpoint(transport, ipc_dir))
                push = ctx.socket(zmq.PUSH)
                bind(push, unique_endpoint(transport, ipc_dir))
                sockets = [dealer, pull, push]
                view = pull.receive_channel()
                ops: dict[str, Callable[[], Awaitable[Any]]] = {
                    "dealer_recv": dealer.recv,
                    "dealer_send": lambda: dealer.send(b"x"),
                    "pull_recv": pull.recv,
                    "pull_channel": view.receive,
                    "push_send": lambda: push.send_multipart([b"a", b"b"]),
                    "push_send_2": lambda: push.send(b"y"),
                    "push_wait_writable": lambda: trio_zmq.wait_writable(push),
                }
                names = list(ops)
                for name, op in ops.items():
                    await blocked.start(nursery, name, op)
                assert not blocked.outcomes
            # The context is gone; its tasks were all woken.
            assert ctx.closed
    blocked.assert_all_closed(names)
    for sock in sockets:
        assert sock.closed
        assert_idle(sock)
        assert engine_of(sock).handle not in _registry._engines
        with pytest.raises(anyio.ClosedResourceError):
            await sock.recv()
    with pytest.raises(anyio.ClosedResourceError):
        ctx.socket(zmq.PULL)


# ----------------------------------------------------------------------
# A plain pyzmq socket, waited on through layer 1, closed by its wrapper
# ----------------------------------------------------------------------


@pytest.mark.parametrize("wrap", ["wrap-before-wait", "wrap-while-waiting"])
@pytest.mark.parametrize("closer", ["close", "aclose"])
async def test_closing_from_socket_wrapper_wakes_plain_socket_waiters(
    ctx: trio_zmq.Context, endpoint: str, wrap: str, closer: str
) -> None:
    zsock: zmq.Socket[Any] = ctx.zmq_context.socket(zmq.DEALER, socket_class=zmq.Socket)
    try:
        zsock.linger = 0
        zsock.sndhwm = 1
        if endpoint == "tcp://127.0.0.1":
            zsock.bind_to_random_port(endpoint)
        else:
            zsock.bind(endpoint)
        wrapper = trio_zmq.Socket.from_socket(zsock) if wrap == "wrap-before-wait" else None
        blocked = Blocked()
        with anyio.fail_after(WAKE_BOUND * 2):
            async with anyio.create_task_group() as nursery:
                # Through the plain pyzmq socket, in both directions.
                await blocked.start(nursery, "wait_readable", lambda: trio_zmq.wait_readable(zsock))
                await blocked.start(nursery, "wait_writable", lambda: trio_zmq.wait_writable(zsock))
                if wrapper is None:
                    wrapper = trio_zmq.Socket.from_socket(zsock)
                # One engine for the libzmq socket, whichever object waits.
                engine = _registry._engines[zsock.underlying]
                assert engine_of(wrapper) is engine
                assert len(engine.queues[RECV]) == 1
                assert len(engine.queues[SEND]) == 1
                await close_socket(wrapper, closer)
        blocked.assert_all_closed(["wait_readable", "wait_writable"])
        assert wrapper is not None
        assert zsock.closed
        assert wrapper.closed
        assert_idle(wrapper)
        assert engine.handle not in _registry._engines
        with pytest.raises(anyio.ClosedResourceError):
            await trio_zmq.wait_readable(zsock)
        with pytest.raises(anyio.ClosedResourceError):
            trio_zmq.probe(zsock, zmq.POLLIN)
        await assert_everything_raises_closed(wrapper, endpoint)
    finally:
        # Never leave a socket open under the fixture's context: its term
        # would wait for it forever.
        zsock.close(linger=0)


# ----------------------------------------------------------------------
# Closing twice
# ----------------------------------------------------------------------


async def test_close_is_idempotent(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    rx = pull.receive_channel()
    pull.close()
    pull.close()
    await pull.aclose()
    pull.close(linger=0)
    assert pull.closed
    rx.close()
    rx.close()
    await rx.aclose()
    with pytest.raises(anyio.ClosedResourceError):
        await pull.recv()

    await push.aclose()
    await push.aclose()
    push.close()
    assert push.closed
    with pytest.raises(anyio.ClosedResourceError):
        await push.send(b"x")

    # The context-manager forms close an already closed socket again.
    other = ctx.socket(zmq.PULL)
    async with other:
        other.close()
    with other:
        pass
    assert other.closed
    ctx.close_sockets()
    ctx.close_sockets()


async def test_view_statistics_after_socket_close(ctx: trio_zmq.Context) -> None:
    """statistics() reports ``socket_closed``: that is what the field is for,
    so it must not raise once the socket is closed."""
    sock = ctx.socket(zmq.DEALER)
    rx = sock.receive_channel()
    tx = sock.send_channel()
    assert not rx.statistics().socket_closed
    sock.close()
    rx_stats = rx.statistics()
    assert rx_stats.socket_closed
    assert not rx_stats.view_closed
    assert rx_stats.socket_type == zmq.DEALER
    assert rx_stats.tasks_waiting_receive == 0
    assert tx.statistics().socket_closed
    rx.close()
    assert rx.statistics().view_closed


async def test_repr_of_closed_socket_and_view(ctx: trio_zmq.Context) -> None:
    """repr() must not raise on a closed socket (it says "closed")."""
    sock = ctx.socket(zmq.DEALER)
    rx = sock.receive_channel()
    assert "closed" not in repr(sock)
    sock.close()
    assert "closed" in repr(sock)
    assert "closed" in repr(rx)
