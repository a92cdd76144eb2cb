"""The authenticator as a task: how it starts, serves concurrently, stops
and fails, one per context, on every loop.

Concurrency is asserted by ordering (events and what has happened when),
never by time; every wait has a liveness bound.
"""

from __future__ import annotations

import contextlib
import sys

import anyio
import pytest
import zmq
import zmq.auth.thread

import trio_zmq
import trio_zmq.auth

from tests.auth.support import (
    SUCCEEDED,
    Certificates,
    Gate,
    connect_and_watch,
    curve_scene,
    handshake_end,
    monitored,
    plain_client,
    refused,
    round_trip,
    tcp_server,
)
from tests.conftest import ON_EVERY_LOOP
from tests.curve import curve_client, curve_server

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

pytestmark = ON_EVERY_LOOP


def null_server(ctx: trio_zmq.Context) -> tuple[trio_zmq.Socket, str]:
    """A PULL socket whose NULL handshakes go to ZAP (it has a domain)."""
    server = ctx.socket(zmq.PULL)
    server.zap_domain = b"global"
    return server, tcp_server(server)


async def is_served_by(auth: trio_zmq.auth.Authenticator, ctx: trio_zmq.Context) -> bool:
    """Whether ``auth`` answers the handshakes of ``ctx``'s sockets: it
    refuses 127.0.0.1 for a moment, and a client from there is refused."""
    auth.deny("127.0.0.1")
    try:
        _, address = null_server(ctx)
        return await connect_and_watch(ctx.socket(zmq.PUSH), address) == refused(400)
    finally:
        auth._policy.denied.clear()


async def until_zap_endpoint_free(ctx: trio_zmq.Context) -> None:
    """Wait (bounded) until nothing is bound to the ZAP endpoint of ``ctx``.

    pyzmq's authenticators close their socket without unbinding, and
    libzmq frees an inproc endpoint only once its reaper thread destroys
    the socket.  (Ours unbinds first: a successor can bind at once.)
    """
    probe = ctx.zmq_context.socket(zmq.ROUTER)
    try:
        with anyio.fail_after(5):
            while True:
                try:
                    probe.bind(trio_zmq.auth.ZAP_ENDPOINT)
                except zmq.ZMQError:
                    await anyio.sleep(0.01)
                else:
                    probe.unbind(trio_zmq.auth.ZAP_ENDPOINT)
                    return
    finally:
        probe.close(linger=0)


# ----------------------------------------------------------------------
# Starting and stopping
# ----------------------------------------------------------------------


async def test_async_with_runs_it_in_a_task_group_of_its_own(ctx: trio_zmq.Context) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    assert not auth.running
    assert "new" in repr(auth)
    async with auth as entered:
        assert entered is auth
        assert entered.running
        assert await is_served_by(auth, ctx)
    assert not auth.running
    assert "stopped" in repr(auth)
    # The ZAP endpoint is free again: another authenticator can take it.
    async with trio_zmq.auth.Authenticator(ctx) as successor:
        assert await is_served_by(successor, ctx)


@pytest.mark.parametrize("how", ["stop", "aclose", "cancel"])
async def test_nursery_start_then_stop(ctx: trio_zmq.Context, how: str) -> None:
    """``await tg.start(auth.run)`` returns once it serves; stop() and
    aclose() make run() return by itself, cancelling its task stops it too,
    and the ZAP endpoint is free again at once."""
    auth = trio_zmq.auth.Authenticator(ctx)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(auth.run)
            assert auth.running
            assert await is_served_by(auth, ctx)
            if how == "stop":
                auth.stop()
                auth.stop()  # idempotent
            elif how == "aclose":
                await auth.aclose()
            else:
                tg.cancel_scope.cancel()
    assert not auth.running
    async with trio_zmq.auth.Authenticator(ctx) as successor:
        assert await is_served_by(successor, ctx)


async def test_it_runs_once(ctx: trio_zmq.Context) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    async with auth:
        with pytest.raises(RuntimeError, match="already running"):
            await auth.__aenter__()
        with pytest.raises(RuntimeError, match="make a new one"):
            await auth.run()
    with pytest.raises(RuntimeError, match="make a new one"):
        await auth.run()
    never = trio_zmq.auth.Authenticator(ctx)
    never.stop()
    with pytest.raises(RuntimeError, match="make a new one"):
        async with never:
            pass


async def test_errors_in_the_block_come_out_as_from_a_task_group(
    ctx: trio_zmq.Context,
) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    with pytest.raises(ExceptionGroup) as info:
        async with auth:
            raise KeyError("in the block")
    assert info.group_contains(KeyError)
    assert not auth.running


