"""Bad input, exhaustively: every public entry point, given what it cannot take.

Each row of :data:`CASES` is one wrong call and the exception it must raise
(type and message).  For every row the test then checks that nothing was
half-sent (the peer has no message, not even a frame of one) and that the
socket still works (a good message goes through whole, and is the first
the peer receives).  docs/reliability.md ("Bad input") is this table in
prose, with the cases that need more than one call: closed sockets and
contexts, threads, two ``trio.run`` calls, MAXMSGSIZE and EMFILE.
"""

from __future__ import annotations

import errno
import inspect
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import trio
import zmq

import trio_zmq

#: Liveness bound for anything that waits here.
BOUND = 5


@dataclass(frozen=True)
class Case:
    """``call(sender, receiver, ctx)`` must raise ``error`` matching ``match``."""

    name: str
    call: Callable[[Any, Any, Any], Any]  # Any: the calls are wrong on purpose
    error: type[BaseException]
    match: str


def _unpicklable() -> object:
    return lambda: None


CASES = [
    # Context.socket
    Case("socket: unknown type", lambda s, r, c: c.socket(999), ValueError, "999 is not a zmq"),
    Case("socket: type by name", lambda s, r, c: c.socket("PUB"), ValueError, "'PUB' is not"),
    Case(
        "socket: draft type without ZMQ_FD",
        lambda s, r, c: c.socket(getattr(zmq, "SERVER", 12)),
        ValueError,
        "ZMQ_FD|is not a zmq",
    ),
    # Endpoints and options
    Case("bind: no transport", lambda s, r, c: s.bind("nonsense"), ValueError, "invalid endpoint"),
    Case("bind: not a str", lambda s, r, c: s.bind(5), TypeError, "must be a str, not int"),
    Case("connect: no address", lambda s, r, c: s.connect("tcp://"), zmq.ZMQError, "Invalid"),
    Case(
        "connect: unknown transport",
        lambda s, r, c: s.connect("nope://x"),
        zmq.ZMQError,
        "Protocol not supported",
    ),
    Case("set: unknown option", lambda s, r, c: s.set(9999, 1), zmq.ZMQError, "Invalid argument"),
    Case("set: wrong value type", lambda s, r, c: s.set(zmq.LINGER, "x"), TypeError, "unicode"),
    Case("subscribe: not a SUB", lambda s, r, c: s.subscribe(b"x"), zmq.ZMQError, "Invalid"),
    # Frames and messages
    Case("send: str", lambda s, r, c: s.send("text"), TypeError, "str frames are not allowed"),
    Case("send: int", lambda s, r, c: s.send(5), TypeError, "not int"),
    Case("send: None", lambda s, r, c: s.send(None), TypeError, "not NoneType"),
    Case("send_nowait: str", lambda s, r, c: s.send_nowait("t"), TypeError, "str frames"),
    Case(
        "send_multipart: bytes",
        lambda s, r, c: s.send_multipart(b"ab"),
        TypeError,
        "wrap a single bytes in a list",
    ),
    Case(
        "send_multipart: empty",
        lambda s, r, c: s.send_multipart([]),
        ValueError,
        "at least one frame",
    ),
    Case(
        "send_multipart: a bad last frame",
        lambda s, r, c: s.send_multipart([b"first", b"second", "third"]),
        TypeError,
        "str frames",
    ),
    Case(
        "send_multipart: a generator",
        lambda s, r, c: s.send_multipart(f for f in [b"a"]),
        TypeError,
        "sequence of frames, not generator",
    ),
    Case(
        "send_multipart_nowait: bad frame",
        lambda s, r, c: s.send_multipart_nowait([b"a", 1]),
        TypeError,
        "not int",
    ),
    Case("send_string: bytes", lambda s, r, c: s.send_string(b"x"), TypeError, "takes a str"),
    Case(
        "send_json: not serializable",
        lambda s, r, c: s.send_json(object()),
        TypeError,
        "not JSON serializable",
    ),
    Case(
        "send_pyobj: not picklable",
        lambda s, r, c: s.send_pyobj(_unpicklable()),
        (AttributeError, pickle.PicklingError),  # type: ignore[arg-type]
        "local object",  # "Can't pickle" (3.10-3.12) or "Can't get" (3.13)
    ),
    Case(
        "send_serialized: serializer returns no frames",
        lambda s, r, c: s.send_serialized(1, lambda obj: obj),
        TypeError,
        "sequence of frames, not int",
    ),
    Case("send_batch: str", lambda s, r, c: s.send_batch("abc"), TypeError, "not str"),
    Case(
        "send_batch: one bad message among good ones",
        lambda s, r, c: s.send_batch([[b"a"], [b"b"], "c"]),
        TypeError,
        "wrap a single str",
    ),
    Case("recv_batch: zero", lambda s, r, c: r.recv_batch(0), ValueError, "positive int, not 0"),
    # Flags
    Case(
        "send: unknown flag",
        lambda s, r, c: s.send(b"x", flags=zmq.POLLIN << 8),
        ValueError,
        "unknown flags",
    ),
    Case(
        "send_multipart: flags not an int",
        lambda s, r, c: s.send_multipart([b"x"], flags="NOBLOCK"),
        TypeError,
        "flags must be an int",
    ),
    Case(
        "recv: SNDMORE",
        lambda s, r, c: r.recv(flags=zmq.SNDMORE),
        ValueError,
        "takes zmq.NOBLOCK",
    ),
    Case(
        "recv_multipart: unknown flag",
        lambda s, r, c: r.recv_multipart(flags=1 << 10),
        ValueError,
        "unknown flags",
    ),
    # Tools
    Case(
        "Poller.register: not pollable",
        lambda s, r, c: trio_zmq.Poller().register("x"),
        TypeError,
        "expected a trio_zmq.Socket",
    ),
    Case(
        "Poller.register: bad flags",
        lambda s, r, c: trio_zmq.Poller().register(s, 99),
        ValueError,
        "flags must be POLLIN",
    ),
    Case(
        "monitor: bad event mask",
        lambda s, r, c: s.monitor(-1),
        ValueError,
        "events must be a non-empty mask",
    ),
    Case(
        "proxy: the same socket twice",
        lambda s, r, c: trio_zmq.proxy(s, s),
        ValueError,
        "the same socket",
    ),
    Case(
        "wait_tracker: not a tracker",
        lambda s, r, c: trio_zmq.wait_tracker(3),  # type: ignore[arg-type]
        TypeError,
        "expected the zmq.MessageTracker",
    ),
    Case(
        "Context: bad term_report_after",
        lambda s, r, c: trio_zmq.Context(term_report_after=0),
        ValueError,
        "term_report_after must be a positive",
    ),
]


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, awaited if it returns an awaitable."""
    result = function(*args)
    if inspect.isawaitable(result):
        return await result
    return result


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_bad_input_raises_before_anything_is_sent(
    case: Case, ctx: trio_zmq.Context, inproc: str
) -> None:
    sender, receiver = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    sender.bind(inproc)
    receiver.connect(inproc)
    with trio.fail_after(BOUND), pytest.raises(case.error, match=case.match):
        await _call(case.call, sender, receiver, ctx)
    # Nothing half-sent: not a frame of the bad message reached the peer ...
    with pytest.raises(trio.WouldBlock):
        receiver.recv_multipart_nowait()
    # ... and the sockets still work: the next message is the first to arrive.
    with trio.fail_after(BOUND):
        await sender.send_multipart([b"after", case.name.encode()])
        assert await receiver.recv_multipart() == [b"after", case.name.encode()]


def test_every_case_is_in_the_docs_table() -> None:
    """docs/reliability.md lists each row of this table by name."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "reliability.md").read_text()
    missing = [case.name for case in CASES if f"`{case.name}`" not in text]
    assert not missing, f"docs/reliability.md lacks: {missing}"


