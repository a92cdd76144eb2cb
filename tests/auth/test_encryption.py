"""What a peer without the keys sees: a TCP relay between client and server
records every byte that crosses it.

With CURVE the message does not appear in the recording; over NULL it
does, and so does a PLAIN password (PLAIN authenticates, it does not
encrypt).  The relay is plain anyio TCP, on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest
import zmq

import trio_zmq
import trio_zmq.auth

from tests.auth.support import (
    SUCCEEDED,
    Certificates,
    connect_and_watch,
    plain_client,
    round_trip,
    tcp_server,
)
from tests.conftest import ON_EVERY_LOOP
from tests.curve import curve_client, curve_server

pytestmark = ON_EVERY_LOOP

SECRET_MESSAGE = b"the launch code is 0000 - do not tell the relay"
PASSWORD = "correct horse battery staple"


async def pump(
    source: anyio.abc.ByteStream, sink: anyio.abc.ByteStream, recording: bytearray
) -> None:
    with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
        async for chunk in source:
            recording += chunk
            await sink.send(chunk)


@contextlib.asynccontextmanager
async def tcp_relay(target: str) -> AsyncIterator[tuple[str, bytearray]]:
    """A relay to ``target`` (tcp://127.0.0.1:port): yields its own address
    and the recording of every byte it forwards, both ways."""
    target_port = int(target.rsplit(":", 1)[1])
    recording = bytearray()

    async def relay(client: anyio.abc.SocketStream) -> None:
        upstream = await anyio.connect_tcp("127.0.0.1", target_port)
        async with client, upstream, anyio.create_task_group() as tg:
            tg.start_soon(pump, client, upstream, recording)
            await pump(upstream, client, recording)
            tg.cancel_scope.cancel()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, relay)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        yield f"tcp://127.0.0.1:{port}", recording
        tg.cancel_scope.cancel()


async def send_through_relay(
    server: trio_zmq.Socket, client: trio_zmq.Socket, message: bytes
) -> bytes:
    """Connect ``client`` to ``server`` through a relay, deliver
    ``message``; what the relay recorded."""
    async with tcp_relay(tcp_server(server)) as (address, recording):
        assert await connect_and_watch(client, address) == SUCCEEDED
        await round_trip(server, client, message)
        client.close(linger=0)
    return bytes(recording)


@pytest.mark.parametrize("authenticated", [False, True], ids=["allow-any", "certificates"])
async def test_curve_stream_is_unreadable_without_the_keys(
    ctx: trio_zmq.Context, certs: Certificates, authenticated: bool
) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve(
        location=certs.authorized if authenticated else trio_zmq.auth.CURVE_ALLOW_ANY
    )
    async with auth:
        server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
        client = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.client)
        recording = await send_through_relay(server, client, SECRET_MESSAGE)
    assert b"CURVE" in recording  # the greeting names the mechanism in clear
    assert len(recording) > len(SECRET_MESSAGE)
    assert SECRET_MESSAGE not in recording
    assert SECRET_MESSAGE[:16] not in recording


async def test_null_stream_is_readable(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.PULL)
    client = ctx.socket(zmq.PUSH)
    recording = await send_through_relay(server, client, SECRET_MESSAGE)
    assert SECRET_MESSAGE in recording


async def test_plain_sends_the_password_in_clear(ctx: trio_zmq.Context) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_plain(passwords={"admin": PASSWORD})
    async with auth:
        server = ctx.socket(zmq.PULL)
        server.plain_server = True
        client = plain_client(ctx, zmq.PUSH, "admin", PASSWORD)
        recording = await send_through_relay(server, client, SECRET_MESSAGE)
    assert PASSWORD.encode() in recording
    assert SECRET_MESSAGE in recording