# ----------------------------------------------------------------------
# One per context; several per process
# ----------------------------------------------------------------------


async def test_second_authenticator_on_a_context_fails_before_serving(
    ctx: trio_zmq.Context,
) -> None:
    async with trio_zmq.auth.Authenticator(ctx) as first:
        second = trio_zmq.auth.Authenticator(ctx)
        with pytest.raises(RuntimeError, match="another ZAP handler is bound"):
            async with second:
                pytest.fail("the second authenticator must not serve")
        assert not second.running
        third = trio_zmq.auth.Authenticator(ctx)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                with pytest.raises(RuntimeError, match="one per context"):
                    await tg.start(third.run)
        # The first one still serves the context.
        assert first.running
        assert await is_served_by(first, ctx)


async def test_pyzmq_authenticator_on_the_same_context_conflicts(
    ctx: trio_zmq.Context,
) -> None:
    """libzmq's rule holds across libraries: pyzmq's ThreadAuthenticator on
    the trio_zmq context's pyzmq context, and ours, exclude each other."""
    theirs = zmq.auth.thread.ThreadAuthenticator(ctx.zmq_context)
    theirs.start()
    try:
        with pytest.raises(RuntimeError, match="another ZAP handler is bound"):
            async with trio_zmq.auth.Authenticator(ctx):
                pass
    finally:
        theirs.stop()
    await until_zap_endpoint_free(ctx)
    async with trio_zmq.auth.Authenticator(ctx):
        late = zmq.auth.thread.ThreadAuthenticator(ctx.zmq_context)
        with pytest.raises(zmq.ZMQError):
            late.start()
        late.stop()


async def test_several_authenticators_on_separate_contexts(ctx: trio_zmq.Context) -> None:
    """Three contexts, three authenticators in one process, each with its
    own password: a server is judged by its own context's authenticator."""
    contexts = [trio_zmq.Context(linger=0) for _ in range(3)]
    try:
        async with contextlib.AsyncExitStack() as stack:
            addresses = []
            for number, context in enumerate(contexts):
                auth = trio_zmq.auth.Authenticator(context)
                auth.configure_plain(passwords={"user": f"password {number}"})
                await stack.enter_async_context(auth)
                server = context.socket(zmq.PULL)
                server.plain_server = True
                addresses.append(tcp_server(server))
            outcomes = {}
            for server_number, address in enumerate(addresses):
                for password_number in range(3):
                    client = plain_client(ctx, zmq.PUSH, "user", f"password {password_number}")
                    outcome = await connect_and_watch(client, address)
                    outcomes[server_number, password_number] = outcome
    finally:
        for context in contexts:
            with anyio.fail_after(5):
                await context.aclose()
    assert outcomes == {
        (i, j): SUCCEEDED if i == j else refused(400) for i in range(3) for j in range(3)
    }


# ----------------------------------------------------------------------
# Concurrency: a request per task
# ----------------------------------------------------------------------


async def test_slow_async_callback_holds_up_no_other_handshake(
    ctx: trio_zmq.Context, certs: Certificates
) -> None:
    """The stranger's callback waits for an event while the client's
    handshake completes and its message arrives; the stranger gets in once
    the event is set.  The replies leave the ROUTER socket out of order,
    and libzmq accepts them."""
    gate = Gate(held=lambda key: key == certs.stranger.public)
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve_callback(credentials_provider=gate)
    async with auth:
        server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
        address = tcp_server(server)
        slow = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.stranger)
        fast = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.client)
        async with monitored(slow) as slow_monitor, monitored(fast) as fast_monitor:
            slow.connect(address)
            await gate.until_entered()
            fast.connect(address)
            assert await handshake_end(fast_monitor) == SUCCEEDED
            await round_trip(server, fast, b"fast")
            assert gate.decided == [certs.client.public]
            assert "1 pending" in repr(auth)
            gate.release.set()
            assert await handshake_end(slow_monitor) == SUCCEEDED
            await round_trip(server, slow, b"slow")
    assert gate.decided == [certs.client.public, certs.stranger.public]


