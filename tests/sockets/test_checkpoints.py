"""Every async operation is a checkpoint, the sync ones never are.

* ``trio.testing.assert_checkpoints()`` around every async operation, both when
  it can complete at once (no waiter is ever queued) and, where
  that means something, when it has to wait first;
* ``trio.testing.assert_no_checkpoints()`` around probe, the ``*_nowait``
  methods, ``close()`` and the synchronous pass-throughs, whether they succeed
  or raise;
* a cancel scope that is already cancelled makes every async operation raise
  :exc:`trio.Cancelled` without performing it: a send sends nothing (checked at
  the receiver), a receive leaves its message in the socket.  The ``aclose``
  methods follow trio's own rule instead: they close even when cancelled, then
  raise Cancelled.
"""

from __future__ import annotations

import contextlib
import json
import pickle
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq._core import _registry
from trio_zmq.testing import unique_endpoint

from tests.helpers import (
    AnySocket,
    assert_idle,
    bind,
    pair,
    recv_frames,
    until_readable,
    until_writable,
)

SocketOp = Callable[[trio_zmq.Socket], Awaitable[object]]


# ----------------------------------------------------------------------
# Operations, with what they put on / take off the wire
# ----------------------------------------------------------------------


def _serialize(msg: list[int]) -> list[bytes]:
    return [str(x).encode() for x in msg]


def _deserialize(frames: list[bytes]) -> list[int]:
    return [int(f) for f in frames]


#: name -> (the send, the frames the receiver must get)
SEND_OPS: dict[str, tuple[SocketOp, list[bytes]]] = {
    "send": (lambda s: s.send(b"payload"), [b"payload"]),
    "send_multipart": (lambda s: s.send_multipart([b"a", b"", b"c"]), [b"a", b"", b"c"]),
    "send_string": (lambda s: s.send_string("t\u00e9xt"), ["t\u00e9xt".encode()]),
    "send_json": (lambda s: s.send_json({"k": [1, 2]}), [json.dumps({"k": [1, 2]}).encode()]),
    "send_pyobj": (lambda s: s.send_pyobj((1, "two")), [pickle.dumps((1, "two"))]),
    "send_serialized": (lambda s: s.send_serialized([1, 22], _serialize), [b"1", b"22"]),
}

#: name -> (the frames to put in the socket, the receive, what it must return)
RECV_OPS: dict[str, tuple[list[bytes], SocketOp, object]] = {
    "recv": ([b"payload"], lambda s: s.recv(), b"payload"),
    "recv_multipart": ([b"a", b"", b"c"], lambda s: s.recv_multipart(), [b"a", b"", b"c"]),
    "recv_string": (["t\u00e9xt".encode()], lambda s: s.recv_string(), "t\u00e9xt"),
    "recv_json": ([b'{"k": [1, 2]}'], lambda s: s.recv_json(), {"k": [1, 2]}),
    "recv_pyobj": ([pickle.dumps((1, "two"))], lambda s: s.recv_pyobj(), (1, "two")),
    "recv_serialized": ([b"1", b"22"], lambda s: s.recv_serialized(_deserialize), [1, 22]),
}

VIAS = ["method", "function", "plain"]


# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------


async def assert_cancelled(op: Callable[[], Awaitable[object]]) -> None:
    """Run ``op`` under an already-cancelled scope; it must raise Cancelled."""
    with trio.CancelScope() as scope:
        scope.cancel()
        await op()
        pytest.fail("the operation returned under a cancelled scope")
    assert scope.cancelled_caught


def recv_now(sock: AnySocket) -> bytes:
    """A synchronous receive from either kind of socket."""
    if isinstance(sock, trio_zmq.Socket):
        return sock.recv_nowait()
    data: bytes = sock.recv(zmq.NOBLOCK)
    return data


@contextlib.contextmanager
def plain_socket(ctx: trio_zmq.Context, socket_type: int) -> Iterator[zmq.Socket[Any]]:
    """A plain pyzmq socket of ``ctx`` (closed before the context terms)."""
    zsock: zmq.Socket[Any] = ctx.zmq_context.socket(socket_type)
    try:
        yield zsock
    finally:
        zsock.close(linger=0)


