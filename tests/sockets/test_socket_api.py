"""Layer 2, the contract of ``trio_zmq.Socket``: pyzmq's names and signatures,
clear errors before anything is sent, and errors at the await that caused them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
import zmq

import trio_zmq
from trio_zmq._core import _registry

from tests.conftest import ON_EVERY_LOOP
from tests.helpers import AnySocket, assert_idle, bind, engine_of, pair, recv_frames, until_readable

pytestmark = ON_EVERY_LOOP


# ----------------------------------------------------------------------
# pyzmq-compatible message API
# ----------------------------------------------------------------------


async def test_copy_false_gives_frames(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    await push.send(b"one", copy=False)
    await push.send(zmq.Frame(b"two"))
    await push.send_multipart([b"a", zmq.Frame(b"b")], copy=False)
    with anyio.fail_after(5):
        one = await pull.recv(copy=False)
        two = await pull.recv(copy=False)
        parts = await pull.recv_multipart(copy=False)
    assert isinstance(one, zmq.Frame)
    assert one.bytes == b"one"
    assert isinstance(two, zmq.Frame)
    assert two.bytes == b"two"
    assert all(isinstance(p, zmq.Frame) for p in parts)
    assert [p.bytes for p in parts] == [b"a", b"b"]


async def test_track_gives_message_tracker(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    payload = b"x" * 100_000  # large enough to be sent zero-copy
    tracker = await push.send(payload, copy=False, track=True)
    multi_tracker = await push.send_multipart([b"h", payload], copy=False, track=True)
    assert isinstance(tracker, zmq.MessageTracker)
    assert isinstance(multi_tracker, zmq.MessageTracker)
    assert await pull.recv() == payload
    assert await recv_frames(pull) == [b"h", payload]
    # Once libzmq has released the buffers, the trackers say so.
    with anyio.fail_after(5):
        while not (tracker.done and multi_tracker.done):  # noqa: ASYNC110 - libzmq state
            await anyio.sleep(0.001)
    # Without track=True there is no tracker, as in pyzmq.
    assert await push.send(b"y") is None


async def test_string_with_encoding(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    text = "h\u00e9llo \u2603"
    await push.send_string(text)
    await push.send_string(text, encoding="utf-16")
    await push.send_string(text, encoding="utf-16")
    with anyio.fail_after(5):
        assert await pull.recv_string() == text
        assert await pull.recv() == text.encode("utf-16")
        assert await pull.recv_string(encoding="utf-16") == text


async def test_json_pyobj_serialized(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    obj = {"a": [1, 2.5, None], "b": "\u00e9"}
    await push.send_json(obj)
    await push.send_json(obj, sort_keys=True)
    await push.send_pyobj({"set": {1, 2}, "tuple": (1, b"x")})

    def serialize(msg: dict[str, int]) -> list[bytes]:
        return [k.encode() + b"=" + str(v).encode() for k, v in sorted(msg.items())]

    def deserialize(frames: list[bytes]) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in (f.split(b"=") for f in frames)}

    await push.send_serialized({"x": 1, "y": 2}, serialize)
    with anyio.fail_after(5):
        assert await pull.recv_json() == obj
        assert await pull.recv() == json.dumps(obj, sort_keys=True).encode()
        assert await pull.recv_pyobj() == {"set": {1, 2}, "tuple": (1, b"x")}
        assert await pull.recv_serialized(deserialize) == {"x": 1, "y": 2}


async def test_recv_serialized_copy_false(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    await push.send_multipart([b"a", b"b"])

    def deserialize(frames: list[Any]) -> list[bytes]:
        assert all(isinstance(f, zmq.Frame) for f in frames)
        return [f.bytes for f in frames]

    with anyio.fail_after(5):
        assert await pull.recv_serialized(deserialize, copy=False) == [b"a", b"b"]


async def test_option_attributes(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    assert sock.linger == 0
    assert sock.getsockopt(zmq.LINGER) == 0
    sock.linger = 1234
    assert sock.get(zmq.LINGER) == 1234
    sock.rcvhwm = 17
    assert sock.rcvhwm == 17
    assert sock.zmq_socket.getsockopt(zmq.RCVHWM) == 17
    sock.routing_id = b"me"
    assert sock.routing_id == b"me"
    assert sock.type == zmq.DEALER
    assert sock.socket_type == zmq.DEALER
    # hwm reads and writes SNDHWM and RCVHWM together, as in pyzmq.
    sock.hwm = 42
    assert sock.hwm == 42
    assert sock.sndhwm == 42
    assert sock.rcvhwm == 42
    with pytest.raises(AttributeError):
        _ = sock.no_such_option
    with pytest.raises(AttributeError):
        sock.no_such_option = 1
    with pytest.raises(AttributeError):
        _ = sock._private_thing


async def test_repr_of_open_and_closed_socket(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.PULL)
    assert "PULL" in repr(sock)
    sock.close()
    # repr must not raise once the socket is closed (tracebacks, logs).
    assert "closed" in repr(sock)


async def test_from_socket_wraps_plain_socket(ctx: trio_zmq.Context, inproc: str) -> None:
    zsock: zmq.Socket[Any] = ctx.zmq_context.socket(zmq.PULL)
    try:
        sock = trio_zmq.Socket.from_socket(zsock)
        assert sock.zmq_socket is zsock
        assert sock.type == zmq.PULL
        sock.bind(inproc)
        push = ctx.socket(zmq.PUSH)
        push.connect(inproc)
        await push.send(b"through the wrapper")
        with anyio.fail_after(5):
            assert await sock.recv() == b"through the wrapper"
        # The wrapper owns the socket: closing it closes zsock.
        sock.close()
        assert zsock.closed
        assert sock.closed
    finally:
        zsock.close(linger=0)


async def test_from_socket_rejects_non_sockets_and_closed_ones(ctx: trio_zmq.Context) -> None:
    for not_a_socket in (object(), "tcp://127.0.0.1:5555", 3, ctx):
        with pytest.raises(TypeError):
            trio_zmq.Socket.from_socket(not_a_socket)  # type: ignore[arg-type]
    zsock: zmq.Socket[Any] = ctx.zmq_context.socket(zmq.PUSH)
    zsock.close(linger=0)
    with pytest.raises(anyio.ClosedResourceError):
        trio_zmq.Socket.from_socket(zsock)


# ----------------------------------------------------------------------
# Bad input: a clear exception before anything is sent
# ----------------------------------------------------------------------

BadSend = Callable[[trio_zmq.Socket], Awaitable[object]]

BAD_SENDS: dict[str, tuple[BadSend, type[Exception]]] = {
    "send(int)": (lambda s: s.send(123), TypeError),
    "send(str)": (lambda s: s.send("str"), TypeError),
    "send(None)": (lambda s: s.send(None), TypeError),
    "send_multipart(bad frame)": (lambda s: s.send_multipart([b"a", 123]), TypeError),
    "send_multipart(str frame)": (lambda s: s.send_multipart([b"a", "b"]), TypeError),
    "send_multipart(bytes)": (lambda s: s.send_multipart(b"abc"), TypeError),
    "send_multipart(str)": (lambda s: s.send_multipart("abc"), TypeError),
    "send_multipart(generator)": (
        lambda s: s.send_multipart(f for f in [b"a"]),  # type: ignore[call-overload]
        TypeError,
    ),
    "send_multipart([])": (lambda s: s.send_multipart([]), ValueError),
    "send_string(bytes)": (lambda s: s.send_string(b"bytes"), TypeError),  # type: ignore[arg-type]
    "send_serialized(bad)": (lambda s: s.send_serialized(1, lambda m: [b"ok", m]), TypeError),
}


@pytest.mark.parametrize("name", list(BAD_SENDS))
async def test_bad_send_raises_before_sending(
    ctx: trio_zmq.Context, endpoint: str, name: str
) -> None:
    op, error = BAD_SENDS[name]
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    with anyio.fail_after(5), pytest.raises(error):
        await op(push)
    assert_idle(push)
    # The receiver got nothing: a good message sent now is the first it sees.
    await push.send_multipart([b"good", b"message"])
    assert await recv_frames(pull) == [b"good", b"message"]
    assert not trio_zmq.probe(pull, zmq.POLLIN)


async def test_bad_send_nowait_raises_before_sending(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    with pytest.raises(TypeError):
        push.send_nowait(123)
    with pytest.raises(TypeError):
        push.send_multipart_nowait([b"a", 123])
    with pytest.raises(TypeError):
        push.send_multipart_nowait(b"abc")
    with pytest.raises(ValueError, match="frame"):
        push.send_multipart_nowait([])
    push.send_nowait(b"good")
    assert await recv_frames(pull) == [b"good"]


async def test_bad_endpoints_and_options(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.PUSH)
    with pytest.raises(ValueError, match="endpoint"):
        sock.bind("not-an-endpoint")
    with pytest.raises(ValueError, match="endpoint"):
        sock.connect("not-an-endpoint")
    with pytest.raises(TypeError):
        sock.bind(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sock.connect(None)  # type: ignore[arg-type]
    with pytest.raises(zmq.ZMQError):
        sock.connect("tcp://")
    with pytest.raises(zmq.ZMQError) as excinfo:
        sock.setsockopt(987654, 1)
    assert excinfo.value.errno == zmq.EINVAL
    with pytest.raises(zmq.ZMQError):
        sock.getsockopt(987654)
    # The socket is still fine afterwards.
    sock.linger = 0
    assert sock.linger == 0
    assert not sock.closed


async def test_bad_socket_types(ctx: trio_zmq.Context) -> None:
    with pytest.raises(ValueError, match="999"):
        ctx.socket(999)
    with pytest.raises(ValueError, match="ZMQ_FD"):
        ctx.socket(zmq.SERVER)
    with pytest.raises(ValueError, match="ZMQ_FD"):
        ctx.socket(zmq.CLIENT)
    assert not ctx._sockets  # nothing was half-made


# ----------------------------------------------------------------------
# Errors surface at the await that caused them
# ----------------------------------------------------------------------


async def test_req_recv_before_send_is_efsm(ctx: trio_zmq.Context, inproc: str) -> None:
    rep, req, _ = pair(ctx, zmq.REP, zmq.REQ, inproc)
    with anyio.fail_after(5), pytest.raises(zmq.ZMQError) as excinfo:
        await req.recv()
    assert excinfo.value.errno == zmq.EFSM
    assert_idle(req)
    # The socket still works in the right order.
    with anyio.fail_after(5):
        await req.send(b"ping")
        assert await rep.recv() == b"ping"
        await rep.send(b"pong")
        assert await req.recv() == b"pong"


async def test_rep_send_before_recv_is_efsm(ctx: trio_zmq.Context, inproc: str) -> None:
    rep, req, _ = pair(ctx, zmq.REP, zmq.REQ, inproc)
    with anyio.fail_after(5), pytest.raises(zmq.ZMQError) as excinfo:
        await rep.send(b"too early")
    assert excinfo.value.errno == zmq.EFSM
    with anyio.fail_after(5):
        await req.send(b"one")
    with anyio.fail_after(5), pytest.raises(zmq.ZMQError) as excinfo:
        await req.send(b"two")  # REQ: two sends in a row
    assert excinfo.value.errno == zmq.EFSM
    with anyio.fail_after(5):
        assert await rep.recv() == b"one"
        await rep.send(b"reply")
        assert await req.recv() == b"reply"


async def test_router_mandatory_unknown_peer_is_ehostunreach(
    ctx: trio_zmq.Context, endpoint: str
) -> None:
    router = ctx.socket(zmq.ROUTER)
    router.router_mandatory = 1
    address = bind(router, endpoint)
    dealer = ctx.socket(zmq.DEALER)
    dealer.routing_id = b"known"
    dealer.connect(address)
    with anyio.fail_after(5), pytest.raises(zmq.ZMQError) as excinfo:
        await router.send_multipart([b"unknown", b"hello"])
    assert excinfo.value.errno == zmq.EHOSTUNREACH
    assert_idle(router)
    # A known peer is reachable (once it has connected).
    await dealer.send(b"hi")
    assert await recv_frames(router) == [b"known", b"hi"]
    await router.send_multipart([b"known", b"hello"])
    assert await recv_frames(dealer) == [b"hello"]


async def test_rcvtimeo_raises_again(ctx: trio_zmq.Context, inproc: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, inproc)
    pull.rcvtimeo = 100
    with anyio.fail_after(5):
        with pytest.raises(zmq.Again):
            await pull.recv()
        with pytest.raises(zmq.Again):
            await pull.recv_multipart()
    assert_idle(pull)
    # A message that is there is received at once, timeout or not.
    await push.send(b"x")
    await until_readable(pull)
    with anyio.fail_after(5):
        assert await pull.recv() == b"x"


async def test_sndtimeo_raises_again_and_sends_nothing(ctx: trio_zmq.Context, inproc: str) -> None:
    push = ctx.socket(zmq.PUSH)
    push.bind(inproc)  # no peer
    push.sndtimeo = 100
    with anyio.fail_after(5), pytest.raises(zmq.Again):
        await push.send(b"timed out")
    with anyio.fail_after(5), pytest.raises(zmq.Again):
        await push.send_multipart([b"timed", b"out"])
    assert_idle(push)
    pull = ctx.socket(zmq.PULL)
    pull.connect(inproc)
    with anyio.fail_after(5):
        await push.send(b"after")
    assert await recv_frames(pull) == [b"after"]


async def test_noblock_raises_again_at_once(ctx: trio_zmq.Context, inproc: str) -> None:
    push = ctx.socket(zmq.PUSH)
    push.bind(inproc)  # no peer
    pull = ctx.socket(zmq.PULL)
    with anyio.fail_after(5):
        for receive in (
            lambda: pull.recv(zmq.NOBLOCK),
            lambda: pull.recv_multipart(zmq.NOBLOCK),
            lambda: pull.recv_string(zmq.NOBLOCK),
            lambda: pull.recv(flags=zmq.DONTWAIT),
        ):
            with pytest.raises(zmq.Again):
                await receive()
        with pytest.raises(zmq.Again):
            await push.send(b"x", zmq.NOBLOCK)
        with pytest.raises(zmq.Again):
            await push.send_multipart([b"x"], flags=zmq.NOBLOCK)
    assert_idle(push)
    assert_idle(pull)
    # With something there, NOBLOCK just works.
    pull.connect(inproc)
    with anyio.fail_after(5):
        await push.send(b"y")
        await until_readable(pull)
        assert await pull.recv(zmq.NOBLOCK) == b"y"


async def test_poll_timeout(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    with anyio.fail_after(5):
        assert await pull.poll(timeout=50) == 0
    assert_idle(pull)
    await push.send(b"x")
    await until_readable(pull)
    with anyio.fail_after(5):
        assert await pull.poll(timeout=50) == zmq.POLLIN
        assert await pull.poll(timeout=50, flags=zmq.POLLIN | zmq.POLLOUT) == zmq.POLLIN
        assert await push.poll(50, zmq.POLLOUT) == zmq.POLLOUT
        assert await pull.recv() == b"x"  # poll did not consume it
        assert await pull.poll(50) == 0


async def test_poll_wakes_when_something_arrives(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    results: list[int] = []

    async def poller() -> None:
        results.append(await pull.poll(timeout=5000))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(poller)
            await anyio.wait_all_tasks_blocked()
            assert not results
            await push.send(b"x")
    assert results == [zmq.POLLIN]


async def test_poll_rejects_bad_flags(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.PULL)
    for flags in (0, zmq.POLLERR, 8):
        with pytest.raises(ValueError, match="POLLIN"):
            await sock.poll(10, flags)


# ----------------------------------------------------------------------
# Patterns over each transport
# ----------------------------------------------------------------------


async def test_push_pull_roundtrip(ctx: trio_zmq.Context, endpoint: str) -> None:
    pull, push, _ = pair(ctx, zmq.PULL, zmq.PUSH, endpoint)
    await push.send(b"hello")
    await push.send_multipart([b"a", b"b", b""])
    assert await pull.recv() == b"hello"
    assert await pull.recv_multipart() == [b"a", b"b", b""]


async def test_req_rep_roundtrip(ctx: trio_zmq.Context, endpoint: str) -> None:
    rep, req, _ = pair(ctx, zmq.REP, zmq.REQ, endpoint)

    async def server() -> None:
        for _ in range(3):
            request = await rep.recv_multipart()
            await rep.send_multipart([b"re:", *request])

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(server)
            for i in range(3):
                await req.send_multipart([b"q", str(i).encode()])
                assert await req.recv_multipart() == [b"re:", b"q", str(i).encode()]


async def test_dealer_router_routing_ids(ctx: trio_zmq.Context, endpoint: str) -> None:
    router = ctx.socket(zmq.ROUTER)
    address = bind(router, endpoint)
    dealers = []
    for name in (b"alice", b"bob"):
        dealer = ctx.socket(zmq.DEALER)
        dealer.routing_id = name
        dealer.connect(address)
        dealers.append(dealer)
    alice, bob = dealers
    with anyio.fail_after(5):
        await alice.send_multipart([b"", b"from alice"])
        await bob.send(b"from bob")
        got = {tuple(await router.recv_multipart()), tuple(await router.recv_multipart())}
        assert got == {(b"alice", b"", b"from alice"), (b"bob", b"from bob")}
        await router.send_multipart([b"bob", b"to bob"])
        await router.send_multipart([b"alice", b"to", b"alice"])
        assert await bob.recv_multipart() == [b"to bob"]
        assert await alice.recv_multipart() == [b"to", b"alice"]
    assert not trio_zmq.probe(alice, zmq.POLLIN)
    assert not trio_zmq.probe(bob, zmq.POLLIN)


async def test_pub_sub_subscribe(ctx: trio_zmq.Context, endpoint: str) -> None:
    pub, sub, _ = pair(ctx, zmq.PUB, zmq.SUB, endpoint)
    sub.subscribe(b"news")
    sub.subscribe("sport")  # str topics are encoded as UTF-8
    # Subscriptions travel to the PUB asynchronously, in order: publish sync
    # messages on the *last* topic subscribed until one gets through
    # (bounded); then both subscriptions are in force.
    with anyio.fail_after(5):
        n = 0
        while True:
            await pub.send(b"sport-sync %d" % n)
            if await sub.poll(timeout=20):
                break
            n += 1
        # Under load a sync message can outlast its poll: drain up to the
        # last one sent, so nothing else is in flight.
        while (first := await sub.recv()) != b"sport-sync %d" % n:
            assert first.startswith(b"sport-sync ")
    with anyio.fail_after(5):
        await pub.send(b"weather: rain")  # filtered out
        await pub.send_multipart([b"sport", b"1-0"])
        await pub.send(b"news: hello")
        assert await sub.recv_multipart() == [b"sport", b"1-0"]
        assert await sub.recv() == b"news: hello"
    sub.unsubscribe(b"news")
    sub.unsubscribe("sport")
    assert not trio_zmq.probe(sub, zmq.POLLIN)


# ----------------------------------------------------------------------
# Plain pyzmq sockets and several wrappers of one libzmq socket
# ----------------------------------------------------------------------


async def test_plain_socket_wait_readable(ctx: trio_zmq.Context, endpoint: str) -> None:
    zpull: zmq.Socket[Any] = ctx.zmq_context.socket(zmq.PULL)
    try:
        if endpoint.startswith("tcp"):
            address = f"{endpoint}:{zpull.bind_to_random_port(endpoint)}"
        else:
            zpull.bind(endpoint)
            address = endpoint
        push = ctx.socket(zmq.PUSH)
        push.connect(address)
        woken: list[bool] = []

        async def waiter() -> None:
            await trio_zmq.wait_readable(zpull)
            woken.append(True)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as nursery:
                nursery.start_soon(waiter)
                await anyio.wait_all_tasks_blocked()
                assert not woken
                await push.send(b"x")
        assert woken == [True]
        assert zpull.recv(zmq.NOBLOCK) == b"x"
        # An unpinned engine is dropped once nobody waits on it.
        assert _registry.existing_engine(zpull) is None
    finally:
        zpull.close(linger=0)


class _RecordingSocket(zmq.Socket[Any]):
    """A pyzmq socket subclass with a send of its own."""

    # Declared here: pyzmq takes unknown attributes for socket options.
    sent: tuple[bytes, ...] = ()

    def send(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        result = super().send(data, *args, **kwargs)
        self.sent = (*self.sent, bytes(data))
        return result


async def test_subclass_send_is_honoured(ctx: trio_zmq.Context, inproc: str) -> None:
    """trio_zmq sends a frame through pyzmq's compiled base class, skipping
    zmq.Socket.send's pure wrapper, but never past a subclass's own send."""
    raw = _RecordingSocket(ctx.zmq_context, zmq.PUSH)
    with trio_zmq.Socket.from_socket(raw) as push:
        pull = ctx.socket(zmq.PULL)
        pull.connect(bind(push, inproc))
        with anyio.fail_after(5):
            await push.send(b"1")
            await push.send_multipart([b"2", b"3"])
            push.send_nowait(b"4")
            await push.send_batch([[b"5"], [b"6", b"7"]])
            await push.send_channel().send([b"8"])
            expected = [[b"1"], [b"2", b"3"], [b"4"], [b"5"], [b"6", b"7"], [b"8"]]
            assert [await pull.recv_multipart() for _ in expected] == expected
    assert list(raw.sent) == [frame for message in expected for frame in message]


async def test_two_wrappers_share_the_engine(ctx: trio_zmq.Context, inproc: str) -> None:
    zsock: zmq.Socket[Any] = ctx.zmq_context.socket(zmq.PULL)
    try:
        first = trio_zmq.Socket.from_socket(zsock)
        shadow: zmq.Socket[Any] = zmq.Socket.shadow(zsock.underlying)
        second = trio_zmq.Socket.from_socket(shadow)
        assert engine_of(first) is engine_of(second)
        first.bind(inproc)
        push = ctx.socket(zmq.PUSH)
        push.connect(inproc)
        received: list[bytes] = []
        woken: list[str] = []

        async def recv_via(sock: trio_zmq.Socket) -> None:
            received.append(await sock.recv())

        async def wait_via(sock: AnySocket, name: str) -> None:
            await trio_zmq.wait_readable(sock)
            woken.append(name)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as nursery:
                # Waiters through all four objects at once: none may raise
                # anyio.BusyResourceError (one fd, one watcher).
                nursery.start_soon(recv_via, first)
                nursery.start_soon(recv_via, second)
                nursery.start_soon(wait_via, zsock, "plain")
                nursery.start_soon(wait_via, shadow, "shadow")
                await anyio.wait_all_tasks_blocked()
                assert first.statistics().tasks_waiting_receive == 4
                # Two messages for the receivers, one more for the probes
                # (whatever order the four tasks queued in).
                for message in (b"one", b"two", b"three"):
                    await push.send(message)
        assert sorted(received) == [b"one", b"two"]
        assert sorted(woken) == ["plain", "shadow"]
        assert_idle(first)
        assert second.recv_nowait() == b"three"
        first.close()
        assert second.closed
    finally:
        zsock.close(linger=0)


# ----------------------------------------------------------------------
# statistics()
# ----------------------------------------------------------------------


async def test_statistics_count_waiters_watcher_and_views(
    ctx: trio_zmq.Context, inproc: str
) -> None:
    dealer = ctx.socket(zmq.DEALER)
    dealer.sndhwm = 1
    dealer.bind(inproc)
    idle = dealer.statistics()
    assert idle == trio_zmq.SocketStatistics(
        tasks_waiting_send=0,
        tasks_waiting_receive=0,
        fd_watched=False,
        open_channel_views=0,
        closed=False,
    )
    receive_view = dealer.receive_channel()
    send_view = dealer.send_channel()
    assert dealer.statistics().open_channel_views == 2
    send_view.close()
    assert dealer.statistics().open_channel_views == 1

    async def wait_writable_via_plain_socket() -> None:
        await trio_zmq.wait_writable(dealer.zmq_socket)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as nursery:
            nursery.start_soon(dealer.recv)
            nursery.start_soon(receive_view.receive)
            nursery.start_soon(dealer.send, b"no peer yet")
            nursery.start_soon(wait_writable_via_plain_socket)
            await anyio.wait_all_tasks_blocked()
            busy = dealer.statistics()
            # Every task counts, whichever object it waits through.
            assert (busy.tasks_waiting_receive, busy.tasks_waiting_send) == (2, 2)
            assert busy.fd_watched
            nursery.cancel_scope.cancel()
    assert_idle(dealer)
    dealer.close()
    closed = dealer.statistics()
    assert closed.closed
    assert closed.open_channel_views == 0
    assert (closed.tasks_waiting_receive, closed.tasks_waiting_send) == (0, 0)
