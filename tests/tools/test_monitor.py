"""Socket monitoring (trio_zmq._tools._monitor) against real peers.

What libzmq reports is checked against real connections: a blocking pyzmq
peer in a subprocess and trio_zmq sockets, over tcp and ipc; a connect to a
port nobody listens on; CURVE handshakes that fail (a NULL client, a client
with the wrong server key, a ZAP handler that says 400).  Then the promises
of the structure: a monitor nobody reads never blocks its socket (libzmq
#2829) and loses nothing; leaving the block early, by break, error or
cancellation, stops libzmq's monitor and closes the PAIR; closing the
monitored socket ends the iteration; a second monitor is refused; bad input
raises before anything is made.  Every test runs on every loop.
"""

from __future__ import annotations

import socket as stdlib_socket
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.abc
import pytest
import zmq

import trio_zmq
from trio_zmq._tools import _monitor

from tests.conftest import ON_EVERY_LOOP
from tests.curve import curve_client, curve_server
from tests.helpers import Peer, bind, recv_frames

pytestmark = ON_EVERY_LOOP

#: Liveness bound: generous, never a timing assertion.
BOUND = 10

E = zmq.Event


async def events_until(
    events: trio_zmq.Monitor, last: zmq.Event, count: int = 1
) -> list[trio_zmq.MonitorEvent]:
    """Receive events until the ``count``-th ``last`` one; return them all."""
    seen: list[trio_zmq.MonitorEvent] = []
    with anyio.fail_after(BOUND):
        while count:
            event = await events.receive()
            seen.append(event)
            count -= event.event == last
    return seen


def kinds(seen: Sequence[trio_zmq.MonitorEvent]) -> list[zmq.Event]:
    return [event.event for event in seen]


def in_order(seen: Sequence[trio_zmq.MonitorEvent], *expected: zmq.Event) -> bool:
    """``expected`` occur in ``seen`` in this order (others may come between)."""
    remaining = iter(kinds(seen))
    return all(kind in remaining for kind in expected)


def pair_count(ctx: trio_zmq.Context) -> int:
    """How many PAIR sockets of ``ctx`` are open (monitors make one each)."""
    return sum(sock.type == zmq.PAIR for sock in ctx._sockets)


async def round_trip(ctx: trio_zmq.Context, server: trio_zmq.Socket, address: str) -> None:
    """A client connects, is heard by ``server``, and closes."""
    client = ctx.socket(zmq.DEALER)
    client.connect(address)
    await client.send(b"ping")
    assert (await recv_frames(server))[1] == b"ping"
    client.close()


def free_tcp_port() -> int:
    """A port nobody listens on (bound and released; not reused at once)."""
    with stdlib_socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
    return port


# ----------------------------------------------------------------------
# What libzmq reports, from real peers
# ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
async def test_a_peer_process_connects_and_leaves(
    ctx: trio_zmq.Context, endpoint: str, peer: type[Peer]
) -> None:
    pull = ctx.socket(zmq.PULL)
    address = bind(pull, endpoint)
    async with pull.monitor() as events:
        process = peer("push-seq", address, "3")
        with anyio.fail_after(BOUND):
            for n in range(3):
                assert int.from_bytes(await pull.recv(), "big") == n
        seen = await events_until(events, E.DISCONNECTED)
        await anyio.to_thread.run_sync(process.wait)
    assert in_order(seen, E.ACCEPTED, E.HANDSHAKE_SUCCEEDED, E.DISCONNECTED), seen
    for event in seen:
        assert isinstance(event, trio_zmq.MonitorEvent)
        assert type(event.event) is zmq.Event
        assert event.endpoint.startswith(address.split("://")[0] + "://")
    accepted = next(e for e in seen if e.event == E.ACCEPTED)
    assert accepted.value >= 0  # the accepted connection's fd
    assert next(e for e in seen if e.event == E.DISCONNECTED).value == accepted.value
    assert pair_count(ctx) == 0


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
async def test_the_connecting_side(ctx: trio_zmq.Context, endpoint: str) -> None:
    server = ctx.socket(zmq.ROUTER)
    address = bind(server, endpoint)
    client = ctx.socket(zmq.DEALER)
    async with trio_zmq.monitor(client, zmq.EVENT_ALL) as events:
        client.connect(address)
        await client.send(b"ping")
        await recv_frames(server)
        seen = await events_until(events, E.HANDSHAKE_SUCCEEDED)
        server.close()
        seen += await events_until(events, E.DISCONNECTED)
    assert in_order(seen, E.CONNECTED, E.HANDSHAKE_SUCCEEDED, E.DISCONNECTED), seen
    assert all(event.endpoint == address for event in seen), seen


