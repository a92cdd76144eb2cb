"""The authenticator in trio's own terms: a trio nursery's ``start``, trio
cancel scopes, and trio's checkpoint rules for ``stop`` and ``aclose``."""

from __future__ import annotations

import trio
import trio.testing
import zmq

import trio_zmq
import trio_zmq.auth

from tests.auth.support import (
    SUCCEEDED,
    Certificates,
    connect_and_watch,
    refused,
    tcp_server,
)
from tests.curve import curve_client, curve_server


async def test_trio_nursery_start(ctx: trio_zmq.Context, certs: Certificates) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve(location=certs.authorized)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(auth.run)
            server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
            address = tcp_server(server)
            known = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.client)
            assert await connect_and_watch(known, address) == SUCCEEDED
            stranger = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.stranger)
            assert await connect_and_watch(stranger, address) == refused(400)
            with trio.testing.assert_no_checkpoints():
                auth.stop()
    assert not auth.running


async def test_trio_cancel_scope_around_run(ctx: trio_zmq.Context) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    with trio.move_on_after(0.01) as scope:
        await auth.run()
    assert scope.cancelled_caught
    assert not auth.running


async def test_aclose_is_a_checkpoint(ctx: trio_zmq.Context) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    with trio.testing.assert_checkpoints():
        await auth.aclose()