# ----------------------------------------------------------------------
# A closed socket, a closed context
# ----------------------------------------------------------------------

#: Every entry point of a socket; each must raise ClosedResourceError once closed.
CLOSED_CALLS: dict[str, Callable[[trio_zmq.Socket], Any]] = {
    "send": lambda s: s.send(b"x"),
    "send_nowait": lambda s: s.send_nowait(b"x"),
    "send_multipart": lambda s: s.send_multipart([b"x"]),
    "send_batch": lambda s: s.send_batch([[b"x"]]),
    "recv": lambda s: s.recv(),
    "recv_nowait": lambda s: s.recv_nowait(),
    "recv_multipart": lambda s: s.recv_multipart(),
    "recv_batch": lambda s: s.recv_batch(),
    "bind": lambda s: s.bind("inproc://closed-bind"),
    "connect": lambda s: s.connect("inproc://closed-connect"),
    "get": lambda s: s.get(zmq.LINGER),
    "set": lambda s: s.set(zmq.LINGER, 0),
    "fileno": lambda s: s.fileno(),
    "monitor": lambda s: s.monitor(),
    "send_channel().send": lambda s: s.send_channel().send([b"x"]),
    "receive_channel().receive": lambda s: s.receive_channel().receive(),
    "wait_readable": lambda s: trio_zmq.wait_readable(s),
}