async def test_many_slow_callbacks_run_at_once(ctx: trio_zmq.Context, certs: Certificates) -> None:
    """Eight handshakes wait in their callbacks at the same time: none is
    decided until all have started (a barrier), then all get in."""
    count = 8
    started = 0
    all_started = anyio.Event()

    class Barrier:
        async def callback(self, domain: str, client_public_key: bytes) -> bool:
            nonlocal started
            started += 1
            if started == count:
                all_started.set()
            await all_started.wait()
            return True

    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve_callback(credentials_provider=Barrier())
    async with auth:
        server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
        address = tcp_server(server)
        outcomes: list[tuple[zmq.Event, int]] = []

        async def connect_one() -> None:
            client = curve_client(ctx.socket(zmq.PUSH), certs.server.public, zmq.curve_keypair())
            outcomes.append(await connect_and_watch(client, address))

        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(connect_one)
    assert outcomes == [SUCCEEDED] * count


# ----------------------------------------------------------------------
# Stopping with requests pending; failing
# ----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["leave-the-block", "stop", "cancel"])
async def test_stop_answers_a_pending_request(
    ctx: trio_zmq.Context, certs: Certificates, how: str
) -> None:
    """A request whose callback never returns gets 500 when the
    authenticator stops, so the client's handshake fails at once (instead
    of after ZMQ_HANDSHAKE_IVL); the callback is cancelled."""
    gate = Gate()
    auth, _, address, client = curve_scene(ctx, certs, gate)
    async with monitored(client) as monitor:
        with anyio.fail_after(5):
            if how == "leave-the-block":
                async with auth:
                    client.connect(address)
                    await gate.until_entered()
            else:
                async with anyio.create_task_group() as tg:
                    await tg.start(auth.run)
                    client.connect(address)
                    await gate.until_entered()
                    if how == "stop":
                        auth.stop()
                    else:
                        tg.cancel_scope.cancel()
        assert not auth.running
        assert gate.cancelled == 1
        assert gate.decided == []
        assert await handshake_end(monitor) == refused(500)


async def test_callback_error_answers_500_and_stops_the_authenticator(
    ctx: trio_zmq.Context, certs: Certificates
) -> None:
    """The error comes out of the ``async with`` block (it cancels the
    block's body, as a task group does), after the request that met it was
    answered."""

    class Broken:
        async def callback(self, domain: str, client_public_key: bytes) -> bool:
            await anyio.lowlevel.checkpoint()
            raise LookupError("the key store is down")

    auth, _, address, client = curve_scene(ctx, certs, Broken())

    async def serve_until_it_fails() -> None:
        async with auth:
            client.connect(address)
            await anyio.sleep_forever()

    async with monitored(client) as monitor:
        with anyio.fail_after(5), pytest.raises(ExceptionGroup) as info:
            await serve_until_it_fails()
        assert info.group_contains(LookupError, match="key store")
        assert not auth.running
        assert await handshake_end(monitor) == refused(500)


async def test_after_stopping_only_enforced_domains_fail_closed(
    ctx: trio_zmq.Context, certs: Certificates
) -> None:
    """libzmq's behaviour, which docs/auth.md warns about: once no ZAP
    handler is bound, a CURVE server lets any client in, unless it has a
    ZAP domain and ZMQ_ZAP_ENFORCE_DOMAIN, which make it refuse."""
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve(location=certs.authorized)
    async with auth:
        pass
    lax = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
    strict = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
    strict.zap_domain = b"global"
    try:
        strict.zap_enforce_domain = 1
    except zmq.ZMQError:  # pragma: no cover - a libzmq without the option
        pytest.skip("this libzmq has no ZMQ_ZAP_ENFORCE_DOMAIN")
    stranger = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.stranger)
    assert await connect_and_watch(stranger, tcp_server(lax)) == SUCCEEDED
    stranger = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.stranger)
    event, _ = await connect_and_watch(stranger, tcp_server(strict))
    assert event == zmq.Event.HANDSHAKE_FAILED_NO_DETAIL


async def test_context_closing_its_sockets_ends_the_authenticator(
    ctx: trio_zmq.Context, certs: Certificates
) -> None:
    """The ZAP socket belongs to the context: closing the context's sockets
    under a running authenticator ends it with ClosedResourceError (no
    silent end: from then on libzmq would let clients in unasked)."""
    gate = Gate()
    auth, _, address, client = curve_scene(ctx, certs, gate)

    async def serve_until_it_fails() -> None:
        async with auth:
            client.connect(address)
            await gate.until_entered()
            ctx.close_sockets(linger=0)
            await anyio.sleep_forever()

    with anyio.fail_after(5), pytest.raises(ExceptionGroup) as info:
        await serve_until_it_fails()
    assert info.group_contains(trio_zmq.ClosedResourceError)
    assert not auth.running
