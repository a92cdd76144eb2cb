"""CURVE authentication with trio_zmq.auth, in one trio program.

A REP server lets in only the clients whose public certificates are in a
directory; a known client gets an answer, a stranger is refused.  The keys
are made by ``zmq.auth.create_certificates``, in a temporary directory.

Run:  python examples/auth_curve.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import trio
import zmq
import zmq.auth
from zmq.utils.monitor import parse_monitor_message

import trio_zmq
import trio_zmq.auth


def make_keys(root: Path) -> Path:
    """Certificates for "server", "client" and "stranger" in ``root``; only
    the client's public certificate goes into ``root/authorized``."""
    for name in ("server", "client", "stranger"):
        zmq.auth.create_certificates(root, name)
    authorized = root / "authorized"
    authorized.mkdir()
    (authorized / "client.key").write_bytes((root / "client.key").read_bytes())
    return authorized


def load(root: Path, name: str) -> tuple[bytes, bytes]:
    public, secret = zmq.auth.load_certificate(root / f"{name}.key_secret")
    assert secret is not None
    return public, secret


async def serve(server: trio_zmq.Socket) -> None:
    """Answer each request, greeting the user id libzmq attached to it."""
    while True:
        request = await server.recv(copy=False)
        user_id = request.get("User-Id")  # the client's public key, in Z85
        await server.send_string(f"hello, {request.bytes.decode()} (user id {user_id})")


async def ask(ctx: trio_zmq.Context, root: Path, name: str, address: str) -> str:
    """Connect as ``name``; the answer, or how the handshake failed."""
    client = ctx.socket(zmq.REQ)
    client.curve_serverkey = load(root, "server")[0]
    client.curve_publickey, client.curve_secretkey = load(root, name)
    # A monitor says how the handshake ended: a refused client would
    # otherwise just never get an answer.
    monitor = trio_zmq.Socket.from_socket(client.zmq_socket.get_monitor_socket())
    try:
        client.connect(address)
        with trio.fail_after(10):
            while True:
                event = parse_monitor_message(await monitor.recv_multipart())
                if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    await client.send_string(name)
                    return await client.recv_string()
                if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    return f"refused (ZAP status {int(event['value'])})"
    finally:
        client.zmq_socket.disable_monitor()
        monitor.close()
        client.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        authorized = make_keys(root)
        async with trio_zmq.Context(linger=0) as ctx:
            auth = trio_zmq.auth.Authenticator(ctx)
            auth.allow("127.0.0.1")
            auth.configure_curve(location=authorized)
            async with auth:  # serves in a task group of its own
                server = ctx.socket(zmq.REP)
                server.curve_server = True
                server.curve_publickey, server.curve_secretkey = load(root, "server")
                address = f"tcp://127.0.0.1:{server.bind_to_random_port('tcp://127.0.0.1')}"
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(serve, server)
                    for name in ("client", "stranger"):
                        print(f"{name}: {await ask(ctx, root, name, address)}")
                    nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