def waiter_target(
    ctx: trio_zmq.Context, socket_type: int, via: str, address: str, stack: contextlib.ExitStack
) -> AnySocket:
    """A bound socket of ``socket_type`` to wait on ``via`` method/function/plain."""
    sock: AnySocket
    if via == "plain":
        sock = stack.enter_context(plain_socket(ctx, socket_type))
    else:
        sock = ctx.socket(socket_type)
    sock.bind(address)
    return sock


def wait_on(sock: AnySocket, via: str, events: int) -> Awaitable[None]:
    if via == "method":
        assert isinstance(sock, trio_zmq.Socket)
        return sock.wait_readable() if events == zmq.POLLIN else sock.wait_writable()
    if via == "plain":
        assert not isinstance(sock, trio_zmq.Socket)
    if events == zmq.POLLIN:
        return trio_zmq.wait_readable(sock)
    return trio_zmq.wait_writable(sock)


# ----------------------------------------------------------------------
# Sending: at once, must-wait, pre-cancelled
# ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SEND_OPS))
async def test_send_ops_checkpoint_when_ready(
    ctx: trio_zmq.Context, endpoint: str, name: str
) -> None:
    op, expected = SEND_OPS[name]
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    await until_writable(push)
    with trio.fail_after(5), trio.testing.assert_checkpoints():
        await op(push)
    assert_idle(push)  # it went out at once, no waiter was queued
    assert await recv_frames(pull) == expected


@pytest.mark.parametrize("name", list(SEND_OPS))
async def test_send_ops_checkpoint_when_waiting(
    ctx: trio_zmq.Context, endpoint: str, name: str
) -> None:
    op, expected = SEND_OPS[name]
    push = ctx.socket(zmq.PUSH)  # no peer yet: a send has to wait
    address = bind(push, endpoint)
    done = trio.Event()

    async def sender() -> None:
        with trio.testing.assert_checkpoints():
            await op(push)
        done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        assert push.statistics().tasks_waiting_send == 1
        pull = ctx.socket(zmq.PULL)
        pull.connect(address)
        with trio.fail_after(5):
            await done.wait()
    assert await recv_frames(pull) == expected
    assert_idle(push)


@pytest.mark.parametrize("name", list(SEND_OPS))
async def test_send_ops_precancelled_send_nothing(
    ctx: trio_zmq.Context, endpoint: str, name: str
) -> None:
    op, _ = SEND_OPS[name]
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    await until_writable(push)
    await assert_cancelled(lambda: op(push))
    assert_idle(push)
    # Nothing went out: the marker sent afterwards is the first thing received.
    await push.send(b"marker")
    assert await recv_frames(pull) == [b"marker"]
    assert not trio_zmq.probe(pull, zmq.POLLIN)


@pytest.mark.parametrize("name", list(SEND_OPS))
async def test_send_ops_precancelled_without_peer_send_nothing(
    ctx: trio_zmq.Context, inproc: str, name: str
) -> None:
    op, _ = SEND_OPS[name]
    push = ctx.socket(zmq.PUSH)
    push.bind(inproc)
    await assert_cancelled(lambda: op(push))
    assert_idle(push)
    pull = ctx.socket(zmq.PULL)
    pull.connect(inproc)
    await push.send(b"marker")
    assert await recv_frames(pull) == [b"marker"]
    assert not trio_zmq.probe(pull, zmq.POLLIN)


# ----------------------------------------------------------------------
# Receiving: at once, must-wait, pre-cancelled
# ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(RECV_OPS))
async def test_recv_ops_checkpoint_when_ready(
    ctx: trio_zmq.Context, endpoint: str, name: str
) -> None:
    frames, op, expected = RECV_OPS[name]
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    await push.send_multipart(frames)
    await until_readable(pull)
    with trio.fail_after(5), trio.testing.assert_checkpoints():
        result = await op(pull)
    assert result == expected
    assert_idle(pull)