async def test_connect_to_a_port_nobody_listens_on(ctx: trio_zmq.Context) -> None:
    client = ctx.socket(zmq.DEALER)
    client.reconnect_ivl = 10
    address = f"tcp://127.0.0.1:{free_tcp_port()}"
    async with client.monitor() as events:
        client.connect(address)
        seen = await events_until(events, E.CONNECT_RETRIED, count=2)
    assert E.CONNECT_DELAYED in kinds(seen)
    assert E.CONNECTED not in kinds(seen)
    retried = [event for event in seen if event.event == E.CONNECT_RETRIED]
    assert all(event.value > 0 for event in retried)  # the reconnect interval, ms
    assert all(event.endpoint == address for event in seen)


async def test_only_the_events_asked_for(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    address = bind(server, "tcp://127.0.0.1")
    async with server.monitor(zmq.EVENT_DISCONNECTED) as events:
        assert events.events == E.DISCONNECTED
        await round_trip(ctx, server, address)
        seen = await events_until(events, E.DISCONNECTED)
    assert kinds(seen) == [E.DISCONNECTED]


# ----------------------------------------------------------------------
# Handshakes that fail
# ----------------------------------------------------------------------


def curve_router(ctx: trio_zmq.Context) -> tuple[trio_zmq.Socket, str, bytes]:
    """A CURVE server ROUTER with fresh keys, bound on tcp: the socket, its
    address and its public key."""
    public, secret = zmq.curve_keypair()
    server = curve_server(ctx.socket(zmq.ROUTER), secret)
    return server, bind(server, "tcp://127.0.0.1"), public


#: libzmq's ZMQ_PROTOCOL_ERROR_ZMTP_* codes (zmq.h) that the tests meet.
ZMTP_CRYPTOGRAPHIC = 0x11000001
ZMTP_MECHANISM_MISMATCH = 0x11000002


async def test_a_null_client_meets_a_curve_server(ctx: trio_zmq.Context) -> None:
    server, address, _ = curve_router(ctx)
    client = ctx.socket(zmq.DEALER)
    async with server.monitor() as server_events, client.monitor() as client_events:
        client.connect(address)
        on_server = await events_until(server_events, E.HANDSHAKE_FAILED_PROTOCOL)
        on_client = await events_until(client_events, E.HANDSHAKE_FAILED_PROTOCOL)
    assert on_server[-1].value == ZMTP_MECHANISM_MISMATCH
    assert on_client[-1].value == ZMTP_MECHANISM_MISMATCH
    assert E.HANDSHAKE_SUCCEEDED not in kinds(on_server) + kinds(on_client)


async def test_a_client_with_the_wrong_server_key(ctx: trio_zmq.Context) -> None:
    server, address, _ = curve_router(ctx)
    client = curve_client(ctx.socket(zmq.DEALER), zmq.curve_keypair()[0])
    async with server.monitor() as server_events, client.monitor() as client_events:
        client.connect(address)
        on_server = await events_until(server_events, E.HANDSHAKE_FAILED_PROTOCOL)
        on_client = await events_until(client_events, E.HANDSHAKE_FAILED_NO_DETAIL)
    assert on_server[-1].value == ZMTP_CRYPTOGRAPHIC
    assert on_client[-1].value > 0  # an errno: the server hung up
    assert E.HANDSHAKE_SUCCEEDED not in kinds(on_server) + kinds(on_client)


async def test_a_zap_handler_that_refuses(ctx: trio_zmq.Context) -> None:
    zap = ctx.socket(zmq.REP)
    zap.bind("inproc://zeromq.zap.01")

    async def refuse_all() -> None:
        while True:
            request = await zap.recv_multipart()
            # version, request id, status code, status text, user id, metadata
            await zap.send_multipart([request[0], request[1], b"400", b"no", b"", b""])

    server, address, server_key = curve_router(ctx)
    client = curve_client(ctx.socket(zmq.DEALER), server_key)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(refuse_all)
        async with server.monitor() as server_events, client.monitor() as client_events:
            client.connect(address)
            on_server = await events_until(server_events, E.HANDSHAKE_FAILED_AUTH)
            on_client = await events_until(client_events, E.HANDSHAKE_FAILED_AUTH)
        tasks.cancel_scope.cancel()
    assert on_server[-1].value == 400
    assert on_client[-1].value == 400


# ----------------------------------------------------------------------
# Nobody reading never blocks, and loses nothing (libzmq #2829)
# ----------------------------------------------------------------------

#: Connections: 3 events each on the server (ACCEPTED, HANDSHAKE_SUCCEEDED,
#: DISCONNECTED), well past the 2000 at which default high-water marks make
#: libzmq block its I/O thread.
CONNECTIONS = 1000


async def unread(ctx: trio_zmq.Context, server: trio_zmq.Socket, address: str) -> None:
    """CONNECTIONS round trips, while nobody reads the server's monitor.

    If the monitor blocked libzmq's I/O thread, this would time out, and
    leaving the monitor would then hang: libzmq holds the monitor's lock
    while its send blocks, and stopping the monitor takes that lock.
    """
    with anyio.fail_after(60):
        for _ in range(CONNECTIONS):
            await round_trip(ctx, server, address)


async def test_an_unread_monitor_never_blocks_its_socket(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    address = bind(server, "tcp://127.0.0.1")
    async with server.monitor() as events:
        await unread(ctx, server, address)
        # Nothing was lost while nobody read.
        seen = await events_until(events, E.DISCONNECTED, count=CONNECTIONS)
    assert kinds(seen).count(E.ACCEPTED) == CONNECTIONS
    assert kinds(seen).count(E.HANDSHAKE_SUCCEEDED) == CONNECTIONS


async def test_leaving_an_unread_monitor_releases_it(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    address = bind(server, "tcp://127.0.0.1")
    async with server.monitor() as events:
        await unread(ctx, server, address)
    # Left with thousands of events unread: libzmq monitors no more, the
    # PAIR is closed, and the socket goes on working.
    assert pair_count(ctx) == 0
    assert repr(events).endswith("closed>")
    with anyio.fail_after(BOUND):
        await round_trip(ctx, server, address)
    with pytest.raises(anyio.ClosedResourceError):
        events.receive_nowait()


# ----------------------------------------------------------------------
# Leaving early, cancellation, the end of the events
# ----------------------------------------------------------------------


async def churn(ctx: trio_zmq.Context, server: trio_zmq.Socket, address: str) -> None:
    """Connections, one after another, until cancelled."""
    while True:
        await round_trip(ctx, server, address)


async def test_early_exit_while_events_keep_coming(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    address = bind(server, "tcp://127.0.0.1")
    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(churn, ctx, server, address)
            for _ in range(3):
                async with server.monitor() as events:
                    async for event in events:
                        if event.event == E.DISCONNECTED:
                            break
                assert pair_count(ctx) == 0
            tasks.cancel_scope.cancel()
        # And the socket goes on working.
        await round_trip(ctx, server, address)


async def test_an_error_in_the_block_closes_everything(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    address = bind(server, "tcp://127.0.0.1")
    events = server.monitor()

    async def fail_inside() -> None:
        async with events:
            await round_trip(ctx, server, address)
            raise KeyError("boom")

    with pytest.raises(KeyError):
        await fail_inside()
    assert pair_count(ctx) == 0
    assert repr(events).endswith("closed>")
    async with server.monitor() as events:  # free for a new monitor
        await round_trip(ctx, server, address)
        await events_until(events, E.DISCONNECTED)


async def test_cancelled_while_waiting(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    address = bind(server, "tcp://127.0.0.1")
    with anyio.fail_after(BOUND):
        with anyio.CancelScope() as outer:
            async with server.monitor() as events:
                with anyio.move_on_after(0.05) as scope:
                    await events.receive()  # nothing happens: cancelled
                assert scope.cancelled_caught
                outer.cancel()
                await events.receive()  # cancelled; the block exits
            pytest.fail("not cancelled")  # pragma: no cover
        assert outer.cancelled_caught
    assert pair_count(ctx) == 0
    async with server.monitor() as events:
        await round_trip(ctx, server, address)
        await events_until(events, E.DISCONNECTED)


async def test_a_cancelled_receive_leaves_its_event(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    address = bind(server, "tcp://127.0.0.1")
    async with server.monitor(zmq.EVENT_ACCEPTED) as events:
        await round_trip(ctx, server, address)
        with anyio.fail_after(BOUND):
            while True:
                with anyio.CancelScope() as scope:
                    scope.cancel()
                    await events.receive()
                try:
                    event = events.receive_nowait()
                except anyio.WouldBlock:
                    await anyio.sleep(0.001)  # not there yet
                else:
                    break
    assert event.event == E.ACCEPTED


@pytest.mark.parametrize("closer", ["close", "aclose"])
async def test_closing_the_monitored_socket_ends_the_iteration(
    ctx: trio_zmq.Context, closer: str
) -> None:
    server = ctx.socket(zmq.ROUTER)
    address = bind(server, "tcp://127.0.0.1")
    seen: list[trio_zmq.MonitorEvent] = []
    disconnected = anyio.Event()

    async def iterate(events: trio_zmq.Monitor, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        async for event in events:  # ends without an exception
            seen.append(event)
            if event.event == E.DISCONNECTED:
                disconnected.set()

    with anyio.fail_after(BOUND):
        async with server.monitor() as events, anyio.create_task_group() as tasks:
            await tasks.start(iterate, events)
            await round_trip(ctx, server, address)
            await disconnected.wait()
            if closer == "close":
                server.close()
            else:
                await server.aclose()
        assert repr(events).endswith("closed>")
    assert in_order(seen, E.ACCEPTED, E.DISCONNECTED, E.CLOSED), seen
    assert E.MONITOR_STOPPED not in kinds(seen)
    with pytest.raises(anyio.ClosedResourceError):
        await events.receive()


async def test_every_receiver_sees_the_end(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    bind(server, "tcp://127.0.0.1")
    ended: list[int] = []

    async def receive_until_end(n: int, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        async for _ in events:
            pass
        ended.append(n)

    with anyio.fail_after(BOUND):
        async with server.monitor() as events:
            async with anyio.create_task_group() as tasks:
                for n in range(3):
                    await tasks.start(receive_until_end, n)
                await anyio.sleep(0.01)  # let them all wait
                server.close()
            with pytest.raises(anyio.EndOfStream):
                events.receive_nowait()
            with pytest.raises(anyio.EndOfStream):
                await events.receive()
    assert sorted(ended) == [0, 1, 2]


async def test_closing_the_monitor_wakes_its_receivers(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    bind(server, "tcp://127.0.0.1")
    outcomes: list[BaseException] = []

    async def receive(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await events.receive()
        except anyio.ClosedResourceError as exc:
            outcomes.append(exc)

    with anyio.fail_after(BOUND):
        async with server.monitor() as events, anyio.create_task_group() as tasks:
            await tasks.start(receive)
            await anyio.sleep(0.01)
            events.close()
    assert len(outcomes) == 1
    assert pair_count(ctx) == 0


async def test_the_context_ends_first(ctx: trio_zmq.Context) -> None:
    own = trio_zmq.Context()
    server = own.socket(zmq.ROUTER)
    bind(server, "tcp://127.0.0.1")
    with anyio.fail_after(BOUND):
        async with server.monitor() as events:
            await own.aclose()  # closes the socket and the monitor's PAIR
            with pytest.raises(anyio.ClosedResourceError):
                await events.receive()
    assert own.closed


async def test_a_lingering_socket_is_waited_for(
    ctx: trio_zmq.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Closed with a message it cannot deliver, the socket lingers, and
    # libzmq stops its monitor only when the linger ends.
    push = ctx.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{free_tcp_port()}")
    push.send_nowait(b"undeliverable")
    with anyio.fail_after(BOUND):
        async with push.monitor() as events:
            push.close(linger=100)
    assert pair_count(ctx) == 0  # waited for EVENT_MONITOR_STOPPED: no warning
    # Lingering longer than the monitor waits: it says so.
    monkeypatch.setattr(_monitor, "_STOP_WAIT", 0.05)
    push = ctx.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{free_tcp_port()}")
    push.send_nowait(b"undeliverable")
    with anyio.fail_after(BOUND), pytest.warns(RuntimeWarning, match="still lingers"):
        async with push.monitor() as events:
            push.close(linger=500)
    assert repr(events).endswith("closed>")


# ----------------------------------------------------------------------
# One monitor per socket; plain pyzmq sockets; bad input
# ----------------------------------------------------------------------


async def test_a_second_monitor_is_refused(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    address = bind(server, "tcp://127.0.0.1")
    async with server.monitor() as events:
        with pytest.raises(RuntimeError, match="one monitor per socket"):
            async with server.monitor():
                pass  # pragma: no cover
        with pytest.raises(RuntimeError, match="one monitor per socket"):
            async with trio_zmq.monitor(server.zmq_socket):
                pass  # pragma: no cover
        assert pair_count(ctx) == 1
        # The first one is intact.
        await round_trip(ctx, server, address)
        await events_until(events, E.DISCONNECTED)
    async with server.monitor():
        assert pair_count(ctx) == 1


async def test_a_pyzmq_monitor_is_respected(ctx: trio_zmq.Context) -> None:
    zsock = ctx.zmq_context.socket(zmq.ROUTER, socket_class=zmq.Socket)
    try:
        legacy = zsock.get_monitor_socket()
        with pytest.raises(RuntimeError, match="disable_monitor"):
            async with trio_zmq.monitor(zsock):
                pass  # pragma: no cover
        zsock.disable_monitor()
        legacy.close(linger=0)
        async with trio_zmq.monitor(zsock) as events:
            zsock.bind("tcp://127.0.0.1:0")
            seen = await events_until(events, E.LISTENING)
        assert seen[-1].endpoint.startswith("tcp://127.0.0.1:")
    finally:
        zsock.close(linger=0)


async def test_a_plain_pyzmq_socket(ctx: trio_zmq.Context) -> None:
    zsock = ctx.zmq_context.socket(zmq.ROUTER, socket_class=zmq.Socket)
    try:
        port = zsock.bind_to_random_port("tcp://127.0.0.1")
        async with trio_zmq.monitor(zsock) as events:
            client = ctx.socket(zmq.DEALER)
            client.connect(f"tcp://127.0.0.1:{port}")
            await client.send(b"ping")
            with anyio.fail_after(BOUND):
                await trio_zmq.wait_readable(zsock)
            assert zsock.recv_multipart()[1] == b"ping"
            client.close()
            seen = await events_until(events, E.DISCONNECTED)
            zsock.close()
            async for _ in events:  # ends: the socket is gone
                pass
        assert in_order(seen, E.ACCEPTED, E.HANDSHAKE_SUCCEEDED, E.DISCONNECTED)
    finally:
        zsock.close(linger=0)


@pytest.mark.parametrize(
    ("events", "error"),
    [
        ("inproc://monitor", TypeError),  # pyzmq's monitor(addr, events) form
        (True, TypeError),
        (1.0, TypeError),
        (None, TypeError),
        (0, ValueError),
        (-1, ValueError),
        (1 << 16, ValueError),  # EVENT_PIPES_STATS: not in the version-1 monitor
        (zmq.EVENT_ALL | 1 << 20, ValueError),
    ],
)
async def test_bad_events_raise_before_anything_is_made(
    ctx: trio_zmq.Context, events: object, error: type[Exception]
) -> None:
    server = ctx.socket(zmq.ROUTER)
    with pytest.raises(error, match="events must be"):
        server.monitor(events)  # type: ignore[arg-type]
    with pytest.raises(error, match="events must be"):
        trio_zmq.monitor(server, events)  # type: ignore[arg-type]
    assert pair_count(ctx) == 0
    assert not _monitor._active


async def test_bad_sockets_raise_before_anything_is_made(ctx: trio_zmq.Context) -> None:
    closed = ctx.socket(zmq.ROUTER)
    closed.close()
    with pytest.raises(anyio.ClosedResourceError):
        closed.monitor()
    with pytest.raises(TypeError, match=r"expected a zmq\.Socket"):
        trio_zmq.monitor("tcp://127.0.0.1:5555")  # type: ignore[arg-type]
    zsock = ctx.zmq_context.socket(zmq.ROUTER, socket_class=zmq.Socket)
    try:
        shadow: zmq.Socket[Any] = zmq.Socket.shadow(zsock.underlying)
        with pytest.raises(ValueError, match="context is unknown"):
            trio_zmq.monitor(shadow)
    finally:
        zsock.close(linger=0)
    # Closed between making the monitor and entering it.
    server = ctx.socket(zmq.ROUTER)
    monitor = server.monitor()
    server.close()
    with pytest.raises(anyio.ClosedResourceError):
        async with monitor:
            pass  # pragma: no cover
    assert pair_count(ctx) == 0


async def test_enter_once_and_receive_inside(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    events = server.monitor()
    assert repr(events).endswith("not entered>")
    with pytest.raises(RuntimeError, match="enter the monitor first"):
        events.receive_nowait()
    async with events:
        assert events.socket is server
        with pytest.raises(RuntimeError, match="entered once"):
            await events.__aenter__()
    with pytest.raises(RuntimeError, match="entered once"):
        async with events:
            pass  # pragma: no cover
    await events.aclose()  # idempotent
    events.close()
