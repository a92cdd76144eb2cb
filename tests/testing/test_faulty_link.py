"""The faulty link, ``trio_zmq.testing.faulty_link``: what each fault does to
the bytes and to the libzmq sockets on either side.

Raw TCP streams check the bytes (held by a stall and delivered in order
after it, reset by a cut, paced by a throttle); libzmq sockets check what
a user sees (messages held and delivered, a reconnect after a cut, ZMTP
heartbeats that notice a stall).  Every test runs on every loop; waits
are bounded by BOUND, never timed, except the throttle's rate.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import anyio.abc
import pytest
import zmq

import trio_zmq
from trio_zmq.testing import FaultyLink, LinkStatistics, faulty_link

from tests.conftest import ON_EVERY_LOOP
from tests.curve import curve_client, curve_server
from tests.helpers import bind, open_fds, recv_frames

pytestmark = ON_EVERY_LOOP

#: Liveness bound on every wait: generous, never a timing assertion.
BOUND = 5
#: How long "nothing arrives" is watched for.
QUIET = 0.3


@contextlib.asynccontextmanager
async def raw_target() -> AsyncIterator[
    tuple[str, anyio.abc.ObjectReceiveStream[anyio.abc.SocketStream]]
]:
    """A TCP listener on 127.0.0.1: ``(its endpoint, the connections it accepts)``."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    accepted_in, accepted = anyio.create_memory_object_stream[anyio.abc.SocketStream](16)
    async with listener, accepted_in, accepted, anyio.create_task_group() as task_group:
        task_group.start_soon(listener.serve, accepted_in.send)
        yield f"tcp://127.0.0.1:{port}", accepted
        task_group.cancel_scope.cancel()


async def connect(link: FaultyLink) -> anyio.abc.SocketStream:
    """A raw TCP connection to the link."""
    port = int(link.endpoint.rpartition(":")[2])
    return await anyio.connect_tcp("127.0.0.1", port)


@contextlib.asynccontextmanager
async def relayed(
    link: FaultyLink, accepted: anyio.abc.ObjectReceiveStream[anyio.abc.SocketStream]
) -> AsyncIterator[tuple[anyio.abc.SocketStream, anyio.abc.SocketStream]]:
    """A raw connection through ``link``: ``(the client's end, the target's end)``."""
    client = await connect(link)
    with anyio.fail_after(BOUND):
        server = await accepted.receive()
    async with client, server:
        yield client, server


@contextlib.asynccontextmanager
async def through_a_link() -> AsyncIterator[
    tuple[FaultyLink, anyio.abc.SocketStream, anyio.abc.SocketStream]
]:
    """A link to a raw target, and a connection through it: ``(link, client, server)``."""
    async with (
        raw_target() as (target, accepted),
        faulty_link(target) as link,
        relayed(link, accepted) as (client, server),
    ):
        yield link, client, server


async def receive_exactly(stream: anyio.abc.SocketStream, size: int) -> bytes:
    data = bytearray()
    with anyio.fail_after(BOUND):
        while len(data) < size:
            data += await stream.receive()
    return bytes(data)


async def assert_closed(stream: anyio.abc.SocketStream) -> None:
    """The other end closed ``stream`` (a RST or an end of stream), within BOUND."""
    with anyio.fail_after(BOUND), pytest.raises((anyio.BrokenResourceError, anyio.EndOfStream)):
        await stream.receive()


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate()`` until it is true; fail after BOUND s, saying ``what``."""
    with anyio.move_on_after(BOUND):
        while not predicate():  # noqa: ASYNC110 - counters, no event
            await anyio.sleep(0.01)
        return
    pytest.fail(f"no {what} within {BOUND} s")


async def settled(link: FaultyLink) -> LinkStatistics:
    """The link's statistics once its counts stop moving for a moment."""
    before = link.statistics()
    while True:
        await anyio.sleep(0.05)
        now = link.statistics()
        if now == before:
            return now
        before = now


# ----------------------------------------------------------------------
# stall / resume
# ----------------------------------------------------------------------


