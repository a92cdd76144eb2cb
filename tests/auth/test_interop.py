"""Interoperation with pyzmq, both ways, across processes.

(a) A blocking pyzmq CURVE client in another process (``curve_peer.py
client``) against a trio_zmq server whose context runs our Authenticator.
(b) A trio_zmq CURVE client against a pyzmq server in another process whose
context runs pyzmq's ``zmq.auth.thread.ThreadAuthenticator``
(``curve_peer.py server``).

Both use one certificate directory made by ``zmq.auth.create_certificates``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.abc
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
from tests.conftest import ON_EVERY_LOOP
from tests.curve import curve_client, curve_server
from tests.helpers import ROOT, recv_frames

pytestmark = ON_EVERY_LOOP

#: The command that runs tests/auth/curve_peer.py (from ROOT).
PEER = [sys.executable, "-m", "tests.auth.curve_peer"]
#: Starting a Python process that imports pyzmq can take seconds on a
#: loaded machine; a liveness bound, not a timing assertion.
PROCESS_LIMIT = 60


async def run_client_peer(address: str, server_public: Path, client_secret: Path) -> str:
    """Run ``curve_peer.py client``; its one line of output."""
    with anyio.fail_after(PROCESS_LIMIT):
        result = await anyio.run_process(
            [*PEER, "client", address, str(server_public), str(client_secret)],
            cwd=ROOT,
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().strip()


async def echo(server: trio_zmq.Socket) -> None:
    while True:
        request = await server.recv()
        await server.send(b"echo: " + request)


async def test_pyzmq_client_process_against_our_authenticator(
    ctx: trio_zmq.Context, certs: Certificates
) -> None:
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve(location=certs.authorized)
    async with auth:
        server = curve_server(ctx.socket(zmq.REP), certs.server.secret)
        address = tcp_server(server)
        async with anyio.create_task_group() as tg:
            tg.start_soon(echo, server)
            known = await run_client_peer(
                address, certs.server.public_file, certs.client.secret_file
            )
            stranger = await run_client_peer(
                address, certs.server.public_file, certs.stranger.secret_file
            )
            tg.cancel_scope.cancel()
    assert known == "reply echo: ping"
    assert stranger == "refused 400"


async def read_line(stream: anyio.abc.ByteReceiveStream) -> str:
    """One line of ``stream`` (a process's stdout), bounded."""
    data = b""
    with anyio.fail_after(PROCESS_LIMIT):
        while not data.endswith(b"\n"):
            data += await stream.receive()
    return data.decode().strip()


@contextlib.asynccontextmanager
async def pyzmq_server_process(certs: Certificates) -> AsyncIterator[str]:
    """``curve_peer.py server`` running; yields its address.  On exit its
    standard input is closed, which ends it, and it must exit with 0."""
    process = await anyio.open_process(
        [*PEER, "server", str(certs.authorized), str(certs.server.secret_file)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stdin is not None
        line = await read_line(process.stdout)
        assert line.startswith("port "), line
        yield f"tcp://127.0.0.1:{line.split()[1]}"
        await process.stdin.aclose()
        with anyio.fail_after(PROCESS_LIMIT):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            with anyio.CancelScope(shield=True), anyio.fail_after(PROCESS_LIMIT):
                await process.wait()
        await process.aclose()


async def test_our_client_against_a_pyzmq_thread_authenticator_process(
    ctx: trio_zmq.Context, certs: Certificates
) -> None:
    async with pyzmq_server_process(certs) as address:
        known = curve_client(ctx.socket(zmq.REQ), certs.server.public, certs.client)
        assert await connect_and_watch(known, address) == SUCCEEDED
        await known.send(b"ping")
        assert await recv_frames(known) == [b"echo: ping"]
        stranger = curve_client(ctx.socket(zmq.REQ), certs.server.public, certs.stranger)
        assert await connect_and_watch(stranger, address) == refused(400)