@pytest.mark.parametrize("call", CLOSED_CALLS.values(), ids=list(CLOSED_CALLS))
async def test_a_closed_socket_raises_closed_resource_error(
    call: Callable[[trio_zmq.Socket], Any], ctx: trio_zmq.Context
) -> None:
    sock = ctx.socket(zmq.PAIR)
    sock.close()
    with trio.fail_after(BOUND), pytest.raises(trio.ClosedResourceError):
        await _call(call, sock)
    sock.close()  # idempotent


async def test_a_closed_context_makes_no_socket() -> None:
    async with trio_zmq.Context() as ctx:
        pass
    with pytest.raises(trio.ClosedResourceError, match="the context is closed"):
        ctx.socket(zmq.PAIR)


# ----------------------------------------------------------------------
# Threads and event loops
# ----------------------------------------------------------------------


async def test_another_thread_cannot_touch_a_socket_tasks_wait_on(
    ctx: trio_zmq.Context, inproc: str
) -> None:
    """While a task of this loop waits on ``receiver``, every call from
    another thread raises RuntimeError and changes nothing; once nobody
    waits, the socket may move to another thread's loop."""
    sender, receiver = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    sender.bind(inproc)
    receiver.connect(inproc)
    got: list[bytes] = []

    def from_thread() -> list[str]:
        errors = []
        for call in (
            lambda: receiver.recv_nowait(),
            lambda: receiver.send_nowait(b"x"),
            lambda: receiver.get(zmq.LINGER),
            lambda: receiver.close(),
            lambda: trio.run(receiver.recv),
        ):
            with pytest.raises(RuntimeError, match="must not be used from two threads") as info:
                call()
            errors.append(str(info.value))
        return errors

    async with trio.open_nursery() as nursery:

        async def wait() -> None:
            got.append(await receiver.recv())

        nursery.start_soon(wait)
        await trio.testing.wait_all_tasks_blocked()
        errors = await trio.to_thread.run_sync(from_thread)
        assert len(errors) == 5
        assert not receiver.closed
        await sender.send(b"for the waiter")
    assert got == [b"for the waiter"]

    # Nobody waits now: another thread's trio.run may take the socket.
    await sender.send(b"for the thread")
    moved = await trio.to_thread.run_sync(lambda: trio.run(receiver.recv))
    assert moved == b"for the thread"


def test_a_socket_serves_two_trio_runs_one_after_the_other() -> None:
    """A socket is not tied to the ``trio.run`` that first used it."""
    ctx = trio_zmq.Context()
    sender, receiver = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    sender.bind("inproc://two-runs")
    receiver.connect("inproc://two-runs")
    try:
        for number in range(2):

            async def exchange(payload: bytes = b"run %d" % number) -> bytes:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(sender.send, payload)
                    with trio.fail_after(BOUND):
                        return await receiver.recv()

            assert trio.run(exchange) == b"run %d" % number
    finally:
        trio.run(ctx.aclose)  # closes both sockets