@pytest.mark.parametrize("name", list(RECV_OPS))
async def test_recv_ops_checkpoint_when_waiting(
    ctx: trio_zmq.Context, endpoint: str, name: str
) -> None:
    frames, op, expected = RECV_OPS[name]
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    results: list[object] = []

    async def receiver() -> None:
        with trio.testing.assert_checkpoints():
            results.append(await op(pull))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await trio.testing.wait_all_tasks_blocked()
            assert pull.statistics().tasks_waiting_receive == 1
            await push.send_multipart(frames)
    assert results == [expected]
    assert_idle(pull)


@pytest.mark.parametrize("name", list(RECV_OPS))
async def test_recv_ops_precancelled_leave_the_message(
    ctx: trio_zmq.Context, endpoint: str, name: str
) -> None:
    frames, op, _ = RECV_OPS[name]
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    await push.send_multipart(frames)
    await until_readable(pull)
    await assert_cancelled(lambda: op(pull))
    assert_idle(pull)
    # The message is still there, whole.
    assert pull.recv_multipart_nowait() == frames


@pytest.mark.parametrize("name", list(RECV_OPS))
async def test_recv_ops_precancelled_when_empty(
    ctx: trio_zmq.Context, inproc: str, name: str
) -> None:
    _, op, _ = RECV_OPS[name]
    pull, _push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    await assert_cancelled(lambda: op(pull))
    assert_idle(pull)