async def test_stall_holds_the_bytes_both_ways_and_resume_delivers_them_in_order() -> None:
    data_out, data_back = os.urandom(300_000), os.urandom(200_000)
    async with through_a_link() as (link, client, server):
        await client.send(b"hello")
        assert await receive_exactly(server, 5) == b"hello"

        link.stall()
        before = await settled(link)
        async with anyio.create_task_group() as senders:
            senders.start_soon(client.send, data_out)
            senders.start_soon(server.send, data_back)
            await anyio.sleep(QUIET)
            during = link.statistics()
            # Nothing crossed; the connection stays open; what was read is held.
            assert during.bytes_to_target == before.bytes_to_target
            assert during.bytes_from_target == before.bytes_from_target
            assert during.stalled
            assert during.open == 1
            assert during.bytes_held > 0
            link.resume()
            received_out, received_back = bytearray(), bytearray()

            async def drain(stream: anyio.abc.SocketStream, into: bytearray, size: int) -> None:
                into += await receive_exactly(stream, size)

            senders.start_soon(drain, server, received_out, len(data_out))
            senders.start_soon(drain, client, received_back, len(data_back))
        assert received_out == data_out
        assert received_back == data_back
        after = link.statistics()
        assert after.bytes_to_target == before.bytes_to_target + len(data_out)
        assert after.bytes_from_target == before.bytes_from_target + len(data_back)
        assert after.bytes_held == 0


async def test_an_end_of_stream_is_passed_on_and_the_other_way_goes_on() -> None:
    async with through_a_link() as (_, client, server):
        await client.send(b"last words")
        await client.send_eof()
        assert await receive_exactly(server, 10) == b"last words"
        with anyio.fail_after(BOUND), pytest.raises(anyio.EndOfStream):
            await server.receive()
        await server.send(b"the answer")
        assert await receive_exactly(client, 10) == b"the answer"


async def test_messages_sent_during_a_stall_arrive_after_it_once_in_order(
    ctx: trio_zmq.Context,
) -> None:
    pull, push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    async with faulty_link(bind(pull, "tcp://127.0.0.1")) as link:
        push.connect(link.endpoint)
        await push.send(b"before")
        with anyio.fail_after(BOUND):
            assert await pull.recv() == b"before"
        link.stall()
        for number in range(100):
            await push.send(b"%d" % number)
        with anyio.move_on_after(QUIET):
            unexpected = await pull.recv()
            pytest.fail(f"{unexpected!r} crossed a stalled link")
        link.resume()
        with anyio.fail_after(BOUND):
            assert [await pull.recv() for _ in range(100)] == [b"%d" % n for n in range(100)]
        with anyio.move_on_after(QUIET):
            duplicate = await pull.recv()
            pytest.fail(f"{duplicate!r} arrived twice")


async def test_zmtp_heartbeats_notice_a_stalled_link_within_their_timeout(
    ctx: trio_zmq.Context,
) -> None:
    """A DEALER pinging every 100 ms, timing out after 500 ms, drops the
    connection a stall leaves silent, within its timeout (a ping interval and
    generous slack added); one without heartbeats keeps it."""
    ivl, timeout = 0.1, 0.5
    router = ctx.socket(zmq.ROUTER)
    with_heartbeats, without = ctx.socket(zmq.DEALER), ctx.socket(zmq.DEALER)
    with_heartbeats.heartbeat_ivl = int(ivl * 1000)
    with_heartbeats.heartbeat_timeout = int(timeout * 1000)
    async with faulty_link(bind(router, "tcp://127.0.0.1")) as link:
        for dealer in (with_heartbeats, without):
            dealer.connect(link.endpoint)
            await dealer.send(b"hello")
            with anyio.fail_after(BOUND):
                assert (await recv_frames(router))[1:] == [b"hello"]
        async with (
            trio_zmq.monitor(with_heartbeats, zmq.EVENT_DISCONNECTED) as pinged,
            trio_zmq.monitor(without, zmq.EVENT_DISCONNECTED) as unpinged,
        ):
            link.stall()
            stalled_at = anyio.current_time()
            with anyio.fail_after(timeout + ivl + 2):
                event = await pinged.receive()
            noticed_after = anyio.current_time() - stalled_at
            assert event.event == zmq.EVENT_DISCONNECTED
            print(f"heartbeats noticed the stall after {noticed_after:.2f} s (timeout {timeout} s)")
            with anyio.move_on_after(QUIET):
                unexpected = await unpinged.receive()
                pytest.fail(f"a socket without heartbeats saw {unexpected}")
        link.resume()
        # Both come back: the heartbeating one reconnects, the other never left.
        for dealer in (with_heartbeats, without):
            await dealer.send(b"again")
            with anyio.fail_after(BOUND):
                assert (await recv_frames(router))[1:] == [b"again"]