# ----------------------------------------------------------------------
# MAXMSGSIZE and too many sockets
# ----------------------------------------------------------------------


async def test_a_message_over_maxmsgsize_drops_the_connection_not_the_socket(
    ctx: trio_zmq.Context,
) -> None:
    """libzmq's contract: the receiver drops the connection that carried an
    oversized message (the sender is not told; what was in flight on that
    connection is lost).  The receiver's waiting task stays cancellable, and
    the sender's next message, after the reconnect, arrives whole."""
    receiver = ctx.socket(zmq.PULL)
    receiver.set(zmq.MAXMSGSIZE, 100)
    port = receiver.bind_to_random_port("tcp://127.0.0.1")
    sender = ctx.socket(zmq.PUSH)
    sender.set(zmq.RECONNECT_IVL, 50)
    wanted = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
    async with receiver.monitor(wanted) as events:
        sender.connect(f"tcp://127.0.0.1:{port}")
        with trio.fail_after(BOUND):
            assert (await events.receive()).event == zmq.EVENT_HANDSHAKE_SUCCEEDED
            await sender.send(b"x" * 1000)
            assert (await events.receive()).event == zmq.EVENT_DISCONNECTED
        with trio.move_on_after(0.2) as waited:
            await receiver.recv()  # nothing comes: the big message is gone
        assert waited.cancelled_caught
        with trio.fail_after(BOUND):
            assert (await events.receive()).event == zmq.EVENT_HANDSHAKE_SUCCEEDED
            await sender.send(b"small")
            assert await receiver.recv() == b"small"


async def test_too_many_sockets_is_emfile_and_the_context_recovers() -> None:
    async with trio_zmq.Context() as ctx:
        ctx.zmq_context.set(zmq.MAX_SOCKETS, 2)
        first, second = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
        with pytest.raises(zmq.ZMQError, match="Too many open files") as info:
            ctx.socket(zmq.PAIR)
        assert info.value.errno == errno.EMFILE
        second.close()
        # libzmq's reaper frees the slot asynchronously, soon after the close.
        with trio.fail_after(BOUND):
            while True:
                try:
                    third = ctx.socket(zmq.PAIR)
                    break
                except zmq.ZMQError as exc:
                    if exc.errno != errno.EMFILE:
                        raise
                    await trio.sleep(0.01)
        first.close()
        third.close()


def test_running_out_of_file_descriptors_is_emfile_and_recoverable() -> None:
    """With RLIMIT_NOFILE at 64 (in a child process), making sockets ends in
    ZMQError(EMFILE) from ``ctx.socket()``, and once they are closed (and
    libzmq's reaper has freed their descriptors) the context works again.
    (Binds are left out on purpose: libzmq 4.3.5 may abort the process when
    its own threads hit the limit, see docs/reliability.md.)"""
    script = textwrap.dedent(
        """
        import resource, trio, zmq, trio_zmq
        import anyio._backends._trio  # imported late by a context's exit otherwise

        async def main():
            async with trio_zmq.Context(linger=0) as ctx:
                a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
                a.bind("inproc://again")
                b.connect("inproc://again")
                await a.send(b"warm")  # everything imported before the limit
                await b.recv()
                resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
                socks = []
                try:
                    for _ in range(200):
                        socks.append(ctx.socket(zmq.PAIR))
                except zmq.ZMQError as exc:
                    print("errno", exc.errno, "after", len(socks))
                for sock in socks:
                    sock.close()
                # libzmq's reaper frees their descriptors soon after: wait
                # until there is room for eight sockets again.
                with trio.fail_after(5):
                    while True:
                        room = []
                        try:
                            for _ in range(8):
                                room.append(ctx.socket(zmq.PAIR))
                            break
                        except zmq.ZMQError:
                            await trio.sleep(0.01)
                        finally:
                            for sock in room:
                                sock.close()
                await a.send(b"works")
                print(await b.recv())

        trio.run(main)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    errno_line, works = done.stdout.splitlines()
    assert errno_line.split()[:2] == ["errno", str(errno.EMFILE)]
    assert works == "b'works'"