# ----------------------------------------------------------------------
# poll
# ----------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [None, 0, 50])
async def test_poll_checkpoint_when_ready(
    ctx: trio_zmq.Context, inproc: str, timeout: int | None
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    await push.send(b"x")
    await until_readable(pull)
    with trio.fail_after(5), trio.testing.assert_checkpoints():
        events = await pull.poll(timeout)
    assert events == zmq.POLLIN
    assert_idle(pull)
    assert pull.recv_nowait() == b"x"  # poll did not consume it


@pytest.mark.parametrize("timeout", [0, 50])
async def test_poll_checkpoint_when_nothing_arrives(
    ctx: trio_zmq.Context, inproc: str, timeout: int
) -> None:
    pull, _push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    with trio.fail_after(5), trio.testing.assert_checkpoints():
        events = await pull.poll(timeout)
    assert events == 0
    assert_idle(pull)


@pytest.mark.parametrize("timeout", [None, 5000])
async def test_poll_checkpoint_when_waiting(
    ctx: trio_zmq.Context, inproc: str, timeout: int | None
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    results: list[int] = []

    async def poller() -> None:
        with trio.testing.assert_checkpoints():
            results.append(await pull.poll(timeout))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(poller)
            await trio.testing.wait_all_tasks_blocked()
            assert pull.statistics().tasks_waiting_receive == 1
            await push.send(b"x")
    assert results == [zmq.POLLIN]
    assert_idle(pull)


@pytest.mark.parametrize("timeout", [None, 0, 50])
async def test_poll_pollout_checkpoint_when_ready(
    ctx: trio_zmq.Context, inproc: str, timeout: int | None
) -> None:
    _pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    await until_writable(push)
    with trio.fail_after(5), trio.testing.assert_checkpoints():
        events = await push.poll(timeout, zmq.POLLOUT)
    assert events == zmq.POLLOUT
    assert_idle(push)


@pytest.mark.parametrize("timeout", [None, 0, 50])
async def test_poll_precancelled(ctx: trio_zmq.Context, inproc: str, timeout: int | None) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    await assert_cancelled(lambda: pull.poll(timeout))  # nothing to receive
    await push.send(b"x")
    await until_readable(pull)
    await assert_cancelled(lambda: pull.poll(timeout))  # something to receive
    assert_idle(pull)
    assert pull.recv_nowait() == b"x"


# ----------------------------------------------------------------------
# wait_readable / wait_writable: method, module function, plain pyzmq socket
# ----------------------------------------------------------------------


@pytest.mark.parametrize("via", VIAS)
async def test_wait_readable_checkpoint_when_ready(
    ctx: trio_zmq.Context, inproc: str, via: str
) -> None:
    with contextlib.ExitStack() as stack:
        pull = waiter_target(ctx, zmq.PULL, via, inproc, stack)
        push = ctx.socket(zmq.PUSH)
        push.connect(inproc)
        await push.send(b"x")
        await until_readable(pull)
        with trio.fail_after(5), trio.testing.assert_checkpoints():
            await wait_on(pull, via, zmq.POLLIN)
        assert recv_now(pull) == b"x"  # the wait consumed nothing


@pytest.mark.parametrize("via", VIAS)
async def test_wait_readable_checkpoint_when_waiting(
    ctx: trio_zmq.Context, inproc: str, via: str
) -> None:
    with contextlib.ExitStack() as stack:
        pull = waiter_target(ctx, zmq.PULL, via, inproc, stack)
        push = ctx.socket(zmq.PUSH)
        push.connect(inproc)
        woken = trio.Event()

        async def waiter() -> None:
            with trio.testing.assert_checkpoints():
                await wait_on(pull, via, zmq.POLLIN)
            woken.set()

        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                await trio.testing.wait_all_tasks_blocked()
                assert not woken.is_set()
                await push.send(b"x")
        assert recv_now(pull) == b"x"


@pytest.mark.parametrize("via", VIAS)
async def test_wait_writable_checkpoint_when_ready(
    ctx: trio_zmq.Context, inproc: str, via: str
) -> None:
    with contextlib.ExitStack() as stack:
        push = waiter_target(ctx, zmq.PUSH, via, inproc, stack)
        pull = ctx.socket(zmq.PULL)
        pull.connect(inproc)
        await until_writable(push)
        with trio.fail_after(5), trio.testing.assert_checkpoints():
            await wait_on(push, via, zmq.POLLOUT)
        assert not trio_zmq.probe(pull, zmq.POLLIN)  # the wait sent nothing


@pytest.mark.parametrize("via", VIAS)
async def test_wait_writable_checkpoint_when_waiting(
    ctx: trio_zmq.Context, inproc: str, via: str
) -> None:
    with contextlib.ExitStack() as stack:
        push = waiter_target(ctx, zmq.PUSH, via, inproc, stack)  # no peer yet
        woken = trio.Event()

        async def waiter() -> None:
            with trio.testing.assert_checkpoints():
                await wait_on(push, via, zmq.POLLOUT)
            woken.set()

        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                await trio.testing.wait_all_tasks_blocked()
                assert not woken.is_set()
                pull = ctx.socket(zmq.PULL)
                pull.connect(inproc)
        assert trio_zmq.probe(push, zmq.POLLOUT)


@pytest.mark.parametrize("via", VIAS)
async def test_wait_precancelled(ctx: trio_zmq.Context, inproc: str, via: str) -> None:
    with contextlib.ExitStack() as stack:
        # A ready DEALER (peer connected, a message waiting) and a PUSH with
        # no peer: pre-cancelled waits raise whether or not they could return.
        dealer = waiter_target(ctx, zmq.DEALER, via, inproc, stack)
        peer = ctx.socket(zmq.DEALER)
        peer.connect(inproc)
        await peer.send(b"x")
        await until_readable(dealer)
        await until_writable(dealer)
        lonely = waiter_target(ctx, zmq.PUSH, via, unique_endpoint("inproc"), stack)
        await assert_cancelled(lambda: wait_on(dealer, via, zmq.POLLIN))
        await assert_cancelled(lambda: wait_on(dealer, via, zmq.POLLOUT))
        await assert_cancelled(lambda: wait_on(lonely, via, zmq.POLLOUT))
        await assert_cancelled(lambda: wait_on(lonely, via, zmq.POLLIN))
        assert recv_now(dealer) == b"x"
        assert not trio_zmq.probe(peer, zmq.POLLIN)  # nothing was sent back
        for sock in (dealer, lonely):
            if isinstance(sock, trio_zmq.Socket):
                assert_idle(sock)
            else:  # a plain socket's engine is dropped once nobody waits
                assert _registry.existing_engine(sock) is None


# ----------------------------------------------------------------------
# aclose (socket, channel views, context)
# ----------------------------------------------------------------------


async def test_socket_aclose_checkpoint(ctx: trio_zmq.Context, inproc: str) -> None:
    sock = ctx.socket(zmq.PULL)
    sock.bind(inproc)
    with trio.testing.assert_checkpoints():
        await sock.aclose()
    assert sock.closed
    # Idempotent, and still a checkpoint when there is nothing left to do.
    with trio.testing.assert_checkpoints():
        await sock.aclose()
    # async with exits through aclose: a checkpoint too.
    with trio.testing.assert_checkpoints():
        async with ctx.socket(zmq.PUSH) as other:
            pass
    assert other.closed


async def test_socket_aclose_checkpoint_with_blocked_waiter(
    ctx: trio_zmq.Context, inproc: str
) -> None:
    sock = ctx.socket(zmq.PULL)
    sock.bind(inproc)
    errors: list[BaseException] = []

    async def receiver() -> None:
        try:
            await sock.recv()
        except trio.ClosedResourceError as exc:
            errors.append(exc)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await trio.testing.wait_all_tasks_blocked()
            with trio.testing.assert_checkpoints():
                await sock.aclose()
    assert len(errors) == 1


async def test_socket_aclose_precancelled_still_closes(ctx: trio_zmq.Context, inproc: str) -> None:
    # trio's rule for aclose: close even when cancelled, then raise Cancelled.
    sock = ctx.socket(zmq.PULL)
    sock.bind(inproc)
    await assert_cancelled(sock.aclose)
    assert sock.closed
    with pytest.raises(trio.ClosedResourceError):
        sock.recv_nowait()


async def test_context_aclose_checkpoint(inproc: str) -> None:
    context = trio_zmq.Context(linger=0)
    pull = context.socket(zmq.PULL)
    pull.bind(inproc)
    push = context.socket(zmq.PUSH)
    push.connect(inproc)
    errors: list[BaseException] = []

    async def receiver() -> None:
        try:
            await pull.recv()
        except trio.ClosedResourceError as exc:
            errors.append(exc)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await trio.testing.wait_all_tasks_blocked()
            with trio.testing.assert_checkpoints():
                await context.aclose()
    assert errors  # the waiter was woken by the close
    assert pull.closed
    assert push.closed
    assert context.closed
    # Idempotent, and still a checkpoint.
    with trio.testing.assert_checkpoints():
        await context.aclose()
    # Leaving `async with` is the same aclose.
    with trio.testing.assert_checkpoints():
        async with trio_zmq.Context(linger=0) as other:
            other.socket(zmq.PUSH)
    assert other.closed


async def test_context_aclose_precancelled_still_closes() -> None:
    context = trio_zmq.Context(linger=0)
    sock = context.socket(zmq.PUSH)
    try:
        await assert_cancelled(context.aclose)
        assert sock.closed
        # trio's rule: aclose closes the resource even when cancelled (here:
        # the libzmq context must be terminated, at the latest soon after).
        with trio.fail_after(5):
            while not context.closed:  # noqa: ASYNC110 - libzmq state, no event
                await trio.sleep(0.01)
    finally:
        if not context.zmq_context.closed:
            context.zmq_context.term()  # don't leak it into later tests


# ----------------------------------------------------------------------
# Channel views
# ----------------------------------------------------------------------


async def test_channel_ops_checkpoint_when_ready(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    tx = push.send_channel()
    rx = pull.receive_channel()
    await until_writable(push)
    with trio.fail_after(5), trio.testing.assert_checkpoints():
        await tx.wait_writable()
    with trio.fail_after(5), trio.testing.assert_checkpoints():
        await tx.send([b"a", b"b"])
    assert_idle(push)
    await until_readable(pull)
    with trio.fail_after(5), trio.testing.assert_checkpoints():
        assert await rx.receive() == [b"a", b"b"]
    assert_idle(pull)
    with trio.testing.assert_checkpoints():
        await tx.aclose()
    with trio.testing.assert_checkpoints():
        await rx.aclose()
    assert not push.closed
    assert not pull.closed


async def test_channel_ops_checkpoint_when_waiting(ctx: trio_zmq.Context, inproc: str) -> None:
    push = ctx.socket(zmq.PUSH)
    push.bind(inproc)  # no peer: send and wait_writable must wait
    pull = ctx.socket(zmq.PULL)
    tx = push.send_channel()
    rx = pull.receive_channel()
    received: list[list[bytes]] = []

    async def writer() -> None:
        with trio.testing.assert_checkpoints():
            await tx.wait_writable()
        with trio.testing.assert_checkpoints():
            await tx.send([b"m"])

    async def reader() -> None:
        with trio.testing.assert_checkpoints():
            received.append(await rx.receive())

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            assert push.statistics().tasks_waiting_send == 1
            assert pull.statistics().tasks_waiting_receive == 1
            pull.connect(inproc)
    assert received == [[b"m"]]


async def test_channel_ops_precancelled(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    tx = push.send_channel()
    rx = pull.receive_channel()
    await until_writable(push)
    await assert_cancelled(lambda: tx.send([b"cancelled"]))
    await assert_cancelled(tx.wait_writable)
    await assert_cancelled(rx.receive)  # nothing there
    await push.send(b"waiting")
    await until_readable(pull)
    await assert_cancelled(rx.receive)  # something there: left in place
    assert_idle(push)
    assert_idle(pull)
    assert rx.receive_nowait() == [b"waiting"]  # and the cancelled send sent nothing
    assert not trio_zmq.probe(pull, zmq.POLLIN)
    # aclose closes the view even when cancelled (trio's rule), not the socket.
    await assert_cancelled(tx.aclose)
    await assert_cancelled(rx.aclose)
    assert tx.statistics().view_closed
    assert rx.statistics().view_closed
    with pytest.raises(trio.ClosedResourceError):
        tx.send_nowait([b"x"])
    with pytest.raises(trio.ClosedResourceError):
        rx.receive_nowait()
    assert not push.closed
    assert not pull.closed


# ----------------------------------------------------------------------
# Never a checkpoint
# ----------------------------------------------------------------------


async def test_probe_never_checkpoints(ctx: trio_zmq.Context, inproc: str) -> None:
    with plain_socket(ctx, zmq.PULL) as zpull:
        zpull.bind(inproc)
        push = ctx.socket(zmq.PUSH)
        with trio.testing.assert_no_checkpoints():
            assert not trio_zmq.probe(zpull, zmq.POLLIN)
            assert not trio_zmq.probe(push, zmq.POLLOUT)  # not connected yet
        push.connect(inproc)
        await push.send(b"x")
        await until_readable(zpull)
        with trio.testing.assert_no_checkpoints():
            assert trio_zmq.probe(zpull, zmq.POLLIN)
            assert trio_zmq.probe(zpull)  # POLLIN is the default
            assert trio_zmq.probe(push, zmq.POLLOUT)
            assert trio_zmq.probe(push, zmq.POLLIN | zmq.POLLOUT)
            with pytest.raises(ValueError, match="POLLIN"):
                trio_zmq.probe(push, 0)
        assert zpull.recv(zmq.NOBLOCK) == b"x"


async def test_nowait_ops_never_checkpoint(ctx: trio_zmq.Context, inproc: str) -> None:
    push = ctx.socket(zmq.PUSH)
    push.bind(inproc)
    pull = ctx.socket(zmq.PULL)
    with trio.testing.assert_no_checkpoints():
        with pytest.raises(trio.WouldBlock):
            push.send_nowait(b"x")  # no peer
        with pytest.raises(trio.WouldBlock):
            push.send_multipart_nowait([b"x", b"y"])
        with pytest.raises(trio.WouldBlock):
            pull.recv_nowait()
        with pytest.raises(trio.WouldBlock):
            pull.recv_multipart_nowait()
        pull.connect(inproc)
    await until_writable(push)
    with trio.testing.assert_no_checkpoints():
        push.send_nowait(b"one")
        push.send_multipart_nowait([b"two", b"2"])
    await until_readable(pull)
    with trio.testing.assert_no_checkpoints():
        assert pull.recv_nowait() == b"one"
        assert pull.recv_multipart_nowait() == [b"two", b"2"]
        with pytest.raises(trio.WouldBlock):
            pull.recv_nowait()


async def test_nowait_never_checkpoints_nor_overtakes_parked_tasks(
    ctx: trio_zmq.Context, inproc: str
) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    received: list[bytes] = []

    async def receiver() -> None:
        received.append(await pull.recv())

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await trio.testing.wait_all_tasks_blocked()
            push.send_nowait(b"for the parked task")
            with trio.testing.assert_no_checkpoints(), pytest.raises(trio.WouldBlock):
                pull.recv_nowait()  # a task is parked ahead of us
            with trio.testing.assert_no_checkpoints(), pytest.raises(trio.WouldBlock):
                pull.recv_multipart_nowait()
    assert received == [b"for the parked task"]


async def test_channel_nowait_never_checkpoints(ctx: trio_zmq.Context, inproc: str) -> None:
    push = ctx.socket(zmq.PUSH)
    push.bind(inproc)
    pull = ctx.socket(zmq.PULL)
    tx = push.send_channel()
    rx = pull.receive_channel()
    with trio.testing.assert_no_checkpoints():
        with pytest.raises(trio.WouldBlock):
            tx.send_nowait([b"x"])
        with pytest.raises(trio.WouldBlock):
            rx.receive_nowait()
        pull.connect(inproc)
    await until_writable(push)
    with trio.testing.assert_no_checkpoints():
        tx.send_nowait([b"a", b"b"])
    await until_readable(pull)
    with trio.testing.assert_no_checkpoints():
        assert rx.receive_nowait() == [b"a", b"b"]
        stats = rx.statistics()
        tx.close()
        rx.close()
    assert stats.items == 1


async def test_close_never_checkpoints(ctx: trio_zmq.Context, inproc: str) -> None:
    idle = ctx.socket(zmq.PUSH)
    with trio.testing.assert_no_checkpoints():
        idle.close()
        idle.close()  # idempotent
        idle.close(linger=0)
    assert idle.closed

    sock = ctx.socket(zmq.PULL)
    sock.bind(inproc)
    errors: list[BaseException] = []

    async def receiver() -> None:
        try:
            await sock.recv()
        except trio.ClosedResourceError as exc:
            errors.append(exc)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await trio.testing.wait_all_tasks_blocked()
            with trio.testing.assert_no_checkpoints():
                sock.close()  # wakes the waiter without yielding
    assert len(errors) == 1


async def test_sync_passthroughs_never_checkpoint(ctx: trio_zmq.Context, inproc: str) -> None:
    pub = ctx.socket(zmq.PUB)
    sub = ctx.socket(zmq.SUB)
    with trio.testing.assert_no_checkpoints():
        pub.bind(inproc)
        sub.connect(inproc)
        sub.subscribe(b"topic")
        sub.unsubscribe(b"topic")
        sub.subscribe("")
        pub.set(zmq.SNDHWM, 123)
        assert pub.get(zmq.SNDHWM) == 123
        pub.setsockopt(zmq.LINGER, 0)
        assert pub.getsockopt(zmq.LINGER) == 0
        sub.rcvhwm = 77
        assert sub.rcvhwm == 77
        with pytest.raises(zmq.ZMQError):
            pub.connect("tcp://")
    # Even while a task waits on the socket (pass-throughs re-probe for it).
    received: list[bytes] = []

    async def receiver() -> None:
        received.append(await sub.recv())

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await trio.testing.wait_all_tasks_blocked()
            with trio.testing.assert_no_checkpoints():
                assert sub.get(zmq.RCVHWM) == 77
                sub.set(zmq.RCVHWM, 78)
                sub.subscribe(b"more")
                sub.connect(unique_endpoint("inproc") + "-unbound")
            while not received:
                await pub.send(b"hello")
                await trio.sleep(0.01)
    assert received[0] == b"hello"