# ----------------------------------------------------------------------
# cut / restore
# ----------------------------------------------------------------------


async def test_cut_resets_every_connection_and_refuses_new_ones_until_restore() -> None:
    async with raw_target() as (target, accepted), faulty_link(target) as link:
        clients = [await connect(link) for _ in range(3)]
        with anyio.fail_after(BOUND):
            servers = [await accepted.receive() for _ in clients]
        await until(lambda: link.statistics().open == 3, "three open connections")
        link.cut()
        for stream in (*clients, *servers):
            await assert_closed(stream)
            await stream.aclose()
        assert link.statistics().open == 0

        refused = link.statistics().refused
        during = await connect(link)  # accepted, then reset before a byte is relayed
        await assert_closed(during)
        await during.aclose()
        assert link.statistics().refused == refused + 1
        with anyio.move_on_after(QUIET):
            unexpected = await accepted.receive()
            pytest.fail(f"the target got a connection through a cut link: {unexpected}")

        link.restore()
        async with relayed(link, accepted) as (client, server):
            await client.send(b"through again")
            assert await receive_exactly(server, 13) == b"through again"
        stats = link.statistics()
        assert (stats.accepted, stats.refused, stats.cut) == (5, refused + 1, False)


async def test_libzmq_reconnects_by_itself_after_restore(ctx: trio_zmq.Context) -> None:
    router, dealer = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    async with faulty_link(bind(router, "tcp://127.0.0.1")) as link:
        async with trio_zmq.monitor(dealer, zmq.EVENT_DISCONNECTED) as events:
            dealer.connect(link.endpoint)
            await dealer.send(b"before")
            with anyio.fail_after(BOUND):
                assert (await recv_frames(router))[1:] == [b"before"]
            link.cut()
            with anyio.fail_after(BOUND):
                assert (await events.receive()).event == zmq.EVENT_DISCONNECTED
        await dealer.send(b"queued while cut")  # waits in the DEALER's pipe
        refused = link.statistics().refused
        # libzmq retries every RECONNECT_IVL (100 ms); each retry is refused.
        await until(lambda: link.statistics().refused > refused, "a refused reconnect")
        with anyio.move_on_after(QUIET):
            unexpected = await router.recv_multipart()
            pytest.fail(f"{unexpected!r} crossed a cut link")
        link.restore()
        with anyio.fail_after(BOUND):
            assert (await recv_frames(router))[1:] == [b"queued while cut"]


async def test_a_target_nobody_listens_on_is_refused() -> None:
    with stdlib_port() as port:
        async with faulty_link(f"tcp://127.0.0.1:{port}") as link:
            client = await connect(link)
            await assert_closed(client)
            await client.aclose()
            assert link.statistics().refused == 1


@contextlib.contextmanager
def stdlib_port() -> Iterator[int]:
    """A port of 127.0.0.1 that nothing listens on, for the block."""
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        yield placeholder.getsockname()[1]  # bound, not listening: connects are refused


# ----------------------------------------------------------------------
# What goes through: CURVE, subscriptions
# ----------------------------------------------------------------------


async def test_curve_goes_through_a_stalled_and_resumed_link(ctx: trio_zmq.Context) -> None:
    """The link relays bytes: a CURVE session survives a stall, and what
    was sent both ways during it arrives after it, in order."""
    server_public, server_secret = zmq.curve_keypair()
    router = curve_server(ctx.socket(zmq.ROUTER), server_secret)
    dealer = curve_client(ctx.socket(zmq.DEALER), server_public)
    async with faulty_link(bind(router, "tcp://127.0.0.1")) as link:
        dealer.connect(link.endpoint)
        await dealer.send(b"hello")
        with anyio.fail_after(BOUND):
            client_id, hello = await recv_frames(router)
        assert hello == b"hello"
        link.stall()
        for number in range(20):
            await dealer.send(b"up %d" % number)
            await router.send_multipart([client_id, b"down %d" % number])
        with anyio.move_on_after(QUIET):
            unexpected = await router.recv_multipart()
            pytest.fail(f"{unexpected!r} crossed a stalled link")
        link.resume()
        with anyio.fail_after(BOUND):
            assert [(await recv_frames(router))[1] for _ in range(20)] == [
                b"up %d" % n for n in range(20)
            ]
            assert [await dealer.recv() for _ in range(20)] == [b"down %d" % n for n in range(20)]
    assert link.statistics().refused == 0  # one session throughout


