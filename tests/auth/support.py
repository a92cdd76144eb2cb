"""Helpers for the authentication tests: keys and certificates, a CURVE
scene (its sockets made by tests/curve.py), PLAIN clients, and a socket
monitor read through trio_zmq.

The monitor is pyzmq's own (``zsock.get_monitor_socket()``, a PAIR socket
on the same context) wrapped with :meth:`trio_zmq.Socket.from_socket`, its
events parsed with :func:`zmq.utils.monitor.parse_monitor_message`: what
any application can do today.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import zmq
import zmq.auth
from zmq.utils.monitor import parse_monitor_message

import trio_zmq
import trio_zmq.auth

from tests.curve import curve_client, curve_server
from tests.helpers import bind

#: The events that end a handshake, one way or the other.
HANDSHAKE_ENDS = (
    zmq.Event.HANDSHAKE_SUCCEEDED,
    zmq.Event.HANDSHAKE_FAILED_AUTH,
    zmq.Event.HANDSHAKE_FAILED_PROTOCOL,
    zmq.Event.HANDSHAKE_FAILED_NO_DETAIL,
)
SUCCEEDED = (zmq.Event.HANDSHAKE_SUCCEEDED, 0)


def refused(status_code: int) -> tuple[zmq.Event, int]:
    """The monitor event of a handshake the authenticator refused with ``status_code``."""
    return (zmq.Event.HANDSHAKE_FAILED_AUTH, status_code)


@dataclasses.dataclass(frozen=True)
class Keys:
    """A CURVE key pair (Z85) and the certificate files it was read from."""

    public: bytes
    secret: bytes
    public_file: Path
    secret_file: Path


def make_keys(directory: Path, name: str) -> Keys:
    """A new key pair, written by :func:`zmq.auth.create_certificates`."""
    directory.mkdir(parents=True, exist_ok=True)
    public_file, secret_file = zmq.auth.create_certificates(directory, name)
    public, secret = zmq.auth.load_certificate(secret_file)
    assert secret is not None
    return Keys(public, secret, Path(public_file), Path(secret_file))


@dataclasses.dataclass(frozen=True)
class Certificates:
    """A server, a client whose public certificate is in ``authorized``
    (the directory to give ``configure_curve``), and a stranger whose is not."""

    authorized: Path
    server: Keys
    client: Keys
    stranger: Keys


def make_certificates(root: Path) -> Certificates:
    client = make_keys(root / "clients", "client")
    authorized = root / "authorized"
    authorized.mkdir()
    # Only the public certificate goes into the directory, as it would in
    # production; the secret one stays with the client.
    (authorized / client.public_file.name).write_bytes(client.public_file.read_bytes())
    return Certificates(
        authorized=authorized,
        server=make_keys(root / "server", "server"),
        client=client,
        stranger=make_keys(root / "strangers", "stranger"),
    )


def curve_scene(
    ctx: trio_zmq.Context, certs: Certificates, provider: trio_zmq.auth.CredentialsProvider
) -> tuple[trio_zmq.auth.Authenticator, trio_zmq.Socket, str, trio_zmq.Socket]:
    """An authenticator (not started) that asks ``provider``, a CURVE
    server (PULL) bound on tcp, its address and a client (PUSH) with the
    authorized keys, not connected yet."""
    auth = trio_zmq.auth.Authenticator(ctx)
    auth.configure_curve_callback(credentials_provider=provider)
    server = curve_server(ctx.socket(zmq.PULL), certs.server.secret)
    client = curve_client(ctx.socket(zmq.PUSH), certs.server.public, certs.client)
    return auth, server, tcp_server(server), client


def plain_client(ctx: trio_zmq.Context, kind: int, username: str, password: str) -> trio_zmq.Socket:
    sock = ctx.socket(kind)
    sock.plain_username = username.encode()
    sock.plain_password = password.encode()
    return sock


@contextlib.asynccontextmanager
async def monitored(sock: trio_zmq.Socket) -> AsyncIterator[trio_zmq.Socket]:
    """A monitor of ``sock``, as a trio_zmq socket; closed on exit.

    Attach it before ``sock`` connects, so that no event is missed.
    """
    zmonitor = sock.zmq_socket.get_monitor_socket()
    monitor = trio_zmq.Socket.from_socket(zmonitor)
    try:
        yield monitor
    finally:
        if not sock.closed:
            sock.zmq_socket.disable_monitor()
        monitor.close(linger=0)
        await anyio.lowlevel.checkpoint()


async def handshake_end(monitor: trio_zmq.Socket) -> tuple[zmq.Event, int]:
    """The next event of ``monitor`` that ends a handshake, and its value
    (for HANDSHAKE_FAILED_AUTH: the ZAP status code).  Bounded: 5 s."""
    with anyio.fail_after(5):
        while True:
            event = parse_monitor_message(await monitor.recv_multipart())
            if event["event"] in HANDSHAKE_ENDS:
                return zmq.Event(event["event"]), int(event["value"])


async def connect_and_watch(sock: trio_zmq.Socket, address: str) -> tuple[zmq.Event, int]:
    """Connect ``sock`` to ``address``; how its first handshake ends."""
    async with monitored(sock) as monitor:
        sock.connect(address)
        return await handshake_end(monitor)


async def round_trip(server: trio_zmq.Socket, client: trio_zmq.Socket, payload: bytes) -> None:
    """``client`` (PUSH) sends ``payload``; ``server`` (PULL) receives it.  Bounded."""
    with anyio.fail_after(5):
        await client.send(payload)
        assert await server.recv() == payload


def tcp_server(sock: trio_zmq.Socket) -> str:
    """Bind ``sock`` to a random port on 127.0.0.1; the address to connect to."""
    return bind(sock, "tcp://127.0.0.1")


class Gate:
    """A credentials provider whose ``async`` callback holds the keys that
    ``held(key)`` selects at a gate: it sets ``entered`` and waits for
    ``release`` (forever, if nobody sets it), then lets the key in.  Other
    keys get in at once.  ``decided`` lists the keys let in, in order;
    ``cancelled`` counts the callbacks cancelled at the gate.

    Make it inside the event loop (it holds anyio events).
    """

    def __init__(self, held: Callable[[bytes], bool] = lambda key: True) -> None:
        self.held = held
        self.entered = anyio.Event()
        self.release = anyio.Event()
        self.decided: list[bytes] = []
        self.cancelled = 0

    async def callback(self, domain: str, client_public_key: bytes) -> bool:
        if self.held(client_public_key):
            self.entered.set()
            try:
                await self.release.wait()
            except anyio.get_cancelled_exc_class():
                self.cancelled += 1
                raise
        self.decided.append(client_public_key)
        return True

    async def until_entered(self) -> None:
        """Wait (bounded) until a callback stands at the gate."""
        with anyio.fail_after(5):
            await self.entered.wait()