async def test_a_subscriber_resubscribes_after_a_cut(ctx: trio_zmq.Context) -> None:
    """A cut ends the subscription at the publisher (an XPUB, verbose, shows
    it: unsubscribe); after restore, libzmq reconnects and sends the
    subscription again, and the subscriber receives again, its topic only.

    libzmq writes a SUB's subscriptions into each new connection when the
    SUB runs its commands, which happens in calls on it: a subscriber
    waiting in a receive runs them when its fd wakes it.  So the subscriber
    here waits in a receive from the cut until a message arrives, as a
    subscriber does; no other call on it may stand in for that.
    """
    xpub, sub = ctx.socket(zmq.XPUB), ctx.socket(zmq.SUB)
    xpub.xpub_verbose = 1
    async with faulty_link(bind(xpub, "tcp://127.0.0.1")) as link:
        sub.connect(link.endpoint)
        sub.subscribe(b"news")
        with anyio.fail_after(BOUND):
            assert await xpub.recv() == b"\x01news"
        await publish_until_received(xpub, sub)

        received: list[bytes] = []

        async def subscriber() -> None:
            received.append(await sub.recv())

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(subscriber)
            link.cut()
            with anyio.fail_after(BOUND):
                assert await xpub.recv() == b"\x00news"  # the subscriber is gone
            await xpub.send(b"news lost in the cut")
            await anyio.sleep(QUIET)  # libzmq retries, the link refuses
            assert not received, f"{received} crossed a cut link"

            link.restore()
            with anyio.fail_after(BOUND):
                assert await xpub.recv() == b"\x01news"  # sent again on reconnect
                while not received:
                    await xpub.send(b"weather")
                    await xpub.send(b"news")
                    await anyio.sleep(0.05)
        assert received == [b"news"]
        await publish_until_received(xpub, sub)


async def publish_until_received(pub: trio_zmq.Socket, sub: trio_zmq.Socket) -> None:
    """Publish another topic, then "news", until "news" arrives (a publisher
    drops what no subscription matches), then drain: only "news" arrives."""
    with anyio.fail_after(BOUND):
        while True:
            await pub.send(b"weather")
            await pub.send(b"news")
            with anyio.move_on_after(0.05):
                assert await sub.recv() == b"news"
                break
    while True:
        with anyio.move_on_after(0.1) as quiet:
            assert await sub.recv() == b"news"
        if quiet.cancelled_caught:
            return


# ----------------------------------------------------------------------
# slow
# ----------------------------------------------------------------------


RATE = 200_000  # bytes a second


async def test_slow_paces_each_direction_close_to_its_rate() -> None:
    payload = os.urandom(RATE // 2)  # half a second's worth, each way
    async with through_a_link() as (link, client, server):
        link.slow(RATE)
        assert link.statistics().bytes_per_second == RATE
        started = time.monotonic()
        async with anyio.create_task_group() as both_ways:
            both_ways.start_soon(client.send, payload)
            both_ways.start_soon(server.send, payload)
            assert await receive_exactly(server, len(payload)) == payload
            assert await receive_exactly(client, len(payload)) == payload
        elapsed = time.monotonic() - started
        expected = len(payload) / RATE
        print(f"{len(payload)} bytes each way at {RATE} B/s: {elapsed:.2f} s ({expected} s)")
        # Tolerant: not faster than the rate (a burst of 1/50 s aside),
        # not much slower on a busy machine.
        assert 0.9 * expected <= elapsed <= 4 * expected

        link.slow(None)
        assert link.statistics().bytes_per_second is None
        large = os.urandom(50 * RATE)  # 50 s at the old rate
        async with anyio.create_task_group() as unthrottled:
            unthrottled.start_soon(client.send, large)
            assert await receive_exactly(server, len(large)) == large


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan"), "fast"])
async def test_slow_refuses_a_rate_that_is_not_positive(rate: object) -> None:
    async with raw_target() as (target, _), faulty_link(target) as link:
        with pytest.raises(ValueError, match="positive finite number"):
            link.slow(rate)  # type: ignore[arg-type]
        assert link.statistics().bytes_per_second is None


# ----------------------------------------------------------------------
# Leaving the block
# ----------------------------------------------------------------------


def switch_on(link: FaultyLink, fault: str) -> None:
    """Switch ``fault`` ("stalled", "cut", "slowed" or "healthy": none) on."""
    if fault == "stalled":
        link.stall()
    elif fault == "cut":
        link.cut()
    elif fault == "slowed":
        link.slow(1)


@pytest.mark.parametrize("fault", ["stalled", "cut", "slowed", "healthy"])
async def test_leaving_the_block_ends_everything_at_once(ctx: trio_zmq.Context, fault: str) -> None:
    """With a libzmq connection and a raw one open, bytes held: leaving the
    block resets the connections, closes the listener and every fd."""
    pull, push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    address = bind(pull, "tcp://127.0.0.1")
    fds = open_fds()
    async with raw_target() as (target, accepted):
        with anyio.fail_after(BOUND):
            async with faulty_link(target) as raw_link, faulty_link(address) as link:
                push.connect(link.endpoint)
                await push.send(b"through")
                assert await pull.recv() == b"through"
                client = await connect(raw_link)
                server = await accepted.receive()
                switch_on(link, fault)
                switch_on(raw_link, fault)
                await push.send(b"x" * 10_000)
                await client.send(b"y" * 10_000)
                leaving = anyio.current_time()
        print(f"left the block {fault} in {(anyio.current_time() - leaving) * 1000:.1f} ms")
        for each in (link, raw_link):
            assert each.statistics().open == 0
        await assert_closed(client)
        await client.aclose()
        await server.aclose()
        with pytest.raises(OSError, match=r"(?i)refused|connection attempts failed"):
            await connect(link)  # nothing listens any more
    push.disconnect(link.endpoint)
    await until(lambda: open_fds() <= fds, f"the fds open before ({fds})")


async def test_an_error_in_the_block_is_raised_as_itself() -> None:
    async def stall_and_fail(target: str) -> None:
        async with faulty_link(target) as link:
            link.stall()
            raise KeyError("the block's own")

    async with raw_target() as (target, _):
        with pytest.raises(KeyError) as raised:
            await stall_and_fail(target)
        assert raised.value.args == ("the block's own",)


# ----------------------------------------------------------------------
# Bad targets
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("ipc:///tmp/socket", "ipc:// is not tcp://"),
        ("inproc://name", "inproc:// is not tcp://"),
        ("tcp://*:5555", "a wildcard"),
        ("tcp://127.0.0.1:*", "a wildcard"),
        ("tcp://127.0.0.1", "no port"),
        ("tcp://:5555", "no port"),
        ("tcp://127.0.0.1:0", "not a number from 1 to 65535"),
        ("tcp://127.0.0.1:65536", "not a number from 1 to 65535"),
        ("tcp://127.0.0.1:http", "not a number from 1 to 65535"),
        ("tcp://127.0.0.1;127.0.0.2:5555", "source address"),
        ("127.0.0.1:5555", "must be tcp://HOST:PORT"),
        ("garbage", "must be tcp://HOST:PORT"),
        ("", "must be tcp://HOST:PORT"),
    ],
)
async def test_a_target_that_is_not_a_tcp_host_and_port_is_refused_before_anything_opens(
    target: str, says: str
) -> None:
    fds = open_fds()
    with pytest.raises(ValueError, match="target must be tcp://HOST:PORT") as raised:
        async with faulty_link(target):
            pytest.fail("entered the block")
    assert says in str(raised.value)
    assert open_fds() == fds


async def test_a_target_that_is_not_a_str_is_refused() -> None:
    with pytest.raises(TypeError, match="decode the bytes of last_endpoint"):
        async with faulty_link(b"tcp://127.0.0.1:5555"):  # type: ignore[arg-type]
            pytest.fail("entered the block")


async def test_a_host_name_is_a_target() -> None:
    async with raw_target() as (target, accepted):
        port = target.rpartition(":")[2]
        async with faulty_link(f"tcp://localhost:{port}") as link:
            assert link.target == f"tcp://localhost:{port}"
            assert link.endpoint.startswith("tcp://127.0.0.1:")
            assert "healthy" in repr(link)
            async with relayed(link, accepted) as (client, server):
                await client.send(b"by name")
                assert await receive_exactly(server, 7) == b"by name"
